// Alerts that reach people: toasts in two windows, acknowledged in one and gone from both;
// folding, auto-dismiss paused under the pointer, a hostile message kept as text, the history
// screen, and a storm of 1,000 alerts after which the page still answers with a bounded stack.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { restToken, simulatorBin, startSimulator, waitFor, sleep } from '../support/simulator.mjs';
import { assertNoCrash } from '../support/browser.mjs';
import { setupDashboard, shippedConfig } from '../support/setup.mjs';

// No machines, rigs or geofences: every alert in these tests is one the test published.
const dash = setupDashboard({ simulator: ['--vehicles', '3', '--machines', '0', '--rigs', '0', '--no-geofences'] });
const { sim } = dash;
let quickSite;
let publishUrl;
let token;

before(async () => {
  await dash.ready;
  // The same build with toasts that leave after one second.
  quickSite = await dash.serve({ config: { ...shippedConfig(), toastSeconds: 1 } });
  publishUrl = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  token = execFileSync(simulatorBin, ['--connection-string', sim.connectionString, 'token', publishUrl]).toString().trim();
});

let serial = 0;
function alert(fields = {}) {
  serial += 1;
  return {
    id: `t-${serial}`,
    ts: Date.now(),
    device: `press-${serial}`,
    site: 'harbour',
    severity: 'warning',
    metric: 'temperature',
    value: 101.5,
    threshold: 100,
    message: `temperature high #${serial}`,
    ...fields,
  };
}

/** Publishes a batch of alerts through the service's REST API, signed with the AccessKey. */
async function publish(alerts, target = 'alerts') {
  const answer = await fetch(publishUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target, arguments: [alerts] }),
  });
  assert.equal(answer.status, 202);
}

async function live(site, apiBase) {
  const page = await dash.open('', { site, apiBase });
  await waitFor(async () => (await page.getByTestId('connection-state').first().textContent()) === 'connected', {
    what: 'connected',
  });
  // Subscribed and loaded (the snapshot comes after the connection).
  await waitFor(async () => Number(await page.getByTestId('vehicle-count').textContent()) === 3, { what: 'the snapshot' });
  return page;
}

const toast = (page, device) => page.locator(`[data-testid="toast"][data-device="${device}"]`);

test('a critical alert shows in two windows; acknowledged in one, it leaves both', async () => {
  const [a, b] = [await live(), await live()];
  await a.getByTestId('nav-alerts').click();
  await a.getByTestId('operator').fill('night shift');
  await a.getByTestId('operator').press('Enter');
  const critical = alert({ severity: 'critical', message: 'boiler pressure critical' });
  await publish([critical]);
  for (const page of [a, b]) {
    await waitFor(async () => (await toast(page, critical.device).count()) === 1, { what: 'the toast' });
    // Announced assertively, with its severity in words and an icon, not colour alone.
    const inAssertive = page.locator('[data-testid="toasts-assertive"] [data-testid="toast"]');
    assert.equal(await inAssertive.count(), 1);
    assert.equal(await page.getByTestId('toasts-assertive').getAttribute('aria-live'), 'assertive');
    assert.match(await toast(page, critical.device).textContent(), /critical/);
    assert.equal(await toast(page, critical.device).getByTestId('toast-dismiss').count(), 0, 'critical cannot be dismissed');
  }
  assert.match(await b.getByTestId('unacknowledged-badge').textContent(), /^1 alerts open$/);

  await toast(a, critical.device).getByTestId('toast-ack').click();
  for (const page of [a, b]) {
    await waitFor(async () => (await toast(page, critical.device).count()) === 0, { what: 'the toast gone' });
  }
  await b.getByTestId('nav-alerts').click();
  const row = b.locator(`[data-testid="history-row"][data-alert-id="${critical.id}"]`);
  await waitFor(async () => (await row.count()) === 1, { what: 'the history row' });
  assert.equal(await row.getByTestId('history-state').textContent(), 'acknowledged by night shift');
  assert.match(await b.getByTestId('unacknowledged-badge').textContent(), /^0 alerts open$/);

  // A page opened afterwards has it, acknowledged, from the snapshot.
  const c = await live();
  await c.getByTestId('nav-alerts').click();
  await waitFor(async () => (await c.locator(`[data-alert-id="${critical.id}"] [data-testid="history-state"]`).count()) === 1, {
    what: 'the alert in a new window',
  });
  assert.equal(await c.locator(`[data-alert-id="${critical.id}"] [data-testid="history-state"]`).textContent(), 'acknowledged by night shift');
  for (const page of [a, b, c]) await page.context().close();
});

