// The other backends the dashboard can sit in front of, exercised with the official client
// over real HTTP on loopback:
//  * the functions side targeting a *remote* SignalR service (`--remote-service`): here a
//    second simulator's embedded service, reached only through its connection string, the
//    way a function app reaches Azure SignalR Service (client tokens for its client URL,
//    broadcasts and group changes through its REST API);
//  * a plain ASP.NET Core-style hub (`--plain-hub`): negotiate at the hub URL, no token, and
//    the dashboard methods (snapshot, subscribe, acknowledge) as hub methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startSimulator, waitFor, sleep } from '../support/simulator.mjs';
import { collect, hubConnection } from '../support/hub-client.mjs';
import { setupSimulator } from '../support/setup.mjs';

/** A registry entry of a vehicle kind the catalog declares (the simulator's vans, trucks and forklifts), or of `vehicle`. */
const isVehicle = (snapshot, d) => d.kind === 'vehicle' || (snapshot.catalog?.vehicleKinds ?? []).some((k) => k.id === d.kind);

// Plays Azure SignalR Service: no devices of its own.
const service = setupSimulator(['--vehicles', '0', '--machines', '0', '--rigs', '0']);
// The functions side and the devices, publishing to `service` remotely.
const functions = setupSimulator(() => ({
  connectionString: service.connectionString,
  args: ['--remote-service', '--vehicles', '12', '--rate', '5', '--machines', '2', '--rigs', '2', '--reading-rate', '5'],
}));

function client(url, t) {
  const connection = hubConnection(url, { logLevel: 'None', stopAfter: t });
  return { connection, received: collect(connection, 'positions', 'readings', 'alertAcknowledged') };
}

const post = (url, body, method = 'POST') =>
  fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('remote service: negotiate hands out the remote client URL and a token it accepts', async () => {
  const info = await (await post(`${functions.apiBase}/negotiate`, {})).json();
  assert.equal(info.url, `http://127.0.0.1:${service.servicePort}/client/?hub=telemetry`);
  // The remote service checks the token (signed with its AccessKey, for its client URL).
  const negotiate = await fetch(`http://127.0.0.1:${service.servicePort}/client/negotiate?hub=telemetry&negotiateVersion=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${info.accessToken}` },
  });
  assert.equal(negotiate.status, 200);
  const forged = await fetch(`http://127.0.0.1:${service.servicePort}/client/negotiate?hub=telemetry&negotiateVersion=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${info.accessToken.slice(0, -3)}abc` },
  });
  assert.equal(forged.status, 401);
  // The functions process serves no service of its own.
  assert.match(functions.output(), /remote, hub telemetry/);
  assert.doesNotMatch(functions.output(), new RegExp(service.accessKey), 'the AccessKey is not printed');
});

test('remote service: a client joins a site through the functions and gets its data through the service', async (t) => {
  const { connection, received } = client(functions.apiBase, t);
  await connection.start();
  const snapshot = await (await fetch(`${functions.apiBase}/snapshot`)).json();
  const site = snapshot.positions[0].site;
  const answer = await post(`${functions.apiBase}/subscriptions`, { connectionId: connection.connectionId, groups: [`site:${site}`] });
  assert.equal(answer.status, 200, await answer.clone().text());
  assert.deepEqual((await answer.json()).groups, [`site:${site}`]);
  await waitFor(() => received.positions.length >= 3, { what: 'positions through the remote service' });
  const ids = new Set(snapshot.devices.map((d) => d.id));
  for (const position of received.positions.flat()) {
    assert.equal(position.site, site);
    assert.ok(ids.has(position.id), `${position.id} is one of the functions' vehicles`);
  }
  // Leaving goes through the REST API too: the data stops.
  const left = await post(`${functions.apiBase}/subscriptions`, { connectionId: connection.connectionId, groups: [`site:${site}`] }, 'DELETE');
  assert.equal(left.status, 200);
  await sleep(400);
  const count = received.positions.length;
  await sleep(800);
  assert.equal(received.positions.length, count, 'no positions after leaving the group');
});

