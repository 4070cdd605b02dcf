// Everyday use on one simulator: the theme chosen in the header (light, dark, the system's)
// is applied to the page and to the charts and survives a reload; every filter lives in the
// URL, outlives a screen change and comes back from a copied link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restToken, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, openPage, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '16', '--machines', '3', '--rigs', '2', '--no-geofences'] });

async function live(suffix = '') {
  const page = await dash.open(suffix);
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  return page;
}

/** The page's background colour, and the colour of a chart canvas's top-left pixel. */
async function colours(page) {
  return page.evaluate(() => {
    const canvas = document.querySelector('canvas.chart, [data-testid="chart"] canvas, canvas');
    const pixel = canvas ? Array.from(canvas.getContext('2d').getImageData(2, 2, 1, 1).data.slice(0, 3)) : null;
    return { body: getComputedStyle(document.body).backgroundColor, theme: document.documentElement.dataset.theme, pixel };
  });
}

test('the theme chosen in the header colours the page and its charts, and survives a reload', async () => {
  const page = await live('#/device/press-01');
  await waitFor(async () => (await page.locator('canvas').count()) > 0, { what: 'a chart' });
  // The browser asks for dark (as a wall screen would): the system's choice is dark.
  assert.equal(await page.getByTestId('theme').inputValue(), 'auto');
  await waitFor(async () => (await colours(page)).theme === 'dark', { what: 'dark from the system' });
  assert.equal((await colours(page)).body, 'rgb(15, 20, 25)');
  await page.getByTestId('theme').selectOption('light');
  await waitFor(async () => (await colours(page)).body === 'rgb(246, 248, 250)', { what: 'a light page' });
  await waitFor(async () => {
    const { pixel } = await colours(page);
    return pixel && pixel.every((c) => c > 240);
  }, { what: 'a chart drawn light' });
  await page.reload();
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected again' });
  assert.equal(await page.getByTestId('theme').inputValue(), 'light', 'the choice is remembered');
  assert.equal((await colours(page)).theme, 'light');
  assert.equal((await colours(page)).body, 'rgb(246, 248, 250)');
  await page.getByTestId('theme').selectOption('dark');
  await waitFor(async () => (await colours(page)).body === 'rgb(15, 20, 25)', { what: 'dark again' });
  await waitFor(async () => {
    const { pixel } = await colours(page);
    return pixel && pixel.every((c) => c < 40);
  }, { what: 'a chart drawn dark' });
  // Auto follows the system: the same page asking for light turns light.
  await page.getByTestId('theme').selectOption('auto');
  await page.emulateMedia({ colorScheme: 'light' });
  await waitFor(async () => (await colours(page)).theme === 'light', { what: 'light from the system' });
  assertNoCrash(page);
  await page.context().close();
});

