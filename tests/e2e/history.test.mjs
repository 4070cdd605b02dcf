// History from the first second: a fresh page on a just-started simulator (which backfills its
// last hour) opens with a 1-hour chart filled to its left edge, sparklines and a selected
// vehicle's trail already long, and the alert history of the last hour; history and live data
// meet with no gap and no repeat; a backend without history (404) says so and charts start at
// page load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '20', '--machines', '2', '--rigs', '1', '--reading-rate', '2'] });

const HOUR = 3_600_000;
const stamps = (page, device, metric) => page.evaluate(([d, m]) => Array.from(window.dashboardSeries(d, m)), [device, metric]);
const loaded = (page) => waitFor(async () => !(await page.getByTestId('history-loading').getAttribute('class')).includes('active'), { what: 'history loaded' });

test('a fresh page opens with a 1-hour chart filled to its left edge, history and live meeting with no gap or repeat', async () => {
  const opened = Date.now();
  const page = await dash.open('#/device/press-01?window=1h');
  await waitFor(async () => (await page.getByTestId('chart').count()) === 2, { what: 'two charts' });
  await waitFor(async () => (await stamps(page, 'press-01', 'temperature')).length > 3000, { timeoutMs: 20000, what: 'an hour of points' });
  await loaded(page);
  const before = await stamps(page, 'press-01', 'temperature');
  assert.ok(before[0] <= opened - HOUR + 60_000, `reaches back an hour: first point ${(opened - before[0]) / 1000} s before the page opened`);
  // Live points arrive after it.
  await waitFor(async () => (await stamps(page, 'press-01', 'temperature')).at(-1) > Date.now() - 2000 && (await stamps(page, 'press-01', 'temperature')).length > before.length + 4, { what: 'live points after the history' });
  // No gap: history keeps one sample a second (the last of each), live brings two a second, so
  // every second the backend recorded a sample in, from the first point to the last, the seam
  // included, holds at least one point on the page. (A simulator slowed down by a busy machine
  // skips ticks: a second it recorded nothing in is not a gap of the page's.) The backend
  // writes its history behind the live data, so the seconds just before its first answer may
  // come a few seconds later, when the page looks at the seam again.
  const seam = Math.floor(opened / 1000);
  const look = async () => {
    const all = await stamps(page, 'press-01', 'temperature');
    const seconds = new Set(all.map((ts) => Math.floor(ts / 1000)));
    const [firstSecond, lastSecond] = [Math.floor(all[0] / 1000), Math.floor(all.at(-1) / 1000)];
    const recorded = await (
      await fetch(`${dash.sim.apiBase}/history?device=press-01&metric=temperature&from=${firstSecond * 1000}&to=${lastSecond * 1000 - 1}&points=10000`)
    ).json();
    const recordedSeconds = new Set(recorded.series[0].ts.map((ts) => Math.floor(ts / 1000)));
    const empty = [];
    for (let s = firstSecond; s < lastSecond; s += 1) if (recordedSeconds.has(s) && !seconds.has(s)) empty.push(s);
    return { all, recordedSeconds, empty, lastSecond, atSeam: empty.filter((s) => Math.abs(s - seam) <= 60) };
  };
  let seen = await look();
  await waitFor(async () => (seen = await look()).atSeam.length === 0, { timeoutMs: 15000, what: 'the seam filled' }).catch(() => {});
  const { all, recordedSeconds, empty, lastSecond, atSeam } = seen;
  for (let i = 1; i < all.length; i += 1) {
    assert.ok(all[i] > all[i - 1], `no repeat and in order at ${i}: ${all[i - 1]} then ${all[i]}`);
  }
  assert.ok(recordedSeconds.size > 3000, `the backend recorded the hour (${recordedSeconds.size} seconds)`);
  // At the seam (the minute either side of when the page opened) not one is missing.
  assert.deepEqual(atSeam, [], `seconds around the seam without a point (relative to it): ${atSeam.map((s) => s - seam).join(', ')}`);
  // Over the hour, the page's 3,700 buckets (973 ms each) hold one sample each: two of the
  // backend's samples less than a bucket apart (ticks skipped on a busy machine) share one,
  // so a rare second can go. Not more than one in 200.
  assert.ok(empty.length <= recordedSeconds.size / 200, `seconds without a point over the hour: ${empty.length} (${empty.slice(0, 10).map((s) => s - lastSecond).join(', ')})`);
  // The chart is drawn to its left edge: its leftmost plot columns hold the line's colour.
  const leftEdge = await page.evaluate(() => {
    const canvas = document.querySelector('[data-metric="temperature"] canvas');
    const ctx = canvas.getContext('2d');
    const scale = window.devicePixelRatio;
    const x0 = Math.round((64 + 10 + 2) * scale);
    const data = ctx.getImageData(x0, 0, Math.round(20 * scale), canvas.height).data;
    let band = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 2] > 0x80 && data[i + 2] > data[i] + 40) band += 1;
    return band;
  });
  assert.ok(leftEdge > 10, `the line starts at the left edge (${leftEdge} blue pixels in its first 20 columns)`);
  assertNoCrash(page);
  await page.context().close();
});

test('sparklines, a selected vehicle\'s trail and the alert history start full', async () => {
  const opened = Date.now();
  const page = await dash.open('#/equipment');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 3, { what: 'three cards' });
  await loaded(page);
  // A sparkline's two minutes: history from before the page opened.
  await waitFor(async () => (await stamps(page, 'rig-01', 'rpm'))[0] < opened - 100_000, { what: "the rig's two minutes of history" });
  await page.getByTestId('nav-fleet').click();
  await page.locator('[data-testid="filter-query"]').waitFor();
  await page.evaluate(() => {
    location.hash = '#/fleet?vehicle=veh-00002';
  });
  const trail = () => page.evaluate(() => Array.from(window.dashboardTrail('veh-00002')));
  await waitFor(async () => (await trail()).length >= 20 && (await trail())[0] < opened - 10_000, { what: 'a trail from before the page opened' });
  const t = await trail();
  for (let i = 1; i < t.length; i += 1) assert.ok(t[i] > t[i - 1], 'the trail in order, no repeat');
  // The alarms of the last hour that are over (the snapshot lists only those still standing)
  // are in the history: they came from the alert log.
  await page.getByTestId('nav-alerts').click();
  await waitFor(async () => (await page.locator('[data-testid="history-state"]', { hasText: /^cleared$/ }).count()) > 0, {
    timeoutMs: 20000,
    what: 'alarms of the last hour that are over, from the log',
  });
  assertNoCrash(page);
  await page.context().close();
});

test('a backend without history (404): a note says so and the charts start at page load', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '2', '--machines', '1', '--rigs', '0', '--history-minutes', '0'], stopAfter: t });
  const opened = Date.now();
  const page = await dash.open('#/device/press-01?window=1h', { apiBase: sim.apiBase });
  await waitFor(async () => /keeps no history/.test(await page.getByTestId('history-note').textContent()), { what: 'the note' });
  assert.equal(await page.getByTestId('history-note').isVisible(), true);
  await waitFor(async () => (await stamps(page, 'press-01', 'temperature')).length > 2, { what: 'live points' });
  const all = await stamps(page, 'press-01', 'temperature');
  assert.ok(all[0] >= opened - 5_000, 'nothing from before the page opened but the snapshot');
  assert.equal(await text(page, 'connection-state'), 'connected');
  await page.context().close();
});
