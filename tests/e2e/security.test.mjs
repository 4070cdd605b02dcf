// Secrets and origins: the service's AccessKey signs tokens on the server side only and must
// never reach the browser, and the simulator's HTTP endpoints answer cross-origin requests only
// for the origins it allows (loopback for development, plus --allow-origin).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, startSimulator, waitFor } from '../support/simulator.mjs';
import { dist, setupDashboard } from '../support/setup.mjs';

// The simulator's built-in development key (crates/simulator/src/config.rs, DEV_ACCESS_KEY).
const DEV_ACCESS_KEY = fs
  .readFileSync(path.join(repoRoot, 'crates', 'simulator', 'src', 'config.rs'), 'utf8')
  .match(/pub const DEV_ACCESS_KEY: &str = "([^"]+)"/)[1];

const dash = setupDashboard();

function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

test('no access key in the release bundle or the shipped config', () => {
  const files = [...filesUnder(dist), path.join(repoRoot, 'public', 'config.json')];
  assert.ok(files.some((f) => f.endsWith('.wasm')), 'the scan covers the wasm');
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const needle of [DEV_ACCESS_KEY, 'AccessKey=']) {
      assert.equal(bytes.indexOf(Buffer.from(needle)), -1, `${path.relative(repoRoot, file)} contains ${needle}`);
    }
  }
});

test('nothing the browser receives while live carries the access key', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '6', '--rate', '4'], stopAfter: t });
  const page = await dash.open('', { apiBase: sim.apiBase });
  const bodies = [];
  page.on('response', (response) => {
    // A body still streaming when the page moves on may never settle: give each a few seconds.
    const body = response
      .body()
      .then((b) => ({ url: response.url(), text: b.toString('latin1') }))
      .catch(() => null);
    bodies.push(Promise.race([body, new Promise((resolve) => setTimeout(() => resolve(null), 5000))]));
  });
  const frames = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
  await page.reload();
  await waitFor(async () => (await page.getByTestId('connection-state').first().textContent()) === 'connected', {
    what: 'connected',
  });
  await waitFor(async () => (await page.getByTestId('vehicle-row').count()) === 6, { what: 'six vehicles' });
  await waitFor(() => frames.length > 3, { what: 'frames over the WebSocket' });
  const received = (await Promise.all(bodies)).filter(Boolean);
  assert.ok(received.some((r) => r.url.includes('/negotiate')), 'the negotiate answer was inspected');
  for (const { url, text } of [...received, ...frames.map((text) => ({ url: 'websocket frame', text }))]) {
    assert.ok(!text.includes(sim.accessKey), `${url} carries the access key`);
    assert.ok(!text.includes('AccessKey='), `${url} carries a connection string`);
  }
  await page.context().close();
});

/** The CORS answer of `url` to `origin`: a preflight, then the request itself. */
async function corsAnswer(url, origin, method = 'POST') {
  const preflight = await fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type' },
  });
  const actual = await fetch(url, { method, headers: { origin } });
  return {
    preflight: preflight.headers.get('access-control-allow-origin'),
    actual: actual.headers.get('access-control-allow-origin'),
    credentials: actual.headers.get('access-control-allow-credentials'),
  };
}

test('CORS: an origin not on the allow-list is refused, an allowed one is echoed with credentials', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '2', '--allow-origin', 'https://dashboards.example.com'], stopAfter: t });
  const serviceUrl = `http://127.0.0.1:${sim.servicePort}/client/negotiate?hub=telemetry`;
  for (const url of [`${sim.apiBase}/negotiate`, `${sim.apiBase}/snapshot`, serviceUrl]) {
    const method = url.endsWith('/snapshot') ? 'GET' : 'POST';
    for (const origin of ['https://evil.example', 'http://localhost.evil.example:8080', 'null']) {
      const answer = await corsAnswer(url, origin, method);
      assert.equal(answer.preflight, null, `${url}: preflight from ${origin} must not be allowed`);
      assert.equal(answer.actual, null, `${url}: ${origin} must not be allowed to read the answer`);
    }
    for (const origin of ['https://dashboards.example.com', 'http://127.0.0.1:5173']) {
      const answer = await corsAnswer(url, origin, method);
      assert.equal(answer.preflight, origin, `${url}: preflight from ${origin}`);
      assert.equal(answer.actual, origin, `${url}: ${origin} reads the answer`);
      assert.equal(answer.credentials, 'true');
    }
  }
});
