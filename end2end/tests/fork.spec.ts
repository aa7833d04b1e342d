import { test, expect } from '@playwright/test';
import {
  artifacts, composer, sendMessage, sessionIdOf, sidebar, signUp, startConversation, uniqueEmail, waitForHydration,
} from './helpers';

test('fork from a message and continue', async ({ page }) => {
  await signUp(page, uniqueEmail('fork'));
  const sourceId = await startConversation(page, 'Plan a trip to Lisbon');
  await sendMessage(page, 'And day two?');
  const messages = page.locator('ol.message-list > li.message');
  await expect(messages).toHaveCount(4);
  const sourceTexts = await messages.locator('.message-body').allInnerTexts();
  const title = (await page.locator('.conversation-title').innerText()).trim();
  const firstReply = page.locator('li.message-assistant').first();
  const firstReplyId = (await firstReply.getAttribute('id'))!.replace(/^m-/, '');

  // Continue from the first reply: a new conversation of the question and that reply, open
  // and ready to write in, linked to its source, in the sidebar beside it.
  await firstReply.getByRole('button', { name: 'Continue in a new conversation' }).click();
  await expect(page).not.toHaveURL(new RegExp(`/c/${sourceId}`));
  await expect(page).toHaveURL(/\/c\/[^/?]+$/);
  const forkId = sessionIdOf(page);
  await expect(messages).toHaveCount(2);
  await expect(messages.locator('.message-body')).toHaveText(sourceTexts.slice(0, 2));
  await expect(composer(page)).toBeFocused();
  const forkedFrom = page.locator('.forked-from');
  await expect(forkedFrom).toHaveText(`Forked from ${title}`);
  await expect(forkedFrom.getByRole('link', { name: title })).toHaveAttribute(
    'href', `/c/${sourceId}?m=${firstReplyId}`);
  const listed = sidebar(page).getByRole('link', { name: title });
  await expect(listed).toHaveCount(2);
  await expect(sidebar(page).locator(`a[href="/c/${forkId}"]`)).toBeVisible();
  await page.screenshot({ path: `${artifacts}/fork-light.png` });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/fork-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });

  // It goes on from the copied reply.
  await sendMessage(page, 'And the food?');
  await expect(messages).toHaveCount(4);
  await expect(messages.nth(2).locator('.message-body')).toHaveText('And the food?');
  expect(sessionIdOf(page)).toBe(forkId);

  // The link opens the source at the message; the source is as it was.
  await forkedFrom.getByRole('link', { name: title }).click();
  await expect(page).toHaveURL(new RegExp(`/c/${sourceId}`));
  await expect(messages).toHaveCount(4);
  await expect(messages.locator('.message-body')).toHaveText(sourceTexts);

  // A fork the server refuses (the source was deleted meanwhile) says so and stays put.
  const origin = new URL(page.url()).origin;
  const deleted = await page.request.delete(`/api/chat/sessions/${sourceId}`, { headers: { Origin: origin } });
  expect(deleted.status()).toBe(204);
  await page.locator('li.message-user').first()
    .getByRole('button', { name: 'Continue in a new conversation' }).click();
  await expect(page.getByRole('alert')).toContainText('Could not continue in a new conversation: not found');
  await expect(page).toHaveURL(new RegExp(`/c/${sourceId}`));

  // The fork outlives its source; its link then shows nothing.
  await page.goto(`/c/${forkId}`);
  await waitForHydration(page);
  await expect(messages).toHaveCount(4);
  await expect(page.locator('.forked-from')).toHaveCount(0);
});