test('from the history: filters, counts, acknowledge, and the link to the device', async () => {
  const page = await live();
  const alerts = [
    alert({ severity: 'info', site: 'airport', device: 'rig-77', metric: 'rpm' }),
    alert({ severity: 'critical', site: 'harbour' }),
    alert({ severity: 'warning', site: 'harbour' }),
  ];
  await publish(alerts);
  await page.getByTestId('nav-alerts').click();
  for (const a of alerts) {
    await waitFor(async () => (await page.locator(`[data-testid="history-row"][data-alert-id="${a.id}"]`).count()) === 1, {
      what: `${a.id} in the history`,
    });
  }
  assert.equal(await page.locator('[data-testid="history-row"]').first().getAttribute('data-alert-id'), alerts[2].id, 'newest first');
  assert.match(await page.getByTestId('alert-count-critical').textContent(), /^ \d+ critical open$/);
  // The icon is an SVG of its own shape, not a font glyph (which Debian's Chromium drew as a box).
  assert.equal(await page.getByTestId('alert-count-critical').locator('svg[data-icon="critical"] path').count(), 1);
  await page.getByTestId('alert-filter-site').selectOption('airport');
  await waitFor(async () => (await page.locator('[data-testid="history-row"]').count()) === 1, { what: 'only the airport' });
  await page.getByTestId('alert-filter-site').selectOption('');
  await page.getByTestId('alert-filter-severity').selectOption('critical');
  await page.getByTestId('alert-filter-state').selectOption('open');
  const critical = page.locator(`[data-testid="history-row"][data-alert-id="${alerts[1].id}"]`);
  await waitFor(async () => (await page.locator('[data-testid="history-row"]').count()) >= 1, { what: 'critical open rows' });
  assert.ok(await critical.count(), 'the critical one is listed');
  assert.equal(
    await page.locator('[data-testid="history-row"]').evaluateAll((rows) => rows.filter((r) => !/critical/.test(r.textContent)).length),
    0,
  );
  await critical.getByTestId('history-ack').click();
  await waitFor(async () => (await critical.count()) === 0, { what: 'acknowledged: no longer open' });
  await page.getByTestId('alert-filter-state').selectOption('acknowledged');
  await waitFor(async () => (await critical.count()) === 1, { what: 'listed as acknowledged' });
  assert.match(await critical.getByTestId('history-state').textContent(), /^acknowledged by dashboard$/);
  // The device link opens its charts.
  await page.getByTestId('alert-filter-state').selectOption('');
  await page.getByTestId('alert-filter-severity').selectOption('');
  await page.getByTestId('alert-filter-device').fill('rig-77');
  await page.locator(`[data-alert-id="${alerts[0].id}"] [data-testid="history-device"]`).click();
  await waitFor(async () => (await page.evaluate(() => location.hash)) === '#/device/rig-77?window=5m', { what: 'the device screen' });
  await page.context().close();
});

