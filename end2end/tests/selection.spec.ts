import { test, expect, Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { artifacts, postMessage, sidebar, signUp, uniqueEmail, waitForHydration } from './helpers';

/** Each conversation's own Markdown export, as the server gives it. */
async function markdownOf(page: Page, id: string): Promise<string> {
  const response = await page.request.get(`/api/chat/sessions/${id}/export?format=markdown`);
  expect(response.status()).toBe(200);
  return response.text();
}

// Conversations chosen in the search results (a click, then Shift-click for a range) are
// exported as one Markdown file and archived in one request; a selection in the sidebar is
// downloaded as one JSON backup holding exactly those conversations.
test('a selection in search results exports one file and is archived in one request, and the sidebar exports a JSON backup', async ({ page }) => {
  await signUp(page, uniqueEmail('selection'));
  const ids: string[] = [];
  // Made oldest first: the newest hit, "lighthouse 3", comes first.
  for (let n = 0; n < 4; n++) {
    ids.push((await postMessage(page, { role: 'user', content: `lighthouse keeper ${n}` })).sessionId);
  }
  await page.reload();
  await waitForHydration(page);

  await page.getByRole('searchbox', { name: 'Search messages' }).fill('lighthouse');
  const results = page.getByLabel('Search results');
  const box = (n: number) => results.getByRole('checkbox', { name: `Select “lighthouse keeper ${n}”` });
  await expect(box(3)).toBeVisible();
  await box(3).click();
  await box(1).click({ modifiers: ['Shift'] });
  const bar = results.getByRole('toolbar', { name: 'Selected conversations' });
  await expect(bar).toContainText('3 selected');
  // The sidebar shows no bar: the selection is the results'.
  await expect(sidebar(page).getByRole('toolbar', { name: 'Selected conversations' })).toHaveCount(0);
  await page.screenshot({ path: `${artifacts}/selection-search-light.png` });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/selection-search-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });

  // Markdown of the three, in the results' order, each exactly its own export.
  await bar.getByRole('button', { name: 'Export…' }).click();
  const download = page.waitForEvent('download');
  await bar.getByRole('button', { name: 'Markdown' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^confab-conversations-\d{4}-\d{2}-\d{2}\.md$/);
  const text = await readFile(await file.path(), 'utf8');
  const parts = [await markdownOf(page, ids[3]), await markdownOf(page, ids[2]), await markdownOf(page, ids[1])];
  expect(text).toBe(parts.join('\n---\n\n'));
  await expect(page.getByRole('status').filter({ hasText: 'Exported 3 conversations.' })).toBeVisible();

  // Archived in one request: they leave the sidebar, the fourth stays.
  const calls: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/rpc/bulk_sessions')) calls.push(request.url());
  });
  await bar.getByRole('button', { name: 'Archive' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Archived 3 conversations.' })).toBeVisible();
  expect(calls.length).toBe(1);
  const nav = sidebar(page);
  const link = (n: number) => nav.getByRole('link', { name: new RegExp(`lighthouse keeper ${n}`) });
  for (const n of [3, 2, 1]) await expect(link(n)).toHaveCount(0);
  await expect(link(0)).toBeVisible();

  // The sidebar's own selection: a JSON backup of exactly the chosen conversations.
  await page.getByRole('button', { name: 'Close' }).click();
  await nav.getByRole('button', { name: 'Show archived' }).click();
  await link(2).hover();
  await nav.getByRole('checkbox', { name: 'Select “lighthouse keeper 2”' }).click();
  await nav.getByRole('checkbox', { name: 'Select “lighthouse keeper 1”' }).click();
  const sideBar = nav.getByRole('toolbar', { name: 'Selected conversations' });
  await expect(sideBar).toContainText('2 selected');
  await expect(sideBar.getByRole('button', { name: 'Unarchive' })).toBeVisible();
  await sideBar.getByRole('button', { name: 'Export…' }).click();
  const jsonDownload = page.waitForEvent('download');
  await sideBar.getByRole('button', { name: 'JSON backup' }).click();
  const json = JSON.parse(await readFile(await (await jsonDownload).path(), 'utf8'));
  expect(json.format).toBe('confab');
  const exported = json.sessions.map((session: { id: string }) => session.id);
  expect(exported).toEqual([ids[2], ids[1]].sort());
  for (const session of json.sessions) {
    expect(session.archived).toBe(true);
    expect(session.messages.map((message: { content: string }) => message.content)).toEqual([
      `lighthouse keeper ${ids.indexOf(session.id)}`,
    ]);
  }
});
