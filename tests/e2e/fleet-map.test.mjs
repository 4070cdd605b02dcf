// The fleet map: Leaflet from the vendored npm package, no tile server, as many vehicles on
// the map as the simulator sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { simulatorBin, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, centredOnSelection } from '../support/browser.mjs';
import { outputDir, setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '300', '--rate', '2'] });
const { sim } = dash;

test('the map shows every vehicle the simulator sends, on a plain background', async () => {
  const page = await dash.open('#/fleet');
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', {
    what: '300 vehicles on the map',
  });
  assert.equal(await page.getByTestId('map-problem').textContent(), '');
  // Filters narrow the map: one site, then a search on the id, then back to everyone.
  const perSite = (await (await fetch(`${sim.apiBase}/snapshot`)).json()).positions.filter((p) => p.site === 'airport').length;
  await page.getByTestId('filter-site').selectOption('airport');
  await waitFor(async () => Number(await page.getByTestId('map-vehicle-count').textContent()) === perSite, {
    what: `only the airport's ${perSite} vehicles`,
  });
  await page.getByTestId('filter-site').selectOption('');
  await page.getByTestId('filter-query').fill('veh-0000');
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '9', { what: 'veh-00001..9' });
  await page.getByTestId('filter-query').fill('');
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', { what: 'all again' });
  // By state: only the moving ones (some of the fleet is always idle or stopped), then all.
  await page.getByTestId('filter-state').selectOption('moving');
  await waitFor(async () => {
    const shown = Number(await page.getByTestId('map-vehicle-count').textContent());
    return shown > 0 && shown < 300;
  }, { what: 'only the moving vehicles' });
  // The filter lives on across screens, and its control says so when the screen comes back.
  await page.evaluate(() => {
    location.hash = '#/alerts';
  });
  await page.getByTestId('alert-filter-severity').waitFor();
  await page.evaluate(() => {
    location.hash = '#/fleet';
  });
  await waitFor(async () => (await page.getByTestId('filter-state').count()) === 1, { what: 'the fleet screen again' });
  assert.equal(await page.getByTestId('filter-state').inputValue(), 'moving');
  assert.ok(Number(await page.getByTestId('map-vehicle-count').textContent()) < 300, 'still filtered');
  await page.getByTestId('filter-state').selectOption('');
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', { what: 'all again' });
  // Our canvas layer drew them (a canvas inside the map with coloured pixels).
  const colours = await page.evaluate(() => {
    const canvas = document.querySelector('[data-testid="fleet-map"] canvas');
    if (!canvas) return 0;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 13) if (data[i + 3] > 0) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
    return seen.size;
  });
  assert.ok(colours >= 2, `markers drawn on the map canvas (${colours} colours)`);
  // The footer tells what matches the filters from what is in view: zoomed in, fewer are.
  const inView = async () => Number(await page.getByTestId('map-in-view').textContent());
  await waitFor(async () => (await inView()) > 250, { what: 'the fitted map showing (nearly) all in view' });
  assert.match(await page.locator('.map-notes').textContent(), /^300 vehicles match the filters, \d+ in view · /);
  for (let i = 0; i < 4; i += 1) await page.locator('.leaflet-control-zoom-in').click();
  await waitFor(async () => (await inView()) < 150, { what: 'fewer in view once zoomed in' });
  assert.equal(await page.getByTestId('map-vehicle-count').textContent(), '300', 'all still match');
  // Nothing (no tile, no script) was fetched from outside this machine.
  const external = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => e.name).filter((url) => !url.startsWith('http://127.0.0.1')),
  );
  assert.deepEqual(external, []);
  assert.match(await page.locator('.leaflet-control-scale').first().textContent(), /\d+ (m|km)/, 'a scale');
  await page.screenshot({ path: path.join(outputDir, 'fleet-map.png') });
  assertNoCrash(page);
  await page.context().close();
});

test('the overview has the map too', async () => {
  const page = await dash.open();
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', {
    what: 'the fleet on the overview map',
  });
  await page.context().close();
});

test('a selected vehicle moves in its panel, and follow keeps it in view', async () => {
  const page = await dash.open('#/fleet?vehicle=veh-00003');
  await waitFor(async () => (await page.getByTestId('selection-id').count()) === 1, { what: 'the selection panel' });
  assert.equal(await page.getByTestId('selection-id').textContent(), 'veh-00003');
  assert.match(await page.getByTestId('selection-state').textContent(), /^(moving|idle|stopped)$/);
  const first = await page.getByTestId('selection-position').textContent();
  await waitFor(async () => (await page.getByTestId('selection-position').textContent()) !== first, {
    timeoutMs: 30000,
    what: 'the selected vehicle to move',
  });

  await page.getByTestId('follow').check();
  const near = () => centredOnSelection(page);
  await waitFor(near, { what: 'the map to centre on the followed vehicle' });
  await new Promise((r) => setTimeout(r, 2500));
  assert.ok(await near(), 'still in view after it moved on');

  await page.getByTestId('fit-fleet').click();
  assert.equal(await page.getByTestId('follow').isChecked(), false, 'fitting the fleet stops following');
  await page.context().close();
});

