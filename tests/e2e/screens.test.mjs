// The screens: overview tiles, the equipment grid (status words, search, sort), and a device's
// live charts with a window in the URL, pause, and a hover read-out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { waitFor } from '../support/simulator.mjs';
import { text } from '../support/browser.mjs';
import { outputDir, setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '12', '--machines', '3', '--rigs', '2', '--reading-rate', '4'] });

test('overview tiles count the fleet and the traffic', async () => {
  const page = await dash.open();
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  await waitFor(
    async () => {
      const counts = await Promise.all(
        ['kpi-vehicles-moving', 'kpi-vehicles-idle', 'kpi-vehicles-stopped'].map(async (id) =>
          Number((await page.getByTestId(id).locator('.value').textContent()) ?? 0),
        ),
      );
      return counts.reduce((a, b) => a + b, 0) === 12;
    },
    { what: 'vehicle tiles adding up to the fleet' },
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
  await waitFor(async () => /\d\d:\d\d:\d\d · \d+\.\d\d °C/.test(await hover.textContent()), {
    what: 'a hover read-out',
  });
  await page.screenshot({ path: path.join(outputDir, 'device.png') });
  await page.context().close();
});
