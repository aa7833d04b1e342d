import { test, expect } from '@playwright/test';
import {
  artifacts, composer, conversationAction, postMessage, recordStreaming, sendMessage, sessionIdOf,
  sidebar, signUp, startConversation, streamingSeen, uniqueEmail, waitForHydration,
} from './helpers';

test('a message streams its reply, and the history survives a reload', async ({ page }) => {
  await signUp(page, uniqueEmail('stream'));
  await expect(page.getByRole('heading', { name: 'Start a new conversation' })).toBeVisible();

  // fake-slow sends a chunk every 150 ms: the reply is seen growing before it is complete.
  await page.getByRole('combobox', { name: 'Model' }).selectOption('fake-slow');
  await composer(page).fill('Tell me something about streaming replies please');
  await recordStreaming(page);
  await composer(page).press('Enter');
  const reply = page.locator('li.message-assistant:not(.streaming)');
  await expect(reply).toContainText('Echo: Tell me something about streaming replies please', { timeout: 20_000 });
  expect(await streamingSeen(page)).toEqual({ echo: true, stop: true });
  await expect(reply).toContainText('fake-slow');
  await expect(reply).toContainText('tokens');
  await expect(page).toHaveURL(/\/c\//);
  // The conversation is titled from its first message and listed in the sidebar under Today.
  await expect(sidebar(page).getByRole('link', { name: /Tell me something about streaming/ })).toBeVisible();
  await expect(sidebar(page).getByText('Today')).toBeVisible();

  await page.getByRole('combobox', { name: 'Model' }).selectOption('fake-model');
  await sendMessage(page, 'A second question with `code` and **bold**');
  await expect(page.locator('.message-user strong').filter({ hasText: 'bold' })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/chat-light.png`, fullPage: true });

  const id = sessionIdOf(page);
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('li.message')).toHaveCount(4);
  await expect(page.getByRole('heading', { name: /Tell me something about streaming/ })).toBeVisible();

  // Opening the app goes back to the conversation last open.
  await page.goto('/');
  await waitForHydration(page);
  await expect(page).toHaveURL(new RegExp(`/c/${id}`));
});

test('sessions: switch with the sidebar and the selector, rename, clear', async ({ page }) => {
  await signUp(page, uniqueEmail('sessions'));
  await sendMessage(page, 'first topic alpha');
  const first = sessionIdOf(page);
  const second = await startConversation(page, 'second topic beta');
  expect(second).not.toEqual(first);

  await sidebar(page).getByRole('link', { name: /first topic alpha/ }).click();
  await expect(page).toHaveURL(new RegExp(`/c/${first}`));
  await expect(page.getByRole('heading', { name: 'first topic alpha' })).toBeVisible();
  await expect(page.locator('li.message-assistant')).toContainText('Echo: first topic alpha');

  // Rename inline: at once in the heading and the sidebar, and kept after a reload.
  await page.getByRole('button', { name: 'Rename conversation' }).click();
  await page.getByRole('textbox', { name: 'Conversation title' }).fill('Alpha renamed');
  // The rename shows at once; the reload must wait for the server's answer, or it may cancel
  // the save before it was sent (it did once on a loaded machine).
  const saved = page.waitForResponse((response) => response.url().includes('/rpc/update_session'));
  await page.getByRole('textbox', { name: 'Conversation title' }).press('Enter');
  await expect(page.getByRole('heading', { name: 'Alpha renamed' })).toBeVisible();
  await expect(sidebar(page).getByRole('link', { name: /Alpha renamed/ })).toBeVisible();
  expect((await saved).status()).toBe(200);
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Alpha renamed' })).toBeVisible();

  // On a phone the sidebar gives way to a selector.
  await page.setViewportSize({ width: 375, height: 760 });
  await expect(sidebar(page)).toBeHidden();
  const selector = page.getByRole('combobox', { name: 'Conversation', exact: true });
  await expect(selector).toBeVisible();
  await selector.selectOption(second);
  await expect(page).toHaveURL(new RegExp(`/c/${second}`));
  await expect(page.getByRole('heading', { name: 'second topic beta' })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/chat-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Clear keeps the conversation, without its messages.
  await conversationAction(page, 'Clear messages');
  const cleared = page.waitForResponse((response) => response.url().includes('/rpc/clear_session'));
  await page.getByRole('alertdialog').getByRole('button', { name: 'Clear' }).click();
  await expect(page.getByText('No messages yet. Say hello below.')).toBeVisible();
  expect((await cleared).status()).toBe(200);
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByText('No messages yet. Say hello below.')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'second topic beta' })).toBeVisible();
});

test('a delete happens on the server at once, and Undo brings the conversation back whole', async ({ page }) => {
  await signUp(page, uniqueEmail('delete'));
  await sendMessage(page, 'keep me around');
  const id = await startConversation(page, 'delete me soon');
  const link = sidebar(page).getByRole('link', { name: /delete me soon/ });

  await conversationAction(page, 'Delete');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  await expect(link).toHaveCount(0);
  // The server has deleted it already (no timer in the page): it is gone for the API too.
  await expect(page.getByRole('status').filter({ hasText: 'Deleted “delete me soon”.' })).toBeVisible();
  expect((await page.request.get(`/api/chat/sessions/${id}`)).status()).toBe(404);

  await page.getByRole('button', { name: 'Undo' }).click();
  await expect(link).toBeVisible();
  expect((await page.request.get(`/api/chat/sessions/${id}`)).status()).toBe(200);
  await link.click();
  await expect(page.getByRole('heading', { name: 'delete me soon' })).toBeVisible();
  await expect(page.locator('li.message')).toHaveCount(2);

  // Deleted again, and the page closed (reloaded) at once, inside the Undo time: it stays deleted.
  // The delete is sent at once, not when the Undo time ends: its answer comes while Undo is
  // still offered (waiting for it keeps the reload from cancelling a request not yet sent).
  await conversationAction(page, 'Delete');
  const deleted = page.waitForResponse((response) => response.url().includes('/rpc/delete_session'));
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  expect((await deleted).status()).toBe(200);
  await expect(page.getByRole('button', { name: 'Undo' })).toBeVisible();
  await page.reload();
  await waitForHydration(page);
  await expect(sidebar(page).getByRole('link', { name: /keep me around/ })).toBeVisible();
  await expect(link).toHaveCount(0);
});

test('a delete the server refuses puts the conversation back and says why', async ({ page }) => {
  await signUp(page, uniqueEmail('refused'));
  const id = await startConversation(page, 'cannot delete me');
  const link = sidebar(page).getByRole('link', { name: /cannot delete me/ });
  await page.route('**/rpc/delete_session*', (route) =>
    route.fulfill({ status: 500, contentType: 'text/plain', body: 'the store is down' }));

  await conversationAction(page, 'Delete');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Could not delete “cannot delete me”' })).toBeVisible();
  await expect(link).toBeVisible();
  await expect(page.getByRole('button', { name: 'Undo' })).toHaveCount(0);
  await page.unroute('**/rpc/delete_session*');
  expect((await page.request.get(`/api/chat/sessions/${id}`)).status()).toBe(200);
});

test('search finds a message in another conversation and opens it there', async ({ page }) => {
  await signUp(page, uniqueEmail('search'));
  await sendMessage(page, 'the zebra crossing is striped');
  const target = sessionIdOf(page);
  await startConversation(page, 'something entirely different');

  await page.keyboard.press('Control+k');
  await expect(page.getByRole('searchbox', { name: 'Search messages' })).toBeFocused();
  await page.keyboard.type('zebra');
  const results = page.getByLabel('Search results');
  const hit = results.getByRole('link').filter({ hasText: 'the zebra crossing' }).first();
  await expect(hit).toBeVisible();
  await expect(results.locator('mark').first()).toHaveText(/zebra/i);
  await page.screenshot({ path: `${artifacts}/search.png` });
  await hit.click();
  await expect(page).toHaveURL(new RegExp(`/c/${target}\\?m=`));
  await expect(page.getByRole('heading', { name: 'the zebra crossing is striped' })).toBeVisible();
  await expect(page.locator('li.message.highlight')).toContainText('zebra');
});

test('search model: with a date range finds only that model, grouped by conversation, and opens a hit', async ({ page }) => {
  await signUp(page, uniqueEmail('search-filters'));
  await page.getByRole('combobox', { name: 'Model' }).selectOption('fake-slow');
  await sendMessage(page, 'pelicans dive for fish');
  await expect(page.locator('li.message-assistant:not(.streaming)')).toContainText('Echo: pelicans dive', { timeout: 20_000 });
  await page.getByRole('combobox', { name: 'Model' }).selectOption('fake-model');
  await startConversation(page, 'pelicans nest on cliffs');
  await expect(page.locator('li.message-assistant:not(.streaming)')).toContainText('Echo: pelicans nest');
  const nesting = sessionIdOf(page);

  const box = page.getByRole('searchbox', { name: 'Search messages' });
  await box.fill('pelicans model:fake-model');
  const results = page.getByLabel('Search results');
  const reply = results.getByRole('link').filter({ hasText: 'Echo: pelicans nest' });
  await expect(reply).toBeVisible();
  await expect(results.getByRole('link').filter({ hasText: 'dive' })).toHaveCount(0);
  // One group, the conversation's, with the count of its hits.
  const groups = results.locator('.search-group');
  await expect(groups).toHaveCount(1);
  await expect(groups.locator('.search-group-head')).toContainText('pelicans nest on cliffs');
  const count = await groups.getByRole('link').count();
  await expect(groups.locator('.search-group-head')).toContainText(count === 1 ? '1 hit' : `${count} hits`);

  // The date controls write the range into the box; today is inside it, and not before today.
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const filters = results.getByRole('group', { name: 'Search filters' });
  await filters.getByLabel('After').fill(today);
  await filters.getByLabel('Before').fill(tomorrow);
  await expect(box).toHaveValue(`pelicans model:fake-model after:${today} before:${tomorrow}`);
  await expect(reply).toBeVisible();
  await page.screenshot({ path: `${artifacts}/search-filters.png` });
  await filters.getByLabel('Before').fill(today);
  await expect(results.getByText('No message matches.')).toBeVisible();
  await filters.getByLabel('Before').fill(tomorrow);
  await reply.click();
  await expect(page).toHaveURL(new RegExp(`/c/${nesting}\\?m=`));
  await expect(page.locator('li.message.highlight')).toContainText('Echo: pelicans nest');
});

test('clearing a conversation opened at a search hit opens it plain, empty', async ({ page }) => {
  await signUp(page, uniqueEmail('clear-hit'));
  await sendMessage(page, 'the okapi lives in the forest');
  const target = sessionIdOf(page);
  await startConversation(page, 'something else entirely');
  await page.keyboard.press('Control+k');
  await page.keyboard.type('okapi');
  const hit = page.getByLabel('Search results').getByRole('link').filter({ hasText: 'the okapi lives' }).first();
  await hit.click();
  await expect(page).toHaveURL(new RegExp(`/c/${target}\\?m=`));

  // The message the URL names is gone after the clear: the page must not turn into an error.
  await conversationAction(page, 'Clear messages');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Clear' }).click();
  await expect(page).toHaveURL(new RegExp(`/c/${target}$`));
  await expect(page.getByText('No messages yet. Say hello below.')).toBeVisible();
  await expect(page.getByText('This conversation could not be opened')).toHaveCount(0);
});

test('the type filter shows only messages of that type', async ({ page }) => {
  await signUp(page, uniqueEmail('filter'));
  await sendMessage(page, 'a plain chat message');
  await page.getByRole('combobox', { name: 'Message type' }).selectOption('code');
  await sendMessage(page, 'a question about code');

  await page.getByRole('combobox', { name: 'Filter messages by type' }).selectOption('code');
  await expect(page.locator('li.message').filter({ hasText: 'a question about code' }).first()).toBeVisible();
  await expect(page.locator('li.message').filter({ hasText: 'a plain chat message' })).toHaveCount(0);
  await page.getByRole('combobox', { name: 'Filter messages by type' }).selectOption('');
  await expect(page.locator('li.message').filter({ hasText: 'a plain chat message' }).first()).toBeVisible();

  // Search results filter by type too.
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('plain');
  await expect(page.getByLabel('Search results').getByRole('link').first()).toBeVisible();
  await page.getByRole('combobox', { name: 'Search in type' }).selectOption('code');
  await expect(page.getByLabel('Search results').getByText('No message matches.')).toBeVisible();
});

test('exporting a conversation downloads JSON with its messages', async ({ page }) => {
  await signUp(page, uniqueEmail('export'));
  await sendMessage(page, 'export this message');
  const downloadPromise = page.waitForEvent('download');
  await conversationAction(page, 'Export JSON');
  const download = await downloadPromise;
  const path = await download.path();
  const fs = await import('node:fs');
  const document = JSON.parse(fs.readFileSync(path, 'utf8'));
  const text = JSON.stringify(document);
  expect(text).toContain('export this message');
  expect(text).toContain('Echo: export this message');
});

test('a rename that fails on the server is rolled back with an error', async ({ page, context }) => {
  await signUp(page, uniqueEmail('rollback'));
  await sendMessage(page, 'soon deleted elsewhere');
  const id = sessionIdOf(page);

  // Another tab of the same user deletes the conversation.
  const other = await context.newPage();
  await other.goto('/');
  const status = await other.evaluate(async (sessionId) => {
    const response = await fetch(`/api/chat/sessions/${sessionId}`, { method: 'DELETE' });
    return response.status;
  }, id);
  expect(status).toBe(204);
  await other.close();

  await page.getByRole('button', { name: 'Rename conversation' }).click();
  await page.getByRole('textbox', { name: 'Conversation title' }).fill('A new name');
  await page.getByRole('textbox', { name: 'Conversation title' }).press('Enter');
  const alert = page.getByRole('alert').filter({ hasText: 'Could not rename' });
  await expect(alert).toBeVisible();
  await expect(alert).toContainText('not found');
  await expect(page.getByRole('heading', { name: 'soon deleted elsewhere' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'A new name' })).toHaveCount(0);
  await page.screenshot({ path: `${artifacts}/rollback-error.png` });
});

test('HTML in a message is shown as text and never runs', async ({ page }) => {
  const dialogs: string[] = [];
  page.on('dialog', async (dialog) => { dialogs.push(dialog.message()); await dialog.dismiss(); });
  await signUp(page, uniqueEmail('xss'));
  const hostile = '<script>alert("xss")</script> <img src=x onerror="window.__pwned=1;alert(2)"> [x](javascript:alert(3))';
  await composer(page).fill(hostile);
  await composer(page).press('Enter');
  const user = page.locator('li.message-user').first();
  await expect(user).toContainText('<script>alert("xss")</script>');
  await expect(user).toContainText('<img src=x onerror=');
  await expect(page.locator('li.message-assistant:not(.streaming)')).toContainText('Echo:', { timeout: 20_000 });
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('li.message-user').first()).toContainText('<script>alert("xss")</script>');
  expect(await page.locator('.message-list img').count()).toBe(0);
  expect(await page.locator('.message-list script').count()).toBe(0);
  expect(await page.locator('.message-list a[href^="javascript"]').count()).toBe(0);
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);
});

test('dark theme and the sign-in page in dark, before the WASM loads', async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: 'dark' });
  const page = await context.newPage();
  await signUp(page, uniqueEmail('dark'));
  await sendMessage(page, 'Show me some code:\n\n```rust\nfn main() { println!("hi"); } // greet\n```');
  await expect(page.locator('.code-block .hl-k').first()).toBeVisible();
  await page.screenshot({ path: `${artifacts}/chat-dark.png`, fullPage: true });
  await context.close();

  const noScript = await browser.newContext({ javaScriptEnabled: false, colorScheme: 'dark' });
  const plain = await noScript.newPage();
  await plain.goto('/');
  await expect(plain.getByRole('heading', { name: 'Welcome to Confab' })).toBeVisible();
  await plain.screenshot({ path: `${artifacts}/sign-in-dark.png` });
  await noScript.close();
});

test('Stop ends the reply on the server: after a reload the partial reply is there, marked stopped', async ({ page }) => {
  const provider = process.env.CONFAB_PROVIDER_URL ?? '';
  const providerLog = async () => {
    const response = await page.request.get(provider.replace(/\/v1$/, '') + '/_requests');
    return (await response.json()) as Array<Record<string, unknown>>;
  };
  await signUp(page, uniqueEmail('stop'));
  const before = (await providerLog()).length;
  // fake-long sends w1 … w300, one word every 40 ms: about 12 seconds.
  await page.getByRole('combobox', { name: 'Model' }).selectOption('fake-long');
  await composer(page).fill('Please talk for a long time');
  await composer(page).press('Enter');
  const live = page.locator('li.message-assistant.streaming');
  await expect(live).toContainText('w10');
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeHidden();
  const stopped = page.locator('li.message-assistant').last();
  await expect(stopped).toContainText('partial · stopped');
  const shown = (await stopped.locator('.message-body').innerText()).trim();
  expect(shown).toMatch(/^w1 w2 w3 w4 w5 w6 w7 w8 w9 w10/);
  expect(shown).not.toContain('w300');

  // The provider was asked once, and that request was cancelled, not read to the end.
  await expect.poll(async () => (await providerLog()).slice(before).map((r) => r._outcome))
    .toEqual(['cancelled']);

  await page.waitForTimeout(1000);
  await page.reload();
  await waitForHydration(page);
  const reloaded = page.locator('li.message-assistant').last();
  await expect(reloaded).toContainText('partial · stopped');
  expect((await reloaded.locator('.message-body').innerText()).trim()).toEqual(shown);
  await expect(page.locator('li.message')).toHaveCount(2);
  await page.screenshot({ path: `${artifacts}/chat-stopped.png`, fullPage: true });
});

test('a long conversation opens at its end, pages up, and search opens hits on earlier pages and other branches', async ({ page }) => {
  await signUp(page, uniqueEmail('long'));
  const post = (body: Record<string, unknown>) => postMessage(page, body);
  // 120 turns; turn 5 holds a rare word; beside turn 10 an older branch holds another.
  let message = await post({ role: 'user', content: 'turn 0' });
  const sessionId: string = message.sessionId;
  const ids: string[] = [message.id];
  for (let n = 1; n < 120; n++) {
    if (n === 10) {
      await post({ sessionId, parentId: message.id, role: 'user', content: 'turn 10 elsewhere: the wombat branch' });
    }
    message = await post({
      sessionId, parentId: message.id, role: n % 2 ? 'assistant' : 'user',
      content: n === 5 ? 'turn 5 mentions the narwhal' : `turn ${n}`,
    });
    ids.push(message.id);
  }
  const turn = (n: number) => page.locator(`#m-${ids[n]}`);

  // Opens at the latest message: the last page of 50, scrolled to its end.
  await page.goto(`/c/${sessionId}`);
  await waitForHydration(page);
  await expect(page.locator('li.message')).toHaveCount(50);
  await expect(turn(119)).toBeInViewport();
  await expect(turn(70)).toBeAttached();
  await expect(turn(69)).toHaveCount(0);
  await page.screenshot({ path: `${artifacts}/long-conversation-end.png` });

  // Scrolling up loads the page above, keeping the reader's place.
  await page.locator('.scroller').evaluate((element) => { element.scrollTop = 0; });
  await expect(page.locator('li.message')).toHaveCount(100);
  await expect(turn(20)).toBeAttached();
  await expect(turn(70)).toBeInViewport({ ratio: 0.1 });

  // A hit on a page not loaded: the conversation opens there, the hit highlighted.
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('narwhal');
  await page.getByLabel('Search results').getByRole('link').filter({ hasText: 'narwhal' }).click();
  await expect(page).toHaveURL(new RegExp(`/c/${sessionId}\\?m=${ids[5]}`));
  await expect(turn(5)).toHaveClass(/highlight/);
  await expect(turn(5)).toBeInViewport();
  await expect(turn(0)).toBeAttached();
  await expect(turn(49)).toBeAttached();
  await expect(turn(50)).toHaveCount(0);
  await page.screenshot({ path: `${artifacts}/search-hit-earlier-page.png` });
  // Below it, later pages load as the reader scrolls down.
  await page.locator('.scroller').evaluate((element) => { element.scrollTop = element.scrollHeight; });
  await expect(turn(99)).toBeAttached();

  // A hit on another branch: the conversation switches to that branch and opens at it.
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('wombat');
  await page.getByLabel('Search results').getByRole('link').filter({ hasText: 'wombat' }).click();
  const wombat = page.locator('li.message.highlight');
  await expect(wombat).toContainText('the wombat branch');
  await expect(wombat).toBeInViewport();
  await expect(wombat.locator('.version-count')).toHaveText('1/2');
  await expect(turn(9)).toBeAttached();
  await expect(turn(10)).toHaveCount(0);
  await expect(turn(119)).toHaveCount(0);
  await page.screenshot({ path: `${artifacts}/search-hit-other-branch.png` });

  // And back to the main line with the version switcher.
  await wombat.getByRole('button', { name: 'Next version' }).click();
  await expect(turn(10)).toBeAttached();
  await expect(page.locator('li.message').filter({ hasText: 'wombat' })).toHaveCount(0);
  const branch = await (await page.request.get(`/api/chat/sessions/${sessionId}/branch?limit=1`)).json();
  expect(branch.messages[0].id).toBe(ids[119]);
});

test('a conversation is server-rendered: readable with JavaScript off, with working links, at its end before the WASM loads', async ({ page, browser }) => {
  await signUp(page, uniqueEmail('ssr'));
  const post = (body: Record<string, unknown>) => postMessage(page, body);
  const other = await post({ role: 'user', content: 'the other conversation about otters' });
  let message = await post({ role: 'user', content: 'ssr turn 0' });
  const sessionId: string = message.sessionId;
  for (let n = 1; n < 60; n++) {
    message = await post({ sessionId, parentId: message.id, role: n % 2 ? 'assistant' : 'user', content: `ssr turn ${n}` });
  }

  // The same account, without JavaScript: only what the server sent.
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
  const plain = await context.newPage();
  await plain.goto(`/c/${sessionId}`);
  const messages = plain.locator('li.message');
  await expect(messages).toHaveCount(50);
  await expect(messages.first()).toContainText('ssr turn 10');
  await expect(messages.last()).toContainText('ssr turn 59');
  await expect(plain.getByText('Loading…')).toHaveCount(0);
  await expect(plain.getByText('Loading messages…')).toHaveCount(0);
  await plain.screenshot({ path: `${artifacts}/server-rendered-conversation.png` });

  // Paging is links: the page above, and back down from it.
  await plain.getByRole('link', { name: 'Load earlier messages' }).click();
  await expect(plain).toHaveURL(new RegExp(`/c/${sessionId}\\?before=`));
  await expect(messages).toHaveCount(10);
  await expect(messages.first()).toContainText('ssr turn 0');
  await expect(messages.last()).toContainText('ssr turn 9');
  await expect(plain.getByRole('link', { name: 'Load earlier messages' })).toHaveCount(0);
  await plain.getByRole('link', { name: 'Load later messages' }).click();
  await expect(plain).toHaveURL(new RegExp(`/c/${sessionId}\\?after=`));
  await expect(messages).toHaveCount(50);
  await expect(messages.first()).toContainText('ssr turn 10');
  await expect(messages.last()).toContainText('ssr turn 59');
  await plain.goto(`/c/${sessionId}`);

  // The sidebar lists both conversations, and its links open them as plain pages.
  const links = sidebar(plain).getByRole('listitem').getByRole('link');
  await expect(links).toHaveCount(2);
  await links.filter({ hasText: 'otters' }).click();
  await expect(plain).toHaveURL(new RegExp(`/c/${other.sessionId}$`));
  await expect(plain.locator('li.message')).toHaveCount(1);
  await expect(plain.locator('li.message')).toContainText('the other conversation about otters');

  // `/` shows the sidebar too.
  await plain.goto('/');
  await expect(sidebar(plain).getByRole('listitem').getByRole('link')).toHaveCount(2);
  await context.close();

  // With JavaScript but before the WASM has loaded (here: never), the page is already at its
  // latest message.
  const early = await page.context().newPage();
  await early.route('**/*.wasm', (route) => route.abort());
  await early.goto(`/c/${sessionId}`);
  await expect(early.locator('li.message').last()).toBeInViewport();
  await expect(early.locator('li.message').first()).not.toBeInViewport();
  await early.close();

  // With JavaScript, the same page hydrates without errors and still opens at its end.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (line) => { if (line.type() === 'error') errors.push(line.text()); });
  await page.goto(`/c/${sessionId}`);
  await waitForHydration(page);
  await expect(page.locator('li.message')).toHaveCount(50);
  await expect(page.locator('li.message').last()).toBeInViewport();
  expect(errors, errors.join('\n')).toEqual([]);
});
