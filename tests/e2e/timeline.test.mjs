// Time travel: one timeline takes every screen back to a moment of the last hour. A link with
// `at` shows that moment, paused, with the fleet where the backend's history says it was (not
// where it is now); `speed=10` moves ten seconds a second; scrubbing pauses there and keeps the
// moment across screens, and *back to live* returns; an alarm raised at a known moment is a mark
// there and open in the alert list at that moment but not before it; while not live a new alarm
// is a badge, not a toast; follow keeps the selected vehicle centred during a replay, and its
// trip over the range played is shown; the time a simulator was down is a gap on the scrubber.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { restToken, sleep, startSimulator, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, centredOnSelection, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '20', '--machines', '1', '--rigs', '0'] });
const { sim } = dash;

const MINUTE = 60_000;
const mode = (page) => text(page, 'timeline-mode');
const shown = (page) => page.evaluate(() => window.dashboardFleetShown());
const moment = (page) => page.evaluate(() => window.dashboardMoment());
/** HH:MM:SS of `at` in the page's time zone, as the timeline writes it. */
const clock = (page, at) =>
  page.evaluate((at) => {
    const d = new Date(at);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }, at);

async function fleetAt(at) {
  const answer = await fetch(`${sim.apiBase}/history/fleet?from=${at}&to=${at}`);
  assert.equal(answer.status, 200);
  const { ids, frames } = await answer.json();
  return new Map(ids.map((id, j) => [id, [frames[0].lat[j], frames[0].lon[j]]]));
}

async function publish(alerts) {
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'alerts', arguments: [alerts] }),
  });
  assert.equal(answer.status, 202);
}

let serial = 0;
function alert(ts, fields = {}) {
  serial += 1;
  return {
    id: `tl-${serial}-${ts}`,
    ts,
    device: 'press-01',
    site: 'harbour',
    severity: 'critical',
    metric: 'temperature',
    value: 131,
    threshold: 120,
    message: `replayed alarm ${serial}`,
    ...fields,
  };
}

test('a link with `at` twenty minutes back shows that moment, paused, with the fleet where history has it', async () => {
  const at = Date.now() - 20 * MINUTE;
  const page = await dash.open(`#/fleet?at=${at}`);
  await waitFor(async () => (await mode(page)) === 'paused', { what: 'paused' });
  await waitFor(async () => (await shown(page)).length === 20, { timeoutMs: 20000, what: 'the fleet of then' });
  assert.equal(await moment(page), at);
  assert.equal(await text(page, 'timeline-time'), await clock(page, at));
  assert.match(page.url(), new RegExp(`at=${at}`), 'the URL keeps the moment');
  // Exactly where the backend's history puts each vehicle at that moment...
  const then = await fleetAt(at);
  for (const [id, lat, lon] of await shown(page)) {
    assert.ok(then.has(id), id);
    assert.deepEqual([lat, lon], then.get(id), `${id} as of the moment`);
  }
  // ...which is not where they are now.
  const snapshot = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const moved = snapshot.positions.filter((p) => {
    const [lat, lon] = then.get(p.id) ?? [p.lat, p.lon];
    return Math.abs(lat - p.lat) + Math.abs(lon - p.lon) > 1e-4;
  });
  assert.ok(moved.length >= 5, `positions unlike the live ones (${moved.length} of 20 differ)`);
  // Paused means paused: a second later it still shows the same moment.
  await sleep(1500);
  assert.equal(await moment(page), at);
  assert.equal(await page.getByTestId('map-vehicle-count').textContent(), '20');
  assertNoCrash(page);
  await page.context().close();
});

test('speed=10 plays about ten seconds a second, and the fleet moves with it', async () => {
  const from = Date.now() - 10 * MINUTE;
  const page = await dash.open(`#/fleet?at=${from}&speed=10`);
  await waitFor(async () => (await mode(page)) === 'playing 10×', { what: 'playing' });
  await waitFor(async () => (await shown(page)).length === 20, { timeoutMs: 20000, what: 'the fleet replayed' });
  const [m1, t1, fleet1] = [await moment(page), Date.now(), await shown(page)];
  await sleep(3000);
  const [m2, t2, fleet2] = [await moment(page), Date.now(), await shown(page)];
  const rate = (m2 - m1) / (t2 - t1);
  assert.ok(rate > 7 && rate < 13, `about ten seconds a second: ${rate.toFixed(2)}`);
  assert.ok(m1 >= from && m1 < from + 2 * MINUTE, `from where the link says (${(m1 - from) / 1000} s on)`);
  const moved = fleet2.filter(([id, lat, lon]) => {
    const before = fleet1.find((r) => r[0] === id);
    return before && Math.abs(before[1] - lat) + Math.abs(before[2] - lon) > 1e-5;
  });
  assert.ok(moved.length >= 5, `vehicles moved during the replay (${moved.length})`);
  // The URL follows the play head (a copied link reopens about here).
  const linked = Number(new URL(page.url()).hash.match(/at=(\d+)/)[1]);
  assert.ok(linked > from + 10_000, `the URL's moment moved on: ${linked - from} ms`);
  assert.match(page.url(), /speed=10/);
  assertNoCrash(page);
  await page.context().close();
});

