// End to end over every transport and both hub protocols: the release bundle in headless
// Chromium, forced with ?transport= and ?protocol=, and the automatic fallback when the
// simulator refuses WebSockets (and then Server-Sent Events too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, waitFor } from '../support/simulator.mjs';
import { assertNoCrash, text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '8', '--rate', '4', '--poll-timeout-ms', '2000'] });

async function assertLive(page, vehicles) {
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'state connected' });
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === vehicles, { what: 'vehicle rows' });
  const before = Number(await text(page, 'message-count'));
  await waitFor(async () => Number(await text(page, 'message-count')) >= before + 2, { what: 'more batches' });
  assertNoCrash(page);
}

const MATRIX = [
  ['webSockets', 'json', 'WebSockets'],
  ['webSockets', 'messagepack', 'WebSockets'],
  ['serverSentEvents', 'json', 'ServerSentEvents'],
  ['longPolling', 'json', 'LongPolling'],
  ['longPolling', 'messagepack', 'LongPolling'],
];

for (const [transport, protocol, shown] of MATRIX) {
  test(`dashboard live over ${transport} with ${protocol}`, async () => {
    const page = await dash.open(`&transport=${transport}&protocol=${protocol}`);
    await assertLive(page, 8);
    assert.equal(await text(page, 'transport'), shown);
    assert.equal(await text(page, 'protocol'), protocol);
    await page.context().close();
  });
}

test('WebSockets blocked: live over Server-Sent Events; SSE blocked too: live over Long Polling', async (t) => {
  const noWs = await startSimulator({ args: ['--vehicles', '3', '--rate', '4', '--refuse-transport', 'WebSockets'], stopAfter: t });
  let page = await dash.open('', { apiBase: noWs.apiBase });
  await assertLive(page, 3);
  assert.equal(await text(page, 'transport'), 'ServerSentEvents');
  await page.context().close();

  const onlyLp = await startSimulator({
    args: ['--vehicles', '3', '--rate', '4', '--poll-timeout-ms', '2000', '--refuse-transport', 'WebSockets', '--refuse-transport', 'ServerSentEvents'],
    stopAfter: t,
  });
  page = await dash.open('', { apiBase: onlyLp.apiBase });
  await assertLive(page, 3);
  assert.equal(await text(page, 'transport'), 'LongPolling');
  await page.context().close();
});

test('a forced transport or protocol that makes no sense is reported, not attempted', async () => {
  const page = await dash.open('&transport=serverSentEvents&protocol=messagepack');
  await waitFor(async () => (await text(page, 'connection-error')).includes('protocol'), { what: 'config error' });
  await page.context().close();
});
