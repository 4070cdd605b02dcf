// The map in context without the internet, and geofences: the simulator's own streets are
// drawn under the vehicles (nothing fetched from beyond loopback); the catalog's fences are
// drawn and listed by name; a fence drawn on one page is saved through the functions and shows
// on another; a vehicle the simulator drives through it raises enter and exit alarms at the
// moments its track crosses the fence's edge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '20', '--machines', '0', '--rigs', '0'] });
const { sim } = dash;

/** Web Mercator world pixels at `zoom`, as Leaflet computes them. */
function world(lat, lon, zoom) {
  const scale = 256 * 2 ** zoom;
  const phi = (lat * Math.PI) / 180;
  return [((lon + 180) / 360) * scale, (0.5 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / (2 * Math.PI)) * scale];
}

/** Container pixels of (lat, lon) on the page's map, from its centre and zoom read-outs. */
async function toScreen(page, lat, lon) {
  const [clat, clon] = (await text(page, 'map-centre')).split(', ').map(Number);
  const zoom = Number(await text(page, 'map-zoom'));
  const box = await page.getByTestId('fleet-map').boundingBox();
  const [cx, cy] = world(clat, clon, zoom);
  const [x, y] = world(lat, lon, zoom);
  return { x: x - cx + box.width / 2, y: y - cy + box.height / 2 };
}

function inside(polygon, lat, lon) {
  let result = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [a, b] = [polygon[i], polygon[j]];
    if (a.lat > lat !== b.lat > lat && lon < ((b.lon - a.lon) * (lat - a.lat)) / (b.lat - a.lat) + a.lon) result = !result;
  }
  return result;
}

test('the simulator\'s streets are drawn under the vehicles, with nothing fetched from outside loopback', async () => {
  const hosts = new Set();
  const page = await dash.open('#/fleet', { prepare: async (p) => p.on('request', (r) => hosts.add(new URL(r.url()).hostname)) });
  await waitFor(async () => (await text(page, 'map-vehicle-count')) === '20', { what: 'the fleet' });
  await page.getByTestId('fit-fleet').click();
  await waitFor(async () => /streets and sites are drawn/.test(await text(page, 'tiles-note')), { what: 'the basemap note' });
  const basemap = await (await fetch(`${sim.apiBase}/basemap`)).json();
  const street = basemap.streets.find((s) => s.points[0][1] === s.points.at(-1)[1]);
  assert.ok(street, 'a north–south street');
  // Its column on the basemap canvas is painted over most of the street's length on screen.
  const top = await toScreen(page, Math.max(street.points[0][0], street.points.at(-1)[0]), street.points[0][1]);
  const bottom = await toScreen(page, Math.min(street.points[0][0], street.points.at(-1)[0]), street.points[0][1]);
  const painted = await page.evaluate(
    ({ x, y0, y1 }) => {
      const canvas = document.querySelector('[data-testid="basemap-canvas"]');
      const scale = window.devicePixelRatio;
      const from = Math.max(0, Math.round(y0 * scale));
      const to = Math.min(canvas.height, Math.round(y1 * scale));
      const column = canvas.getContext('2d').getImageData(Math.round(x * scale) - 1, from, 3, Math.max(1, to - from)).data;
      let rows = 0;
      // Opaque enough to be a street line, not the faint fill of a site.
      for (let r = 0; r < column.length / 12; r += 1) if ([3, 7, 11].some((k) => column[r * 12 + k] > 40)) rows += 1;
      return { rows, of: Math.max(1, to - from) };
    },
    { x: top.x, y0: top.y, y1: bottom.y },
  );
  assert.ok(painted.of > 20 && painted.rows >= painted.of * 0.9, `the street painted: ${painted.rows} of ${painted.of} rows`);
  // The catalog's fences are listed by name, and every request stayed on loopback.
  await waitFor(async () => (await page.getByTestId('geofence').count()) >= 2, { what: 'the built-in fences' });
  assert.match(await page.getByTestId('geofence-list').textContent(), /Depot/);
  const outside = [...hosts].filter((h) => !['127.0.0.1', 'localhost', 'ops.example'].includes(h));
  assert.deepEqual(outside, [], 'nothing fetched from beyond loopback');
  assertNoCrash(page);
  await page.context().close();
});

