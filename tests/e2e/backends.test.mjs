// The dashboard in front of the other backends, in headless Chromium:
//  * a plain ASP.NET Core-style hub (the simulator's `--plain-hub`): config with `hubUrl` and no
//    `apiBase`; negotiate at the hub, snapshot, subscriptions and acknowledgements as hub methods;
//  * the functions side publishing through a remote SignalR service (`--remote-service`),
//    which the page reaches through the token the functions hand out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restToken, startSimulator, waitFor } from '../support/simulator.mjs';
import { openPage, text } from '../support/browser.mjs';
import { setupDashboard, shippedConfig } from '../support/setup.mjs';

const dash = setupDashboard();

test('with only a hubUrl in config.json the page is live from the hub and acknowledges through it', async (t) => {
  const sim = await startSimulator({ args: ['--plain-hub', '--vehicles', '6', '--rate', '4', '--machines', '0', '--rigs', '0'], stopAfter: t });
  const hubUrl = `http://127.0.0.1:${sim.servicePort}/hubs/telemetry`;
  const site = await dash.serve({ config: { hubUrl }, closeAfter: t });

  const page = await openPage(dash.browser, site.url);
  const negotiated = [];
  page.on('request', (r) => /negotiate/.test(r.url()) && negotiated.push(r.url()));
  await page.reload();
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected to the hub' });
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 6, { what: 'six vehicles from the hub' });
  assert.ok(negotiated.length > 0 && negotiated.every((u) => u.startsWith(`${hubUrl}/negotiate`)), `negotiate at the hub only: ${negotiated}`);
  const errors = page.getByTestId('connection-error');
  assert.equal((await errors.count()) === 0 ? '' : await errors.first().textContent(), '', 'snapshot and subscription went through');

  // Live positions keep arriving through the site groups joined by the hub method.
  const before = Number(await text(page, 'message-count'));
  await waitFor(async () => Number(await text(page, 'message-count')) > before + 3, { what: 'messages from the hub' });

  // An alert published to the hub's site group shows; acknowledging it goes through the hub.
  const publishUrl = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const alert = {
    id: 'hub-alert-1', ts: Date.now(), device: 'press-09', site: 'harbour', severity: 'critical',
    metric: 'temperature', value: 120, threshold: 100, message: 'hot',
  };
  const published = await fetch(`${publishUrl}/groups/site%3Aharbour`, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, `${publishUrl}/groups/site%3Aharbour`)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'alerts', arguments: [[alert]] }),
  });
  assert.equal(published.status, 202);
  const toast = page.locator('[data-testid="toast"][data-device="press-09"]');
  await waitFor(async () => (await toast.count()) === 1, { what: 'the critical toast' });
  await toast.getByTestId('toast-ack').click();
  await waitFor(async () => (await toast.count()) === 0, { what: 'the toast acknowledged' });
  const snapshot = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  assert.equal(snapshot.alerts.find((a) => a.id === 'hub-alert-1')?.acknowledged?.by, 'dashboard', 'acknowledged on the server');
  await page.context().close();
});

test('a config with neither apiBase nor hubUrl, or both, says which field is wrong', async (t) => {
  for (const [config, expected] of [
    [{ hub: 'telemetry' }, /`apiBase` is missing.*`hubUrl`/],
    [{ apiBase: '/api', hubUrl: '/hubs/telemetry' }, /`hubUrl` cannot be given with `apiBase`/],
  ]) {
    const site = await dash.serve({ config, closeAfter: t });
    const page = await openPage(dash.browser, site.url);
    await page.reload();
    await waitFor(async () => expected.test(await text(page, 'connection-error')), { what: `the error ${expected}` });
    await page.context().close();
  }
});

test('functions publishing through a remote service: the page goes live through the remote one', async (t) => {
  const service = await startSimulator({ args: ['--vehicles', '0', '--machines', '0', '--rigs', '0'], stopAfter: t });
  const functions = await startSimulator({
    connectionString: service.connectionString,
    args: ['--remote-service', '--vehicles', '5', '--rate', '4', '--machines', '1', '--rigs', '1'],
    stopAfter: t,
  });
  const site = await dash.serve({ config: { ...shippedConfig(), apiBase: functions.apiBase }, closeAfter: t });

  const page = await openPage(dash.browser, site.url);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.reload();
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 5, { what: 'five vehicles' });
  assert.ok(sockets.some((u) => u.startsWith(`ws://127.0.0.1:${service.servicePort}/client/`)), `the socket goes to the remote service: ${sockets}`);
  const before = Number(await text(page, 'message-count'));
  await waitFor(async () => Number(await text(page, 'message-count')) > before + 3, { what: 'data through the remote service' });
  await page.context().close();
});
