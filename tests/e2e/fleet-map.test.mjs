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
  await page.screenshot({ path: path.join(repoRoot, 'target', 'e2e', 'fleet-map.png') });
  const crashes = page.problems.filter((p) => p.startsWith('pageerror') || p.includes('panicked'));
  assert.deepEqual(crashes, []);
  await page.context().close();
});
