import { expect, type Page } from '@playwright/test';

/** A unique email so tests never collide in one database. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the WASM has hydrated the page, so clicks reach Leptos handlers. */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as any).__confabHydrated === true, null, { timeout: 30_000 });
}

export async function signUp(page: Page, email: string, password = 'a good password'): Promise<void> {
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('tab', { name: 'Create account' }).click();
  const form = page.getByRole('form', { name: 'Create account' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
}

export const artifacts = process.env.CONFAB_ARTIFACTS ?? 'artifacts';

/** The composer's text box. */
export function composer(page: Page) {
  return page.getByRole('textbox', { name: 'Message', exact: true });
}

export function sidebar(page: Page) {
  return page.getByRole('navigation', { name: 'Conversations' });
}

/** Sends a message and waits until the fake model's streamed echo has been saved. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const replies = page.locator('li.message-assistant:not(.streaming)');
  const before = page.url().includes('/c/') ? await replies.count() : 0;
  await composer(page).fill(text);
  await composer(page).press('Enter');
  await expect(page).toHaveURL(/\/c\/[^/?]+/);
  await expect(replies).toHaveCount(before + 1, { timeout: 20_000 });
  await expect(page.locator('li.message-assistant.streaming')).toHaveCount(0);
  await expect(replies.last()).toContainText('Echo:');
}

/** Starts a new conversation whose first message is `text`; returns its id. */
export async function startConversation(page: Page, text: string): Promise<string> {
  await page.getByRole('button', { name: '+ New chat' }).click();
  await expect(page).toHaveURL(/\/new$/);
  await sendMessage(page, text);
  return sessionIdOf(page);
}

export function sessionIdOf(page: Page): string {
  const match = /\/c\/([^/?#]+)/.exec(page.url());
  if (!match) throw new Error(`not on a conversation page: ${page.url()}`);
  return match[1];
}

/** Opens an action of the conversation's "More" menu. */
export async function conversationAction(page: Page, name: string): Promise<void> {
  await page.getByRole('toolbar', { name: 'Conversation actions' }).getByText('More').click();
  await page.getByRole('menuitem', { name }).click();
}

/** Stores a message through the REST API (`POST /api/chat/messages`) and returns it. */
export async function postMessage(page: Page, body: Record<string, unknown>) {
  const origin = new URL(page.url()).origin;
  const response = await page.request.post('/api/chat/messages', { data: body, headers: { Origin: origin } });
  expect(response.status()).toBe(201);
  return (await response.json()).message;
}
