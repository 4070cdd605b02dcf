// End to end over every transport and both hub protocols: the release bundle in headless
// Chromium, forced with ?transport= and ?protocol=, and the automatic fallback when the
// simulator refuses WebSockets (and then Server-Sent Events too).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot, startSimulator, waitFor } from '../support/simulator.mjs';
import { serveStatic } from '../support/static-server.mjs';
import { launchBrowser, openPage } from '../support/browser.mjs';

const dist = process.env.DIST_DIR ?? path.join(repoRoot, 'dist');
let site;
let browser;
let sim;

before(async () => {
  site = await serveStatic(dist);
  browser = await launchBrowser();
  sim = await startSimulator({ args: ['--vehicles', '8', '--rate', '4', '--poll-timeout-ms', '2000'] });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await sim?.stop();
});

const text = (page, testId) => page.getByTestId(testId).first().textContent();

async function assertLive(page, vehicles) {
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'state connected' });
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === vehicles, { what: 'vehicle rows' });
  const before = Number(await text(page, 'message-count'));
  await waitFor(async () => Number(await text(page, 'message-count')) >= before + 2, { what: 'more batches' });
  const crashes = page.problems.filter((p) => p.startsWith('pageerror') || p.includes('panicked'));
  assert.deepEqual(crashes, []);
}

const MATRIX = [
  ['webSockets', 'json', 'WebSockets'],
  ['webSockets', 'messagepack', 'WebSockets'],
  ['serverSentEvents', 'json', 'ServerSentEvents'],
  ['longPolling', 'json', 'LongPolling'],
  ['longPolling', 'messagepack', 'LongPolling'],
];

for (const [transport, protocol, shown] of MATRIX) {
  test(`dashboard live over ${transport} with ${protocol}`, async () => {
    const query = new URLSearchParams({ apiBase: sim.apiBase, transport, protocol });
    const page = await openPage(browser, `${site.url}?${query}`);
    await assertLive(page, 8);
    assert.equal(await text(page, 'transport'), shown);
    assert.equal(await text(page, 'protocol'), protocol);
    await page.context().close();
  });
}

test('WebSockets blocked: live over Server-Sent Events; SSE blocked too: live over Long Polling', async (t) => {
  const noWs = await startSimulator({ args: ['--vehicles', '3', '--rate', '4', '--refuse-transport', 'WebSockets'] });
  t.after(() => noWs.stop());
  let page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(noWs.apiBase)}`);
  await assertLive(page, 3);
  assert.equal(await text(page, 'transport'), 'ServerSentEvents');
  await page.context().close();

  const onlyLp = await startSimulator({
    args: ['--vehicles', '3', '--rate', '4', '--poll-timeout-ms', '2000', '--refuse-transport', 'WebSockets', '--refuse-transport', 'ServerSentEvents'],
  });
  t.after(() => onlyLp.stop());
  page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(onlyLp.apiBase)}`);
  await assertLive(page, 3);
  assert.equal(await text(page, 'transport'), 'LongPolling');
  await page.context().close();
});

test('a forced transport or protocol that makes no sense is reported, not attempted', async () => {
  const query = new URLSearchParams({ apiBase: sim.apiBase, transport: 'serverSentEvents', protocol: 'messagepack' });
  const page = await openPage(browser, `${site.url}?${query}`);
  await waitFor(async () => (await text(page, 'connection-error')).includes('protocol'), { what: 'config error' });
  await page.context().close();
});