test('remote service: an unknown connection is refused by the remote service (404), a wrong key by its token check', async (t) => {
  const answer = await post(`${functions.apiBase}/subscriptions`, { connectionId: 'no-such-connection', groups: ['site:harbour'] });
  assert.equal(answer.status, 404);
  assert.match((await answer.json()).error, /no live connection/);

  const wrongKey = await startSimulator({
    connectionString: service.connectionString.replace(/AccessKey=[^;]*/, 'AccessKey=NotTheServicesKey0123456789'),
    args: ['--remote-service', '--vehicles', '2'],
    stopAfter: t,
  });
  const { connection } = client(wrongKey.apiBase, t);
  await assert.rejects(connection.start(), /401|Unauthorized/i);
  const refused = await post(`${wrongKey.apiBase}/subscriptions`, { connectionId: 'x', groups: ['site:harbour'] });
  assert.equal(refused.status, 502, 'the remote refusal is reported as a bad gateway');
  assert.match((await refused.json()).error, /401/);
});

test('remote service: the embedded service\'s fault flags are refused with the reason', async () => {
  for (const flag of [['--drop-every-secs', '5'], ['--plain-hub'], ['--refuse-transport', 'WebSockets']]) {
    await assert.rejects(
      startSimulator({ connectionString: service.connectionString, args: ['--remote-service', ...flag] }),
      new RegExp(`${flag[0]} acts on the embedded service`),
    );
  }
});

test('plain hub: negotiate at the hub URL with no token, then the dashboard methods as hub methods', async (t) => {
  const sim = await startSimulator({ args: ['--plain-hub', '--vehicles', '9', '--rate', '5'], stopAfter: t });
  const hubUrl = `http://127.0.0.1:${sim.servicePort}/hubs/telemetry`;
  const { connection, received } = client(hubUrl, t);
  await connection.start();
  assert.equal(connection.baseUrl, hubUrl, 'no redirect');

  const snapshot = await connection.invoke('snapshot');
  assert.equal(snapshot.devices.filter((d) => isVehicle(snapshot, d)).length, 9);
  assert.deepEqual(await connection.invoke('subscribe', ['site:airport']), ['site:airport']);
  await waitFor(() => received.positions.length >= 2, { what: 'positions on the plain hub' });
  assert.deepEqual([...new Set(received.positions.flat().map((p) => p.site))], ['airport']);
  assert.deepEqual(await connection.invoke('unsubscribe', ['site:airport']), []);
  await assert.rejects(connection.invoke('subscribe', ['admin:all']), /not site:<id> or device:<id>/);
  await assert.rejects(connection.invoke('acknowledge', '', ['x']), /`by` must be 1 to 64 characters/);
  // Nothing known among the ids: an error saying so, not a silent empty answer (issue 18).
  await assert.rejects(connection.invoke('acknowledge', 'ops', ['no-such-alert']), /no alert \["no-such-alert"\]/);

  // Without --plain-hub there is no such endpoint, and the Azure-style endpoint still wants a token.
  const plainOff = await fetch(`http://127.0.0.1:${service.servicePort}/hubs/telemetry/negotiate?negotiateVersion=1`, { method: 'POST' });
  assert.equal(plainOff.status, 404);
  const tokenless = await fetch(`http://127.0.0.1:${sim.servicePort}/client/negotiate?hub=telemetry&negotiateVersion=1`, { method: 'POST' });
  assert.equal(tokenless.status, 401);
});

test('remote service unreachable: the devices and the snapshot carry on, and the failure is logged once', async (t) => {
  const port = await freePort(); // nothing listens there
  const lonely = await startSimulator({
    connectionString: `Endpoint=http://127.0.0.1:${port};AccessKey=NoServiceHere0123456789;Version=1.0;`,
    args: ['--remote-service', '--vehicles', '4', '--rate', '5', '--machines', '2', '--rigs', '1', '--reading-rate', '5'],
    stopAfter: t,
  });
  const newest = async () => {
    const { positions, readings } = await (await fetch(`${lonely.apiBase}/snapshot`)).json();
    return Math.max(...positions.map((p) => p.ts), ...readings.map((r) => r.ts));
  };
  const first = await waitFor(newest, { what: 'a first snapshot' });
  await sleep(2000);
  assert.ok((await newest()) >= first + 1500, 'the devices kept reporting while every send failed');
  const warnings = lonely.output().split('\n').filter((line) => line.includes('remote SignalR service'));
  assert.equal(warnings.length, 1, `one warning, not one per send: ${warnings.join('\n')}`);
});
