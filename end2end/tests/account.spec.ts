import { test, expect, type Page } from '@playwright/test';
import { artifacts, composer, sendMessage, signUp, uniqueEmail, waitForHydration } from './helpers';

/** A word no other test writes: letters only, so search sees it as one term. */
function uniqueWord(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let word = 'zq';
  for (let i = 0; i < 10; i++) word += letters[Math.floor(Math.random() * letters.length)];
  return word;
}

async function openDeleteDialog(page: Page) {
  await page.getByText('Account', { exact: true }).click();
  await page.getByRole('menuitem', { name: 'Delete my account…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
  await expect(dialog).toBeVisible();
  return dialog;
}

async function searchFor(page: Page, word: string) {
  await page.getByRole('searchbox', { name: 'Search messages' }).fill(word);
  return page.getByLabel('Search results');
}

test('a deleted account cannot sign in again, and nobody finds its words', async ({ page, browser }) => {
  // Bob has an account too, in a browser of his own: at the end he looks for Ada's words. (The
  // administrator, who may not leave while others exist, is the account .ci/e2e makes first.)
  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await signUp(bob, uniqueEmail('bob'));

  const ada = uniqueEmail('ada');
  const word = uniqueWord();
  await signUp(page, ada);
  await sendMessage(page, `my ${word} is a secret`);
  // Search works, and finds Ada's own words while her account exists.
  const before = await searchFor(page, word);
  await expect(before.getByRole('link').filter({ hasText: word }).first()).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('');

  // A wrong password deletes nothing and says so in the dialog.
  const dialog = await openDeleteDialog(page);
  await page.screenshot({ path: `${artifacts}/delete-account-light.png` });
  await dialog.getByLabel('Password').fill('not my password');
  await dialog.getByRole('button', { name: 'Delete my account' }).click();
  await expect(dialog.getByRole('alert')).toHaveText('the password is not right; the account was not deleted');
  await page.screenshot({ path: `${artifacts}/delete-account-error.png` });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/delete-account-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 375, height: 760 });
  await page.screenshot({ path: `${artifacts}/delete-account-phone.png` });
  await page.setViewportSize({ width: 1280, height: 720 });

  // Cancel closes the dialog and keeps everything.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText(`my ${word} is a secret`).first()).toBeVisible();

  // The right password: the account is gone and the browser is on the sign-in page.
  const again = await openDeleteDialog(page);
  await expect(again.getByRole('alert')).toHaveText('');
  await again.getByLabel('Password').fill('a good password');
  await again.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { name: 'Welcome to Confab' })).toBeVisible();
  await expect(page.getByText('Account', { exact: true })).toHaveCount(0);
  await page.screenshot({ path: `${artifacts}/delete-account-signed-out.png` });

  // Signing in again fails, after a reload too (nothing kept in the page).
  await page.reload();
  await waitForHydration(page);
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(ada);
  await form.getByLabel('Password').fill('a good password');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(form.getByRole('alert')).toHaveText('invalid email or password');

  // Bob searches the word: nothing of Ada's is found.
  const results = await searchFor(bob, word);
  await expect(results.getByText('No message matches.')).toBeVisible();
  await expect(results.getByRole('link')).toHaveCount(0);
  await bobContext.close();
});

test('signing out and in as someone else in the same tab leaves nothing of the first account', async ({ page }) => {
  const second = uniqueEmail('arriving');
  await signUp(page, second);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('form', { name: 'Sign in' })).toBeVisible();

  // The first account leaves a draft, and a notice of a delete with its Undo.
  await signUp(page, uniqueEmail('leaving'));
  await sendMessage(page, 'a conversation to delete');
  await page.getByRole('toolbar', { name: 'Conversation actions' }).getByText('More').click();
  await page.getByRole('menuitem', { name: 'Delete' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('button', { name: 'Undo' })).toBeVisible();
  await composer(page).fill("the first account's unsent words");

  // Signed out and in again without a page load (the forms do not load one).
  await page.getByRole('button', { name: 'Sign out' }).click();
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(second);
  await form.getByLabel('Password').fill('a good password');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
  await expect(composer(page)).toHaveValue('');
  await expect(page.getByRole('button', { name: 'Undo' })).toHaveCount(0);
  await expect(page.getByText('a conversation to delete')).toHaveCount(0);
});