test('alert filters live in the URL, outlive a screen change and come back from a copied link', async () => {
  const url = `http://127.0.0.1:${dash.sim.servicePort}/api/v1/hubs/telemetry`;
  const now = Date.now();
  const alerts = [
    { id: 'f-1', ts: now, device: 'press-01', site: 'harbour', severity: 'critical', metric: 'temperature', value: 101, threshold: 100, message: 'hot' },
    { id: 'f-2', ts: now, device: 'rig-01', site: 'airport', severity: 'warning', metric: 'rpm', value: 900, threshold: 850, message: 'fast' },
    { id: 'f-3', ts: now, device: 'press-02', site: 'harbour', severity: 'warning', metric: 'pressure', value: 9, threshold: 8, message: 'high' },
  ];
  const page = await live('#/alerts');
  const published = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(dash.sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'alerts', arguments: [alerts] }),
  });
  assert.equal(published.status, 202);
  const rows = () => page.locator('[data-testid="history-row"][data-alert-id^="f-"]');
  await waitFor(async () => (await rows().count()) === 3, { what: 'three alerts' });
  await page.getByTestId('alert-filter-severity').selectOption('warning');
  await page.getByTestId('alert-filter-device').fill('press');
  await waitFor(async () => (await rows().count()) === 1, { what: 'one warning on a press' });
  await waitFor(() => /#\/alerts\?severity=warning&device=press$/.test(page.url()), { what: 'the filter in the URL' });
  const copied = page.url();
  // Another screen and back through the navigation: the filter is still applied, and in the URL.
  await page.getByTestId('nav-fleet').click();
  await waitFor(() => page.url().includes('#/fleet'), { what: 'the fleet screen' });
  await page.getByTestId('nav-alerts').click();
  await waitFor(async () => (await rows().count()) === 1, { what: 'still one row' });
  assert.equal(await page.getByTestId('alert-filter-severity').inputValue(), 'warning');
  assert.equal(await page.getByTestId('alert-filter-device').inputValue(), 'press');
  await waitFor(() => page.url() === copied, { what: 'the same URL again' });
  // The copied link, in a window of its own, shows the same.
  const other = await openPage(dash.browser, copied);
  await waitFor(async () => (await text(other, 'connection-state')) === 'connected', { what: 'connected' });
  await waitFor(async () => (await other.locator('[data-testid="history-row"][data-alert-id^="f-"]').count()) === 1, {
    what: 'the copied link filtered',
  });
  assert.equal(await other.getByTestId('alert-filter-severity').inputValue(), 'warning');
  assert.equal(await other.locator('[data-testid="history-row"][data-alert-id^="f-"]').getAttribute('data-alert-id'), 'f-3');
  // Cleared, the keys leave the URL.
  await page.getByTestId('alert-filter-severity').selectOption('');
  await page.getByTestId('alert-filter-device').fill('');
  await waitFor(() => page.url().endsWith('#/alerts'), { what: 'no filter in the URL' });
  for (const p of [page, other]) {
    assertNoCrash(p);
    await p.context().close();
  }
});

test('equipment search and sort, and the fleet filters with a selection, live in the URL', async () => {
  const page = await live('#/equipment');
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 5, { what: 'five cards' });
  await page.getByTestId('equipment-search').fill('rig');
  await page.getByTestId('equipment-sort').selectOption('status');
  await waitFor(() => /#\/equipment\?q=rig&sort=status$/.test(page.url()), { what: 'search and sort in the URL' });
  const equipment = page.url();
  await page.getByTestId('nav-overview').click();
  await page.getByTestId('nav-equipment').click();
  await waitFor(async () => (await page.getByTestId('equipment-card').count()) === 2, { what: 'still the rigs' });
  assert.equal(await page.getByTestId('equipment-search').inputValue(), 'rig');
  assert.equal(await page.getByTestId('equipment-sort').inputValue(), 'status');
  const copy = await openPage(dash.browser, equipment);
  await waitFor(async () => (await copy.getByTestId('equipment-card').count()) === 2, { what: 'the copied link searched' });
  assert.equal(await copy.getByTestId('equipment-sort').inputValue(), 'status');
  await copy.context().close();

  // The fleet: a site and a search, then a vehicle selected: all in the URL together.
  await page.getByTestId('nav-fleet').click();
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 16, { what: 'the fleet' });
  await page.getByTestId('filter-site').selectOption('harbour');
  await waitFor(() => page.url().includes('site=harbour'), { what: 'the site in the URL' });
  const harbour = await page.getByTestId('vehicle-row').count();
  assert.ok(harbour > 0 && harbour < 16, `${harbour} harbour vehicles`);
  const first = await page.getByTestId('vehicle-row').first().getAttribute('data-vehicle-id');
  await page.getByTestId('vehicle-row').first().getByTestId('vehicle-link').click();
  await waitFor(() => page.url().includes(`vehicle=${first}`) && page.url().includes('site=harbour'), {
    what: 'the selection beside the filter',
  });
  const fleet = page.url();
  const again = await openPage(dash.browser, fleet);
  await waitFor(async () => (await again.getByTestId('vehicle-row').count()) === harbour, { what: 'the copied fleet filter' });
  assert.equal(await again.getByTestId('filter-site').inputValue(), 'harbour');
  await waitFor(async () => (await again.getByTestId('selection-id').count()) === 1, { what: 'the selection' });
  for (const p of [page, again]) {
    assertNoCrash(p);
    await p.context().close();
  }
});
