// Deployment as a static site: the release build, unchanged, served by a plain file server under
// a sub-path (as from a blob container or behind a path-routing proxy), pointed at the backend by
// nothing but the config.json next to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, startSimulator, waitFor } from '../support/simulator.mjs';
import { openPage } from '../support/browser.mjs';
import { dist, setupDashboard, shippedConfig } from '../support/setup.mjs';

const dash = setupDashboard();

test('the release build works from a sub-path, configured only by its config.json', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '7', '--rate', '4'], stopAfter: t });
  const prefix = '/some/path/';
  const site = await dash.serve({ prefix, config: { ...shippedConfig(), apiBase: sim.apiBase }, closeAfter: t });

  const page = await openPage(dash.browser, site.url);
  const failed = [];
  page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
  page.on('requestfailed', (r) => failed.push(`failed ${r.url()}`));
  await page.reload();
  await waitFor(async () => (await page.getByTestId('connection-state').first().textContent()) === 'connected', {
    what: 'connected from the sub-path',
  });
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 7, { what: 'seven vehicles' });

  // Hash-named assets and the vendored Leaflet all came from under the sub-path.
  assert.deepEqual(failed, [], 'every asset loads');
  const assets = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
  const own = assets.filter((p) => /\.(wasm|js|css)$/.test(p));
  assert.ok(own.some((p) => /dashboard-[0-9a-f]+_bg\.wasm$/.test(p)), `the hashed wasm is loaded: ${own}`);
  assert.ok(own.some((p) => p.endsWith('vendor/leaflet/leaflet.js')), 'Leaflet is loaded');
  for (const p of own) assert.ok(p.startsWith(prefix), `${p} is under ${prefix}`);
  assert.equal(await page.evaluate(() => typeof window.L?.map), 'function', 'Leaflet runs');

  // A screen with the map works there too.
  await page.getByTestId('nav-fleet').click();
  await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === '7', {
    what: 'seven vehicles on the map',
  });
  await page.context().close();
});

test('a missing config.json under a sub-path is reported on the page', async (t) => {
  const empty = fs.mkdtempSync(path.join(repoRoot, 'target', 'no-config-'));
  t.after(() => fs.rmSync(empty, { recursive: true, force: true }));
  for (const name of fs.readdirSync(dist)) {
    if (name !== 'config.json') fs.cpSync(path.join(dist, name), path.join(empty, name), { recursive: true });
  }
  const site = await dash.serve({ root: empty, prefix: '/elsewhere/', closeAfter: t });
  const page = await openPage(dash.browser, site.url);
  await waitFor(async () => /config\.json/.test((await page.getByTestId('connection-error').first().textContent()) ?? ''), {
    what: 'an error naming config.json',
  });
  assert.match(await page.getByTestId('connection-error').first().textContent(), /404/);
  await page.context().close();
});
