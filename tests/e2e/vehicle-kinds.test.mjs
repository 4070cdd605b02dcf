// Vehicle kinds from the catalog drawn with distinct shapes: the simulator declares vans,
// trucks and forklifts (`vehicleKinds`) and names each vehicle's kind in its registry; the map's
// key lists each kind with its shape, the vehicle panel names the kind, and the pixels drawn
// for a vehicle of each kind match that kind's outline better than any other outline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '30', '--machines', '0', '--rigs', '0', '--history-minutes', '0'] });

// The outlines, pointing north, in units of 6 CSS pixels: (forward, right) from the centre. The
// expected answer, written down apart from the app's own table (src/panels/fleet_map/raster.rs).
const OUTLINES = {
  arrow: [[1.5, 0], [-1, 1], [-0.4, 0], [-1, -1]],
  truck: [[-1.4, -0.62], [-1.4, 0.62], [0.55, 0.62], [0.55, 0.5], [1.25, 0.5], [1.45, 0.3], [1.45, -0.3], [1.25, -0.5], [0.55, -0.5], [0.55, -0.62]],
  van: [[-0.9, -0.72], [-0.9, 0.72], [0.4, 0.72], [1.3, 0], [0.4, -0.72]],
  forklift: [[-0.75, -0.7], [-0.75, 0.7], [0.3, 0.7], [0.3, 0.62], [1.4, 0.62], [1.4, 0.26], [0.3, 0.26], [0.3, -0.26], [1.4, -0.26], [1.4, -0.62], [0.3, -0.62], [0.3, -0.7]],
};
const RADIUS = 9.5;

/** Pixels (dx, dy from the centre, within RADIUS) whose centre is inside `outline` turned to `heading`. */
function expected(outline, heading) {
  // The sprites are drawn for 5° steps.
  const a = ((Math.round(heading / 5) * 5) * Math.PI) / 180;
  const [sin, cos] = [Math.sin(a), Math.cos(a)];
  const poly = outline.map(([f, r]) => [sin * f * 6 + cos * r * 6, -cos * f * 6 + sin * r * 6]);
  const inside = (x, y) => {
    let result = false;
    for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      const [[xi, yi], [xj, yj]] = [poly[i], poly[j]];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) result = !result;
    }
    return result;
  };
  const out = new Set();
  for (let dy = -10; dy <= 10; dy += 1) {
    for (let dx = -10; dx <= 10; dx += 1) {
      if (Math.hypot(dx, dy) <= RADIUS && inside(dx, dy)) out.add(`${dx},${dy}`);
    }
  }
  return out;
}

const overlap = (a, b) => [...a].filter((p) => b.has(p)).length / new Set([...a, ...b]).size;

/** The selected vehicle as the last frame drew it: its shape and heading, and the pixels it covers. */
function drawnSelected(page) {
  return page.evaluate((radius) => {
    const selected = window.dashboardClusters().selected;
    if (!selected) return null;
    const [x, y, shape, heading] = selected;
    const canvas = document.querySelector('[data-testid="fleet-canvas"]');
    const scale = canvas.width / canvas.getBoundingClientRect().width;
    const [cx, cy] = [Math.round(x), Math.round(y)];
    const image = canvas.getContext('2d').getImageData((cx - 10) * scale, (cy - 10) * scale, 21 * scale, 21 * scale);
    const covered = [];
    for (let dy = -10; dy <= 10; dy += 1) {
      for (let dx = -10; dx <= 10; dx += 1) {
        const at = (Math.round((dy + 10 + 0.5) * scale - 0.5) * image.width + Math.round((dx + 10 + 0.5) * scale - 0.5)) * 4;
        if (Math.hypot(dx, dy) <= radius && image.data[at + 3] > 128) covered.push(`${dx},${dy}`);
      }
    }
    return { shape, heading, covered };
  }, RADIUS);
}

test('each kind of vehicle is drawn with its own shape, named in the key and the vehicle panel', async () => {
  const page = await dash.open('#/fleet');
  await waitFor(async () => (await text(page, 'map-vehicle-count')) === '30', { timeoutMs: 30000, what: 'the fleet' });
  const key = await page.getByTestId('legend-kind').evaluateAll((items) =>
    items.map((li) => [li.dataset.kind, li.dataset.shape, li.textContent.trim()]),
  );
  assert.deepEqual(key, [
    ['van', 'van', 'Delivery van'],
    ['truck', 'truck', 'Truck'],
    ['forklift', 'forklift', 'Forklift'],
  ]);
  assert.equal(await page.getByTestId('legend-state').count(), 4, 'the four states, named');

  const { devices } = await (await fetch(`${dash.sim.apiBase}/snapshot`)).json();
  for (const [kind, name] of [['van', 'Delivery van'], ['truck', 'Truck'], ['forklift', 'Forklift']]) {
    const id = devices.find((d) => d.kind === kind).id;
    await page.evaluate((id) => (location.hash = `#/fleet?vehicle=${id}`), id);
    await waitFor(async () => (await text(page, 'selection-kind')) === name, { what: `${id} named a ${name}` });
    await page.getByTestId('follow').check();
    // Close in, where one vehicle's pixels are its own.
    while (Number(await text(page, 'map-zoom')) < 18) {
      const zoom = Number(await text(page, 'map-zoom'));
      await page.locator('.leaflet-control-zoom-in').click();
      await waitFor(async () => Number(await text(page, 'map-zoom')) > zoom, { what: 'zoomed in' });
    }
    let drawn;
    await waitFor(async () => {
      drawn = await drawnSelected(page);
      return drawn?.shape === kind && drawn.covered.length > 20;
    }, { what: `${id} drawn as a ${kind}` });
    const scores = Object.fromEntries(
      Object.entries(OUTLINES).map(([shape, outline]) => [shape, overlap(new Set(drawn.covered), expected(outline, drawn.heading))]),
    );
    const best = Object.entries(scores).sort((a, b) => b[1] - a[1])[0][0];
    assert.equal(best, kind, `the pixels of ${id} match a ${kind}: ${JSON.stringify(scores)}`);
    assert.ok(scores[kind] > 0.6, `and closely: ${scores[kind]}`);
    await page.getByTestId('follow').uncheck();
    await page.getByTestId('fit-fleet').click();
  }
  assertNoCrash(page);
  await page.context().close();
});
