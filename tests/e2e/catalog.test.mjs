// The dashboard draws whatever the backend's catalog declares: a kind it has never seen (a pump
// measuring flow in m³/h with a warning limit) gets its group, names, unit and threshold line; a
// kind in no catalog is shown by its ids; a catalog pushed through the REST API adds a device by
// name, and removes one, without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restToken, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '2', '--machines', '1', '--rigs', '0', '--reading-rate', '0.01'] });
const { sim } = dash;

async function publish(target, argument) {
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target, arguments: [argument] }),
  });
  assert.equal(answer.status, 202);
}

const pumps = {
  kinds: [
    {
      id: 'pump',
      name: 'Pump',
      metrics: [
        { id: 'flow', name: 'Flow', unit: 'm³/h', decimals: 1, min: 0, max: 400, limits: [{ severity: 'warning', above: 300, clear: 280 }] },
      ],
    },
  ],
  devices: [{ id: 'pump-07', name: 'Pump 7', kind: 'pump', site: 'harbour' }],
};

const reading = (device, kind, values) => ({ device, kind, ts: Date.now(), site: 'harbour', status: 'running', values });

test('a catalog the page has never seen: its kind, names, unit and limit; an undeclared kind by its ids', async () => {
  const page = await dash.open('#/equipment');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 1, { what: 'the machine' });
  // The simulator's own kinds come from its catalog too: named, not by id.
  assert.equal(await page.locator('[data-testid="kind-group"][data-kind="process"] [data-testid="kind-heading"]').textContent(), 'Process machine 1');

  await publish('catalog', pumps);
  const pump = page.locator('[data-device-id="pump-07"]');
  await waitFor(async () => (await pump.count()) === 1, { what: 'the declared pump, before it reports' });
  assert.match(await pump.textContent(), /Pump 7/);
  assert.equal(await pump.getByTestId('equipment-status').textContent(), 'no data yet');
  assert.match(await page.locator('[data-kind="pump"] [data-testid="kind-heading"]').textContent(), /^Pump/);

  await publish('readings', [reading('pump-07', 'pump', { flow: 312.46 }), reading('ch-1', 'chiller', { coolant: 4.5 })]);
  await waitFor(async () => (await pump.locator('[data-metric="flow"]').textContent()).includes('312.5 m³/h'), { what: 'flow with its unit' });
  assert.match(await pump.locator('[data-metric="flow"] .name').textContent(), /^Flow$/);
  const chiller = page.locator('[data-device-id="ch-1"]');
  await waitFor(async () => (await chiller.count()) === 1, { what: 'the chiller nobody declared' });
  assert.equal(await page.locator('[data-kind="chiller"] [data-testid="kind-heading"]').textContent(), 'chiller 1');
  assert.equal(await chiller.locator('[data-metric="coolant"] .name').textContent(), 'coolant');
  assert.equal(await chiller.locator('[data-metric="coolant"] [data-testid="metric-value"]').textContent(), '4.5', 'no unit');
  assert.equal(await text(page, 'skipped-count').catch(() => '0'), '0', 'nothing skipped');

  // Its chart: named, with its unit, and the warning limit drawn as a line in the warning colour.
  await pump.click();
  await waitFor(async () => (await page.getByTestId('chart').count()) === 1, { what: 'the flow chart' });
  assert.equal(await page.getByTestId('chart-name').textContent(), 'Flow');
  assert.equal(await page.getByTestId('chart-unit').textContent(), ' (m³/h)');
  const warningPixels = async () =>
    page.evaluate(() => {
      const canvas = document.querySelector('[data-metric="flow"] canvas');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      // The warning amber (#d29922) blended by the anti-aliasing of a 1 px dashed line: red
      // well above blue, where the theme (background, grid, data) is blue over red.
      const near = (i) => data[i] > data[i + 2] + 40 && data[i + 1] > data[i + 2] + 20;
      for (let i = 0; i < data.length; i += 4) if (near(i)) n += 1;
      return n;
    });
  await waitFor(async () => (await warningPixels()) > 50, { what: 'the dashed warning line at 300 m³/h' }).catch(async (e) => {
    await page.screenshot({ path: 'target/e2e/catalog-chart.png' });
    throw e;
  });
  assertNoCrash(page);
  await page.context().close();
});