test('a fence drawn on one page appears on another, and a vehicle driven through it raises enter and exit at the right moments', async () => {
  const [a, b] = [await dash.open('#/fleet'), await dash.open('#/')];
  await waitFor(async () => (await text(a, 'map-vehicle-count')) === '20', { what: 'the fleet' });
  // A moving vehicle, and a box of 200 m a side 300 m ahead of it along its heading (outside
  // it while the fence is drawn and saved: one already inside when the fence comes raises no
  // enter).
  const { positions } = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const vehicle = positions.find((p) => p.state === 'moving' && p.speed > 15 && !['veh-00001', 'veh-00002'].includes(p.id)) ?? positions.find((p) => p.state === 'moving');
  const north = Math.cos((vehicle.heading * Math.PI) / 180) * 300;
  const east = Math.sin((vehicle.heading * Math.PI) / 180) * 300;
  const mLat = 1 / 111_320;
  const mLon = 1 / (111_320 * Math.cos((vehicle.lat * Math.PI) / 180));
  const [clat, clon] = [vehicle.lat + north * mLat, vehicle.lon + east * mLon];
  const corners = [[-100, -100], [-100, 100], [100, 100], [100, -100]].map(([n, e]) => [clat + n * mLat, clon + e * mLon]);
  // Drawn on page a: the whole fleet in view, a click per corner, a name, save.
  await a.getByTestId('fit-fleet').click();
  // The read-outs of the fitted view, settled.
  let last = '';
  await waitFor(async () => {
    const now = `${await text(a, 'map-centre')} ${await text(a, 'map-zoom')}`;
    const settled = now === last;
    last = now;
    return settled;
  }, { intervalMs: 300, what: 'the view settled' });
  await a.getByTestId('fence-draw').click();
  for (const [lat, lon] of corners) {
    const { x, y } = await toScreen(a, lat, lon);
    await a.getByTestId('fleet-map').click({ position: { x, y } });
  }
  assert.match(await text(a, 'fence-corners'), /^4 corners/);
  await a.getByTestId('fence-name').fill('Test yard');
  await a.getByTestId('fence-save').click();
  // On the other page, without a reload.
  const listed = (page) => page.locator('[data-testid="geofence"]', { hasText: 'Test yard' });
  await b.getByTestId('nav-fleet').click();
  for (const page of [a, b]) await waitFor(async () => (await listed(page).count()) === 1, { what: 'the fence listed on every page' });
  assert.equal(await text(a, 'fence-error'), '');
  const catalog = await (await fetch(`${sim.apiBase}/catalog`)).json();
  const fence = catalog.geofences.find((g) => g.name === 'Test yard');
  assert.equal(fence.polygon.length, 4);
  // Where it was clicked, within two pixels (a pixel is 360 / 256·2^zoom degrees of longitude).
  const pixel = 360 / (256 * 2 ** Number(await text(a, 'map-zoom')));
  for (const [i, [lat, lon]] of corners.entries()) {
    const off = [Math.abs(fence.polygon[i].lat - lat), Math.abs(fence.polygon[i].lon - lon)];
    assert.ok(off[0] < 2 * pixel && off[1] < 2 * pixel, `corner ${i} where it was clicked (${off.map((d) => (d / pixel).toFixed(2))} px off)`);
  }

  // The simulator drives the vehicle in (and out): the alarms name the fence, at the moments
  // its track crosses the edge.
  const events = async () => {
    const log = await (await fetch(`${sim.apiBase}/history/alerts?from=${Date.now() - 300_000}`)).json();
    return log.events.filter((e) => e.change === 'raised' && e.alert.metric.startsWith(`geofence:${fence.id}:`));
  };
  const entered = await waitFor(async () => (await events()).find((e) => e.alert.metric.endsWith(':enter')), { timeoutMs: 90000, what: 'an enter alarm' });
  const row = b.locator('[data-testid="alert-row"]', { hasText: 'entered Test yard' });
  await b.getByTestId('nav-overview').click();
  await waitFor(async () => (await row.count()) >= 1, { what: 'the enter alarm on the other page' });
  const left = await waitFor(async () => (await events()).find((e) => e.alert.metric.endsWith(':exit')), { timeoutMs: 120000, what: 'an exit alarm' });
  for (const [event, isIn] of [[entered, true], [left, false]]) {
    const id = event.alert.device;
    const track = await (await fetch(`${sim.apiBase}/history/track?vehicle=${id}&from=${event.ts - 15_000}&to=${event.ts}&points=100`)).json();
    const at = track.ts.indexOf(event.ts);
    assert.ok(at > 0, `the fix the alarm was raised on is in ${id}'s track`);
    assert.equal(inside(fence.polygon, track.lat[at], track.lon[at]), isIn, `${isIn ? 'inside' : 'outside'} at the alarm`);
    // Before it, on the other side (the rules hold a change for up to 5 s against chatter).
    const before = track.ts.map((t, i) => i).filter((i) => i < at && inside(fence.polygon, track.lat[i], track.lon[i]) !== isIn);
    assert.ok(before.length > 0, 'on the other side of the edge before the alarm');
  }
  for (const page of [a, b]) assertNoCrash(page);
  await a.context().close();
  await b.context().close();
});
