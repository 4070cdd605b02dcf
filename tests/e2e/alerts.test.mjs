// Alerts end to end: one published with the README's curl command shows up on the page as
// text (a hostile message stays inert), and an acknowledgement made through the functions
// API shows on the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { simulatorBin, waitFor } from '../support/simulator.mjs';
import { text } from '../support/browser.mjs';
import { setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '4', '--machines', '6', '--rigs', '6', '--reading-rate', '4'] });
const { sim } = dash;
const HOSTILE = '<img src=x onerror=alert(1)>';

test('an alert published with curl and the AccessKey arrives as text', async () => {
  const page = await dash.open();
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss();
  });
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });

  // The README's command, with this run's connection string and ports.
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const token = execFileSync(simulatorBin, ['--connection-string', sim.connectionString, 'token', url]).toString().trim();
  const alert = {
    id: 'curl-1',
    ts: Date.now(),
    device: 'press-01',
    site: 'harbour',
    severity: 'critical',
    metric: 'temperature',
    value: 123.4,
    threshold: 100,
    message: HOSTILE,
  };
  const status = execFileSync('curl', [
    '-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', url,
    '-H', `Authorization: Bearer ${token}`,
    '-H', 'Content-Type: application/json',
    '-d', JSON.stringify({ target: 'alerts', arguments: [[alert]] }),
  ]).toString();
  assert.equal(status, '202');

  const row = page.locator('[data-alert-id="curl-1"]');
  await waitFor(async () => (await row.count()) === 1, { what: 'the alert row' });
  assert.equal(await row.getByTestId('alert-message').textContent(), HOSTILE);
  assert.match(await row.textContent(), /critical/);
  assert.equal(await page.locator('.alert-list img').count(), 0, 'no element made from the string');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(dialogs, [], 'nothing ran');
  await page.context().close();
});

test("the simulator's rules raise alerts that pop up as toasts", async () => {
  const page = await dash.open();
  await waitFor(async () => (await page.getByTestId('toast').count()) > 0, {
    timeoutMs: 60000,
    intervalMs: 500,
    what: 'a toast from a rule',
  });
  assert.match(await page.getByTestId('toast').first().textContent(), /(info|warning|critical)/);
  await page.context().close();
});

test('an acknowledgement through the functions API shows on the page', async () => {
  const page = await dash.open();
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  const open = await waitFor(
    async () => (await (await fetch(`${sim.apiBase}/snapshot`)).json()).alerts.find((a) => !a.acknowledged),
    { timeoutMs: 60000, intervalMs: 500, what: 'a rule to raise an alert' },
  );
  const row = page.locator(`.alert-list [data-alert-id="${open.id}"]`);
  await waitFor(async () => (await row.count()) === 1, { what: 'the raised alert on the page' });
  const answer = await fetch(`${sim.apiBase}/alerts/${open.id}/ack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ by: 'night shift' }),
  });
  assert.equal(answer.status, 200);
  // The acknowledgement itself, whether or not the rule has returned to normal meanwhile.
  await waitFor(async () => /acknowledged by night shift$/.test(await row.getByTestId('alert-state').textContent()), {
    what: 'the acknowledgement on the page',
  });
  await page.context().close();
});
