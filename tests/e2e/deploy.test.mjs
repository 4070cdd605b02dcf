// Deployment as a static site: the release build, unchanged, served by a plain file server under
// a sub-path (as from a blob container or behind a path-routing proxy), pointed at the backend by
// nothing but the config.json next to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, repoRoot, startSimulator, waitFor } from '../support/simulator.mjs';
import { OWN_HOST, openPage } from '../support/browser.mjs';
import { serveStatic } from '../support/static-server.mjs';
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

test('served from a host of its own, the page URL cannot point it at another backend unless config.json allows it', async (t) => {
  // The config is written once the ports are known (the simulator must allow the page's origin).
  const extra = {};
  const site = await serveStatic(dist, { extra });
  t.after(() => site.close());
  const own = new URL(site.url);
  own.hostname = OWN_HOST;
  const sim = await startSimulator({ args: ['--vehicles', '3', '--allow-origin', own.origin], stopAfter: t });
  // Nothing listens there: a page that obeys the link asks it to negotiate and never connects.
  const elsewhere = `http://127.0.0.1:${await freePort()}/api`;
  const link = `${own.href}?apiBase=${encodeURIComponent(elsewhere)}`;
  const visit = async () => {
    const page = await openPage(dash.browser, 'about:blank');
    page.notes = [];
    page.asked = [];
    page.on('console', (m) => page.notes.push(m.text()));
    page.on('request', (r) => page.asked.push(r.url()));
    await page.goto(link);
    return page;
  };

  extra['/config.json'] = JSON.stringify({ ...shippedConfig(), apiBase: sim.apiBase });
  const page = await visit();
  await waitFor(async () => (await page.getByTestId('connection-state').first().textContent()) === 'connected', {
    what: "connected to config.json's backend, not the link's",
  });
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 3, { what: 'its three vehicles' });
  assert.ok(!page.asked.some((u) => u.startsWith(elsewhere)), `nothing asked of ${elsewhere}: ${page.asked}`);
  assert.ok(
    page.notes.some((n) => n.includes('?apiBase= in the page URL is ignored')),
    `a console note says why: ${page.notes}`,
  );

  // config.json may allow it (a test or staging deployment): then the link wins.
  extra['/config.json'] = JSON.stringify({ ...shippedConfig(), apiBase: sim.apiBase, allowUrlOverrides: true });
  const allowed = await visit();
  await waitFor(() => allowed.asked.some((u) => u.startsWith(`${elsewhere}/negotiate`)), {
    what: "negotiate asked of the link's backend",
  });
  assert.notEqual(await allowed.getByTestId('connection-state').first().textContent(), 'connected');
});
