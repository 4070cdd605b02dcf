// Alarm management as control rooms practise it (ISA-18.2, EEMUA 191), in two windows on one
// simulator: a shelf made on one page takes the alarm off the other's stack and lets it back
// when its time is up; a device out of service raises no toast; an acknowledged alarm still
// active re-alarms after the backend's period, and its timeline says so; 40 alarms in half a
// minute are named a flood, the stack stays bounded and the page answers, and the flood ends;
// a hidden page notifies a critical alarm through the browser's Notification API; and the
// health screen's figures match a scripted alarm history with known answers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { restToken, simulatorBin, startSimulator, waitFor, sleep } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { setupDashboard, shippedConfig } from '../support/setup.mjs';

// Every alert here is one the test published. Re-alarm after 3 s, shelves of at most 12 s.
const dash = setupDashboard({
  simulator: ['--vehicles', '3', '--machines', '0', '--rigs', '0', '--no-geofences',
    '--re-alarm-minutes', '0.05', '--max-shelve-minutes', '0.2', '--max-out-of-service-minutes', '30'],
});
const { sim } = dash;
let floodSite;

before(async () => {
  await dash.ready;
  // The same build with floods counted over 20 s instead of ten minutes, so one ends in a test.
  floodSite = await dash.serve({ config: { ...shippedConfig(), floodWindowSeconds: 20 } });
});

let serial = 0;
function alert(fields = {}) {
  serial += 1;
  return {
    id: `a-${serial}`,
    ts: Date.now(),
    device: `press-${serial}`,
    site: 'harbour',
    severity: 'critical',
    metric: 'temperature',
    value: 101.5,
    threshold: 100,
    message: `temperature high #${serial}`,
    ...fields,
  };
}

/** Publishes through the service's REST API of `on` (the file's simulator unless given). */
async function publish(alerts, target = 'alerts', on = sim) {
  const url = `http://127.0.0.1:${on.servicePort}/api/v1/hubs/telemetry`;
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(on.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target, arguments: [alerts] }),
  });
  assert.equal(answer.status, 202);
}

async function live(suffix = '', { site, apiBase, prepare } = {}) {
  const page = await dash.open(suffix, { site, apiBase, prepare });
  // Connected is said only once the snapshot is in and the groups are joined.
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  return page;
}

const toast = (page, device) => page.locator(`[data-testid="toast"][data-device="${device}"]`);

test('shelved on one page, an alarm leaves the other\'s stack, repeats stay quiet, and it is back when the shelf ends', async () => {
  const [a, b] = [await live(), await live()];
  await a.getByTestId('nav-alerts').click();
  await a.getByTestId('operator').fill('ann');
  await a.getByTestId('operator').press('Enter');
  await a.getByTestId('nav-overview').click();
  const chattering = alert({ device: 'pump-7', metric: 'pressure', message: 'pressure chattering' });
  await publish([chattering]);
  for (const page of [a, b]) await toast(page, 'pump-7').waitFor();
  await toast(a, 'pump-7').getByTestId('toast-shelve').click();
  // The backend's longest shelf is 12 s here: the only duration offered.
  assert.deepEqual(await toast(a, 'pump-7').getByTestId('shelve-minutes').locator('option').allTextContents(), ['12 s']);
  await toast(a, 'pump-7').getByTestId('shelve-reason').fill('chattering');
  const shelvedAt = Date.now();
  await toast(a, 'pump-7').getByTestId('shelve-submit').click();
  for (const page of [a, b]) {
    await waitFor(async () => (await toast(page, 'pump-7').count()) === 0, { what: 'the shelved alarm off the stack' });
  }
  // Shown as shelved, by whom and why, in the other page's list.
  await waitFor(async () => (await b.locator(`[data-testid="alert-row"][data-alert-id="${chattering.id}"] [data-testid="isa-state"]`).getAttribute('data-suppressed')) === 'shelved', { what: 'shelved in the list' });
  assert.match(await b.locator(`[data-alert-id="${chattering.id}"] [data-testid="isa-state"]`).textContent(), /active, unacknowledged · shelved by ann until \d\d:\d\d \(chattering\)/);
  // A reload keeps it: the snapshot lists the shelf, and the alarm does not toast.
  await b.reload();
  await waitFor(async () => (await text(b, 'connection-state')) === 'connected', { what: 'connected again' });
  await waitFor(async () => (await b.locator(`[data-testid="alert-row"][data-alert-id="${chattering.id}"] [data-testid="isa-state"]`).getAttribute('data-suppressed')) === 'shelved', { what: 'still shelved after a reload' });
  assert.equal(await toast(b, 'pump-7').count(), 0);
  // It chatters on: recorded, but no toast while shelved; another point still toasts.
  const repeat = alert({ device: 'pump-7', metric: 'pressure', message: 'pressure chattering again' });
  const other = alert({ device: 'pump-8', metric: 'pressure' });
  await publish([repeat, other]);
  await toast(b, 'pump-8').waitFor();
  await b.locator(`[data-alert-id="${repeat.id}"]`).waitFor();
  assert.equal(await toast(b, 'pump-7').count(), 0, 'a shelved point does not toast');
  // The shelf ends by itself after 12 s, and the alarms still waiting are back on both pages.
  for (const page of [a, b]) {
    await waitFor(async () => (await toast(page, 'pump-7').count()) === 1, { timeoutMs: 25000, what: 'back after the shelf' });
  }
  assert.ok(Date.now() - shelvedAt >= 11000, 'not before the shelf time');
  assert.equal(await b.locator(`[data-alert-id="${chattering.id}"] [data-testid="isa-state"]`).getAttribute('data-suppressed'), 'none');
  for (const page of [a, b]) {
    assertNoCrash(page);
    await page.context().close();
  }
});