test('scrubbing pauses at that moment on every screen, and back to live is one click', async () => {
  const page = await dash.open('#/');
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  assert.equal(await mode(page), 'live');
  assert.equal(await moment(page), null);
  const target = Date.now() - 30 * MINUTE;
  await page.getByTestId('timeline-scrubber').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, target);
  await waitFor(async () => (await mode(page)) === 'paused', { what: 'paused by the scrubber' });
  const at = await waitFor(() => moment(page), { what: 'a moment' });
  assert.ok(Math.abs(at - target) <= 1000, `paused where it was dropped (${at - target} ms off)`);
  await waitFor(() => page.url().includes(`at=${at}`), { what: 'the moment in the URL' });
  // Another screen, through the navigation: the same moment.
  await page.getByTestId('nav-equipment').click();
  await waitFor(() => page.url().includes('#/equipment'), { what: 'the equipment screen' });
  assert.match(page.url(), new RegExp(`at=${at}`));
  assert.equal(await mode(page), 'paused');
  assert.equal(await moment(page), at);
  await page.getByTestId('nav-fleet').click();
  await waitFor(async () => (await shown(page)).length === 20, { timeoutMs: 20000, what: 'the fleet of then' });
  const then = await fleetAt(at);
  const [id, lat, lon] = (await shown(page))[0];
  assert.deepEqual([lat, lon], then.get(id));

  await page.getByTestId('timeline-live').click();
  await waitFor(async () => (await mode(page)) === 'live', { what: 'live again' });
  assert.equal(await moment(page), null);
  assert.doesNotMatch(page.url(), /at=/);
  // Instant: the live fleet was kept underneath.
  const live = await shown(page);
  assert.equal(live.length, 20);
  assert.ok(live.every(([, , , ts]) => ts > Date.now() - 10_000), 'live positions, seconds old');
  assertNoCrash(page);
  await page.context().close();
});

test('an alarm raised at a known moment is a mark there, open in the alert list then and not before; a live alarm meanwhile is a badge', async () => {
  const page = await dash.open('#/');
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  const raisedAt = Date.now() - 5 * MINUTE;
  const known = alert(raisedAt);
  await publish([known]);
  const mark = page.locator(`[data-testid="timeline-mark"][data-ts="${raisedAt}"]`);
  await waitFor(async () => (await mark.count()) === 1, { what: 'the mark at the moment it was raised' });
  assert.equal(await mark.getAttribute('data-severity'), 'critical');
  // The mark sits where the moment is on the scrubber (the span is the last hour).
  const left = parseFloat((await mark.getAttribute('style')).match(/left:\s*([\d.]+)%/)[1]);
  assert.ok(Math.abs(left - (55 / 60) * 100) < 1.5, `at 55 minutes of 60: ${left}%`);
  const row = page.locator(`[data-testid="alert-row"][data-alert-id="${known.id}"]`);
  await waitFor(async () => (await row.count()) === 1, { what: 'the alert, live' });

  await page.evaluate((at) => (location.hash = `#/?at=${at}`), raisedAt + 10_000);
  await waitFor(async () => (await mode(page)) === 'paused', { what: 'paused after it was raised' });
  await waitFor(async () => (await row.count()) === 1, { what: 'the alert in the list as of then' });
  assert.equal(await row.getByTestId('alert-state').textContent(), 'open');
  await page.evaluate((at) => (location.hash = `#/?at=${at}`), raisedAt - 10_000);
  await waitFor(async () => (await moment(page)) === raisedAt - 10_000, { what: 'paused before it' });
  await waitFor(async () => (await row.count()) === 0, { what: 'not in the list before it was raised' });

  // While not live, a new alarm is a badge on back to live, not a toast over the replay; back
  // to live, it is a toast (it still waits for someone).
  const badge = async () => Number((await text(page, 'timeline-badge')).match(/\d+/)[0]);
  const before = await badge();
  const fresh = alert(Date.now(), { message: 'raised while replaying', device: 'held-back-1' });
  await publish([fresh]);
  await waitFor(async () => (await badge()) >= before + 1, { what: 'the badge counting it' });
  assert.equal(await page.getByTestId('timeline-badge').isVisible(), true);
  const freshToast = page.locator('[data-testid="toast"]', { hasText: 'held-back-1' });
  await sleep(500);
  assert.equal(await freshToast.count(), 0, 'no toast covers the replay');
  await page.getByTestId('timeline-live').click();
  await waitFor(async () => (await mode(page)) === 'live', { what: 'live' });
  assert.equal(await page.getByTestId('timeline-badge').isVisible(), false);
  await waitFor(async () => (await freshToast.count()) === 1, { what: 'the alarm held back, now a toast' });
  await waitFor(async () => (await page.locator(`[data-testid="alert-row"][data-alert-id="${fresh.id}"]`).count()) === 1, {
    what: 'the alarm raised meanwhile, in the live list',
  });
  assertNoCrash(page);
  await page.context().close();
});

