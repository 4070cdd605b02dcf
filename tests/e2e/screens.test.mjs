// The screens: overview tiles, the equipment grid (status words, search, sort), and a device's
// live charts with a window in the URL, pause, and a hover read-out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { restToken, startSimulator, waitFor } from '../support/simulator.mjs';
import { text } from '../support/browser.mjs';
import { outputDir, setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '12', '--machines', '3', '--rigs', '2', '--reading-rate', '4'] });

test('overview tiles count the fleet and the traffic', async () => {
  const page = await dash.open();
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  await waitFor(
    async () => {
      const counts = await Promise.all(
        ['kpi-vehicles-moving', 'kpi-vehicles-idle', 'kpi-vehicles-stopped', 'kpi-vehicles-stale'].map(async (id) =>
          Number((await page.getByTestId(id).locator('.value').textContent()) ?? 0),
        ),
      );
      return counts.reduce((a, b) => a + b, 0) === 12;
    },
    { what: 'vehicle tiles adding up to the fleet' },
  );
  // A vehicle silent for longer than staleAfterSeconds counts as stale, whatever it last said.
  const tile = async (id) => Number(await page.getByTestId(id).locator('.value').textContent());
  const stale = await tile('kpi-vehicles-stale');
  const url = `http://127.0.0.1:${dash.sim.servicePort}/api/v1/hubs/telemetry`;
  const silent = { id: 'ghost-1', ts: Date.now() - 60000, lat: 47.4, lon: 8.5, heading: 0, speed: 40, state: 'moving', site: 'harbour', seq: 1 };
  const published = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(dash.sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'positions', arguments: [[silent]] }),
  });
  assert.equal(published.status, 202);
  await waitFor(async () => (await tile('kpi-vehicles-stale')) === stale + 1, { what: 'the silent vehicle counted stale' });
  // Counted once, as stale, not also as the 'moving' it last reported: the tiles add up to 13.
  await waitFor(
    async () => {
      const ids = ['kpi-vehicles-moving', 'kpi-vehicles-idle', 'kpi-vehicles-stopped', 'kpi-vehicles-stale'];
      return (await Promise.all(ids.map(tile))).reduce((a, b) => a + b, 0) === 13;
    },
    { what: 'the tiles adding up to the fleet and the silent one' },
  );
  await waitFor(async () => Number(await text(page, 'message-rate')) > 0, { what: 'messages per second' });
  await waitFor(async () => /\d+ ms/.test(await text(page, 'latency-p50')), { what: 'a latency figure' });
  await page.screenshot({ path: path.join(outputDir, 'overview.png') });
  await page.context().close();
});

test('the equipment grid shows status words, searches and sorts', async () => {
  const page = await dash.open('#/equipment');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 5, { what: 'five cards' });
  const statuses = await page.getByTestId('equipment-status').allTextContents();
  for (const status of statuses) assert.match(status, /^(running|stopped|fault|offline|no data)$/);
  await waitFor(async () => (await page.getByTestId('metric-value').count()) >= 12, { what: 'metric values' });
  assert.match(await page.getByTestId('metric-value').first().textContent(), /\d+\.\d (°C|bar|rpm|kW|°)/);
  await page.getByTestId('equipment-search').fill('rig');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 2, { what: 'the search filter' });
  await page.getByTestId('equipment-search').fill('');
  await page.getByTestId('equipment-sort').selectOption('lastSeen');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 5, { what: 'all cards again' });
  await page.screenshot({ path: path.join(outputDir, 'equipment.png') });
  await page.context().close();
});