test('a vehicle\'s alarms are in its panel on the map, with where they stand; a toast says it too', async () => {
  const { devices } = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const vehicle = devices.find((d) => d.id.startsWith('veh-')).id;
  const page = await live(`#/fleet?vehicle=${vehicle}`);
  const speeding = alert({ device: vehicle, metric: 'speed', message: 'speeding' });
  await publish([speeding]);
  const row = page.locator(`[data-testid="selection-alarm"][data-alert-id="${speeding.id}"] [data-testid="isa-state"]`);
  await waitFor(async () => (await row.count()) === 1, { what: 'the alarm in the vehicle panel' });
  assert.equal(await row.getAttribute('data-isa'), 'active-unacknowledged');
  assert.equal(await toast(page, vehicle).locator('[data-testid="isa-state"]').getAttribute('data-isa'), 'active-unacknowledged');
  // Back to normal before anyone acknowledged it, then acknowledged: normal, out of the panel.
  await publish([{ id: speeding.id, ts: Date.now() }], 'alertCleared');
  await waitFor(async () => (await row.getAttribute('data-isa').catch(() => null)) === 'returned-unacknowledged', { what: 'returned to normal, unacknowledged' });
  await toast(page, vehicle).getByTestId('toast-ack').click();
  await waitFor(async () => (await row.count()) === 0, { what: 'normal: out of the panel' });
  await page.context().close();
});

test('a device out of service raises no toast, and returned to service its waiting alarm does', async () => {
  const [a, b] = [await live('#/device/boiler-3'), await live()];
  await a.getByTestId('maintenance-reason').fill('valve swap');
  await a.getByTestId('maintenance-submit').click();
  await waitFor(async () => /^Out of service: out of service by dashboard until \d\d:\d\d \(valve swap\)/.test(await text(a, 'maintenance-state')), { what: 'out of service' });
  const quiet = alert({ device: 'boiler-3', message: 'boiler hot during maintenance' });
  const control = alert({ device: 'boiler-4' });
  await publish([quiet]);
  await publish([control]);
  await toast(b, 'boiler-4').waitFor();
  await b.locator(`[data-alert-id="${quiet.id}"]`).waitFor();
  assert.equal(await toast(b, 'boiler-3').count(), 0, 'no toast for a device in maintenance');
  assert.equal(await b.locator(`[data-alert-id="${quiet.id}"] [data-testid="isa-state"]`).getAttribute('data-suppressed'), 'outOfService');
  // The device's own screen lists it, out of service.
  await a.locator(`[data-testid="device-alarm"][data-alert-id="${quiet.id}"]`).waitFor();
  await a.getByTestId('maintenance-end').click();
  await toast(b, 'boiler-3').waitFor({ timeout: 10000 });
  await a.getByTestId('maintenance-submit').waitFor();
  for (const page of [a, b]) await page.context().close();
});

