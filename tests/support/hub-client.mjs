// The official @microsoft/signalr client, under Node, as the interop tests build it.
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { subscribeAllSites } from './simulator.mjs';

export { signalR };

/**
 * A connection (not started) to `url`: over `transport` (a HttpTransportType name; without it
 * the client chooses), with `protocol` 'json' or 'messagepack', stateful reconnect if
 * `stateful`, logging at `logLevel` (a LogLevel name, default Warning), more withUrl options in
 * `options`.
 * With `stopAfter` (a test's context), it is stopped when that test ends.
 */
export function hubConnection(
  url,
  { transport, protocol = 'json', stateful = false, logLevel = 'Warning', options = {}, stopAfter } = {},
) {
  const withUrl = transport ? { transport: signalR.HttpTransportType[transport], ...options } : options;
  let builder = new signalR.HubConnectionBuilder().withUrl(url, withUrl).configureLogging(signalR.LogLevel[logLevel]);
  if (stateful) builder = builder.withStatefulReconnect();
  if (protocol === 'messagepack') builder = builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  stopAfter?.after(() => connection.stop());
  return connection;
}

/** Starts `connection` and joins it to every site's group through the functions at `apiBase`. */
export async function startInAllSites(connection, apiBase) {
  await connection.start();
  await subscribeAllSites(apiBase, connection.connectionId);
}

/** What `connection` receives, by target: `received.positions` is the list of its batches. */
export function collect(connection, ...targets) {
  const received = Object.fromEntries(targets.map((target) => [target, []]));
  // A handler returns nothing: a value would be taken for a client result the service did not ask for.
  for (const target of targets) connection.on(target, (batch) => void received[target].push(batch));
  return received;
}
