// The fleet map: Leaflet from the vendored npm package, no tile server, as many vehicles on
// the map as the simulator sends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot, startSimulator, waitFor } from '../support/simulator.mjs';
import { serveStatic } from '../support/static-server.mjs';
import { launchBrowser, openPage } from '../support/browser.mjs';

let site;
let browser;
let sim;

before(async () => {
  site = await serveStatic(process.env.DIST_DIR ?? path.join(repoRoot, 'dist'));
  browser = await launchBrowser();
  sim = await startSimulator({ args: ['--vehicles', '300', '--rate', '2'] });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await sim?.stop();
});

test('the map shows every vehicle the simulator sends, on a plain background', async () => {
  const page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}#/fleet`);
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
  // Leaflet's canvas renderer drew them (a canvas inside the map with coloured pixels).
  const colours = await page.evaluate(() => {
    const canvas = document.querySelector('[data-testid="fleet-map"] canvas');
    if (!canvas) return 0;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 13) if (data[i + 3] > 0) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
    return seen.size;
  });
  assert.ok(colours >= 2, `markers drawn on the map canvas (${colours} colours)`);
  // Nothing (no tile, no script) was fetched from outside this machine.
  const external = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => e.name).filter((url) => !url.startsWith('http://127.0.0.1')),
  );
  assert.deepEqual(external, []);
  assert.match(await page.locator('.leaflet-control-scale').first().textContent(), /\d+ (m|km)/, 'a scale');
  await page.screenshot({ path: path.join(repoRoot, 'target', 'e2e', 'fleet-map.png') });
  const crashes = page.problems.filter((p) => p.startsWith('pageerror') || p.includes('panicked'));
  assert.deepEqual(crashes, []);
  await page.context().close();
});

test('the overview has the map too', async () => {
  const page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}`);
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', {
    what: 'the fleet on the overview map',
  });
  await page.context().close();
});

test('a selected vehicle moves in its panel, and follow keeps it in view', async () => {
  const page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}#/fleet?vehicle=veh-00003`);
  await waitFor(async () => (await page.getByTestId('selection-id').count()) === 1, { what: 'the selection panel' });
  assert.equal(await page.getByTestId('selection-id').textContent(), 'veh-00003');
  assert.match(await page.getByTestId('selection-state').textContent(), /^(moving|idle|stopped)$/);
  const first = await page.getByTestId('selection-position').textContent();
  await waitFor(async () => (await page.getByTestId('selection-position').textContent()) !== first, {
    timeoutMs: 30000,
    what: 'the selected vehicle to move',
  });

  await page.getByTestId('follow').check();
  const near = async () => {
    const [lat, lon] = (await page.getByTestId('selection-position').textContent()).split(', ').map(Number);
    const [clat, clon] = (await page.getByTestId('map-centre').textContent()).split(', ').map(Number);
    return Math.abs(lat - clat) < 0.002 && Math.abs(lon - clon) < 0.002;
  };
  await waitFor(near, { what: 'the map to centre on the followed vehicle' });
  await new Promise((r) => setTimeout(r, 2500));
  assert.ok(await near(), 'still in view after it moved on');

  await page.getByTestId('fit-fleet').click();
  assert.equal(await page.getByTestId('follow').isChecked(), false, 'fitting the fleet stops following');
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
  const query = (url) => new URLSearchParams({ apiBase: sim.apiBase, tileUrl: url, tileAttribution: '<b>Test tiles</b>' });

  let page = await openPage(browser, `${site.url}?${query(tileUrl)}#/fleet`);
  await waitFor(() => served > 0, { what: 'tile requests' });
  await waitFor(async () => (await page.getByTestId('tiles-note').textContent()) === '', { what: 'no tiles note' });
  assert.equal(await page.locator('.leaflet-control-attribution').textContent(), '<b>Test tiles</b>', 'the attribution stays text');
  await page.context().close();

  page = await openPage(browser, `${site.url}?${query('http://127.0.0.1:9/{z}/{x}/{y}.png')}#/fleet`);
  await waitFor(async () => /tiles unavailable/.test(await page.getByTestId('tiles-note').textContent()), {
    what: 'the tiles-unavailable note',
  });
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '300', {
    what: 'vehicles still on the map',
  });
  await page.context().close();
});
