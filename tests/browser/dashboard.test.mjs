// The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// no browser is downloaded). Run by test_browser_dashboard.cpp, which has started a fresh
// database, pgtqd on a paused queue of slow tasks (and one that fails for good on its first
// attempt and succeeds on the next), and pgtqctl web; it passes what this needs in PGTQ_*
// variables. Steps: log in; resume the queue and see its depth fall while pgtqd drains it;
// open the failed task, retry it and see it succeed; and see that an action without a
// session, with another site's Origin, or without or with a wrong CSRF token is refused and
// changes nothing. A screenshot of each step goes to PGTQ_SCREENSHOT_DIR.
import { chromium, request } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set (test_browser_dashboard.cpp sets it)`);
  return value;
};
const base = env('PGTQ_WEB_URL'); // http://127.0.0.1:PORT
const password = env('PGTQ_WEB_PASSWORD');
const queue = env('PGTQ_TEST_QUEUE');
const victim = env('PGTQ_TEST_VICTIM_ID'); // a cancelled task no refused POST may retry
const shots = env('PGTQ_SCREENSHOT_DIR');
mkdirSync(shots, { recursive: true });

// A task's state as pgtqctl reads it from the database, not as the dashboard shows it.
const stateInDatabase = (id) =>
  JSON.parse(execFileSync(env('PGTQ_CTL'), ['--dsn', env('PGTQ_CHECK_DSN'), 'show', id, '--json']))
    .state;

let step = 0;
const screenshot = async (page, name) => {
  step += 1;
  const path = join(shots, `${String(step).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
};

const until = async (what, check, timeoutMs = 30000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
};

const profile = mkdtempSync(join(tmpdir(), 'pgtq-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const page = await browser.newPage();

  // Log in: first a wrong password, then the right one.
  await page.goto(`${base}/login`);
  await page.fill('#password', 'not the password');
  await page.click('#submit');
  assert.match(await page.textContent('#message'), /Wrong password/);
  await page.fill('#password', password);
  await screenshot(page, 'login');
  await page.click('#submit');
  await page.waitForSelector('#logout');
  await screenshot(page, 'logged-in-queues');

  // The depth falls while pgtqd drains the queue, once it is resumed from the page.
  const depth = async () => {
    await page.goto(`${base}/`);
    return Number(await page.textContent(`tr[data-queue="${queue}"] td.queued`));
  };
  const first = await depth();
  assert.ok(first > 0, `the queue has tasks waiting (${first})`);
  assert.match(await page.textContent(`tr[data-queue="${queue}"] td.paused`), /paused/);
  await page.click(`tr[data-queue="${queue}"] button.action-resume`);
  await page.waitForSelector('#note');
  let later = first;
  await until('the depth falls', async () => (later = await depth()) < first);
  console.log(`depth of ${queue}: ${first}, then ${later}`);
  await screenshot(page, 'depth-fell');

  // The task that failed for good: found through the failures page, retried, succeeded.
  await until('a failed task', async () => {
    await page.goto(`${base}/failures`);
    return (await page.locator('#failures td.num a').count()) > 0;
  });
  await screenshot(page, 'failures');
  await page.click('#failures td.num a');
  await page.click('#tasks tr[data-id] a');
  assert.equal(await page.textContent('#state'), 'failed');
  const failed = new URL(page.url()).searchParams.get('id');
  await screenshot(page, 'failed-task');
  await page.click('button.action-retry');
  await page.waitForSelector('#note');
  await until('the retried task succeeds', async () => {
    await page.goto(`${base}/task?id=${failed}`);
    return (await page.textContent('#state')) === 'succeeded';
  });
  assert.equal(stateInDatabase(failed), 'succeeded');
  await screenshot(page, 'retried-task-succeeded');

  // Refused actions. The victim's page gives this session's CSRF token.
  await page.goto(`${base}/task?id=${victim}`);
  const csrf = await page.getAttribute('form[action="/action/retry"] input[name="csrf"]', 'value');
  const retry = `${base}/action/retry`;
  const form = { id: victim, back: '/', csrf };
  const refusals = [];
  // 1. No session: a client without the cookie.
  const stranger = await request.newContext();
  refusals.push(['no session', await stranger.post(retry, {
    form, headers: { Origin: base }, maxRedirects: 0,
  })]);
  // 2. The session's cookie, but another site's Origin.
  refusals.push(['foreign Origin', await page.request.post(retry, {
    form, headers: { Origin: 'http://evil.example' }, maxRedirects: 0,
  })]);
  // 3. The session and the right Origin, but no CSRF token; 4. a wrong one.
  refusals.push(['no CSRF token', await page.request.post(retry, {
    form: { id: victim, back: '/' }, headers: { Origin: base }, maxRedirects: 0,
  })]);
  refusals.push(['wrong CSRF token', await page.request.post(retry, {
    form: { ...form, csrf: 'f'.repeat(64) }, headers: { Origin: base }, maxRedirects: 0,
  })]);
  for (const [what, response] of refusals) {
    assert.equal(response.status(), 403, `${what}: refused`);
    console.log(`${what}: ${response.status()}`);
  }
  assert.equal(stateInDatabase(victim), 'cancelled', 'no refused POST retried the task');
  const shown = await refusals[1][1].text();
  await stranger.dispose();
  await page.setContent(shown);
  await screenshot(page, 'cross-site-refused');
  console.log('dashboard browser test passed');
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
