// Interop: the official @microsoft/signalr client, under Node, against the simulator.
// It negotiates through the functions API, follows the redirect to the embedded service,
// and receives `positions` over WebSockets, holding the simulator to the real protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { startSimulator, waitFor } from '../support/simulator.mjs';

test('official client follows the negotiate redirect and receives positions over WebSockets', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '12', '--rate', '4'] });
  t.after(() => sim.stop());

  const connection = new signalR.HubConnectionBuilder()
    .withUrl(sim.apiBase, { transport: signalR.HttpTransportType.WebSockets })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  t.after(() => connection.stop());

  const batches = [];
  connection.on('positions', (batch) => {
      batches.push(batch);
    });
  await connection.start();

  assert.equal(connection.state, signalR.HubConnectionState.Connected);
  assert.ok(connection.connectionId, 'a connection id from the service negotiate');

  await waitFor(() => batches.length >= 3, { what: 'three positions batches' });
  const batch = batches.at(-1);
  assert.equal(batch.length, 12, 'one position per vehicle');
  for (const p of batch) {
    assert.match(p.id, /^veh-\d{5}$/);
    assert.equal(typeof p.lat, 'number');
    assert.equal(typeof p.lon, 'number');
    assert.ok(['moving', 'idle', 'stopped'].includes(p.state));
    assert.ok(p.ts > Date.now() - 60_000 && p.ts <= Date.now() + 1000, 'device timestamp is recent epoch ms');
  }
  const first = new Map(batches[0].map((p) => [p.id, `${p.lat},${p.lon}`]));
  const moved = batch.filter((p) => first.get(p.id) !== `${p.lat},${p.lon}`);
  assert.ok(moved.length > 0, 'vehicles move between batches');
});

test('the service refuses a connection with a forged token', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '1'] });
  t.after(() => sim.stop());
  const info = await (await fetch(`${sim.apiBase}/negotiate`, { method: 'POST' })).json();
  const forged = info.accessToken.slice(0, -4) + (info.accessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(info.url, { accessTokenFactory: () => forged, transport: signalR.HttpTransportType.WebSockets })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await assert.rejects(connection.start(), /401/);

  const res = await fetch(`http://127.0.0.1:${sim.servicePort}/client/negotiate?hub=telemetry&negotiateVersion=1`, {
    method: 'POST',
  });
  assert.equal(res.status, 401);
  assert.match((await res.json()).error, /no access token/i);
});
