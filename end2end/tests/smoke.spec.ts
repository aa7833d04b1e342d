import { test, expect } from '@playwright/test';
import { artifacts, signUp, uniqueEmail } from './helpers';

test('a new user signs up and sees an empty list of conversations', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });

  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Welcome to Confab' })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/sign-in.png`, fullPage: true });

  const email = uniqueEmail('smoke');
  await signUp(page, email);
  await expect(page.getByText('No conversations yet.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/empty-sessions.png`, fullPage: true });

  // A reload keeps the sign-in (the cookie and the server-side session).
  await page.reload();
  await expect(page.getByText('No conversations yet.')).toBeVisible();
  expect(errors, errors.join('\n')).toEqual([]);
});

test('the sign-in page renders before the WASM loads', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Welcome to Confab' })).toBeVisible();
  await expect(page.getByLabel('Email')).toBeVisible();
  await context.close();
});
