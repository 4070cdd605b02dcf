// End to end: the release bundle served by a plain static server on one origin, the
// simulator on others (as in production), opened in headless Chromium like a person would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, startSimulator, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { outputDir, setupDashboard } from '../support/setup.mjs';

const VEHICLES = 25;
const dash = setupDashboard();

/** Positions shown in the table, by vehicle id. */
async function shownPositions(page) {
  return page.$$eval('[data-testid="vehicle-row"]', (rows) =>
    Object.fromEntries(
      rows.map((row) => [row.dataset.vehicleId, row.querySelector('[data-testid="vehicle-position"]').textContent]),
    ),
  );
}

test('live vehicles arrive over SignalR and keep moving', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', String(VEHICLES), '--rate', '2'], stopAfter: t });
  const page = await dash.open('', { apiBase: sim.apiBase });

  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'state connected' });
  assert.equal(await text(page, 'transport'), 'WebSockets');

  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === VEHICLES, {
    what: `${VEHICLES} vehicle rows`,
  });
  const before = await shownPositions(page);
  const countBefore = Number(await text(page, 'message-count'));
  await waitFor(
    async () => {
      const now = await shownPositions(page);
      return Object.keys(now).filter((id) => now[id] !== before[id]).length >= VEHICLES / 2;
    },
    { what: 'most vehicles to move on screen' },
  );
  // The vehicle table is paced (twice a second) while the status bar follows every frame, so the
  // table may show a batch the counter had already counted: wait for the counter too.
  await waitFor(async () => Number(await text(page, 'message-count')) > countBefore, { what: 'message count to grow' });

  const shot = path.join(outputDir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: false });
  if (process.env.UPDATE_SCREENSHOT === '1') fs.copyFileSync(shot, path.join(repoRoot, 'docs', 'screenshot.png'));
  assertNoCrash(page);
  await page.context().close();
});

test('killing the simulator shows reconnecting, and the page comes back live by itself', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '5', '--rate', '2'], stopAfter: t });
  const page = await dash.open('', { apiBase: sim.apiBase });
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'state connected' });

  await sim.stop();
  await waitFor(async () => ['reconnecting', 'disconnected'].includes(await text(page, 'connection-state')), {
    timeoutMs: 5000,
    what: 'the status to leave connected once the simulator is gone',
  });
  assert.notEqual(await text(page, 'connection-error'), '', 'the reason is shown');

  const again = await startSimulator({
    args: ['--vehicles', '5', '--rate', '2'],
    functionsPort: sim.functionsPort,
    servicePort: sim.servicePort,
    stopAfter: t,
  });
  const countBefore = Number(await text(page, 'message-count'));
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', {
    timeoutMs: 20000,
    what: 'the page to reconnect on its own',
  });
  await waitFor(async () => Number(await text(page, 'message-count')) > countBefore, { what: 'data flowing again' });
  assertNoCrash(page);
  await page.context().close();
});

/** A window on an `apiBase` the page cannot use, once its status bar shows an error naming `named`. */
async function openFailing(apiBase, named, what) {
  const page = await dash.open('', { apiBase });
  await waitFor(async () => (await text(page, 'connection-error')).includes(named), { what });
  return page;
}

test('a simulator that is not running shows a visible error, not a blank page', async () => {
  const page = await openFailing('http://127.0.0.1:9/api', 'negotiate', 'a negotiate error in the status bar');
  assert.notEqual(await text(page, 'connection-state'), 'connected');
  await waitFor(async () => /retrying in \d+ s/.test(await text(page, 'retry-countdown')), { what: 'a countdown' });
  assertNoCrash(page);
  await page.context().close();
});

test('a malformed config shows which field is wrong', async () => {
  const page = await openFailing('ftp://nowhere', 'apiBase', 'a config error naming apiBase');
  assert.equal(await text(page, 'connection-state'), 'disconnected');
  assertNoCrash(page);
  await page.context().close();
});
