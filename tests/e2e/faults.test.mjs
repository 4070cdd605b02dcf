// Faults injected on purpose (the simulator's fault flags), each judged by what the user sees
// in headless Chromium: the status bar says when the page is not live, the page comes back by
// itself, the snapshot leaves nothing stale, and no update is lost where none may be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restToken, startSimulator, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { failingProxy } from '../support/failing-proxy.mjs';
import { setupDashboard, shippedConfig } from '../support/setup.mjs';

const dash = setupDashboard();
const state = (page) => text(page, 'connection-state');
const messages = async (page) => Number(await text(page, 'message-count'));

/** Opens the dashboard on `sim`, counting its negotiate calls and WebSockets. */
async function open(sim, query = '', hash = '') {
  const page = await dash.open(query + hash, {
    apiBase: sim.apiBase,
    prepare: (page) => {
      page.negotiations = 0;
      page.sockets = 0;
      page.on('request', (r) => r.url().startsWith(`${sim.apiBase}/negotiate`) && page.negotiations++);
      page.on('websocket', () => page.sockets++);
    },
  });
  await waitFor(async () => (await state(page)) === 'connected', { what: 'connected' });
  return page;
}

async function assertLiveAgain(page, what) {
  await waitFor(async () => (await state(page)) === 'connected', { timeoutMs: 40000, what: `connected again ${what}` });
  const count = await messages(page);
  await waitFor(async () => (await messages(page)) > count + 2, { timeoutMs: 20000, what: `data flowing again ${what}` });
}

test('a restarted simulator with a smaller fleet: the snapshot leaves no stale vehicle or device', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '6', '--rate', '2', '--machines', '4', '--rigs', '2'], stopAfter: t });
  const page = await open(sim);
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 6, { what: 'six vehicles' });
  await sim.stop();
  await waitFor(async () => (await state(page)) !== 'connected', { timeoutMs: 10000, what: 'not live while it is down' });

  const again = await startSimulator({
    args: ['--vehicles', '3', '--rate', '2', '--machines', '1', '--rigs', '1', '--seed', '7'],
    functionsPort: sim.functionsPort,
    servicePort: sim.servicePort,
    stopAfter: t,
  });
  await assertLiveAgain(page, 'after the restart');
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 3, { what: 'only the three vehicles it has now' });
  await page.getByTestId('nav-equipment').click();
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 2, { what: 'only its two devices' });
  // Groups were joined again: positions (sent to site groups only) arrive.
  const positions = async () => page.evaluate(() => window.dashboardMetrics().positions);
  const before = await positions();
  await waitFor(async () => (await positions()) > before, { what: 'positions through the rejoined groups' });
  assertNoCrash(page);
  await page.context().close();
});

test('a stalled service (no data, no pings) is detected within the server timeout, then the page reconnects', async (t) => {
  // Stalls from 5 s to 10 s, 15 s to 20 s, ... after start; pings every 300 ms otherwise.
  const sim = await startSimulator({
    args: ['--vehicles', '5', '--rate', '4', '--keep-alive-ms', '300', '--stall-every-secs', '5', '--stall-for-secs', '5'],
    stopAfter: t,
  });
  const page = await open(sim, '&serverTimeoutSeconds=2');
  // Every state the status bar shows, with its reason, as it changes (the page retries at
  // once, so a poll could miss the moment between detection and the next attempt).
  await page.evaluate(() => {
    window.statusHistory = [];
    const bar = document.querySelector('.status-bar');
    const read = (id) => bar.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
    new MutationObserver(() => window.statusHistory.push([read('connection-state'), read('connection-error')])).observe(bar, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
  await waitFor(
    () => page.evaluate(() => window.statusHistory.some(([shown, reason]) => shown !== 'connected' && /server timeout/.test(reason))),
    { timeoutMs: 15000, what: 'the stall detected, named, and not shown as live' },
  );
  await assertLiveAgain(page, 'after the stall');
  assertNoCrash(page);
  await page.context().close();
});

test('an expired token ends the connection; the page renegotiates and carries on', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '5', '--rate', '4', '--token-lifetime', '2'], stopAfter: t });
  const page = await open(sim);
  await waitFor(() => page.negotiations >= 4, { timeoutMs: 20000, what: 'three renegotiations with fresh tokens' });
  await assertLiveAgain(page, 'with a fresh token');
  assertNoCrash(page);
  await page.context().close();
});