test('sorted by last seen, the device heard from most recently comes first', async (t) => {
  // Readings only from the snapshot (one every 1,000 s), then the ones this test sends; one kind,
  // so one group in the grid.
  const sim = await startSimulator({ args: ['--vehicles', '1', '--machines', '4', '--rigs', '0', '--reading-rate', '0.001'], stopAfter: t });
  const snapshot = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const vehicleKinds = new Set(['vehicle', ...snapshot.catalog.vehicleKinds.map((k) => k.id)]);
  const devices = snapshot.devices.filter((d) => !vehicleKinds.has(d.kind));
  const page = await dash.open('#/equipment', { apiBase: sim.apiBase });
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 4, { what: 'four cards' });
  const order = () => page.getByTestId('equipment-card').evaluateAll((cards) => cards.map((c) => c.dataset.deviceId));
  const byName = await order();
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const hear = async (id, temperature) => {
    const device = devices.find((d) => d.id === id);
    const reading = { device: id, kind: device.kind, ts: Date.now(), site: device.site, status: 'running', values: { temperature } };
    const answer = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'readings', arguments: [[reading]] }),
    });
    assert.equal(answer.status, 202);
  };
  // The third by name, then the last: last seen puts the last first, the third second, and
  // the others (heard from once, together, in the snapshot) by name after them.
  const [third, last] = [byName[2], byName[3]];
  const heard = (id, value) => async () => (await page.locator(`[data-device-id="${id}"]`).textContent()).includes(value);
  // Heard: the value on its card (sent again, newer, if a busy machine lost the first).
  const hearUntilShown = async (id, value) => {
    for (let attempt = 1; ; attempt += 1) {
      await hear(id, value);
      try {
        return await waitFor(heard(id, String(value)), { timeoutMs: 5000, what: `${id} heard` });
      } catch (error) {
        if (attempt === 3) throw error;
        console.log(`# ${id}: reading not shown after 5 s, sent again`);
      }
    }
  };
  await hearUntilShown(third, 1111.1);
  await new Promise((r) => setTimeout(r, 50));
  await hearUntilShown(last, 2222.2);
  await page.getByTestId('equipment-sort').selectOption('lastSeen');
  await waitFor(async () => (await order())[0] === last, { what: 'the last heard first' });
  assert.deepEqual(await order(), [last, third, byName[0], byName[1]]);
  await page.getByTestId('equipment-sort').selectOption('name');
  await waitFor(async () => JSON.stringify(await order()) === JSON.stringify(byName), { what: 'by name again' });
  await page.context().close();
});

test('device charts keep their window in the URL, pause, and read out values on hover', async () => {
  const page = await dash.open('#/equipment');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 5, { what: 'cards' });
  await page.locator('[data-device-id="press-01"]').click();
  await waitFor(() => page.url().includes('#/device/press-01?window=5m'), { what: 'the device URL' });
  await waitFor(async () => (await page.getByTestId('chart').count()) === 2, { what: 'two charts (temperature, pressure)' });
  await waitFor(async () => /min .* max .* avg/.test(await page.getByTestId('chart-stats').first().textContent()), {
    what: 'window statistics',
  });

  // The canvas has been drawn on (not blank), at device-pixel size.
  const drawn = await page.evaluate(() => {
    const canvas = document.querySelector('[data-metric="temperature"] canvas');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
    return { colours: colours.size, width: canvas.width, cssWidth: canvas.clientWidth };
  });
  assert.ok(drawn.colours > 3, `a drawn chart, not a blank canvas (${drawn.colours} colours)`);
  assert.equal(drawn.width, drawn.cssWidth * (await page.evaluate(() => window.devicePixelRatio)));

  // Another window through its link; the URL carries it, and reopening the URL restores it.
  await page.getByTestId('window-links').getByText('15m').click();
  await waitFor(() => page.url().includes('window=15m'), { what: 'the 15m window in the URL' });
  const shared = page.url();
  const again = await dash.browser.newPage();
  await again.goto(shared);
  await waitFor(async () => (await again.getByTestId('device-title').textContent()) === 'Process machine 1', {
    what: 'the shared link to reopen the same device',
  });
  assert.equal(await again.locator('.windows a.current').textContent(), '15m');
  await again.close();

  // Pause freezes the view while data keeps arriving.
  await page.getByTestId('pause').click();
  const frozen = await page.getByTestId('chart-stats').first().textContent();
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await page.getByTestId('chart-stats').first().textContent(), frozen);
  assert.equal(await page.getByTestId('pause').textContent(), 'Resume');
  await page.getByTestId('pause').click();

  const box = await page.locator('[data-metric="temperature"] canvas').boundingBox();
  await page.mouse.move(box.x + box.width - 30, box.y + box.height / 2);
  const hover = page.locator('[data-metric="temperature"]').getByTestId('chart-hover');
  await waitFor(async () => /\d\d:\d\d:\d\d · \d+\.\d °C/.test(await hover.textContent()), {
    what: 'a hover read-out',
  });
  await page.screenshot({ path: path.join(outputDir, 'device.png') });
  await page.context().close();
});
