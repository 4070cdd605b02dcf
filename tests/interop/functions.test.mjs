// The functions API and the service REST API, used the way a real deployment uses them:
// the official client joins one site's group through /api/subscriptions and then receives
// only that site's data; a backend publishes with a token signed by the connection string's
// AccessKey; an acknowledgement reaches every client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restToken, waitFor } from '../support/simulator.mjs';
import { collect, hubConnection } from '../support/hub-client.mjs';
import { setupSimulator } from '../support/setup.mjs';

/** A registry entry of a vehicle kind the catalog declares (the simulator's vans, trucks and forklifts), or of `vehicle`. */
const isVehicle = (snapshot, d) => d.kind === 'vehicle' || (snapshot.catalog?.vehicleKinds ?? []).some((k) => k.id === d.kind);

const sim = setupSimulator(['--vehicles', '20', '--rate', '5', '--machines', '4', '--rigs', '4', '--reading-rate', '5']);

async function connect(t) {
  const connection = hubConnection(sim.apiBase, { stopAfter: t });
  const received = collect(connection, 'positions', 'readings', 'alertAcknowledged', 'custom');
  await connection.start();
  return { connection, received };
}

async function post(path, body, method = 'POST') {
  return fetch(`${sim.apiBase}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

test('a client subscribed to one site receives only that site', async (t) => {
  const snapshot = await (await fetch(`${sim.apiBase}/snapshot`)).json();
  assert.deepEqual(snapshot.sites, ['harbour', 'airport', 'old-town', 'industrial']);
  assert.equal(snapshot.devices.filter((d) => isVehicle(snapshot, d)).length, 20);
  assert.equal(snapshot.devices.filter((d) => !isVehicle(snapshot, d)).length, 8);
  assert.ok(snapshot.positions.length > 0 && snapshot.readings.length > 0, 'the snapshot carries state');

  const { connection, received } = await connect(t);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(received.positions.length, 0, 'nothing before subscribing: data goes to groups');

  const answer = await post('/subscriptions', { connectionId: connection.connectionId, groups: ['site:airport'] });
  assert.equal(answer.status, 200);
  assert.deepEqual((await answer.json()).groups, ['site:airport']);
  await waitFor(() => received.positions.length >= 3 && received.readings.length >= 3, { what: 'site data' });
  const sites = new Set([...received.positions.flat(), ...received.readings.flat()].map((x) => x.site));
  assert.deepEqual([...sites], ['airport']);

  // Leaving the group stops the data.
  await post('/subscriptions', { connectionId: connection.connectionId, groups: ['site:airport'] }, 'DELETE');
  await new Promise((r) => setTimeout(r, 300));
  const count = received.positions.length;
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(received.positions.length, count);
});

test('subscriptions refuse bad groups and unknown connections with a reason', async () => {
  let answer = await post('/subscriptions', { connectionId: 'nope', groups: ['site:airport'] });
  assert.equal(answer.status, 404);
  assert.match((await answer.json()).error, /no live connection/);
  answer = await post('/subscriptions', { connectionId: 'nope', groups: ['admin:everything'] });
  assert.equal(answer.status, 400);
  assert.match((await answer.json()).error, /site:<id> or device:<id>/);
  answer = await fetch(`${sim.apiBase}/subscriptions`, { method: 'POST', body: '{not json' });
  assert.equal(answer.status, 400);
});

test('a backend publishes through the REST API with the AccessKey; bad tokens get 401', async (t) => {
  const { received } = await connect(t);
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
  const body = JSON.stringify({ target: 'custom', arguments: [{ hello: 'dashboards' }] });
  const send = (token) =>
    fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });

  assert.equal((await send(restToken(sim.accessKey, url))).status, 202);
  await waitFor(() => received.custom.length === 1, { what: 'the REST broadcast' });
  assert.deepEqual(received.custom[0], { hello: 'dashboards' });

  for (const [token, reason] of [
    [restToken('wrong-key', url), /signature/],
    [restToken(sim.accessKey, 'http://elsewhere/api/v1/hubs/telemetry'), /audience/],
    [restToken(sim.accessKey, url, -10), /expired/],
  ]) {
    const answer = await send(token);
    assert.equal(answer.status, 401);
    assert.match((await answer.json()).error, reason);
  }
  const missing = await fetch(url, { method: 'POST', body });
  assert.equal(missing.status, 401);
  const bad = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}` },
    body: '{"arguments":[]}',
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /target/);
});

test('an acknowledgement reaches every connected client', async (t) => {
  const one = await connect(t);
  const two = await connect(t);
  // Wait for an alert to be open (the rigs and machines raise some within seconds), or publish none and use the snapshot.
  const alert = await waitFor(
    async () => (await (await fetch(`${sim.apiBase}/snapshot`)).json()).alerts.find((a) => !a.acknowledged),
    { timeoutMs: 60000, intervalMs: 500, what: 'an open alert' },
  );
  const answer = await post(`/alerts/${alert.id}/ack`, { by: 'operator <b>' });
  assert.equal(answer.status, 200);
  assert.equal((await answer.json()).by, 'operator <b>');
  for (const client of [one, two]) {
    await waitFor(() => client.received.alertAcknowledged.flat().some((a) => a.id === alert.id), { what: 'the ack' });
  }
  const unknown = await post('/alerts/no-such-alert/ack', { by: 'x' });
  assert.equal(unknown.status, 404);
});

test('an independent Python client (signalrcore) receives a REST broadcast', async () => {
  const { spawn } = await import('node:child_process');
  const path = await import('node:path');
  const { repoRoot } = await import('../support/simulator.mjs');
  const python = process.env.TEST_PYTHON ?? path.join(repoRoot, '.venv-tests', 'bin', 'python');
  const child = spawn(python, [path.join(repoRoot, 'tests', 'interop', 'python_client.py'), sim.apiBase, '20']);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await waitFor(() => output.includes('READY'), { what: `the Python client to connect (${output})` });
    const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry`;
    const answer = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'custom', arguments: [{ from: 'rest', n: 42 }] }),
    });
    assert.equal(answer.status, 202);
    assert.equal(await exited, 0, output);
    const line = output.split('\n').find((l) => l.startsWith('RECEIVED '));
    assert.deepEqual(JSON.parse(line.slice('RECEIVED '.length)), [{ from: 'rest', n: 42 }]);
  } finally {
    child.kill();
  }
});