test('ten WebSocket cuts in a row: stateful reconnect delivers every report exactly once', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '30', '--rate', '5', '--cut-transport-every-secs', '1'], stopAfter: t });
  const page = await open(sim, '&transport=webSockets');
  const lost = page.getByTestId('lost-count');
  const checkedAtStart = Number(await lost.getAttribute('data-checked'));
  await waitFor(() => page.sockets >= 11, { timeoutMs: 30000, what: 'ten cuts, each bridged by a new socket' });
  await assertLiveAgain(page, 'after the tenth cut');
  const checked = Number(await lost.getAttribute('data-checked')) - checkedAtStart;
  // 150 reports a second for over ten seconds, each number checked per vehicle.
  assert.ok(checked > 1000, `reports counted: ${checked}`);
  assert.equal(await lost.textContent(), '0', 'no report missing');
  assert.doesNotMatch(await lost.locator('..').textContent(), /twice/, 'no report delivered twice');
  assert.equal(page.negotiations, 1, 'every cut was bridged on the same connection, none renegotiated');
  console.log(`# ${page.sockets - 1} cuts bridged, ${checked} numbered reports checked: 0 missing, 0 repeated`);
  assertNoCrash(page);
  await page.context().close();
});

test('broken frames from the service are reported and skipped, or the page reconnects; it never crashes', async (t) => {
  // In turn every second: invalid JSON, an unknown message type, a record over 1 MiB, a frame
  // without its terminator.
  const sim = await startSimulator({ args: ['--vehicles', '5', '--rate', '4', '--bad-frame-every-secs', '1'], stopAfter: t });
  const page = await open(sim, '&transport=webSockets');
  await waitFor(async () => Number(await text(page, 'skipped-count').catch(() => '0')) >= 3, {
    timeoutMs: 20000,
    what: 'skipped messages counted on screen',
  });
  await waitFor(() => page.negotiations >= 2, { timeoutMs: 20000, what: 'a reconnect after the oversized record' });
  await assertLiveAgain(page, 'between broken frames');
  assert.ok((await fetch(`${sim.apiBase}/snapshot`)).ok, 'the simulator is still up');
  assertNoCrash(page);
  await page.context().close();
});

test('a huge batch (5,000 positions in one message) is absorbed; the page stays responsive', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '3', '--rate', '2'], stopAfter: t });
  const page = await open(sim, '', '#/fleet');
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const now = Date.now();
  const batch = Array.from({ length: 5000 }, (_, i) => ({
    id: `bulk-${i}`, ts: now, lat: 47.3 + (i % 100) / 1000, lon: 8.5 + Math.floor(i / 100) / 1000,
    heading: i % 360, speed: 30, state: 'moving', site: 'harbour', seq: 1,
  }));
  const body = JSON.stringify({ target: 'positions', arguments: [batch] });
  assert.ok(body.length > 500_000, `a big message: ${body.length} bytes`);
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
    body,
  });
  assert.equal(answer.status, 202);
  await waitFor(async () => Number(await text(page, 'map-vehicle-count')) === 5003, { what: 'all 5,003 vehicles on the map' });
  // Still responsive: a screen change and back shows its content.
  await page.getByTestId('nav-alerts').click();
  await page.getByTestId('alert-filter-severity').first().waitFor({ timeout: 10000 });
  await page.getByTestId('nav-fleet').click();
  await waitFor(async () => Number(await text(page, 'map-vehicle-count')) === 5003, { what: 'the map again' });
  assert.equal(await text(page, 'lost-count'), '0');
  assertNoCrash(page);
  await page.context().close();
});