test('an acknowledged alarm still active re-alarms after the backend\'s period, and its timeline says so', async () => {
  const page = await live();
  const held = alert({ device: 'kiln-1', message: 'kiln over temperature' });
  await publish([held]);
  await toast(page, 'kiln-1').waitFor();
  const acked = Date.now();
  await toast(page, 'kiln-1').getByTestId('toast-ack').click();
  await waitFor(async () => (await toast(page, 'kiln-1').count()) === 0, { what: 'acknowledged' });
  // 3 s later (the backend's re-alarm period here) it is unacknowledged and on the stack again.
  await toast(page, 'kiln-1').waitFor({ timeout: 10000 });
  assert.ok(Date.now() - acked >= 2500, 'not before the period');
  const state = page.locator(`[data-testid="alert-row"][data-alert-id="${held.id}"] [data-testid="isa-state"]`);
  assert.equal(await state.getAttribute('data-isa'), 'active-unacknowledged');
  assert.match(await state.textContent(), /re-alarmed ×1/);
  // Cleared, it re-alarms no more; its timeline tells the whole story in order.
  await publish([{ id: held.id, ts: Date.now() }], 'alertCleared');
  await page.goto(dash.url(`#/alerts/${held.id}`));
  await page.getByTestId('alarm-events').waitFor();
  await waitFor(async () => (await page.getByTestId('alarm-event').evaluateAll((li) => li.map((e) => e.dataset.change))).includes('cleared'), { what: 'the clearing in the timeline' });
  const changes = await page.getByTestId('alarm-event').evaluateAll((li) => li.map((e) => e.dataset.change));
  assert.deepEqual(changes.slice(0, 3), ['raised', 'acknowledged', 'reAlarmed']);
  assert.equal(changes.at(-1), 'cleared');
  assert.match(await page.getByTestId('alarm-event').first().textContent(), /raised: temperature 101\.5 against a limit of 100\.0/);
  assert.match(await page.getByTestId('alarm-event').nth(1).textContent(), /acknowledged by dashboard/);
  await page.context().close();
});

test('40 alarms in half a minute are named a flood, the stack stays bounded, the page answers, and the flood ends', async () => {
  const page = await live('', { site: floodSite });
  const started = Date.now();
  for (let i = 0; i < 40; i += 1) {
    await publish([alert({ device: `line-${i}`, severity: i % 8 === 0 ? 'critical' : 'warning' })]);
    await sleep(600);
  }
  const banner = await text(page, 'flood-banner');
  assert.match(banner, /^Alarm flood since \d\d:\d\d: \d+ alarms in the last 20 seconds, \d+ since it began \(\d+\.\d per minute\)/);
  assert.equal(await page.getByTestId('flood-banner').isVisible(), true);
  // Toasts: one summary by severity, and the critical ones singly within the stack's bound.
  const summary = await page.locator('[data-testid="flood-summary"] strong').textContent();
  const split = /^Alarm flood: (\d+) critical, (\d+) warning, 0 info since it began$/.exec(summary);
  assert.ok(split, summary);
  // The summary's counts are the banner's: every alarm since the flood began, by severity.
  const since = Number(/(\d+) since it began/.exec(await text(page, 'flood-banner'))[1]);
  assert.equal(Number(split[1]) + Number(split[2]), since, `${summary} / ${await text(page, 'flood-banner')}`);
  const shown = await page.locator('[data-testid="toast"]').evaluateAll((t) => t.map((e) => e.className));
  assert.ok(shown.length <= 4, `at most four toasts: ${shown.length}`);
  assert.ok(shown.every((c) => c.includes('severity-critical')), 'only critical ones singly');
  // The page answers.
  const t0 = Date.now();
  await page.evaluate(() => 1 + 1);
  assert.ok(Date.now() - t0 < 2000);
  // Fewer than 5 in the window: the flood ends, and both moments are in the alarm history.
  await waitFor(async () => !(await page.getByTestId('flood-banner').isVisible()), { timeoutMs: 30000, what: 'the flood over' });
  await page.getByTestId('nav-alerts').click();
  const moments = await page.getByTestId('flood-moment').evaluateAll((li) => li.map((e) => [e.dataset.change, e.textContent]));
  assert.deepEqual(moments.map((m) => m[0]), ['ended', 'began']);
  assert.match(moments[0][1], /alarm flood ended: \d alarms in the window, \d+ over the flood/);
  console.log(`# flood: 40 alarms over ${((Date.now() - started) / 1000).toFixed(0)} s`);
  assertNoCrash(page);
  await page.context().close();
});

