import { test, expect } from '@playwright/test';
import { artifacts, composer, postMessage, sessionIdOf, sidebar, signUp, uniqueEmail, waitForHydration } from './helpers';

// Folders: one made in the sidebar, a conversation dragged into it, defaults that a
// conversation started in it takes (its system prompt stored first, its model used), a
// selection moved into it with "Move to", and the folder deleted with its conversations kept.
test('a folder takes a dragged conversation and a moved selection, gives its defaults to a new chat, and is deleted keeping its conversations', async ({ page }) => {
  await signUp(page, uniqueEmail('folders'));
  for (let n = 0; n < 4; n++) {
    await postMessage(page, { role: 'user', content: `atlas topic ${n}` });
  }
  await page.reload();
  await waitForHydration(page);
  const nav = sidebar(page);
  const link = (n: number) => nav.getByRole('link', { name: new RegExp(`atlas topic ${n}`) });

  // Made at the top level, empty.
  await nav.getByRole('button', { name: '+ New folder' }).click();
  const name = nav.getByRole('textbox', { name: 'Name of the new folder' });
  await name.fill('  Project   Atlas ');
  await name.press('Enter');
  const folder = nav.getByRole('button', { name: 'Project Atlas (0 conversations)' });
  await expect(folder).toBeVisible();

  // A conversation dragged onto it leaves the top level; the folder counts it.
  const moves: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/rpc/bulk_sessions')) moves.push(request.url());
  });
  await link(3).dragTo(folder);
  await expect(page.getByRole('status').filter({ hasText: 'Moved 1 conversation.' })).toBeVisible();
  await expect(link(3)).toHaveCount(0);
  await expect(nav.getByRole('button', { name: 'Project Atlas (1 conversation)' })).toBeVisible();
  expect(moves.length).toBe(1);

  // Two more with the bulk bar's "Move to".
  await link(2).hover();
  await nav.getByRole('checkbox', { name: 'Select “atlas topic 2”' }).click();
  await nav.getByRole('checkbox', { name: 'Select “atlas topic 1”' }).click({ modifiers: ['Shift'] });
  const bar = nav.getByRole('toolbar', { name: 'Selected conversations' });
  await expect(bar).toContainText('2 selected');
  await bar.getByRole('button', { name: 'Move to…' }).click();
  await bar.getByRole('combobox', { name: 'Folder to move to' }).selectOption({ label: 'Project Atlas' });
  await bar.getByRole('button', { name: 'Move', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Moved 2 conversations.' })).toBeVisible();
  for (const n of [2, 1]) await expect(link(n)).toHaveCount(0);
  await expect(link(0)).toBeVisible();
  const full = nav.getByRole('button', { name: 'Project Atlas (3 conversations)' });
  await expect(full).toBeVisible();
  await page.screenshot({ path: `${artifacts}/folders-sidebar-light.png` });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/folders-sidebar-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });

  // Inside: its three conversations, the way back, its actions.
  await full.click();
  await expect(nav.getByRole('heading', { name: 'Project Atlas' })).toBeVisible();
  for (const n of [3, 2, 1]) await expect(link(n)).toBeVisible();
  await expect(link(0)).toHaveCount(0);
  await nav.getByRole('button', { name: 'Defaults…' }).click();
  await nav.getByRole('textbox', { name: 'System prompt for new conversations' }).fill('Answer as a cartographer.');
  await nav.getByRole('textbox', { name: 'Model for new conversations' }).fill('fake-no-usage');
  await nav.getByRole('button', { name: 'Save' }).click();

  // A new chat from inside the folder starts in it, with its system prompt and model.
  await nav.getByRole('button', { name: '+ New chat' }).click();
  await expect(page).toHaveURL(/\/new\?folder=/);
  await expect(page.getByRole('heading', { name: 'Start a new conversation in “Project Atlas”' })).toBeVisible();
  await composer(page).fill('Where is Atlas?');
  await composer(page).press('Enter');
  await expect(page).toHaveURL(/\/c\/[^/?]+/);
  await expect(page.locator('li.message-assistant:not(.streaming)')).toHaveCount(1, { timeout: 20_000 });
  const id = sessionIdOf(page);
  await expect(nav.getByRole('link', { name: /Where is Atlas/ })).toBeVisible();
  const session = await (await page.request.get(`/api/chat/sessions/${id}`)).json();
  const folders = await (await page.request.get('/api/chat/folders')).json();
  expect(folders.folders.map((f: { name: string; sessionCount: number }) => [f.name, f.sessionCount])).toEqual([['Project Atlas', 4]]);
  expect(session.folderId ?? session.session?.folderId).toBe(folders.folders[0].id);
  const messages = (await (await page.request.get(`/api/chat/messages?sessionId=${id}`)).json()).messages;
  const shape = messages.map((m: { role: string; content: string; model: string | null }) => [m.role, m.role === 'assistant' ? m.model : m.content]);
  expect(shape).toEqual(expect.arrayContaining([
    ['system', 'Answer as a cartographer.'],
    ['user', 'Where is Atlas?'],
    ['assistant', 'fake-no-usage'],
  ]));
  expect(messages.length).toBe(3);

  // Deleted, keeping its conversations: they are back at the top level.
  await nav.getByRole('button', { name: 'Delete folder' }).click();
  await nav.getByRole('button', { name: 'Keep its conversations' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Deleted the folder “Project Atlas”' })).toBeVisible();
  await expect(nav.getByRole('heading', { name: 'Conversations' })).toBeVisible();
  for (const n of [3, 2, 1, 0]) await expect(link(n)).toBeVisible();
  await expect(nav.getByRole('link', { name: /Where is Atlas/ })).toBeVisible();
  await expect(nav.getByRole('button', { name: /Project Atlas/ })).toHaveCount(0);
});