/** Publishes `positions` to every dashboard through the service's REST API. */
function broadcastPositions(positions) {
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const token = execFileSync(simulatorBin, ['--connection-string', sim.connectionString, 'token', url]).toString().trim();
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'positions', arguments: [positions] }),
  });
}

const near = (a, b, tolerance = 0.0005) => {
  const [alat, alon] = a.split(', ').map(Number);
  const [blat, blon] = b.split(', ').map(Number);
  return Math.abs(alat - blat) < tolerance && Math.abs(alon - blon) < tolerance;
};

test('a vehicle with a hostile id: found under the pointer, selected by click, shown as text, stale', async () => {
  const HOSTILE = '<img src=x onerror="window.__pwned=1">&amp;"\'';
  const page = await dash.open('#/fleet');
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss();
  });
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', { what: 'the fleet' });
  // Well north of the fleet, so nothing else is under the pointer; silent for a minute.
  const { positions } = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const lat = Math.max(...positions.map((p) => p.lat)) + 0.05;
  const lon = positions[0].lon;
  const answer = await broadcastPositions([
    { id: HOSTILE, ts: Date.now() - 60000, lat, lon, heading: 45, speed: 0, state: 'stopped', site: 'harbour' },
  ]);
  assert.equal(answer.status, 202);
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '301', { what: 'it on the map' });

  // Selected through its URL: the id is percent-encoded there and text on the page.
  await page.evaluate((id) => (location.hash = `#/fleet?vehicle=${encodeURIComponent(id)}`), HOSTILE);
  await waitFor(async () => (await page.getByTestId('selection-id').textContent()) === HOSTILE, { what: 'the panel' });
  assert.match(await page.getByTestId('selection-state').textContent(), /^stale: silent \d+ s \(last stopped\)$/);
  // Follow brings it to the middle of the map; then let go of it.
  await page.getByTestId('follow').check();
  const where = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
  await waitFor(async () => near(await page.getByTestId('map-centre').textContent(), where), { what: 'centred on it' });
  await page.getByTestId('follow').uncheck();
  await page.getByTestId('clear-selection').click();
  await waitFor(async () => (await page.getByTestId('selection-id').count()) === 0, { what: 'no selection' });

  // The pointer over it: coordinates read out, a pointer cursor; a click selects it.
  const map = page.getByTestId('fleet-map');
  const box = await map.boundingBox();
  const middle = { x: box.width / 2, y: box.height / 2 };
  await map.hover({ position: middle });
  // Within three pixels of it (a pixel is 360 / 256·2^zoom degrees of longitude).
  const pixel = 360 / (256 * 2 ** Number(await page.getByTestId('map-zoom').textContent()));
  await waitFor(async () => near(await page.getByTestId('map-cursor').textContent(), where, 3 * pixel), { what: 'the read-out' });
  assert.equal(await page.getByTestId('fleet-map').evaluate((e) => getComputedStyle(e).cursor), 'pointer');
  await map.click({ position: middle });
  await waitFor(async () => (await page.getByTestId('selection-id').count()) === 1, { what: 'selected by the click' });
  assert.equal(await page.getByTestId('selection-id').textContent(), HOSTILE);
  assert.equal(await page.evaluate(() => decodeURIComponent(location.hash)), `#/fleet?vehicle=${HOSTILE}`);
  await page.getByTestId('fit-fleet').hover();
  await waitFor(async () => (await page.getByTestId('map-cursor').textContent()) === '–', { what: 'no read-out off the map' });

  assert.equal(await page.locator('img').count(), 0, 'no element made from the id');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(dialogs, []);
  assertNoCrash(page);
  await page.context().close();
});

