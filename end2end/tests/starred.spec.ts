import { test, expect } from '@playwright/test';
import {
  artifacts, sendMessage, sessionIdOf, sidebar, signUp, startConversation, uniqueEmail, waitForHydration,
} from './helpers';

test('star a message and find it in Starred', async ({ page }) => {
  await signUp(page, uniqueEmail('stars'));
  await sendMessage(page, 'the heron stands in the shallows');
  const target = sessionIdOf(page);
  await startConversation(page, 'an unrelated question');

  // Nothing starred yet: the view says so.
  await sidebar(page).getByRole('link', { name: 'Starred', exact: true }).click();
  await expect(page).toHaveURL(/\/starred$/);
  await expect(page.getByRole('heading', { name: 'Starred' })).toBeVisible();
  await expect(page.getByText('No starred messages yet.')).toBeVisible();

  // Star the reply of the first conversation.
  await sidebar(page).getByRole('link', { name: /the heron stands/ }).click();
  await expect(page).toHaveURL(new RegExp(`/c/${target}$`));
  const replyStar = () => page.locator('li.message-assistant').last().getByRole('button', { name: 'Star message' });
  await expect(replyStar()).toHaveAttribute('aria-pressed', 'false');
  await replyStar().click();
  await expect(replyStar()).toHaveAttribute('aria-pressed', 'true');
  const replyId = (await page.locator('li.message-assistant').last().getAttribute('id'))!.replace(/^m-/, '');
  // The server kept it.
  await page.reload();
  await waitForHydration(page);
  await expect(replyStar()).toHaveAttribute('aria-pressed', 'true');

  // A star the server refuses goes back, and a toast says so.
  const questionStar = page.locator('li.message-user').first().getByRole('button', { name: 'Star message' });
  await page.route('**/rpc/set_star*', (route) =>
    route.fulfill({ status: 500, contentType: 'text/plain', body: 'the store is down' }));
  await questionStar.click();
  await expect(page.getByRole('alert').filter({ hasText: 'Could not star the message' })).toBeVisible();
  await expect(questionStar).toHaveAttribute('aria-pressed', 'false');
  await page.unroute('**/rpc/set_star*');

  // The Starred view lists the reply with its conversation's title, and opens it there.
  await sidebar(page).getByRole('link', { name: 'Starred', exact: true }).click();
  const items = page.getByRole('list', { name: 'Starred messages' }).getByRole('link');
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText('the heron stands in the shallows');
  await expect(items.first()).toContainText('Echo:');
  await page.screenshot({ path: `${artifacts}/starred-light.png` });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/starred-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });
  await items.first().click();
  await expect(page).toHaveURL(new RegExp(`/c/${target}\\?m=${replyId}$`));
  await expect(page.locator(`#m-${replyId}`)).toBeVisible();

  // Unstarred, it leaves the view.
  await page.locator(`#m-${replyId}`).getByRole('button', { name: 'Star message' }).click();
  await expect(page.locator(`#m-${replyId}`).getByRole('button', { name: 'Star message' }))
    .toHaveAttribute('aria-pressed', 'false');
  await expect.poll(async () => (await (await page.request.get('/api/chat/starred')).json()).items.length)
    .toBe(0);
  await sidebar(page).getByRole('link', { name: 'Starred', exact: true }).click();
  await expect(page.getByText('No starred messages yet.')).toBeVisible();
});

test('a double click on a star stores what the page shows, whatever order the network answers in', async ({ page }) => {
  await signUp(page, uniqueEmail('star-race'));
  await sendMessage(page, 'the kingfisher dives');
  const star = page.locator('li.message-assistant').last().getByRole('button', { name: 'Star message' });
  const replyId = (await page.locator('li.message-assistant').last().getAttribute('id'))!.replace(/^m-/, '');
  const stored = async () =>
    (await (await page.request.get('/api/chat/starred')).json()).items.map((item: any) => item.message.id);
  // The first call is held back 800 ms: a second sent beside it would overtake it.
  const calls: number[] = [];
  await page.route('**/rpc/set_star*', async (route) => {
    calls.push(Date.now());
    if (calls.length === 1) await new Promise((resolve) => setTimeout(resolve, 800));
    await route.continue();
  });
  await star.dblclick();
  await expect(star).toHaveAttribute('aria-pressed', 'false');
  // Star, then unstar, one after the other: the unstar is sent once the star is answered.
  await expect.poll(() => calls.length).toBe(2);
  expect(calls[1] - calls[0]).toBeGreaterThanOrEqual(700);
  await expect.poll(stored).toEqual([]);

  // Three clicks: starred, and only the last wish is sent after the first answer.
  calls.length = 0;
  await star.click();
  await star.click();
  await star.click();
  await expect(star).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(stored).toEqual([replyId]);
  await page.reload();
  await waitForHydration(page);
  await expect(star).toHaveAttribute('aria-pressed', 'true');
});
