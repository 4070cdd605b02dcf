// Clusters at low zoom: with more than 1,000 vehicles in view below zoom 15, vehicles close
// together on screen gather into one mark with their count and a ring split by state; every
// vehicle in view is counted once (in a cluster or drawn as itself); clicking a cluster zooms
// in on it and it splits; the toggle and a high zoom turn clustering off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '1500', '--machines', '0', '--rigs', '0', '--history-minutes', '0'] });

const clusters = (page) => page.evaluate(() => window.dashboardClusters());
const total = (drawn) => drawn.clusters.reduce((sum, c) => sum + c[0], 0) + drawn.singles;

test('clusters at low zoom count every vehicle in view once, split when clicked, and turn off', async () => {
  const page = await dash.open('#/fleet');
  await waitFor(async () => (await text(page, 'map-vehicle-count')) === '1500', { timeoutMs: 30000, what: 'the fleet' });
  await page.getByTestId('fit-fleet').click();
  await waitFor(async () => (await clusters(page)).clusters.length > 0, { what: 'clusters at the fleet view' });
  assert.ok(Number(await text(page, 'map-zoom')) < 15);
  const drawn = await clusters(page);
  const inView = Number(await text(page, 'map-in-view'));
  assert.equal(total(drawn), inView, 'every vehicle in view counted once');
  for (const [count, , , ...states] of drawn.clusters) {
    assert.ok(count >= 2);
    assert.equal(states.reduce((a, b) => a + b, 0), count, 'the ring adds up to the count');
  }
  // The states add up to the fleet's, as the overview counts them.
  const moving = drawn.clusters.reduce((sum, c) => sum + c[3], 0);
  assert.ok(moving > 0, 'moving vehicles in the rings');

  // A click on the largest cluster zooms in on it, and it splits.
  const [count, x, y] = [...drawn.clusters].sort((a, b) => b[0] - a[0])[0];
  const zoom = Number(await text(page, 'map-zoom'));
  await page.getByTestId('fleet-map').click({ position: { x, y } });
  await waitFor(async () => Number(await text(page, 'map-zoom')) === zoom + 2, { what: 'zoomed in two levels' });
  await waitFor(async () => {
    const after = await clusters(page);
    return after.clusters.every((c) => c[0] < count);
  }, { what: `the cluster of ${count} split` });

  // Off by the toggle: every vehicle drawn as itself.
  await page.getByTestId('fit-fleet').click();
  await waitFor(async () => (await clusters(page)).clusters.length > 0, { what: 'clusters again' });
  await page.getByTestId('clusters').uncheck();
  await waitFor(async () => (await clusters(page)).clusters.length === 0, { what: 'no clusters with the toggle off' });
  assert.equal((await clusters(page)).singles, Number(await text(page, 'map-in-view')));
  await page.getByTestId('clusters').check();
  // Off above zoom 15.
  for (let i = 0; i < 5; i += 1) await page.locator('.leaflet-control-zoom-in').click();
  await waitFor(async () => Number(await text(page, 'map-zoom')) >= 15, { what: 'zoomed in' });
  await waitFor(async () => (await clusters(page)).clusters.length === 0, { what: 'no clusters at a high zoom' });
  assertNoCrash(page);
  await page.context().close();
});