test('trails for all are drawn on the map; the selected vehicle has a speed chart', async () => {
  const page = await dash.open('#/fleet?vehicle=veh-00005');
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', { what: 'the fleet' });
  // A parked vehicle north of the fleet with a known trail: ten reports along a line east.
  const { positions } = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const lat = Math.max(...positions.map((p) => p.lat)) + 0.03;
  const lons = Array.from({ length: 10 }, (_, i) => 8.52 + i * 0.004);
  const now = Date.now();
  for (const [i, lon] of lons.entries()) {
    const report = { id: 'trail-test', ts: now + i, lat, lon, heading: 90, speed: 20, state: 'moving', site: 'harbour' };
    assert.equal((await broadcastPositions([report])).status, 202);
  }
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '301', { what: 'it on the map' });
  await page.getByTestId('fit-fleet').click();
  // Pixels painted on the screen row of the trail, between its first and its last report.
  const paintedAlongTheTrail = async () => {
    const centre = (await page.getByTestId('map-centre').textContent()).split(', ').map(Number);
    const zoom = Number(await page.getByTestId('map-zoom').textContent());
    return page.evaluate(
      ({ centre, zoom, lat, west, east }) => {
        const world = (la, lo) => {
          const scale = 256 * 2 ** zoom;
          const phi = (la * Math.PI) / 180;
          return [((lo + 180) / 360) * scale, (0.5 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / (2 * Math.PI)) * scale];
        };
        const canvas = document.querySelector('[data-testid="fleet-canvas"]');
        const [cx, cy] = world(...centre);
        const screen = (la, lo) => world(la, lo).map((v, i) => v - [cx, cy][i] + [canvas.width, canvas.height][i] / 2);
        const [x0, y] = screen(lat, west);
        const [x1] = screen(lat, east);
        const row = canvas.getContext('2d').getImageData(Math.round(x0), Math.round(y) - 1, Math.round(x1 - x0), 3).data;
        let n = 0;
        for (let i = 3; i < row.length; i += 4) if (row[i] > 0) n += 1;
        return { n, width: Math.round(x1 - x0) };
      },
      { centre, zoom, lat, west: lons[0], east: lons[lons.length - 2] },
    );
  };
  await waitFor(async () => (await paintedAlongTheTrail()).width > 20, { what: 'the trail at least 20 px long' });
  assert.equal((await paintedAlongTheTrail()).n, 0, 'no trail drawn unless asked');
  await page.getByTestId('trails-all').check();
  await waitFor(async () => {
    const { n, width } = await paintedAlongTheTrail();
    return n >= width * 0.8;
  }, { what: 'the trail drawn along its reports' });
  await page.getByTestId('trails-all').uncheck();
  await waitFor(async () => (await paintedAlongTheTrail()).n === 0, { what: 'the trail gone again' });

  // The selected vehicle's speed over its trail.
  await waitFor(async () => (await page.locator('[data-testid="selection-speed-chart"] polyline').getAttribute('points')).split(' ').length >= 3, {
    timeoutMs: 20000,
    what: 'three reports in the speed chart',
  });
  assert.match(await page.locator('.speed-chart figcaption').textContent(), /^speed, last \d+ reports \(max \d+ km\/h\)$/);
  // Selected, a vehicle's own trail is drawn without "trails for all".
  await page.evaluate(() => {
    location.hash = '#/fleet?vehicle=trail-test';
  });
  await waitFor(async () => (await page.getByTestId('selection-id').textContent()) === 'trail-test', { what: 'trail-test selected' });
  await waitFor(async () => {
    const { n, width } = await paintedAlongTheTrail();
    return width > 20 && n >= width * 0.8;
  }, { what: "the selected vehicle's trail" });
  await page.context().close();
});

test('tiles from a configured tile server load; a dead one is reported, not blank', async (t) => {
  const http = await import('node:http');
  // A 1x1 PNG for every tile: a stand-in tile server on loopback.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  );
  let served = 0;
  const tiles = http.createServer((req, res) => {
    served += 1;
    res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' }).end(png);
  });
  await new Promise((resolve) => tiles.listen(0, '127.0.0.1', resolve));
  t.after(() => tiles.close());
  const tileUrl = `http://127.0.0.1:${tiles.address().port}/tiles/{z}/{x}/{y}.png`;
  const query = (url) => new URLSearchParams({ tileUrl: url, tileAttribution: '<b>Test tiles</b>' });

  let page = await dash.open(`&${query(tileUrl)}#/fleet`);
  await waitFor(() => served > 0, { what: 'tile requests' });
  await waitFor(async () => (await page.getByTestId('tiles-note').textContent()) === '', { what: 'no tiles note' });
  assert.equal(await page.locator('.leaflet-control-attribution').textContent(), '<b>Test tiles</b>', 'the attribution stays text');
  await page.context().close();

  page = await dash.open(`&${query('http://127.0.0.1:9/{z}/{x}/{y}.png')}#/fleet`);
  await waitFor(async () => /tiles unavailable/.test(await page.getByTestId('tiles-note').textContent()), {
    what: 'the tiles-unavailable note',
  });
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', {
    what: 'vehicles still on the map',
  });
  await page.context().close();
});

test('a map left behind by a screen change is freed, its whole DOM with it', async () => {
  const page = await dash.open('#/fleet');
  await waitFor(async () => Number(await page.getByTestId('map-vehicle-count').textContent()) > 0, { what: 'the map' });
  // Hover it, so the pointer handlers have run and hold whatever they hold.
  const box = await page.getByTestId('fleet-map').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.evaluate(() => {
    window.firstMap = new WeakRef(document.querySelector('[data-testid="fleet-map"]'));
  });
  for (let i = 0; i < 3; i += 1) {
    await page.getByTestId('nav-alerts').click();
    await page.getByTestId('nav-fleet').click();
    await waitFor(async () => Number(await page.getByTestId('map-vehicle-count').textContent()) > 0, { what: 'the map again' });
  }
  await page.getByTestId('nav-alerts').click();
  const cdp = await page.context().newCDPSession(page);
  // Twice: closures released by the first collection's finalizers go in the second.
  await waitFor(
    async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      await new Promise((r) => setTimeout(r, 200));
      await cdp.send('HeapProfiler.collectGarbage');
      return page.evaluate(() => window.firstMap.deref() === undefined);
    },
    { timeoutMs: 10000, intervalMs: 500, what: 'the first map element to be garbage collected' },
  );
  await page.context().close();
});
