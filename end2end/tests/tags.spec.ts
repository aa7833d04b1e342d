import { test, expect } from '@playwright/test';
import { artifacts, postMessage, sidebar, signUp, uniqueEmail, waitForHydration } from './helpers';

// Tags on conversations: one tagged from its header, two more from a selection in one request,
// the list filtered by the tag, the tag renamed everywhere, a search narrowed by it, one taken
// off, and the tag deleted everywhere.
test('a tag put on from the header and on a selection filters the list, is renamed and searched, and is deleted everywhere', async ({ page }) => {
  await signUp(page, uniqueEmail('tags'));
  // Made oldest first: the sidebar shows "tag topic 3" on top.
  for (let n = 0; n < 4; n++) {
    await postMessage(page, { role: 'user', content: `tag topic ${n}` });
  }
  await page.reload();
  await waitForHydration(page);
  const nav = sidebar(page);
  const link = (n: number) => nav.getByRole('link', { name: new RegExp(`tag topic ${n}`) });

  // From the open conversation's header. What cannot be a tag is said, and nothing is sent.
  await link(3).click();
  await expect(page).toHaveURL(/\/c\//);
  const head = page.locator('header.conversation-head');
  await head.getByRole('button', { name: '+ Tag' }).click();
  const field = head.getByRole('combobox', { name: 'Add a tag' });
  await field.fill('x'.repeat(65));
  await field.press('Enter');
  await expect(head.getByRole('alert')).toContainText('64');
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await field.fill('  project   x ');
  await field.press('Enter');
  const tags = head.getByRole('list', { name: 'Tags' });
  await expect(tags.getByRole('listitem').filter({ hasText: 'project x' })).toHaveCount(1);
  await expect(link(3)).toContainText('project x');

  // Two more from a selection: one request, and the notice counts them.
  const box = (n: number) => nav.getByRole('checkbox', { name: `Select “tag topic ${n}”` });
  await link(2).hover();
  await box(2).click();
  await box(1).click({ modifiers: ['Shift'] });
  const bar = page.getByRole('toolbar', { name: 'Selected conversations' });
  await expect(bar).toContainText('2 selected');
  const calls: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/rpc/bulk_sessions')) calls.push(request.url());
  });
  await bar.getByRole('button', { name: 'Tag…' }).click();
  await bar.getByRole('combobox', { name: 'Tag for the selected conversations' }).fill('project x');
  await bar.getByRole('button', { name: 'Add tag' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Tagged 2 conversations.' })).toBeVisible();
  expect(calls.length).toBe(1);
  for (const n of [3, 2, 1]) await expect(link(n)).toContainText('project x');
  await expect(link(0)).not.toContainText('project x');

  // The list filtered by the tag.
  await nav.getByRole('combobox', { name: 'Filter by tag' }).selectOption('project x');
  await expect(nav.getByRole('heading', { name: 'Tagged “project x”' })).toBeVisible();
  await expect(link(0)).toHaveCount(0);
  for (const n of [3, 2, 1]) await expect(link(n)).toBeVisible();
  await page.screenshot({ path: `${artifacts}/tags-sidebar-light.png` });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/tags-sidebar-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });

  // Renamed everywhere: the filter and the open conversation follow.
  await nav.getByRole('button', { name: 'Rename tag' }).click();
  const rename = nav.getByRole('combobox', { name: 'New name of the tag' });
  await rename.fill('client x');
  await rename.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Renamed “project x” to “client x” on 3 conversations.' })).toBeVisible();
  await expect(nav.getByRole('heading', { name: 'Tagged “client x”' })).toBeVisible();
  await expect(tags.getByRole('listitem').filter({ hasText: 'client x' })).toHaveCount(1);
  await expect(tags.getByRole('listitem').filter({ hasText: 'project x' })).toHaveCount(0);

  // A search narrowed by the tag finds only the tagged conversations' messages.
  await page.keyboard.press('Control+k');
  await page.keyboard.type('topic tag:"client x"');
  const results = page.getByLabel('Search results');
  await expect(results.getByRole('link')).toHaveCount(3);
  for (const n of [3, 2, 1]) await expect(results.getByText(`tag topic ${n}`, { exact: true }).first()).toBeVisible();
  await expect(results.getByText('tag topic 0', { exact: true })).toHaveCount(0);
  await results.getByRole('button', { name: 'Close' }).click();

  // Taken off the open conversation: it leaves the filtered list.
  await tags.getByRole('button', { name: 'Remove tag “client x”' }).click();
  await expect(tags.getByRole('listitem').filter({ hasText: 'client x' })).toHaveCount(0);
  await expect(link(3)).toHaveCount(0);

  // Deleted everywhere: the filter goes back to every conversation, none tagged.
  await nav.getByRole('button', { name: 'Delete tag' }).click();
  await nav.getByRole('alertdialog', { name: 'Confirm deleting the tag' }).getByRole('button', { name: 'Delete tag' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Took the tag “client x” off 2 conversations.' })).toBeVisible();
  await expect(nav.getByRole('heading', { name: 'Conversations' })).toBeVisible();
  for (const n of [3, 2, 1, 0]) await expect(link(n)).toBeVisible();
  await expect(nav.locator('.session-tags')).toHaveCount(0);
  await expect(nav.getByRole('combobox', { name: 'Filter by tag' })).toHaveCount(0);
});
