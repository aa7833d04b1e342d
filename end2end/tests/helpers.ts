import { expect, type Page } from '@playwright/test';

/** A unique email so tests never collide in one database. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the WASM has hydrated the page, so clicks reach Leptos handlers. */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as any).__confabHydrated === true, null, { timeout: 30_000 });
}

export async function signUp(page: Page, email: string, password = 'a good password'): Promise<void> {
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('tab', { name: 'Create account' }).click();
  const form = page.getByRole('form', { name: 'Create account' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
}

export const artifacts = process.env.CONFAB_ARTIFACTS ?? 'artifacts';
