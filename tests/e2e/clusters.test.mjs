// Clusters at low zoom: with more than 1,000 vehicles in view below zoom 15, vehicles close
// together on screen gather into one mark with their count and a ring split by state; every
// vehicle in view is counted once (in a cluster or drawn as itself); the selected vehicle is
// never hidden in one; clicking a cluster zooms in on it and it splits; the toggle turns
// clustering off.
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

  // A selected vehicle is drawn as itself, never hidden in a cluster.
  const { positions } = await (await fetch(`${dash.sim.apiBase}/snapshot`)).json();
  await page.evaluate((id) => (location.hash = `#/fleet?vehicle=${id}`), positions[700].id);
  await waitFor(async () => (await clusters(page)).selectedAlone === true, { what: 'the selected vehicle drawn as itself' });
  const withSelection = await clusters(page);
  assert.ok(withSelection.clusters.length > 0, 'while the others still gather');
  assert.equal(total(withSelection), Number(await text(page, 'map-in-view')), 'still every vehicle once');
  await page.getByTestId('clear-selection').click();

  // A click on the largest cluster zooms in two levels on it; there its vehicles are drawn as
  // themselves (fewer than 1,000 in view) or in smaller clusters.
  const [count, x, y] = [...(await clusters(page)).clusters].sort((a, b) => b[0] - a[0])[0];
  const zoom = Number(await text(page, 'map-zoom'));
  await page.getByTestId('fleet-map').click({ position: { x, y } });
  await waitFor(async () => Number(await text(page, 'map-zoom')) === zoom + 2, { what: 'zoomed in two levels' });
  await waitFor(async () => {
    const after = await clusters(page);
    return after.singles >= 2 && after.clusters.every((c) => c[0] < count);
  }, { what: `the cluster of ${count} split into vehicles drawn as themselves` });

  // Off by the toggle: every vehicle drawn as itself.
  await page.getByTestId('fit-fleet').click();
  await waitFor(async () => (await clusters(page)).clusters.length > 0, { what: 'clusters again' });
  await page.getByTestId('clusters').uncheck();
  await waitFor(async () => (await clusters(page)).clusters.length === 0, { what: 'no clusters with the toggle off' });
  assert.equal((await clusters(page)).singles, Number(await text(page, 'map-in-view')));
  await page.getByTestId('clusters').check();
  await waitFor(async () => (await clusters(page)).clusters.length > 0, { what: 'clusters with the toggle on again' });
  assertNoCrash(page);
  await page.context().close();
});