test('during a replay follow keeps the selected vehicle centred, and its trip over the range played is shown', async () => {
  const from = Date.now() - 15 * MINUTE;
  const page = await dash.open(`#/fleet?vehicle=veh-00003&at=${from}&speed=30`);
  await waitFor(async () => (await mode(page)) === 'playing 30×', { what: 'playing' });
  await waitFor(async () => (await page.getByTestId('selection-id').count()) === 1, { timeoutMs: 20000, what: 'the selection' });
  await page.getByTestId('follow').check();
  const near = () => centredOnSelection(page);
  await waitFor(near, { what: 'the map centred on the followed vehicle' });
  const first = await page.getByTestId('selection-position').textContent();
  await sleep(3000);
  assert.notEqual(await page.getByTestId('selection-position').textContent(), first, 'it moved in the replay');
  assert.ok(await near(), 'still centred after it moved on');
  // Its trip since the replay started: about 90 s of it at 30×.
  await waitFor(async () => Number(await page.getByTestId('trip-distance').getAttribute('data-metres')) > 0, {
    what: 'a distance',
  });
  assert.match(await text(page, 'trip-top-speed'), /^\d+ km\/h$/);
  assert.match(await text(page, 'trip-stops'), /^\d+$/);
  assert.match(await text(page, 'trip-span'), /^(\d+ s|\d+ min \d\d s)$/);
  assertNoCrash(page);
  await page.context().close();
});

test('paused on a device screen, the charts end at the moment with a cursor and the value as it stood', async () => {
  const at = Date.now() - 12 * MINUTE;
  const page = await dash.open(`#/device/press-01?window=15m&at=${at}`);
  await waitFor(async () => (await page.getByTestId('chart').count()) === 2, { what: 'two charts' });
  const cursor = page.locator('[data-metric="temperature"] [data-testid="chart-cursor"]');
  await waitFor(async () => (await cursor.count()) === 1, { what: 'the cursor' });
  assert.equal(Number(await cursor.getAttribute('data-ts')), at);
  // The value it names is one the backend recorded in the seconds up to the moment.
  const [time, value] = (await cursor.textContent()).split(' · ');
  assert.equal(time, await clock(page, at));
  const answer = await fetch(`${sim.apiBase}/history?device=press-01&metric=temperature&from=${at - 3000}&to=${at}&points=10`);
  const { series } = await answer.json();
  const recorded = series[0].last.map((v) => v.toFixed(1));
  await waitFor(async () => recorded.includes((await cursor.textContent()).split(' · ')[1].replace(/[^\d.-]/g, '')), {
    what: `a value recorded then (${recorded.join(', ')}; the cursor says ${value})`,
  });
  assertNoCrash(page);
  await page.context().close();
});

test('the time the backend was down is a gap on the scrubber', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timeline-gap-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const flags = ['--vehicles', '5', '--machines', '1', '--rigs', '0', '--data-dir', dir];
  const first = await startSimulator({ args: flags });
  await sleep(3000);
  await first.stop();
  const down = Date.now();
  await sleep(5000);
  const second = await startSimulator({ args: flags, stopAfter: t });
  const up = Date.now();
  const page = await dash.open('#/', { apiBase: second.apiBase });
  const gap = page.getByTestId('timeline-gap');
  await waitFor(async () => (await gap.count()) === 1, { timeoutMs: 20000, what: 'one gap on the scrubber' });
  const [from, to] = [Number(await gap.getAttribute('data-from')), Number(await gap.getAttribute('data-to'))];
  assert.ok(from >= down - 2000 && from <= down + 1000, `the gap starts when it stopped (${from - down} ms off)`);
  assert.ok(to >= down + 4000 && to <= up + 1000, `and ends when it came back (${to - up} ms off)`);
  assertNoCrash(page);
  await page.context().close();
});
