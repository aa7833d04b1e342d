import { test, expect } from '@playwright/test';
import { artifacts, postMessage, sidebar, signUp, uniqueEmail, waitForHydration } from './helpers';

test('five conversations selected with Shift-click are archived in one go, and a deleted selection comes back with Undo', async ({ page }) => {
  await signUp(page, uniqueEmail('bulk'));
  // Made oldest first: the sidebar shows "bulk topic 7" on top.
  for (let n = 0; n < 8; n++) {
    await postMessage(page, { role: 'user', content: `bulk topic ${n}` });
  }
  await page.reload();
  await waitForHydration(page);
  const nav = sidebar(page);
  const box = (n: number) => nav.getByRole('checkbox', { name: `Select “bulk topic ${n}”` });
  await nav.getByRole('link', { name: /bulk topic 7/ }).hover();
  await box(7).click();
  await box(3).click({ modifiers: ['Shift'] });
  const bar = page.getByRole('toolbar', { name: 'Selected conversations' });
  await expect(bar).toContainText('5 selected');
  for (const n of [7, 6, 5, 4, 3]) await expect(box(n)).toBeChecked();
  for (const n of [2, 1, 0]) await expect(box(n)).not.toBeChecked();
  await page.screenshot({ path: `${artifacts}/bulk-selection-light.png` });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/bulk-selection-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });

  // One request for the five.
  const bulkRequests: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/rpc/')) bulkRequests.push(request.url());
  });
  await bar.getByRole('button', { name: 'Archive' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Archived 5 conversations.' })).toBeVisible();
  await expect(bar).toHaveCount(0);
  for (const n of [7, 6, 5, 4, 3]) await expect(nav.getByRole('link', { name: new RegExp(`bulk topic ${n}`) })).toHaveCount(0);
  for (const n of [2, 1, 0]) await expect(nav.getByRole('link', { name: new RegExp(`bulk topic ${n}`) })).toBeVisible();
  expect(bulkRequests.filter((url) => url.includes('bulk_sessions')).length).toBe(1);
  await nav.getByRole('button', { name: 'Show archived' }).click();
  for (const n of [7, 6, 5, 4, 3]) await expect(nav.getByRole('link', { name: new RegExp(`bulk topic ${n}`) })).toBeVisible();
  await nav.getByRole('button', { name: 'Back to conversations' }).click();

  // Select all, delete, Undo: all three come back.
  await nav.getByRole('link', { name: /bulk topic 2/ }).hover();
  await box(2).click();
  await bar.getByRole('button', { name: 'Select all' }).click();
  await expect(bar).toContainText('3 selected');
  await bar.getByRole('button', { name: 'Delete' }).click();
  const notice = page.getByRole('status').filter({ hasText: 'Deleted 3 conversations.' });
  await expect(notice).toBeVisible();
  await expect(nav.getByText('No conversations yet.')).toBeVisible();
  await notice.getByRole('button', { name: 'Undo' }).click();
  for (const n of [2, 1, 0]) await expect(nav.getByRole('link', { name: new RegExp(`bulk topic ${n}`) })).toBeVisible();
});
