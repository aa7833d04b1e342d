import { test, expect, type Locator, type Page } from '@playwright/test';
import {
  adminEmail, adminPassword, artifacts, openAdministration, setSignup, signIn, uniqueEmail, waitForHydration,
} from './helpers';

const SIGNUP_CLOSED_PAGE =
  'Sign-up is closed on this instance: an account is created with an invitation from an administrator.';
const WHEN = /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/;

function section(page: Page, name: string): Locator {
  return page.getByRole('region', { name });
}

/** The texts of a table row's cells, the actions' cell left out. */
async function cells(row: Locator): Promise<string[]> {
  return (await row.locator('td:not(.row-actions)').allInnerTexts()).map((text) => text.trim());
}

test('an administrator closes sign-up, invites, disables, resets a password and reads the audit log', async ({ page, browser, baseURL }) => {
  test.setTimeout(180_000);
  const guestContext = await browser.newContext();
  const guest = await guestContext.newPage();
  try {
    await signIn(page, adminEmail, adminPassword);
    await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
    await openAdministration(page);

    // Sign-up closed: the page says what is in force.
    await setSignup(page, 'Closed');
    await expect(section(page, 'Sign-up').locator('.admin-in-force')).toHaveText(
      "In force: sign-up is closed. Only an invitation's link creates an account.");

    // Without an invitation the sign-in page says so, and a sign-up is refused.
    await guest.goto('/');
    await waitForHydration(guest);
    await guest.getByRole('tab', { name: 'Create account' }).click();
    await expect(guest.locator('.auth-note')).toHaveText(SIGNUP_CLOSED_PAGE);
    await expect(guest.getByRole('form', { name: 'Create account' })).toHaveCount(0);
    const email = uniqueEmail('invited');
    const refused = await guest.request.post('/api/auth/signup', { data: { email, password: 'a good password' } });
    expect(refused.status()).toBe(403);
    expect((await refused.json()).error.message).toBe('sign-up is closed on this instance; ask an administrator for an account');

    // An invitation for anyone: its link in a read-only field, the invitation pending.
    const invitations = section(page, 'Invitations');
    await invitations.getByRole('button', { name: 'Create invitation' }).click();
    const linkField = invitations.getByLabel('Invitation link');
    await expect(linkField).toHaveValue(new RegExp(`^${baseURL}/\\?invitation=cfb_[A-Za-z0-9_-]+$`));
    await expect(linkField).toHaveAttribute('readonly', '');
    const link = await linkField.inputValue();
    await expect(invitations.getByRole('alert')).toHaveText('');
    const invitationRow = invitations.getByRole('table', { name: 'Invitations' }).locator('tbody tr').first();
    const invitationCells = await cells(invitationRow);
    expect(invitationCells[0]).toBe('anyone');
    expect(invitationCells[1]).toMatch(WHEN);
    expect(invitationCells[2]).toMatch(WHEN);
    expect(invitationCells[3]).toBe('pending');
    await expect(invitationRow.getByRole('button', { name: 'Revoke' })).toBeVisible();

    // The link opens "Create account" and the invitation lets the account in.
    await guest.goto(link);
    await waitForHydration(guest);
    await expect(guest.getByRole('heading', { name: 'You were invited to Confab' })).toBeVisible();
    await expect(guest.getByRole('tab', { name: 'Create account' })).toHaveAttribute('aria-selected', 'true');
    const form = guest.getByRole('form', { name: 'Create account' });
    await form.getByLabel('Name').fill('Invited Person');
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill('a good password');
    await form.getByRole('button', { name: 'Create account' }).click();
    await expect(guest.getByRole('navigation', { name: 'Conversations' })).toBeVisible();

    // Not an administrator: no way in.
    await guest.getByText('Account', { exact: true }).click();
    await expect(guest.getByRole('menuitem', { name: 'Administration' })).toHaveCount(0);
    await guest.goto('/admin');
    await expect(guest.locator('.admin-refusal').getByRole('alert')).toHaveText(
      'Only an administrator of this instance may see its administration.');
    await expect(guest.getByRole('table')).toHaveCount(0);

    // The administrator sees the new account, with no message yet, and the invitation used.
    await page.reload();
    await waitForHydration(page);
    const accounts = section(page, 'Accounts');
    const userRow = accounts.getByRole('row').filter({ hasText: email });
    const userCells = await cells(userRow);
    expect(userCells.slice(0, 4)).toEqual([email, 'Invited Person', 'user', '0']);
    // Signing up is not signing in, and no conversation yet.
    expect(userCells.slice(4)).toEqual(['never', 'active']);
    expect((await cells(invitations.locator('tbody tr').first()))[3]).toBe('used');
    await expect(invitations.locator('tbody tr').first().getByRole('button', { name: 'Revoke' })).toHaveCount(0);

    // Disabled: the person's next page is signed out, and signing in says why.
    await userRow.getByRole('button', { name: 'Disable' }).click();
    await expect(userRow.locator('td[data-label="Status"]')).toHaveText('disabled');
    // The section's own error line (a failed "Show more" has its own, inside .show-more).
    await expect(accounts.locator(':scope > .form-error')).toHaveText('');
    await guest.goto('/');
    await waitForHydration(guest);
    await expect(guest.getByRole('heading', { name: 'Welcome to Confab' })).toBeVisible();
    const signInForm = guest.getByRole('form', { name: 'Sign in' });
    await signInForm.getByLabel('Email').fill(email);
    await signInForm.getByLabel('Password').fill('a good password');
    await signInForm.getByRole('button', { name: 'Sign in' }).click();
    await expect(signInForm.getByRole('alert')).toHaveText('this account is disabled; ask an administrator');

    // The only administrator can be neither disabled nor deleted: the service's sentence.
    const adminRow = accounts.getByRole('row').filter({ hasText: adminEmail });
    await adminRow.getByRole('button', { name: 'Disable' }).click();
    await expect(accounts.locator(':scope > .form-error')).toHaveText('the only administrator cannot be disabled or deleted');
    await adminRow.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this account?' });
    await dialog.getByRole('button', { name: 'Delete the account' }).click();
    await expect(dialog.getByRole('alert')).toHaveText('the only administrator cannot be disabled or deleted');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);

    // Enabled again, and a password reset link for it.
    await userRow.getByRole('button', { name: 'Enable' }).click();
    await expect(userRow.locator('td[data-label="Status"]')).toHaveText('active');
    await expect(accounts.locator(':scope > .form-error')).toHaveText('');
    await userRow.getByRole('button', { name: 'Reset password link' }).click();
    const resetField = accounts.getByLabel(`Password reset link for ${email}`);
    await expect(resetField).toHaveValue(new RegExp(`^${baseURL}/reset-password\\?token=cfb_[A-Za-z0-9_-]+$`));
    const resetLink = await resetField.inputValue();

    // The page scrolls inside the workspace: one picture where the reset link is, one of the top.
    const scroller = page.locator('.admin-page').locator('xpath=..');
    for (const [scheme, width, height] of [['light', 1280, 720], ['dark', 1280, 720], ['phone', 390, 844]] as const) {
      await page.emulateMedia({ colorScheme: scheme === 'dark' ? 'dark' : 'light' });
      await page.setViewportSize({ width, height });
      await resetField.scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${artifacts}/admin-${scheme}.png` });
      await scroller.evaluate((element) => element.scrollTo(0, 0));
      await page.screenshot({ path: `${artifacts}/admin-${scheme}-top.png` });
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 720 });

    // The person sets a new password with the link (typed twice) and signs in with it.
    await guest.goto(resetLink);
    await waitForHydration(guest);
    const resetForm = guest.getByRole('form', { name: 'Set a new password' });
    await resetForm.getByLabel('New password', { exact: true }).fill('a new good password');
    await resetForm.getByLabel('New password again').fill('a new good passwort');
    await resetForm.getByRole('button', { name: 'Set the password' }).click();
    await expect(resetForm.getByRole('alert')).toHaveText('the two passwords are not the same; type the new password twice');
    await resetForm.getByLabel('New password again').fill('a new good password');
    await resetForm.getByRole('button', { name: 'Set the password' }).click();
    await expect(guest.locator('.auth-panel').getByRole('status')).toHaveText('Your password was changed.');
    await guest.getByRole('link', { name: 'Sign in' }).click();
    await signIn(guest, email, 'a good password');
    await expect(guest.getByRole('form', { name: 'Sign in' }).getByRole('alert')).toHaveText('invalid email or password');
    await signIn(guest, email, 'a new good password');
    await expect(guest.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
    // The link works once.
    await guest.goto(resetLink);
    await waitForHydration(guest);
    const again = guest.getByRole('form', { name: 'Set a new password' });
    await again.getByLabel('New password', { exact: true }).fill('a third good password');
    await again.getByLabel('New password again').fill('a third good password');
    await again.getByRole('button', { name: 'Set the password' }).click();
    await expect(again.getByRole('alert')).toHaveText(
      'this password reset link is not valid or was used already; ask an administrator for a new one');

    // Deleted, behind the dialog that names the account.
    await userRow.getByRole('button', { name: 'Delete…' }).click();
    await expect(dialog.getByText(email, { exact: true })).toBeVisible();
    await dialog.getByRole('button', { name: 'Delete the account' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(accounts.getByRole('row').filter({ hasText: email })).toHaveCount(0);

    // The audit log, newest first: who did what to whom.
    const audit = section(page, 'Audit log').locator('tbody tr');
    await expect(audit.first().locator('td[data-label="What"]')).toHaveText('Deleted the account');
    const expected = [
      ['Deleted the account', email],
      ['Created a password reset link', email],
      ['Enabled the account', email],
      ['Disabled the account', email],
      ['Created an invitation', 'anyone'],
      ['Set sign-up to closed', 'this instance'],
    ];
    for (const [index, [what, target]] of expected.entries()) {
      const entry = await cells(audit.nth(index));
      expect(entry[0]).toMatch(WHEN);
      expect(entry.slice(1)).toEqual([adminEmail, what, target]);
    }
  } finally {
    // Later specs sign up freely.
    await page.goto('/admin');
    await waitForHydration(page);
    await setSignup(page, 'Open');
    await expect(section(page, 'Sign-up').locator('.admin-in-force')).toHaveText(
      'In force: sign-up is open. Anyone may create an account.');
    await guestContext.close();
  }
});

/** Every row the REST API lists, page after page (`GET /api/admin/users` or `/audit`). */
async function everything(page: Page, path: string, field: 'users' | 'entries'): Promise<any[]> {
  const rows: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await page.request.get(`${path}?limit=200${query}`);
    expect(response.status()).toBe(200);
    const body = await response.json();
    rows.push(...body[field]);
    cursor = body.nextCursor;
  } while (cursor);
  return rows;
}

/** Presses "Show more" until the table shows all `total` rows, 50 more each time; the button
 * is gone at the end. */
async function showAll(region: Locator, button: string, total: number): Promise<void> {
  const rows = region.locator('tbody tr');
  await expect(rows).toHaveCount(Math.min(50, total));
  for (let shown = 50; shown < total; shown += 50) {
    await region.getByRole('button', { name: button }).click();
    await expect(rows).toHaveCount(Math.min(shown + 50, total));
  }
  await expect(region.getByRole('button', { name: button })).toHaveCount(0);
}

/** How many times each text occurs. */
function tally(texts: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) counts.set(text, (counts.get(text) ?? 0) + 1);
  return counts;
}

test('an administrator of a larger instance reaches every account and audit entry with "Show more"', async ({ page, playwright, baseURL }) => {
  test.setTimeout(240_000);
  const prefix = `paged-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  // Sixty people sign up (through the REST API, ten at a time), and the administrator creates
  // fifty-five invitations: each of the two tables has more than one page.
  const emails = Array.from({ length: 60 }, (_, index) => `${prefix}-${String(index).padStart(2, '0')}@example.com`);
  // Each in a client of its own: signing up signs in.
  const signUpAlone = async (email: string): Promise<number> => {
    const person = await playwright.request.newContext({ baseURL });
    try {
      return (await person.post('/api/auth/signup', { data: { email, password: 'a good password' } })).status();
    } finally {
      await person.dispose();
    }
  };
  for (let start = 0; start < emails.length; start += 10) {
    const statuses = await Promise.all(emails.slice(start, start + 10).map(signUpAlone));
    expect(statuses).toEqual(Array(statuses.length).fill(201));
  }
  await signIn(page, adminEmail, adminPassword);
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
  const invited = Array.from({ length: 55 }, (_, index) => `${prefix}-invited-${String(index).padStart(2, '0')}@example.com`);
  for (const email of invited) {
    const created = await page.request.post('/api/admin/invitations', { data: { email }, headers: { Origin: baseURL! } });
    expect(created.status()).toBe(201);
  }
  // Other specs signed up people too: the whole lists, as the REST API gives them. No spec runs
  // beside this one (one worker, playwright.config.ts), so the lists stay as they are now.
  const allEmails = (await everything(page, '/api/admin/users', 'users')).map((user) => user.email);
  const allEntries = await everything(page, '/api/admin/audit', 'entries');
  expect(allEmails.length).toBeGreaterThan(60);
  expect(allEntries.length).toBeGreaterThan(55);

  try {
    await openAdministration(page);
    const accounts = section(page, 'Accounts');
    const audit = section(page, 'Audit log');
    const auditRows = audit.locator('tbody tr');
    await expect(accounts.locator('tbody tr')).toHaveCount(50);
    await expect(page.getByText('The first 50 accounts by email are shown.')).toHaveCount(0);

    // Pictures of "Show more" under the first 50 accounts.
    const showMoreAccounts = accounts.getByRole('button', { name: 'Show more accounts' });
    for (const [scheme, width, height] of [['light', 1280, 720], ['dark', 1280, 720], ['phone', 390, 844]] as const) {
      await page.emulateMedia({ colorScheme: scheme === 'dark' ? 'dark' : 'light' });
      await page.setViewportSize({ width, height });
      await showMoreAccounts.scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${artifacts}/admin-show-more-${scheme}.png` });
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 720 });

    // Every account once, in the service's order (by email), ours among them.
    await showAll(accounts, 'Show more accounts', allEmails.length);
    const emailCells = accounts.locator('td[data-label="Email"]');
    expect(await emailCells.allInnerTexts()).toEqual(allEmails);
    const shownEmails = tally(await emailCells.allInnerTexts());
    for (const email of emails) expect(shownEmails.get(email), email).toBe(1);

    // Every audit entry once, newest first: the fifty-five invitations among them.
    await showAll(audit, 'Show more audit entries', allEntries.length);
    const targetTexts = await audit.locator('td[data-label="Target"]').allInnerTexts();
    const targets = tally(targetTexts);
    for (const email of invited) expect(targets.get(email), email).toBe(1);
    const ours = (target: string | null | undefined): target is string => !!target?.startsWith(prefix);
    expect(targetTexts.filter(ours)).toEqual(allEntries.map((entry) => entry.targetEmail).filter(ours));

    // An action on a row of the last page: the row shows its new state, every row still once,
    // and the audit log has the action on top. It is loaded again as far as it was shown (as
    // many pages): when a page is full, the oldest entry goes behind "Show more".
    const auditShown = Math.ceil(allEntries.length / 50) * 50;
    const auditAfter = async (actions: number): Promise<void> => {
      const total = allEntries.length + actions;
      await expect(auditRows).toHaveCount(Math.min(total, auditShown));
      await expect(audit.getByRole('button', { name: 'Show more audit entries' })).toHaveCount(total > auditShown ? 1 : 0);
    };
    const last = emails[59];
    const lastRow = accounts.getByRole('row').filter({ hasText: last });
    await lastRow.getByRole('button', { name: 'Disable' }).click();
    await expect(lastRow.locator('td[data-label="Status"]')).toHaveText('disabled');
    await expect(accounts.locator('tbody tr')).toHaveCount(allEmails.length);
    expect(await emailCells.allInnerTexts()).toEqual(allEmails);
    await expect(accounts.getByRole('button', { name: 'Show more accounts' })).toHaveCount(0);
    await expect(auditRows.first().locator('td[data-label="What"]')).toHaveText('Disabled the account');
    await auditAfter(1);
    expect((await cells(auditRows.first())).slice(2)).toEqual(['Disabled the account', last]);

    // A change of the sign-up policy is in the audit log at once, without reloading the page.
    await setSignup(page, 'Closed');
    await expect(auditRows.first().locator('td[data-label="What"]')).toHaveText('Set sign-up to closed');
    await auditAfter(2);
    expect((await cells(auditRows.first())).slice(1)).toEqual([adminEmail, 'Set sign-up to closed', 'this instance']);
    await setSignup(page, 'Open');
    await expect(auditRows.first().locator('td[data-label="What"]')).toHaveText('Set sign-up to open');
    await auditAfter(3);
    expect((await cells(auditRows.first())).slice(1)).toEqual([adminEmail, 'Set sign-up to open', 'this instance']);
  } finally {
    // Later specs sign up freely. A freshly loaded page says which policy is in force on its
    // buttons too (they once read the settings outside their Transition and showed neither).
    await page.goto('/admin');
    await waitForHydration(page);
    const inForce = section(page, 'Sign-up').locator('.admin-in-force');
    const policy = page.getByRole('group', { name: 'Sign-up policy' });
    const open = (await inForce.innerText()).includes('sign-up is open');
    await expect(policy.getByRole('button', { name: 'Open' })).toHaveAttribute('aria-pressed', String(open));
    await expect(policy.getByRole('button', { name: 'Closed' })).toHaveAttribute('aria-pressed', String(!open));
    if (!open) await setSignup(page, 'Open');
    await expect(inForce).toHaveText('In force: sign-up is open. Anyone may create an account.');
  }
});
