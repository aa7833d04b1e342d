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

/** What `recordStreaming` saw: a reply streaming with text in it, and the Stop button. */
export interface StreamingSeen {
  echo: boolean;
  stop: boolean;
}

/**
 * Starts recording, in the page, whether a reply is seen streaming (an
 * `li.message-assistant.streaming` holding "Echo:") and whether the Stop button is shown:
 * states that last only while the fake model streams (about a second with fake-slow), which
 * assertions made one after another can miss on a loaded machine. Call before sending; read
 * with `streamingSeen` once the reply is complete.
 */
export async function recordStreaming(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen = { echo: false, stop: false };
    (window as unknown as { streamingSeen: typeof seen }).streamingSeen = seen;
    const look = () => {
      for (const item of document.querySelectorAll('li.message-assistant.streaming')) {
        if ((item.textContent ?? '').includes('Echo:')) seen.echo = true;
      }
      for (const button of document.querySelectorAll('button')) {
        if ((button.textContent ?? '').trim() === 'Stop') seen.stop = true;
      }
    };
    new MutationObserver(look).observe(document.body, {
      subtree: true, childList: true, characterData: true, attributes: true,
    });
    look();
  });
}

/** What `recordStreaming` recorded since it was called. */
export async function streamingSeen(page: Page): Promise<StreamingSeen> {
  return page.evaluate(() => (window as unknown as { streamingSeen: StreamingSeen }).streamingSeen);
}

// The administrator is the instance's first account, which .ci/e2e signs up before any test.
export const adminEmail = process.env.CONFAB_ADMIN_EMAIL ?? 'admin@example.com';
export const adminPassword = process.env.CONFAB_ADMIN_PASSWORD ?? "the administrator's password";

/** Signs in with the sign-in page's form (the outcome is left to the caller). */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/');
  await waitForHydration(page);
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens the administration from the account menu. */
export async function openAdministration(page: Page): Promise<void> {
  await page.getByText('Account', { exact: true }).click();
  await page.getByRole('menuitem', { name: 'Administration' }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole('heading', { name: 'Administration', level: 1 })).toBeVisible();
  await waitForHydration(page);
}

/** Presses a sign-up policy's button on the administration page; it then says it is in force. */
export async function setSignup(page: Page, choice: 'Open' | 'Closed'): Promise<void> {
  const button = page.getByRole('group', { name: 'Sign-up policy' }).getByRole('button', { name: choice });
  await button.click();
  await expect(button).toHaveAttribute('aria-pressed', 'true');
}
