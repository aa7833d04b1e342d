import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, sidebar, signUp, uniqueEmail, waitForHydration } from './helpers';

/** A ChatGPT conversations.json list: `count` conversations of `each` messages. */
function chatgptList(count: number, each: number): Buffer {
  const conversations = [];
  for (let c = 0; c < count; c++) {
    const id = `big-${c}`;
    const mapping: Record<string, unknown> = {
      [`${id}-root`]: { id: `${id}-root`, message: null, parent: null, children: [`${id}-0`] },
    };
    for (let i = 0; i < each; i++) {
      mapping[`${id}-${i}`] = {
        id: `${id}-${i}`,
        message: {
          id: `${id}-${i}`,
          author: { role: i % 2 === 0 ? 'user' : 'assistant' },
          create_time: 1_700_000_000 + c * 100 + i,
          content: { content_type: 'text', parts: [`message ${i} of conversation ${c}: ${'words and more words '.repeat(8)}`] },
          status: 'finished_successfully',
          metadata: {},
        },
        parent: i === 0 ? `${id}-root` : `${id}-${i - 1}`,
        children: i + 1 < each ? [`${id}-${i + 1}`] : [],
      };
    }
    conversations.push({ id, title: `Big import ${c}`, create_time: 1_700_000_000 + c * 100, mapping, current_node: `${id}-${each - 1}` });
  }
  return Buffer.from(JSON.stringify(conversations));
}

async function openImportPage(page: Page) {
  await page.goto('/import');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Import conversations' })).toBeVisible();
}

test('a ChatGPT zip imports from the import page, and the report names what failed', async ({ page }) => {
  await signUp(page, uniqueEmail('import-zip'));
  await openImportPage(page);
  const zip = readFileSync(join(__dirname, '..', 'fixtures', 'chatgpt-export.zip'));
  await page.locator('#import-file').setInputFiles({ name: 'chatgpt-export.zip', mimeType: 'application/zip', buffer: zip });
  await page.getByRole('button', { name: 'Import', exact: true }).click();

  const report = page.getByRole('region', { name: 'Import result' });
  await expect(report).toContainText('3 conversations, 6 messages imported · 0 skipped');
  await expect(report.getByRole('listitem')).toHaveCount(1);
  await expect(report.getByRole('listitem')).toContainText('Broken conversation:');
  await expect(sidebar(page).getByRole('link', { name: /東京の週末/ })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/import-report-light.png`, fullPage: true });

  // The same file again adds nothing.
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(report).toContainText(', 0 messages imported · 6 skipped');
});

test('a large import shows its progress while it runs', async ({ page }) => {
  await signUp(page, uniqueEmail('import-big'));
  await openImportPage(page);
  // 3,000 conversations of 10 messages (about 10 MB): long enough to watch.
  const file = chatgptList(3_000, 10);
  // The server imports 14 MB in half a second here, faster than the page polls: the upload
  // goes at 3 MB/s, as from a slow link, so the progress is there to see whatever the machine.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 3_000_000,
  });
  await page.locator('#import-file').setInputFiles({ name: 'conversations.json', mimeType: 'application/json', buffer: file });
  await page.getByRole('button', { name: 'Import', exact: true }).click();

  const status = page.getByRole('status', { name: 'Import progress' });
  await expect(status).toContainText(/\d+\.\d MB of \d+\.\d MB read · [1-9][\d]* conversations? read, [1-9][\d]* messages? stored/, { timeout: 30_000 });
  await expect(page.getByRole('button', { name: 'Importing…' })).toBeDisabled();
  await page.screenshot({ path: `${artifacts}/import-progress-light.png` });

  const report = page.getByRole('region', { name: 'Import result' });
  await expect(report).toContainText('3000 conversations, 30000 messages imported', { timeout: 60_000 });
  await expect(status).toHaveCount(0);
});

test('the import page reads well in the dark and at phone width', async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: 'dark' });
  const page = await context.newPage();
  await signUp(page, uniqueEmail('import-dark'));
  // At phone width the sidebar is a drawer: sign up first, then narrow the window.
  await page.setViewportSize({ width: 375, height: 760 });
  await openImportPage(page);
  const zip = readFileSync(join(__dirname, '..', 'fixtures', 'chatgpt-export.zip'));
  await page.locator('#import-file').setInputFiles({ name: 'chatgpt-export.zip', mimeType: 'application/zip', buffer: zip });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(page.getByRole('region', { name: 'Import result' })).toContainText('3 conversations');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${artifacts}/import-report-dark-phone.png`, fullPage: true });
  await context.close();
});
