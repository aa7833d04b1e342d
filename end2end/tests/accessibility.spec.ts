import { test, expect, type Browser, type Page } from '@playwright/test';
import {
  adminEmail, adminPassword, artifacts, openAdministration, sendMessage, sidebar, signIn, signUp, uniqueEmail, waitForHydration,
} from './helpers';

// Every main page, in light and in dark, is checked by axe-core against WCAG 2.0 and 2.1, levels
// A and AA: no violation at all. axe runs in the page itself, loaded before the page's own
// scripts as an init script, so the page keeps its Content-Security-Policy.
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** What axe finds on the page as it is now, one line per element that fails a rule. */
async function violations(page: Page, name: string): Promise<string[]> {
  const found: Violation[] = await page.evaluate(async (tags) => {
    const axe = (window as any).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return result.violations.map((violation: any) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node: any) => ({ target: node.target, failureSummary: node.failureSummary })),
    }));
  }, WCAG);
  return found.flatMap((violation) => violation.nodes.map((node) =>
    `${name}: ${violation.id} (${violation.impact}) at ${node.target.join(' ')}: ${violation.help}. `
    + (node.failureSummary ?? '').replace(/\s+/g, ' ').trim()));
}

/** A browser of its own in one colour scheme, with axe loaded on every page. */
async function browserIn(browser: Browser, colorScheme: 'light' | 'dark') {
  const context = await browser.newContext({ colorScheme });
  await context.addInitScript({ path: require.resolve('axe-core/axe.min.js') });
  return context;
}

/** Checks the page, then keeps a picture of it as it is and at phone width. */
async function check(page: Page, name: string, found: string[]): Promise<void> {
  found.push(...await violations(page, name));
  await page.screenshot({ path: `${artifacts}/a11y-${name}.png` });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${artifacts}/a11y-${name}-phone.png` });
  if (size) await page.setViewportSize(size);
}

for (const scheme of ['light', 'dark'] as const) {
  test(`every main page meets WCAG 2.1 A and AA in ${scheme}`, async ({ browser }) => {
    test.setTimeout(120_000);
    const found: string[] = [];
    const context = await browserIn(browser, scheme);
    const adminContext = await browserIn(browser, scheme);
    try {
      const page = await context.newPage();

      // The sign-in page, and its "Create account" tab.
      await page.goto('/');
      await waitForHydration(page);
      await expect(page.getByRole('heading', { name: 'Welcome to Confab' })).toBeVisible();
      await check(page, `sign-in-${scheme}`, found);
      await page.getByRole('tab', { name: 'Create account' }).click();
      await check(page, `create-account-${scheme}`, found);

      // A conversation with a reply in it, text and code.
      await signUp(page, uniqueEmail(`a11y-${scheme}`));
      await sendMessage(page, 'Some **bold** words, a [link](https://example.com) and `code`:\n\n```rust\nfn main() {}\n```');
      await check(page, `conversation-${scheme}`, found);

      // At phone width, the sidebar open in its drawer over the conversation.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.getByRole('button', { name: 'Menu' }).click();
      const drawer = page.getByRole('dialog', { name: 'Menu' });
      await expect(drawer).toBeVisible();
      await drawer.evaluate((element) => Promise.all(element.getAnimations().map((animation) => animation.finished)));
      found.push(...await violations(page, `drawer-${scheme}`));
      await page.screenshot({ path: `${artifacts}/a11y-drawer-${scheme}-phone.png` });
      await page.keyboard.press('Escape');
      await expect(drawer).toHaveCount(0);
      await page.setViewportSize({ width: 1280, height: 720 });

      // Search open, with a hit.
      await page.keyboard.press('Control+k');
      await expect(page.getByRole('searchbox', { name: 'Search messages' })).toBeFocused();
      await page.keyboard.type('bold');
      await expect(page.getByLabel('Search results').getByRole('link').first()).toBeVisible();
      await check(page, `search-${scheme}`, found);

      // The import page.
      await page.goto('/import');
      await waitForHydration(page);
      await expect(page.getByRole('heading', { name: 'Import conversations' })).toBeVisible();
      await check(page, `import-${scheme}`, found);

      // The administration, as the instance's administrator.
      const admin = await adminContext.newPage();
      await signIn(admin, adminEmail, adminPassword);
      await expect(sidebar(admin)).toBeVisible();
      // From the menu: a freshly loaded /admin sometimes fails to hydrate (a separate fault).
      await openAdministration(admin);
      await expect(admin.getByRole('region', { name: 'Accounts' }).locator('tbody tr').first()).toBeVisible();
      await check(admin, `admin-${scheme}`, found);
    } finally {
      await context.close();
      await adminContext.close();
    }
    expect(found, found.join('\n')).toEqual([]);
  });
}