test('an alert whose rule returns to normal shows as cleared; an alert on a vehicle links to it on the map', async () => {
  const page = await live();
  const hot = alert({ severity: 'critical', message: 'oven too hot' });
  await publish([hot]);
  await waitFor(async () => (await toast(page, hot.device).count()) === 1, { what: 'the toast' });
  assert.doesNotMatch(await toast(page, hot.device).textContent(), /back to normal/);
  await publish([{ id: hot.id, ts: Date.now() }], 'alertCleared');
  await waitFor(async () => /back to normal/.test(await toast(page, hot.device).textContent()), { what: 'the toast says cleared' });
  await page.getByTestId('nav-alerts').click();
  const row = page.locator(`[data-testid="history-row"][data-alert-id="${hot.id}"]`);
  await waitFor(async () => (await row.count()) === 1, { what: 'the history row' });
  // Back to normal but nobody acknowledged it: it still waits, and can be acknowledged here.
  assert.equal(await row.getByTestId('history-state').textContent(), 'back to normal, unacknowledged');
  await row.getByTestId('history-ack').click();
  await waitFor(async () => /^cleared, acknowledged by /.test(await row.getByTestId('history-state').textContent()), {
    what: 'acknowledged from the history row',
  });
  await waitFor(async () => (await toast(page, hot.device).count()) === 0, { what: 'its toast gone' });
  // A vehicle's alert: the device link selects the vehicle on the fleet map.
  const vehicle = (await (await fetch(`${sim.apiBase}/snapshot`)).json()).positions[0].id;
  const speeding = alert({ device: vehicle, metric: 'speed', message: 'too fast' });
  await publish([speeding]);
  const link = page.locator(`[data-alert-id="${speeding.id}"] [data-testid="history-device"]`);
  await waitFor(async () => (await link.count()) === 1, { what: 'the vehicle alert in the history' });
  await link.click();
  await waitFor(async () => (await page.evaluate(() => location.hash)) === `#/fleet?vehicle=${vehicle}`, { what: 'the fleet screen' });
  await waitFor(async () => (await page.getByTestId('selection-id').count()) === 1, { what: 'the selection panel' });
  assert.equal(await page.getByTestId('selection-id').textContent(), vehicle);
  await page.context().close();
});

test('repeats fold into one toast with a counter; info and warning leave on time, not under the pointer', async () => {
  const page = await live(quickSite);
  const first = alert({ severity: 'warning' });
  const repeats = [2, 3, 4].map((n) => alert({ device: first.device, message: `again ${n}` }));
  await publish([first]);
  await publish(repeats);
  await waitFor(async () => (await toast(page, first.device).getByTestId('toast-count').count()) === 1, { what: 'a counter' });
  assert.equal(await toast(page, first.device).count(), 1);
  assert.equal(await toast(page, first.device).getByTestId('toast-count').textContent(), '×4');
  assert.equal(await toast(page, first.device).getByTestId('toast-message').textContent(), 'again 4', 'the newest message');
  assert.equal(await page.locator('[data-testid="toasts-polite"] [data-testid="toast"]').count(), 1, 'a warning is polite');
  assert.equal(await page.getByTestId('toasts-polite').getAttribute('aria-live'), 'polite');
  // With the pointer on it, it stays past its second.
  await toast(page, first.device).hover();
  await sleep(2500);
  assert.equal(await toast(page, first.device).count(), 1, 'paused while hovered');
  // The same for a keyboard user: with focus inside a toast they stay, even once the pointer
  // leaves. (The pointer holds them until the focus is in, so a slow machine cannot lose the
  // one-second toast before the test focuses it.)
  const focused = alert({ severity: 'info' });
  await publish([focused]);
  await waitFor(async () => (await toast(page, focused.device).count()) === 1, { what: 'the info toast' });
  await toast(page, focused.device).getByTestId('toast-ack').focus();
  await page.getByTestId('nav-overview').hover();
  await sleep(2500);
  assert.equal(await toast(page, focused.device).count(), 1, 'paused while focused, the pointer gone');
  assert.equal(await toast(page, first.device).count(), 1);
  // Pointer and focus both away: they go.
  await page.getByTestId('nav-overview').focus();
  await waitFor(async () => (await toast(page, first.device).count()) === 0, { what: 'gone after the pointer and focus left' });
  await waitFor(async () => (await toast(page, focused.device).count()) === 0, { what: 'the info toast gone too' });
  // A critical one stays, and sounds when sound is on (off by default): count the tones made.
  await page.evaluate(() => {
    window.__tones = 0;
    const create = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
      window.__tones += 1;
      return create.call(this);
    };
  });
  await publish([alert({ severity: 'critical', device: 'quiet-1' })]);
  await waitFor(async () => (await toast(page, 'quiet-1').count()) === 1, { what: 'a critical toast, no sound' });
  assert.equal(await page.evaluate(() => window.__tones), 0, 'silent by default');
  await page.getByTestId('nav-alerts').click();
  await page.getByTestId('sound').check();
  const critical = alert({ severity: 'critical' });
  await publish([critical]);
  await waitFor(async () => (await toast(page, critical.device).count()) === 1, { what: 'the critical toast' });
  await waitFor(async () => (await page.evaluate(() => window.__tones)) === 2, { what: 'two beeps' });
  await sleep(2500);
  assert.equal(await toast(page, critical.device).count(), 1, 'critical stays until acknowledged');
  await page.context().close();
});