test('a batch with one bad item applies the good ones beside it and counts the bad one as skipped', async (t) => {
  const sim = await startSimulator({
    args: ['--vehicles', '2', '--machines', '1', '--rigs', '0', '--reading-rate', '0.01'],
    stopAfter: t,
  });
  const snapshot = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const vehicleKinds = new Set(['vehicle', ...snapshot.catalog.vehicleKinds.map((k) => k.id)]);
  const machine = snapshot.devices.find((d) => !vehicleKinds.has(d.kind));
  assert.ok(machine, 'the simulator has a machine');
  const page = await open(sim, '', '#/equipment');
  await page.getByTestId('equipment-card').first().waitFor({ timeout: 15000 });
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const publish = async (target, batch) => {
    const answer = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target, arguments: [batch] }),
    });
    assert.equal(answer.status, 202);
  };
  const reading = {
    device: machine.id, kind: 'process', ts: Date.now(), site: machine.site, status: 'running',
    values: { temperature: 123.4 },
  };
  // A status nobody knows, first in the batch, beside a good reading (a kind nobody declared is
  // fine: it is shown by its id).
  await publish('readings', [{ ...reading, device: 'pump-07', status: 'on fire' }, reading]);
  const card = page.locator(`[data-testid="equipment-card"][data-device-id="${machine.id}"]`);
  await waitFor(async () => (await card.textContent()).includes('123.4'), { what: 'the good reading applied' });
  await waitFor(async () => (await text(page, 'skipped-count')) === '1', { what: 'the bad reading counted as skipped' });

  // Positions: a malformed one between two good ones.
  await page.getByTestId('nav-fleet').click();
  const now = Date.now();
  const at = (id, lat) => ({ id, ts: now, lat, lon: 8.54, heading: 0, speed: 10, state: 'moving', site: 'harbour', seq: 1 });
  await publish('positions', [at('solo-1', 47.37), { ...at('bad', 47.38), lat: 'north' }, at('solo-2', 47.39)]);
  await waitFor(async () => Number(await text(page, 'map-vehicle-count')) === 4, { what: 'both good vehicles added' });
  await waitFor(async () => (await text(page, 'skipped-count')) === '2', { what: 'the malformed position skipped' });
  // Well formed, but off the globe: refused alone, the good one beside it applied.
  await publish('positions', [{ ...at('far', 95), ts: now + 1 }, { ...at('solo-3', 47.4), ts: now + 1 }]);
  await waitFor(async () => Number(await text(page, 'map-vehicle-count')) === 5, { what: 'the good vehicle beside it added' });
  await waitFor(async () => (await text(page, 'skipped-count')) === '3', { what: 'the latitude of 95 skipped' });
  assertNoCrash(page);
  await page.context().close();
});

