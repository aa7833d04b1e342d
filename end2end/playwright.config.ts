import { defineConfig } from '@playwright/test';

// Confab is started by .ci/e2e, which passes its address in CONFAB_URL. The browser is Debian's
// Chromium: nothing is downloaded.
//
// .ci/e2e also starts a second Confab whose store is a MongoDB-wire server (FerretDB) and passes
// its address in CONFAB_ON_MONGODB_URL: mongodb.spec.ts runs there, and only there.
const onMongodb = process.env.CONFAB_ON_MONGODB_URL;
const mongodbSpec = /mongodb\.spec\.ts$/;

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.CONFAB_URL ?? 'http://127.0.0.1:3000',
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
      ],
    },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'sqlite', testIgnore: mongodbSpec },
    ...(onMongodb ? [{ name: 'mongodb', testMatch: mongodbSpec, use: { baseURL: onMongodb } }] : []),
  ],
});