test('a hidden page notifies a critical alarm through the Notification API, once per point; the title counts', async () => {
  // The page's Notification observed (each one made is recorded), and its visibility set by the test.
  const prepare = async (page) => {
    await page.context().grantPermissions(['notifications']);
    await page.addInitScript(() => {
      window.__notified = [];
      const Real = window.Notification;
      window.Notification = class extends Real {
        constructor(title, options) {
          super(title, options);
          window.__notified.push({ title, tag: options?.tag, body: options?.body });
        }
      };
      window.__hidden = false;
      Object.defineProperty(Document.prototype, 'hidden', { get: () => window.__hidden });
      Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (window.__hidden ? 'hidden' : 'visible') });
    });
  };
  const page = await live('#/alerts', { prepare });
  assert.equal(await page.getByTestId('notifications').getAttribute('data-choice'), 'off', 'nothing until the operator opts in');
  await page.getByTestId('notifications-on').click();
  await waitFor(async () => (await page.getByTestId('notifications').getAttribute('data-choice')) === 'on', { what: 'opted in' });
  // Visible: no notification.
  await publish([alert({ device: 'seen-1' })]);
  await page.locator('[data-testid="history-row"]').first().waitFor();
  await sleep(500);
  assert.equal((await page.evaluate(() => window.__notified)).length, 0, 'not while the page is seen');
  // Hidden: a critical alarm notifies; its repeat within a minute folds into it (no new
  // pop-up); another point notifies on its own; a warning does not.
  await page.evaluate(() => (window.__hidden = true));
  await publish([alert({ device: 'tank-9', metric: 'level', message: 'tank overflowing' })]);
  await waitFor(async () => (await page.evaluate(() => window.__notified)).length === 1, { what: 'notified' });
  await publish([alert({ device: 'tank-9', metric: 'level', message: 'tank still overflowing' })]);
  await publish([alert({ device: 'tank-10', severity: 'warning' })]);
  await publish([alert({ device: 'tank-11', metric: 'level', message: 'another tank' })]);
  await waitFor(async () => (await page.evaluate(() => window.__notified)).length >= 2, { what: 'the other point notified' });
  await sleep(800);
  const notified = await page.evaluate(() => window.__notified);
  assert.deepEqual(notified.map((n) => n.title), ['Critical: tank-9 · level', 'Critical: tank-11 · level'], JSON.stringify(notified));
  assert.notEqual(notified[0].tag, notified[1].tag, 'one notification per point');
  assert.match(notified[0].body, /^tank overflowing/);
  // The title and the icon carry the count of alarms waiting.
  const waiting = Number(/\((\d+)\)/.exec(await page.title())?.[1]);
  assert.ok(waiting >= 3, await page.title());
  assert.equal(await page.locator('link[rel=icon]').getAttribute('data-count'), String(waiting));
  assert.match(await page.locator('link[rel=icon]').getAttribute('href'), /^data:image\/png;base64,/);
  // Remembered: a reload keeps the choice.
  await page.reload();
  await waitFor(async () => (await page.getByTestId('notifications').getAttribute('data-choice')) === 'on', { what: 'remembered' });
  await page.context().close();

  // Refused at the browser's prompt: said, and remembered.
  const refused = await live('#/alerts', {
    prepare: (p) => p.addInitScript(() => {
      Object.defineProperty(Notification, 'permission', { get: () => 'default' });
      Notification.requestPermission = async () => 'denied';
    }),
  });
  await refused.getByTestId('notifications-on').click();
  await refused.getByTestId('notifications-refused').waitFor();
  await refused.reload();
  await refused.getByTestId('notifications-refused').waitFor();
  await refused.context().close();
});

