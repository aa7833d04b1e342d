import { test, expect } from '@playwright/test';
import { artifacts, sidebar } from './helpers';

// .ci/e2e runs a real OpenID Connect provider (oidc-provider, end2end/oidc/provider.mjs) and
// configures Confab with it as "Test ID".
test('signing in through an OpenID Connect provider lands in Confab signed in', async ({ page }) => {
  test.skip(!process.env.CONFAB_OIDC_ISSUER, 'no OpenID Connect provider was started');
  const login = `oidc-${Date.now()}`;
  await page.goto('/');
  const button = page.getByRole('link', { name: 'Continue with Test ID' });
  await expect(button).toBeVisible();
  await page.screenshot({ path: `${artifacts}/sign-in-providers.png`, fullPage: true });
  await button.click();

  // The provider's own pages: its login form, then its consent form.
  await expect(page).toHaveURL(new RegExp(`^${process.env.CONFAB_OIDC_ISSUER}/interaction/`));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').first().click();
  // The provider asks for consent, or (a grant it remembers) goes straight back: wait for
  // one of the two before looking, never decide on a page that is still loading.
  const consent = page.locator('button[type="submit"]', { hasText: /continue/i });
  await expect(consent.or(sidebar(page)).first()).toBeVisible();
  if (await consent.count()) {
    await consent.first().click();
  }

  await expect(sidebar(page)).toBeVisible();
  await expect(page.getByText(login, { exact: false }).first()).toBeVisible();
  const me = await page.evaluate(async () => (await fetch('/api/auth/me')).json());
  expect(me.user.email).toBe(`${login}@example.com`);
});

test('a refused provider sign-in comes back with a clear message', async ({ page }) => {
  test.skip(!process.env.CONFAB_OIDC_ISSUER, 'no OpenID Connect provider was started');
  await page.goto('/auth/testid/callback?error=access_denied&error_description=End-User%20aborted%20interaction');
  // Confab's own sentence, not the provider's words from the address.
  await expect(page.getByRole('alert').filter({ hasText: 'Sign-in failed' }))
    .toHaveText('Sign-in failed: the sign-in was cancelled or refused at the provider.');
  await expect(page.getByText('aborted')).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Welcome to Confab' })).toBeVisible();
});
