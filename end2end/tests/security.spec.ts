import { test, expect, type Page } from '@playwright/test';
import { sendMessage, signUp, uniqueEmail, waitForHydration } from './helpers';

/**
 * Records every Content-Security-Policy violation the page reports, and every console
 * message or page error that names the policy, from before the first script runs.
 */
async function watchPolicy(page: Page): Promise<string[]> {
  const problems: string[] = [];
  await page.exposeFunction('reportViolation', (text: string) => problems.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as any).reportViolation(`${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return problems;
}

/** The nonce of the page's Content-Security-Policy, and the nonces its inline scripts carry. */
async function scriptNonces(page: Page, path: string): Promise<{ header: string; scripts: string[] }> {
  const response = await page.goto(path);
  const policy = response!.headers()['content-security-policy'];
  const header = /'nonce-([^']+)'/.exec(policy)![1];
  const scripts = await page.$$eval('script:not([src])', (elements) =>
    elements.map((element) => (element as HTMLScriptElement).nonce));
  return { header, scripts };
}

test('the app works under its Content-Security-Policy without a single violation', async ({ page }) => {
  const problems = await watchPolicy(page);

  await page.goto('/');
  await waitForHydration(page);
  await signUp(page, uniqueEmail('csp'));
  await page.getByRole('button', { name: '+ New chat' }).click();
  await expect(page).toHaveURL(/\/new$/);
  await sendMessage(page, 'Does the policy let the reply stream?');
  // An aligned Markdown table: its cells are aligned by class, as the policy allows no style.
  await sendMessage(page, '| left | middle |\n|:--|:-:|\n| 1 | 2 |');
  await expect(page.locator('.message-user td.align-center').first()).toHaveText('2');
  await expect(page.locator('.message-user td.align-center').first()).toHaveCSS('text-align', 'center');

  // A conversation opened from the server: each of its inline scripts (the hydration ones)
  // carries the nonce; its scroll script is a file (/scroll-to-end.js), which chat.spec.ts checks.
  const conversation = page.url();
  const { header, scripts } = await scriptNonces(page, conversation);
  await waitForHydration(page);
  expect(scripts.length).toBeGreaterThan(0);
  expect(scripts).toEqual(scripts.map(() => header));
  await expect(page.locator('li.message')).toHaveCount(4);

  await page.goto('/import');
  await waitForHydration(page);
  await page.goto('/');
  await waitForHydration(page);

  expect(problems, problems.join('\n')).toEqual([]);
});

test('a link cannot put words on the sign-in page, before or after hydration', async ({ page }) => {
  const problems = await watchPolicy(page);
  await page.goto('/?auth_error=Your%20account%20is%20locked.%20Call%20%2B1%20555%200100');
  await waitForHydration(page);
  await expect(page.getByRole('alert').filter({ hasText: 'Sign-in failed' }))
    .toHaveText('Sign-in failed: the sign-in could not be completed; try again.');
  await expect(page.getByText('locked')).toHaveCount(0);

  await page.goto('/?auth_error=denied');
  await waitForHydration(page);
  await expect(page.getByRole('alert').filter({ hasText: 'Sign-in failed' }))
    .toHaveText('Sign-in failed: the sign-in was cancelled or refused at the provider.');
  expect(problems, problems.join('\n')).toEqual([]);
});