test('a catalog pushed later adds a device by name and removes one, without a reload', async () => {
  const page = await dash.open('#/equipment');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) >= 1, { what: 'cards' });
  await publish('catalog', { devices: [{ id: 'pump-09', name: 'Harbour pump 9', kind: 'pump', site: 'harbour' }] });
  const added = page.locator('[data-device-id="pump-09"]');
  await waitFor(async () => (await added.count()) === 1, { what: 'the device added by the pushed catalog' });
  assert.match(await added.textContent(), /Harbour pump 9/);
  await publish('catalog', { devices: [{ id: 'pump-09', removed: true }] });
  await waitFor(async () => (await added.count()) === 0, { what: 'removed again' });
  await page.context().close();
});

test('a new user: the simulator started with a catalog file of their own kinds, the page shows them named, with units; a catalog published later is there for a page opened after it', async (t) => {
  const { startSimulator } = await import('../support/simulator.mjs');
  const own = await startSimulator({
    args: ['--vehicles', '2', '--machines', '1', '--rigs', '0', '--catalog', 'crates/simulator/catalog/example-pumps.json'],
    stopAfter: t,
  });
  const page = await dash.open('#/equipment', { apiBase: own.apiBase });
  const group = page.locator('[data-kind="pump"]');
  await waitFor(async () => (await group.getByTestId('equipment-card').count()) === 3, { what: 'the three pumps of the file' });
  assert.equal(await group.getByTestId('kind-heading').textContent(), 'Pump 3');
  assert.match(await page.locator('[data-device-id="pump-03"]').textContent(), /Dock pump/);
  // Simulated from the file's kind: both metrics, by name, with their units and decimals.
  const card = page.locator('[data-device-id="pump-01"]');
  await waitFor(async () => /^\d+\.\d m³\/h$/.test(await card.locator('[data-metric="flow"] [data-testid="metric-value"]').textContent().catch(() => '')), { what: 'flow in m³/h' });
  assert.match(await card.locator('[data-metric="pressure"] [data-testid="metric-value"]').textContent(), /^\d+\.\d\d bar$/);
  assert.equal(await card.locator('[data-metric="pressure"] .name').textContent(), 'Pressure');
  // And an hour of history from the first second: the simulator backfilled the file's devices too.
  await card.click();
  await waitFor(async () => (await page.getByTestId('chart').count()) === 2, { what: 'flow and pressure charts' });
  const first = () => page.evaluate(() => window.dashboardSeries('pump-01', 'flow')[0]);
  await waitFor(async () => (await first()) < Date.now() - 3_500_000, { what: "an hour of the pump's flow" });
  assert.equal(await page.getByTestId('chart-name').first().textContent(), 'Flow');
  await page.getByTestId('nav-equipment').click();

  // Published through the service's REST API: the functions adopt it, so a page opened later has it.
  const url = `http://127.0.0.1:${own.servicePort}/api/v1/hubs/telemetry`;
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(own.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'catalog', arguments: [{ devices: [{ id: 'pump-04', name: 'Spare pump', kind: 'pump', site: 'dock' }] }] }),
  });
  assert.equal(answer.status, 202);
  await waitFor(async () => (await page.locator('[data-device-id="pump-04"]').count()) === 1, { what: 'pushed to the open page' });
  const later = await dash.open('#/equipment', { apiBase: own.apiBase });
  await waitFor(async () => /Spare pump/.test((await later.locator('[data-device-id="pump-04"]').textContent().catch(() => '')) ?? ''), {
    what: 'in the catalog of a page opened later',
  });
  assertNoCrash(page);
  for (const p of [page, later]) await p.context().close();
});
