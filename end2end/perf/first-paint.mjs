// First paint of a long conversation in Chromium: how soon after navigation the server-rendered
// page shows its messages (issue "Long conversations", item 7). Not a test: a measurement.
//
// Usage: node end2end/perf/first-paint.mjs URL EMAIL PASSWORD SESSION_ID [RUNS]
// Signs in through the API, opens /c/SESSION_ID RUNS times (default 20) in a fresh page each
// time, and prints the first contentful paint and the time the last message of the page was
// in the document, relative to the start of navigation (p50 and max, in milliseconds).
import { chromium } from 'playwright-core';

const [url, email, password, sessionId, runsArg] = process.argv.slice(2);
if (!sessionId) {
  console.error('usage: first-paint.mjs URL EMAIL PASSWORD SESSION_ID [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg ?? 20);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const context = await browser.newContext();
const signIn = await context.request.post(`${url}/api/auth/login`, {
  data: { email, password }, headers: { Origin: url },
});
if (!signIn.ok()) throw new Error(`sign-in: ${signIn.status()}`);

const paints = [];
const shown = [];
for (let run = 0; run < runs; run++) {
  const page = await context.newPage();
  // Records when the page's messages entered the document, as the parser adds them.
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelectorAll('li.message').length >= 50) {
        window.__messagesAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  await page.goto(`${url}/c/${sessionId}`, { waitUntil: 'load' });
  // The paint entry can come after the load event.
  await page.waitForFunction(
    () => performance.getEntriesByType('paint').some((e) => e.name === 'first-contentful-paint'),
    null, { timeout: 10_000 },
  );
  const timing = await page.evaluate(() => ({
    paint: performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime,
    messages: window.__messagesAt,
    count: document.querySelectorAll('li.message').length,
  }));
  if (timing.count < 50 || timing.paint === undefined || timing.messages === undefined) {
    throw new Error(`run ${run}: ${JSON.stringify(timing)}`);
  }
  if (run > 0) { // the first run warms the server's and the browser's caches
    paints.push(timing.paint);
    shown.push(timing.messages);
  }
  await page.close();
}
await browser.close();
const summary = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return `p50 ${sorted[Math.floor((sorted.length - 1) / 2)].toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`;
};
console.log(`first contentful paint (${paints.length} runs): ${summary(paints)}`);
console.log(`the page's 50 messages in the document: ${summary(shown)}`);
