// Nothing runs that is not ours: the built page carries a Content-Security-Policy (wasm allowed,
// inline code only by hash), every screen works under it without a single violation, and
// hostile strings from the wire (vehicle ids, sites, device ids, metric names, alert texts)
// are shown as text wherever they appear: tables, map panel, URL, cards, toasts, history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { restToken, waitFor, sleep } from '../support/simulator.mjs';
import { dist, setupDashboard } from '../support/setup.mjs';

const dash = setupDashboard({ simulator: ['--vehicles', '5', '--rate', '2', '--machines', '2', '--rigs', '1'] });
const { sim } = dash;

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '"><script>alert(2)</script>';
const LINK = 'javascript:alert(3)';

/** A dashboard window that records every CSP violation and every dialog. */
function watchedPage(suffix) {
  return dash.open(suffix, {
    prepare: async (page) => {
      await page.context().addInitScript(() => {
        window.cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) =>
          window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
        );
      });
      page.dialogs = [];
      page.on('dialog', (dialog) => {
        page.dialogs.push(dialog.message());
        dialog.dismiss();
      });
    },
  });
}

async function publish(target, batch) {
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target, arguments: [batch] }),
  });
  assert.equal(answer.status, 202);
}

test('the built page has a policy without unsafe-inline or unsafe-eval, and it blocks injected code', async () => {
  const html = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
  const policy = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
  assert.ok(policy, 'index.html carries the policy');
  const scriptSrc = policy.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src'));
  assert.match(scriptSrc, /'wasm-unsafe-eval'/);
  assert.match(scriptSrc, /'sha256-[A-Za-z0-9+/=]+'/, 'the start-up script by hash');
  assert.doesNotMatch(policy, /'unsafe-inline'|'unsafe-eval'/);
  assert.match(policy, /object-src 'none'/);

  const page = await watchedPage();
  await waitFor(async () => (await page.getByTestId('connection-state').textContent()) === 'connected', { what: 'live under the policy' });
  const injected = await page.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.injected = true';
    document.head.append(script);
    const div = document.createElement('div');
    div.setAttribute('onclick', 'window.clicked = true');
    document.body.append(div);
    div.click();
    await new Promise((r) => setTimeout(r, 100));
    return { script: window.injected ?? false, handler: window.clicked ?? false, violations: window.cspViolations.length };
  });
  assert.deepEqual(injected, { script: false, handler: false, violations: 2 }, 'both blocked and reported');
  await page.context().close();
});

test('hostile strings from the wire stay text on every screen, with no policy violation', async () => {
  const page = await watchedPage();
  await waitFor(async () => (await page.getByTestId('connection-state').textContent()) === 'connected', { what: 'connected' });
  const { positions } = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  const near = positions[0];
  const now = Date.now();
  await publish('positions', [{ ...near, id: IMG, site: SCRIPT, ts: now, seq: 1 }]);
  await publish('readings', [{ device: SCRIPT, kind: 'process', ts: now, site: LINK, status: 'running', values: { [IMG]: 1.5, temperature: 20 } }]);
  await publish('alerts', [{ id: IMG, ts: now, device: IMG, site: LINK, severity: 'critical', metric: SCRIPT, value: 1, threshold: 0, message: IMG }]);

  // Overview: the vehicle table, the alert list, the toast.
  const row = page.locator('[data-testid="vehicle-row"]').filter({ hasText: IMG });
  await waitFor(async () => (await row.count()) === 1, { what: 'the hostile vehicle id as text in the table' });
  assert.match(await row.textContent(), /<script>alert\(2\)<\/script>/, 'its site too');
  await waitFor(async () => (await page.getByTestId('toast').filter({ hasText: IMG }).count()) === 1, { what: 'the toast as text' });

  // Fleet: selected by its id through the URL; the selection panel shows the id as text.
  await page.goto(dash.url(`#/fleet?vehicle=${encodeURIComponent(IMG)}`));
  await waitFor(async () => (await page.getByTestId('selection-id').textContent().catch(() => '')) === IMG, {
    what: 'the selection panel naming it',
  });
  await page.getByTestId('follow').click();
  await page.getByTestId('trails-all').click();

  // Equipment and the device screen: the hostile device and metric names as text.
  await publish('readings', [{ device: SCRIPT, kind: 'process', ts: Date.now(), site: LINK, status: 'running', values: { [IMG]: 2.5 } }]);
  await page.getByTestId('nav-equipment').click();
  const card = page.getByTestId('equipment-card').filter({ hasText: SCRIPT });
  await waitFor(async () => (await card.count()) === 1, { what: 'the hostile device card' });
  await page.goto(dash.url(`#/device/${encodeURIComponent(SCRIPT)}?window=5m`));
  await waitFor(async () => (await page.locator('main').textContent()).includes(SCRIPT), { what: 'the device screen naming it' });

  // Alerts: the history row.
  await page.getByTestId('nav-alerts').click();
  const history = page.getByTestId('history-row').filter({ hasText: IMG });
  await waitFor(async () => (await history.count()) >= 1, { what: 'the hostile alert in the history' });
  await sleep(300);

  const made = await page.evaluate(() => ({
    images: document.querySelectorAll('img[src="x"]').length,
    inlineScripts: [...document.querySelectorAll('script:not([src])')].filter((s) => s.textContent.includes('alert(')).length,
    links: [...document.querySelectorAll('a[href]')].filter((a) => a.getAttribute('href').startsWith('javascript:')).length,
    violations: window.cspViolations,
  }));
  assert.deepEqual(made, { images: 0, inlineScripts: 0, links: 0, violations: [] });
  assert.deepEqual(page.dialogs, [], 'nothing ran');
  // Across every page load of the walk (the event list above is the last load's): Chromium
  // logs each violation as a console error.
  assert.deepEqual(page.problems.filter((p) => /Content Security Policy|Refused to/.test(p)), []);
  await page.context().close();
});
