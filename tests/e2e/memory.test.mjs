// Memory a wall screen keeps: changing screens must leave nothing behind in the wasm heap.
// Leptos 0.8 keeps each reader of a signal subscribed until that reader runs again, and a
// replaced view's effects never do, so without Store::prune_subscriptions every screen change
// kept 1.4 to 3.3 KB for good. Measured with the page's own count of the bytes its heap holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, sleep } from '../support/simulator.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '50', '--machines', '2', '--rigs', '1'] });
const { sim } = dash;

test('screen changes leave nothing behind in the wasm heap', async () => {
  const page = await dash.open();
  await waitFor(async () => (await page.getByTestId('connection-state').textContent()) === 'connected', { what: 'connected' });
  const inUse = () => page.evaluate(() => window.dashboardMetrics().wasmHeapInUseBytes);
  const visit = async (hashes, times) => {
    for (let i = 0; i < times; i += 1) {
      for (const hash of hashes) {
        await page.evaluate((h) => {
          location.hash = h;
        }, hash);
        await sleep(100);
      }
    }
  };
  const screens = ['#/alerts', '#/', '#/equipment', '#/fleet', '#/device/press-01?window=5m'];
  // Warm up: caches, first allocations of each screen, and the allocator's and the reactive
  // arena's capacities, which grow in steps over the first hundred or so changes (measured
  // over 30 rounds after 3, the steps alone showed 240 to 540 bytes a change, build to build).
  await visit(screens, 10);
  const rounds = 90;
  const before = await inUse();
  await visit(screens, rounds);
  const perChange = (await inUse() - before) / (rounds * screens.length);
  console.log(`wasm heap: ${perChange.toFixed(0)} bytes per screen change over ${rounds * screens.length} changes`);
  assert.ok(perChange < 300, `${perChange.toFixed(0)} bytes kept per screen change`);
  // Still live and reactive after all that: the status bar counts messages as they come, and a
  // view that stays mounted across a change of the URL (the fleet map, from one selected
  // vehicle to another) follows both the new selection and its vehicle's reports.
  const count = Number(await page.getByTestId('message-count').textContent());
  await waitFor(async () => Number(await page.getByTestId('message-count').textContent()) > count, { what: 'messages still counted' });
  const { positions } = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const moving = positions.filter((p) => p.state === 'moving').map((p) => p.id);
  for (const id of moving.slice(0, 2)) {
    await page.evaluate((h) => {
      location.hash = h;
    }, `#/fleet?vehicle=${id}`);
    await waitFor(async () => (await page.getByTestId('selection-id').textContent()) === id, { what: `${id} selected` });
  }
  const first = await page.getByTestId('selection-position').textContent();
  await waitFor(async () => (await page.getByTestId('selection-position').textContent()) !== first, {
    timeoutMs: 30000,
    what: 'the selected vehicle moving in its panel',
  });
  await page.context().close();
});
