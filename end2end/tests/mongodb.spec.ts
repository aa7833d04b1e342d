import { test, expect, type Download, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import {
  artifacts, composer, conversationAction, recordStreaming, sendMessage, sessionIdOf, sidebar, signUp,
  streamingSeen, uniqueEmail, waitForHydration,
} from './helpers';

// .ci/e2e runs this file alone (the `mongodb` project of playwright.config.ts) against a second
// Confab whose store is a MongoDB-wire server (FerretDB), in a database of its own.

/** The JSON of a download, and the texts of its messages as [role, content], in order. */
async function exported(download: Download) {
  const document = JSON.parse(readFileSync(await download.path(), 'utf8'));
  expect(document.format).toBe('confab');
  expect(document.sessions).toHaveLength(1);
  const [session] = document.sessions;
  const messages = (session.messages as Array<Record<string, unknown>>).map((message) => [message.role, message.content]);
  return { session, messages };
}

async function download(page: Page, action: () => Promise<void>): Promise<Download> {
  const downloadPromise = page.waitForEvent('download');
  await action();
  return downloadPromise;
}

test('on MongoDB: sign up, chat, reload, search, export', async ({ page }) => {
  // Each error the page logs, with the step it happened in.
  let step = 'sign up';
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`${step}: ${error.message}`));
  page.on('console', (message) => { if (message.type() === 'error') errors.push(`${step}: ${message.text()}`); });
  const first = 'Where do pelicans keep the fish they catch';
  const second = 'And what about cormorants diving deep';

  await signUp(page, uniqueEmail('mongodb'));
  await expect(page.getByText('No conversations yet.')).toBeVisible();

  step = 'chat';
  // fake-slow sends a word every 150 ms: the reply is seen growing, then complete.
  await page.getByRole('combobox', { name: 'Model' }).selectOption('fake-slow');
  await composer(page).fill(first);
  await recordStreaming(page);
  await composer(page).press('Enter');
  const live = page.locator('li.message-assistant.streaming');
  const replies = page.locator('li.message-assistant:not(.streaming)');
  await expect(replies).toContainText(`Echo: ${first}`, { timeout: 20_000 });
  expect(await streamingSeen(page)).toEqual({ echo: true, stop: true });
  await expect(replies).toContainText('fake-slow');
  await expect(live).toHaveCount(0);
  await expect(page).toHaveURL(/\/c\//);
  // The conversation is titled from its first message.
  const title = /Where do pelicans keep/;
  await expect(sidebar(page).getByRole('link', { name: title })).toBeVisible();

  await page.getByRole('combobox', { name: 'Model' }).selectOption('fake-model');
  await sendMessage(page, second);
  const id = sessionIdOf(page);
  await page.screenshot({ path: `${artifacts}/mongodb-chat.png`, fullPage: true });

  step = 'reload';
  // After a reload the conversation comes back from the store: both turns, in order.
  const texts = [first, `Echo: ${first}`, second, `Echo: ${second}`];
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: title })).toBeVisible();
  await expect(page.locator('li.message .message-body')).toHaveText(texts);
  await expect(page.locator('li.message-assistant')).toHaveCount(2);
  await expect(page.locator('li.message-assistant').first()).toContainText('fake-slow');
  await expect(page.locator('li.message-assistant').last()).toContainText('fake-model');

  step = 'search';
  // Search: a word of the first message finds it (and its echo), all in this conversation.
  await page.keyboard.press('Control+k');
  await expect(page.getByRole('searchbox', { name: 'Search messages' })).toBeFocused();
  await page.keyboard.type('pelicans');
  const results = page.getByLabel('Search results');
  const hits = results.getByRole('link');
  const byRole = (role: string) => hits.filter({ has: page.locator('.search-hit-head .muted').getByText(role, { exact: true }) });
  const hit = byRole('user');
  await expect(hit).toHaveCount(1);
  await expect(hit).toContainText(first);
  await expect(byRole('assistant')).toContainText(`Echo: ${first}`);
  await expect(hits).toHaveCount(2);
  for (const link of await hits.all()) {
    await expect(link).toHaveAttribute('href', new RegExp(`^/c/${id}\\?m=`));
    await expect(link.locator('mark').first()).toHaveText(/pelicans/i);
  }
  await expect(hits.filter({ hasText: 'cormorants' })).toHaveCount(0);
  await page.screenshot({ path: `${artifacts}/mongodb-search.png` });
  step = 'open the hit';
  await hit.click();
  await expect(page).toHaveURL(new RegExp(`/c/${id}\\?m=`));
  await expect(page.locator('li.message.highlight')).toHaveText(new RegExp(first));
  await expect(page.locator('li.message.highlight')).toHaveClass(/message-user/);
  // A word no message holds finds nothing.
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('albatross');
  await expect(results.getByText('No message matches.')).toBeVisible();
  await results.getByRole('button', { name: 'Close' }).click();

  step = 'export';
  // Export: the conversation, then the whole account (the backup), each the four messages.
  const conversation = await exported(await download(page, () => conversationAction(page, 'Export JSON')));
  expect(conversation.session.id).toBe(id);
  expect(conversation.messages).toEqual([
    ['user', texts[0]], ['assistant', texts[1]], ['user', texts[2]], ['assistant', texts[3]],
  ]);
  step = 'backup';
  const backup = await exported(await download(page, () => sidebar(page).getByRole('link', { name: 'Download backup' }).click()));
  expect(backup.session.id).toBe(id);
  expect(backup.session.messageCount).toBe(4);
  expect(backup.messages).toEqual(conversation.messages);
  expect(backup.session.messages.map((message: { status: string }) => message.status)).toEqual(
    ['complete', 'complete', 'complete', 'complete']);

  expect(errors, errors.join('\n')).toEqual([]);
});