test('a hostile alert message is shown as its characters and runs nothing', async () => {
  const page = await live();
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss();
  });
  const HOSTILE = '<img src=x onerror=alert(1)>';
  const hostile = alert({ severity: 'critical', message: HOSTILE, device: '<b>press</b>', site: '<i>site</i>' });
  await publish([hostile]);
  await waitFor(async () => (await toast(page, hostile.device).count()) === 1, { what: 'the toast' });
  assert.equal(await toast(page, hostile.device).getByTestId('toast-message').textContent(), HOSTILE);
  assert.match(await toast(page, hostile.device).textContent(), /<b>press<\/b> · temperature/);
  await page.getByTestId('nav-alerts').click();
  const row = page.locator(`[data-alert-id="${hostile.id}"]`);
  await waitFor(async () => (await row.count()) === 1, { what: 'the history row' });
  assert.equal(await row.getByTestId('history-message').textContent(), HOSTILE);
  assert.equal(await page.locator('img, b, i').count(), 0, 'no element made from the strings');
  await sleep(300);
  assert.deepEqual(dialogs, []);
  await page.context().close();
});

test('a storm of 1,000 alerts: the page answers and the toast stack stays bounded', async () => {
  const page = await live();
  const started = Date.now();
  // 100 calls of 10 alerts, ten devices each, mixed severities, all sent at once.
  const calls = Array.from({ length: 100 }, (_, call) =>
    Array.from({ length: 10 }, (_, i) =>
      alert({ device: `storm-${call}-${i}`, severity: ['info', 'warning', 'critical'][(call + i) % 3] }),
    ),
  );
  await Promise.all(calls.map((batch) => publish(batch)));
  const publishMs = Date.now() - started;
  await waitFor(async () => /^\+\d+ more$/.test((await page.getByTestId('toasts-more').textContent()) ?? ''), {
    what: 'the +N more link',
  });
  // Every critical one is still counted (info and warning make room first, and leave on time).
  const criticals = 100 * 10 / 3 | 0;
  await waitFor(async () => Number((await page.getByTestId('toasts-more').textContent()).match(/\d+/)[0]) >= criticals - 4, {
    timeoutMs: 20000,
    what: 'every critical alert counted',
  });
  assert.equal(await page.locator('[data-testid="toast"]').count(), 4, 'four toasts on screen, the rest counted');
  // Still responsive: a script answers quickly, and navigation works.
  const t0 = Date.now();
  await page.evaluate(() => 1 + 1);
  const answerMs = Date.now() - t0;
  await page.getByTestId('toasts-more').click();
  await waitFor(async () => /^showing the newest 200 of \d+$/.test(await page.getByTestId('alert-history-note').textContent()), {
    what: 'the history, capped',
  });
  assert.equal(await page.locator('[data-testid="history-row"]').count(), 200);
  assert.equal(await page.getByTestId('alert-count-critical').textContent(), ` ${criticals} critical open`);
  console.log(`# storm: 1,000 alerts published in ${publishMs} ms; the page answered a script in ${answerMs} ms afterwards`);
  assertNoCrash(page);
  await page.context().close();
});

