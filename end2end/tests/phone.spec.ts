import { test, expect, type Page } from '@playwright/test';
import { artifacts, postMessage, sidebar, signUp, uniqueEmail, waitForHydration } from './helpers';

// On a phone the sidebar is a drawer over the page, opened by the header's menu button: every
// function of the sidebar is there, as on a wide screen.

const phone = { width: 390, height: 844 };
const desktop = { width: 1280, height: 800 };

/** The header's menu button (found by id too: while the drawer is open the header is inert). */
function menuButton(page: Page) {
  return page.locator('#drawer-button');
}

function drawer(page: Page) {
  return page.getByRole('dialog', { name: 'Menu' });
}

/** Waits until the drawer has stopped sliding (in, out, or away when the window narrows). */
async function settled(page: Page): Promise<void> {
  await page.locator('#sidebar-drawer').evaluate((element) =>
    Promise.all(element.getAnimations().map((animation) => animation.finished)));
}

/** Opens the drawer with the menu button and waits until it has slid in. */
async function openDrawer(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Menu' }).click();
  await expect(drawer(page)).toBeVisible();
  await settled(page);
}

/** The drawer is closed, and the focus is back on the menu button. */
async function expectClosed(page: Page): Promise<void> {
  await expect(drawer(page)).toHaveCount(0);
  await expect(sidebar(page)).toBeHidden();
  await expect(menuButton(page)).toHaveAttribute('aria-expanded', 'false');
  await expect(menuButton(page)).toBeFocused();
  await expect(page.locator('header.topbar')).not.toHaveAttribute('inert');
}

