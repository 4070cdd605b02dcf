// Interop matrix: the official @microsoft/signalr client (under Node) against the simulator
// with each transport forced in turn, JSON and MessagePack, through the functions negotiate
// redirect. Data arrives, invoke/send reach the hub, streams flow and cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, waitFor } from '../support/simulator.mjs';
import { collect, hubConnection, signalR, startInAllSites } from '../support/hub-client.mjs';
import { setupSimulator } from '../support/setup.mjs';

const MATRIX = [
  ['WebSockets', 'json'],
  ['WebSockets', 'messagepack'],
  ['ServerSentEvents', 'json'],
  ['LongPolling', 'json'],
  ['LongPolling', 'messagepack'],
];

const sim = setupSimulator(['--vehicles', '6', '--rate', '5', '--poll-timeout-ms', '2000']);

for (const [transport, protocol] of MATRIX) {
  test(`official client over ${transport} with ${protocol}`, async (t) => {
    const connection = hubConnection(sim.apiBase, { transport, protocol, stopAfter: t });
    const { positions: batches, notified } = collect(connection, 'positions', 'notified');
    await startInAllSites(connection, sim.apiBase);
    assert.equal(connection.state, signalR.HubConnectionState.Connected);

    const ids = () => new Set(batches.flat().map((p) => p.id));
    await waitFor(() => ids().size === 6, { what: `every vehicle over ${transport}/${protocol}` });
    const position = batches.at(-1)[0];
    assert.match(position.id, /^veh-\d{5}$/);
    assert.equal(typeof position.lat, 'number');
    assert.ok(['moving', 'idle', 'stopped'].includes(position.state));

    assert.deepEqual(await connection.invoke('echo', { hello: 'wörld', n: [1, 2] }), { hello: 'wörld', n: [1, 2] });
    assert.equal(await connection.invoke('add', 2, 40), 42);
    await assert.rejects(connection.invoke('fail', 'boom'), /boom/);
    await assert.rejects(connection.invoke('noSuchMethod'), /Unknown hub method/);

    await connection.send('notify', 'sent over ' + transport);
    await waitFor(() => notified.length === 1, { what: 'notified after send' });
    assert.equal(notified[0], 'sent over ' + transport);

    const items = await new Promise((resolve, reject) => {
      const got = [];
      connection.stream('counter', 5, 5).subscribe({
        next: (item) => got.push(item),
        complete: () => resolve(got),
        error: reject,
      });
    });
    assert.deepEqual(items, [0, 1, 2, 3, 4]);

    // Cancelling a stream stops it: no items after dispose.
    const partial = [];
    const subscription = connection.stream('counter', 1000, 20).subscribe({
      next: (item) => partial.push(item),
      complete: () => {},
      error: () => {},
    });
    await waitFor(() => partial.length >= 2, { what: 'stream items before cancel' });
    subscription.dispose();
    const at = partial.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(partial.length <= at + 1, `the stream stopped (${at} → ${partial.length})`);
  });
}

test('MessagePack over Server-Sent Events is refused: SSE is text only', async (t) => {
  const connection = hubConnection(sim.apiBase, { transport: 'ServerSentEvents', protocol: 'messagepack', stopAfter: t });
  await assert.rejects(connection.start());
});

test('with WebSockets refused, the official client falls back to Server-Sent Events', async (t) => {
  const refusing = await startSimulator({ args: ['--vehicles', '2', '--refuse-transport', 'WebSockets'], stopAfter: t });
  const connection = hubConnection(refusing.apiBase, { logLevel: 'None', stopAfter: t });
  const { positions: batches } = collect(connection, 'positions');
  await startInAllSites(connection, refusing.apiBase);
  await waitFor(() => batches.length >= 1, { what: 'positions after fallback' });
  assert.equal(connection.connection.transport.constructor.name, 'ServerSentEventsTransport');
});

test('official client with stateful reconnect: cut transports lose and duplicate nothing', async (t) => {
  for (const protocol of ['json', 'messagepack']) {
    const connection = hubConnection(sim.apiBase, {
      transport: 'WebSockets',
      protocol,
      stateful: true,
      logLevel: 'None',
      stopAfter: t,
    });
    let closed = false;
    connection.onclose(() => {
      closed = true;
    });
    await connection.start();
    const id = connection.connectionId;
    const items = [];
    let cuts = 0;
    await new Promise((resolve, reject) => {
      connection.stream('counter', 60, 15).subscribe({
        next: (item) => {
          items.push(item);
          if (items.length % 15 === 5 && cuts < 3) {
            cuts += 1;
            connection.invoke('dropTransport').catch(() => {});
          }
        },
        complete: resolve,
        error: reject,
      });
    });
    assert.deepEqual(items, Array.from({ length: 60 }, (_, i) => i), `${protocol}: every item exactly once`);
    assert.equal(cuts, 3);
    assert.equal(closed, false, 'the connection never closed');
    assert.equal(connection.connectionId, id, 'the same connection throughout');
    await connection.stop();
  }
});
