// Interop: the official @microsoft/signalr client, under Node, against the simulator.
// It negotiates through the functions API, follows the redirect to the embedded service,
// and receives `positions` over WebSockets, holding the simulator to the real protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, waitFor } from '../support/simulator.mjs';
import { collect, hubConnection, signalR, startInAllSites } from '../support/hub-client.mjs';

test('official client follows the negotiate redirect and receives positions over WebSockets', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '12', '--rate', '4'], stopAfter: t });
  const connection = hubConnection(sim.apiBase, { transport: 'WebSockets', stopAfter: t });
  const { positions: batches } = collect(connection, 'positions');
  await startInAllSites(connection, sim.apiBase);

  assert.equal(connection.state, signalR.HubConnectionState.Connected);
  assert.ok(connection.connectionId, 'a connection id from the service negotiate');

  // One batch per site and tick; together they cover the fleet.
  const ids = () => new Set(batches.flat().map((p) => p.id));
  await waitFor(() => ids().size === 12 && batches.length >= 12, { what: 'every vehicle, several times' });
  for (const p of batches.flat()) {
    assert.match(p.id, /^veh-\d{5}$/);
    assert.equal(typeof p.lat, 'number');
    assert.equal(typeof p.lon, 'number');
    assert.ok(['moving', 'idle', 'stopped'].includes(p.state));
    assert.ok(p.ts > Date.now() - 60_000 && p.ts <= Date.now() + 1000, 'device timestamp is recent epoch ms');
  }
  const first = new Map();
  const last = new Map();
  for (const p of batches.flat()) {
    if (!first.has(p.id)) first.set(p.id, `${p.lat},${p.lon}`);
    last.set(p.id, `${p.lat},${p.lon}`);
  }
  const moved = [...last].filter(([id, at]) => first.get(id) !== at);
  assert.ok(moved.length > 0, 'vehicles move between batches');
});

test('the service refuses a connection with a forged token', async (t) => {
  const sim = await startSimulator({ args: ['--vehicles', '1'], stopAfter: t });
  const info = await (await fetch(`${sim.apiBase}/negotiate`, { method: 'POST' })).json();
  const forged = info.accessToken.slice(0, -4) + (info.accessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const connection = hubConnection(info.url, {
    transport: 'WebSockets',
    options: { accessTokenFactory: () => forged },
    logLevel: 'None',
  });
  await assert.rejects(connection.start(), /401/);

  const res = await fetch(`http://127.0.0.1:${sim.servicePort}/client/negotiate?hub=telemetry&negotiateVersion=1`, {
    method: 'POST',
  });
  assert.equal(res.status, 401);
  assert.match((await res.json()).error, /no access token/i);
});