test('at phone width the menu button opens every function of the sidebar in a drawer', async ({ page }) => {
  test.setTimeout(180_000);
  await signUp(page, uniqueEmail('phone'));
  const origin = new URL(page.url()).origin;
  // One archived conversation, then more than a page (50) of others, made through the REST API.
  const archived = await postMessage(page, { role: 'user', content: 'the archived one' });
  const archiving = await page.request.put(`/api/chat/sessions/${archived.sessionId}`, {
    data: { archived: true }, headers: { Origin: origin },
  });
  expect(archiving.status()).toBe(200);
  const ids: string[] = [];
  for (let n = 1; n <= 55; n++) {
    ids.push((await postMessage(page, { role: 'user', content: `phone topic ${n}` })).sessionId);
  }

  await page.setViewportSize(phone);
  await page.goto('/');
  await waitForHydration(page);
  const menu = page.getByRole('button', { name: 'Menu' });
  await expect(menu).toBeVisible();
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await expect(menu).toHaveAttribute('aria-controls', 'sidebar-drawer');
  await expect(sidebar(page)).toBeHidden();
  await page.screenshot({ path: `${artifacts}/phone-drawer-closed-light.png` });

  // Opening: the drawer is a dialog named "Menu", the focus is in it, the page behind is inert.
  await openDrawer(page);
  await expect(menuButton(page)).toHaveAttribute('aria-expanded', 'true');
  await expect(drawer(page).getByRole('button', { name: 'Close' })).toBeFocused();
  await expect(page.locator('header.topbar')).toHaveAttribute('inert', '');
  await expect(page.locator('section.conversation-pane')).toHaveAttribute('inert', '');
  const nav = sidebar(page);
  await expect(nav).toBeVisible();
  await expect(nav.getByRole('link', { name: /phone topic 55\b/ })).toBeVisible();
  // The first page of 50: the oldest five come later ("Load more", or scrolling to the end).
  const topics = nav.getByRole('link', { name: /phone topic/ });
  const oldest = nav.getByRole('link', { name: /phone topic 1\b/ });
  await expect(topics).toHaveCount(50);
  await expect(oldest).toHaveCount(0);
  await expect(nav.getByRole('button', { name: 'Load more' })).toBeAttached();
  await page.screenshot({ path: `${artifacts}/phone-drawer-open-light.png` });

  // "Show archived" and back, without leaving the drawer.
  await nav.getByRole('button', { name: 'Show archived' }).click();
  await expect(nav.getByRole('heading', { name: 'Archived' })).toBeVisible();
  await expect(nav.getByRole('link', { name: /the archived one/ })).toBeVisible();
  await expect(nav.getByRole('link', { name: /phone topic/ })).toHaveCount(0);
  await nav.getByRole('button', { name: 'Back to conversations' }).click();
  await expect(nav.getByRole('heading', { name: 'Conversations' })).toBeVisible();
  await expect(drawer(page)).toBeVisible();

  // The backup downloads from the drawer, which stays open.
  const backup = nav.getByRole('link', { name: 'Download backup' });
  await expect(backup).toBeVisible();
  const download = page.waitForEvent('download');
  await backup.click();
  expect((await download).suggestedFilename()).toMatch(/\.json$/);
  await expect(drawer(page)).toBeVisible();

  // Scrolling the drawer to its end loads the rest (reaching the foot above may have already).
  await nav.evaluate((element) => element.scrollTo(0, element.scrollHeight));
  await expect(topics).toHaveCount(55);
  await expect(nav.getByRole('button', { name: 'Load more' })).toHaveCount(0);

  // Opening a conversation closes the drawer and shows it.
  await oldest.click();
  await expect(page).toHaveURL(new RegExp(`/c/${ids[0]}`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('phone topic 1');
  await expectClosed(page);

  // One "All types" filter on a phone: the conversation's. The search's shows once searching.
  const searchType = page.getByRole('combobox', { name: 'Search in type' });
  await expect(page.getByRole('combobox', { name: 'Filter messages by type' })).toBeVisible();
  await expect(searchType).toBeHidden();
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('topic');
  await expect(searchType).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('');
  await expect(searchType).toBeHidden();

  // Escape, the backdrop and the close button each close it.
  await openDrawer(page);
  await page.keyboard.press('Escape');
  await expectClosed(page);
  await openDrawer(page);
  await page.locator('.drawer-backdrop').click({ position: { x: phone.width - 15, y: 400 } });
  await expectClosed(page);
  await openDrawer(page);
  await drawer(page).getByRole('button', { name: 'Close' }).click();
  await expectClosed(page);

  // "Import" is a page of its own: following it closes the drawer too.
  await openDrawer(page);
  await nav.getByRole('link', { name: 'Import' }).click();
  await expect(page).toHaveURL(/\/import$/);
  await expect(page.getByRole('heading', { name: 'Import conversations' })).toBeVisible();
  await expectClosed(page);

  // Less motion asked for: the drawer appears without sliding.
  await page.emulateMedia({ reducedMotion: 'reduce' });
  expect(await page.locator('#sidebar-drawer').evaluate((element) => getComputedStyle(element).transitionDuration))
    .toMatch(/^0s(, 0s)*$/);
  await page.emulateMedia({ reducedMotion: 'no-preference' });

  // On a wide screen the sidebar stands beside the page, as it always did, with no menu button.
  await page.setViewportSize(desktop);
  await expect(menuButton(page)).toBeHidden();
  await expect(nav).toBeVisible();
  await expect(drawer(page)).toHaveCount(0);
  const box = await nav.boundingBox();
  expect(box?.x).toBe(0);
  expect(box?.width).toBeGreaterThan(200);
  await page.screenshot({ path: `${artifacts}/phone-desktop-light.png` });

  // The pictures in the dark, on a conversation.
  await oldest.click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('phone topic 1');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${artifacts}/phone-desktop-dark.png` });
  await page.setViewportSize(phone);
  await settled(page);
  await page.screenshot({ path: `${artifacts}/phone-drawer-closed-dark.png` });
  await openDrawer(page);
  await page.screenshot({ path: `${artifacts}/phone-drawer-open-dark.png` });
  await page.keyboard.press('Escape');
  await expectClosed(page);
});