test('a critical alarm that returned to normal is acknowledged from its toast on one page and leaves both', async () => {
  const [a, b] = [await live(), await live()];
  await a.getByTestId('nav-alerts').click();
  await a.getByTestId('operator').fill('day shift');
  await a.getByTestId('operator').press('Enter');
  const critical = alert({ severity: 'critical', message: 'valve pressure critical' });
  await publish([critical]);
  await publish([{ id: critical.id, ts: Date.now() }], 'alertCleared');
  for (const page of [a, b]) {
    await waitFor(async () => /back to normal/.test(await toast(page, critical.device).textContent()), {
      what: 'the toast says it returned to normal',
    });
  }
  await toast(a, critical.device).getByTestId('toast-ack').click();
  for (const page of [a, b]) {
    await waitFor(async () => (await toast(page, critical.device).count()) === 0, { what: 'the toast gone' });
  }
  assert.equal(await a.getByTestId('ack-error').count(), 0, 'no error shown');
  // Over: a page opened now does not bring it back.
  const c = await live();
  await c.getByTestId('nav-alerts').click();
  await c.getByTestId('alert-filter-severity').first().waitFor();
  assert.equal(await c.locator(`[data-alert-id="${critical.id}"]`).count(), 0, 'not in a new page');
  assert.equal(await toast(c, critical.device).count(), 0);
  for (const page of [a, b, c]) await page.context().close();
});

test('an alarm that ends while a page is offline is not open there once it is back', async (t) => {
  // A simulator of its own: the file's holds the storm's thousand alerts, which would push this
  // one out of the history's newest rows.
  const own = await startSimulator({ args: ['--vehicles', '3', '--machines', '0', '--rigs', '0', '--no-geofences'], stopAfter: t });
  const ownUrl = `http://127.0.0.1:${own.servicePort}/api/v1/hubs/telemetry`;
  const publish = async (alerts, target = 'alerts') => {
    const answer = await fetch(ownUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${restToken(own.accessKey, ownUrl)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target, arguments: [alerts] }),
    });
    assert.equal(answer.status, 202);
  };
  // A short server timeout: the offline page notices the silence in seconds.
  const site = await dash.serve({ config: { ...shippedConfig(), serverTimeoutSeconds: 2 }, closeAfter: t });
  const [away, other] = [await live(site, own.apiBase), await live(undefined, own.apiBase)];
  await other.getByTestId('nav-alerts').click();
  await other.getByTestId('operator').fill('relief');
  await other.getByTestId('operator').press('Enter');
  const warning = alert({ severity: 'critical', message: 'tank level critical' });
  await publish([warning]);
  await waitFor(async () => (await toast(away, warning.device).count()) === 1, { what: 'the toast on the page to go away' });

  await away.context().setOffline(true);
  await waitFor(async () => (await away.getByTestId('connection-state').first().textContent()) !== 'connected', {
    what: 'the offline page no longer connected',
  });
  // Acknowledged elsewhere and cleared by its publisher while the page is away: over.
  await toast(other, warning.device).getByTestId('toast-ack').click();
  await waitFor(async () => (await toast(other, warning.device).count()) === 0, { what: 'acknowledged on the other page' });
  await publish([{ id: warning.id, ts: Date.now() }], 'alertCleared');

  await away.context().setOffline(false);
  await waitFor(async () => (await away.getByTestId('connection-state').first().textContent()) === 'connected', {
    what: 'back',
    timeoutMs: 60000,
  });
  await waitFor(async () => (await toast(away, warning.device).count()) === 0, { what: 'its toast gone after the snapshot' });
  await away.getByTestId('nav-alerts').click();
  const row = away.locator(`[data-testid="history-row"][data-alert-id="${warning.id}"]`);
  await waitFor(async () => (await row.count()) === 1, { what: 'the history row' });
  assert.equal(await row.getByTestId('history-state').textContent(), 'cleared');
  await waitFor(async () => /^0 alerts open$/.test(await away.getByTestId('unacknowledged-badge').textContent()), {
    what: 'counted nowhere as open',
  });
  for (const page of [away, other]) await page.context().close();
});