test('the health screen\'s figures match a scripted alarm history with known answers', async (t) => {
  // A simulator of its own: only the script's alarms are in its log.
  const own = await startSimulator({ args: ['--vehicles', '3', '--machines', '0', '--rigs', '0', '--no-geofences'], stopAfter: t });
  const now = Date.now();
  const min = 60_000;
  const at = (minutes, seconds = 0) => now - minutes * min + seconds * 1000;
  // In ten-minute buckets back from now: [60-50) four of a chattering pump within 40 s;
  // [50-40) one on a rig; [40-30) none; [30-20) a burst of twelve; [20-10) none; [10-0) the
  // pump once more and a press. One more, raised 70 minutes ago and still active: standing.
  const script = [
    ...[0, 10, 25, 40].map((s, i) => alert({ id: `p${i}`, ts: at(55, s), device: 'pump-1', metric: 'pressure', severity: 'warning' })),
    alert({ id: 'r0', ts: at(45), device: 'rig-1', metric: 'rpm', severity: 'warning' }),
    ...Array.from({ length: 12 }, (_, i) => alert({ id: `b${i}`, ts: at(25, 2 * i), device: `press-b${i}` })),
    alert({ id: 'p4', ts: at(5), device: 'pump-1', metric: 'pressure', severity: 'warning' }),
    alert({ id: 'x0', ts: at(8), device: 'press-x', severity: 'info' }),
  ];
  await publish(script, 'alerts', own);
  await publish([alert({ id: 'old', ts: at(70), device: 'tank-1', metric: 'level', severity: 'info' })], 'alerts', own);
  // Acknowledged now: 55, 45 and 25 minutes after they were raised.
  const ack = await fetch(`${own.apiBase}/alerts/ack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ by: 'ann', ids: ['p0', 'r0', 'b0'] }),
  });
  assert.equal(ack.status, 200);
  const page = await live('#/alarms/health', { apiBase: own.apiBase });
  await page.getByTestId('health-chart').waitFor();
  const figure = (id) => text(page, `${id}-figure`);
  const buckets = await page.getByTestId('health-bucket').evaluateAll((r) => r.map((e) => Number(e.dataset.count)));
  assert.deepEqual(buckets, [4, 1, 0, 12, 0, 2]);
  assert.equal(await figure('health-raised'), '19');
  assert.equal(await figure('health-per-10-minutes'), (19 / 6).toFixed(2));
  assert.equal(await figure('health-peak-10-minutes'), '12');
  assert.equal(await figure('health-per-hour'), '19.0');
  assert.equal(await figure('health-peak-hour'), '19');
  // The flood: from the burst's eleventh (20 s in) until its eighth falls out of the window
  // (10 min 14 s in): 594 s of the hour.
  assert.equal(await figure('health-flood'), `${((594 / 3600) * 100).toFixed(1)} %`);
  assert.equal(await page.getByTestId('health-flood').getAttribute('data-met'), 'not met');
  assert.equal(await figure('health-chattering'), '1');
  assert.equal(await text(page, 'health-chatterer'), 'pump-1 · pressure · 4 within a minute');
  assert.equal(await figure('health-standing'), '1');
  assert.equal(await text(page, 'health-stander'), 'tank-1 · level');
  const actors = await page.getByTestId('health-bad-actor').evaluateAll((li) => li.map((e) => Number(e.dataset.count)));
  assert.deepEqual(actors, [5, 1, 1, 1, 1, 1, 1, 1, 1, 1], 'the pump, then nine of one each');
  assert.equal(await figure('health-bad-actor-share'), `${((14 / 19) * 100).toFixed(1)} %`);
  // Time to acknowledge: 25, 45 and 55 minutes (to within the seconds the test took).
  const ackMinutes = async (id) => Number((await figure(id)).replace(' min', ''));
  assert.ok(Math.abs((await ackMinutes('health-ack-p50')) - 45) < 1, await figure('health-ack-p50'));
  assert.ok(Math.abs((await ackMinutes('health-ack-p90')) - 55) < 1, await figure('health-ack-p90'));
  assert.equal(await figure('health-split'), `${((12 / 19) * 100).toFixed(1)} % critical / ${((6 / 19) * 100).toFixed(1)} % warning / ${((1 / 19) * 100).toFixed(1)} % info`);
  assert.equal(await page.getByTestId('health-per-hour').getAttribute('data-met'), 'not met', 'target 5 per hour');
  assertNoCrash(page);
  await page.context().close();
});