test('limits: vehicles and devices beyond config.json\'s bounds are ignored and counted; 5,000 made-up devices are not kept', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '12', '--machines', '3', '--rigs', '0'], stopAfter: t });
  const site = await dash.serve({ config: { ...shippedConfig(), maxVehicles: 5, maxDevices: 2 }, closeAfter: t });
  const page = await dash.open('', { site, apiBase: sim.apiBase });
  await waitFor(async () => (await state(page)) === 'connected', { what: 'connected' });
  await waitFor(async () => (await text(page, 'over-limit').catch(() => '')) === '8 ids over the limit ignored', {
    what: 'seven vehicles and one machine counted as over the limit',
  });
  await waitFor(async () => (await text(page, 'vehicle-count')) === '5', { what: 'five vehicles listed' });
  // The kept ones stay live while the others keep reporting.
  const messagesBefore = await messages(page);
  await waitFor(async () => (await messages(page)) > messagesBefore + 3, { what: 'live data' });
  assert.equal(await text(page, 'vehicle-count'), '5');
  await page.getByTestId('nav-equipment').click();
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 2, { what: 'two machines' });

  // 5,000 made-up devices in one REST batch: none is taken, the count says at least a thousand.
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const heapBefore = await page.evaluate(() => window.dashboardMetrics().wasmHeapInUseBytes);
  const batch = Array.from({ length: 5000 }, (_, i) => ({
    device: `made-up-${i}`, kind: 'process', ts: Date.now(), site: 'harbour', status: 'running', values: { temperature: i },
  }));
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'readings', arguments: [batch] }),
  });
  assert.equal(answer.status, 202);
  // Counted once each up to a thousand per kind (the count is bounded too): 7 vehicles + 1,000+.
  await waitFor(async () => (await text(page, 'over-limit')) === '1007+ ids over the limit ignored', { what: 'counted' });
  assert.equal(await page.getByTestId('equipment-card').count(), 2, 'no made-up device shown');
  const heapAfter = await page.evaluate(() => window.dashboardMetrics().wasmHeapInUseBytes);
  console.log(`# limits: wasm heap in use ${(heapBefore / 1e6).toFixed(1)} MB before the 5,000 made-up devices, ${(heapAfter / 1e6).toFixed(1)} MB after`);
  assertNoCrash(page);
  await page.context().close();
});

test('a functions side that answers 503 at first: the page says it is syncing, retries, and goes live', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '4', '--rate', '2'], stopAfter: t });
  const proxy = await failingProxy(`http://127.0.0.1:${sim.functionsPort}`, {
    'GET /api/snapshot': 2,
    'POST /api/subscriptions': 2,
  });
  t.after(() => proxy.close());
  // Every state the status bar shows from the start, with its reason and countdown.
  const page = await dash.open('', {
    apiBase: proxy.apiBase,
    prepare: (page) =>
      page.addInitScript(() => {
        window.statusHistory = [];
        const read = (id) => document.querySelector(`.status-bar [data-testid="${id}"]`)?.textContent ?? '';
        const note = () => {
          if (!document.querySelector('.status-bar')) return;
          const seen = [read('connection-state'), read('connection-error'), read('retry-countdown')];
          const last = window.statusHistory.at(-1);
          if (!last || last.join('|') !== seen.join('|')) window.statusHistory.push(seen);
        };
        new MutationObserver(note).observe(document, { subtree: true, childList: true, characterData: true });
      }),
  });
  await waitFor(
    () => page.evaluate(() =>
      window.statusHistory.some(([shown, why, countdown]) =>
        shown === 'connected · syncing' && /snapshot: .*503/.test(why) && /sync retry in \d+ s/.test(countdown))),
    { what: 'connected but syncing, with the snapshot 503 and a countdown' },
  );
  await waitFor(
    () => page.evaluate(() => window.statusHistory.some(([shown, why]) => shown === 'connected · syncing' && /subscriptions: .*503/.test(why))),
    { what: 'the group joins failing next, still syncing', timeoutMs: 20000 },
  );
  // Never plain "connected" before the joins succeeded.
  await waitFor(async () => (await state(page)) === 'connected', { what: 'in sync at last', timeoutMs: 30000 });
  const shown = await page.evaluate(() => window.statusHistory.map(([s]) => s));
  const firstLive = shown.indexOf('connected');
  assert.ok(firstLive > shown.lastIndexOf('connected · syncing'), `plain connected only once synced: ${shown}`);
  assert.ok(proxy.calls['POST /api/subscriptions'] >= 3, `retried: ${JSON.stringify(proxy.calls)}`);
  // Live: the vehicles are there and keep reporting through the joined groups.
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 4, { what: 'four vehicles' });
  const before = Number(await text(page, 'message-count'));
  await waitFor(async () => Number(await text(page, 'message-count')) > before + 3, { what: 'positions arriving' });
  assert.equal(await text(page, 'connection-error'), '');
  assertNoCrash(page);
  await page.context().close();
});
