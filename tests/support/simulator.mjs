// Starting the simulator (and other helpers) for Node-side tests: free loopback ports,
// a child process that is always killed when the test ends, and readiness by polling.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const simulatorBin = process.env.SIMULATOR_BIN ?? path.join(repoRoot, 'target', 'debug', 'simulator');

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(check, { timeoutMs = 15000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`);
}

/**
 * Starts the simulator on fresh ports. Returns { functionsPort, servicePort, apiBase,
 * connectionString, accessKey, output(), stop() }. Extra flags go in `args`; `connectionString`
 * names another service (then `servicePort` is that one's only if the caller says so). With
 * `stopAfter` (a test's context), it is stopped when that test ends. `headers` (an object, or a
 * function giving one, maybe a promise) go with the readiness requests: a simulator that
 * requires sign-in answers them only with `authorization`.
 */
export async function startSimulator({
  args = [],
  functionsPort,
  servicePort,
  connectionString,
  stopAfter,
  headers = {},
} = {}) {
  functionsPort ??= await freePort();
  servicePort ??= await freePort();
  let accessKey = 'TestOnlyAccessKey-' + Math.random().toString(36).slice(2);
  if (connectionString) {
    // Another service's connection string (with --remote-service).
    accessKey = /AccessKey=([^;]*)/.exec(connectionString)[1];
  } else {
    connectionString = `Endpoint=http://127.0.0.1:${servicePort};AccessKey=${accessKey};Version=1.0;`;
  }
  const child = spawn(
    // Read at call time: a script may choose the binary after its imports ran.
    process.env.SIMULATOR_BIN ?? simulatorBin,
    ['--functions-port', String(functionsPort), '--connection-string', connectionString, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const apiBase = `http://127.0.0.1:${functionsPort}/api`;
  const sim = {
    functionsPort,
    servicePort,
    apiBase,
    connectionString,
    accessKey,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  try {
    // Ready: negotiate answers, and the devices have a current state (after the history's
    // backfill, which the simulator runs before its devices go live).
    const ready = waitFor(
      async () => {
        const given = typeof headers === 'function' ? await headers() : headers;
        const res = await fetch(`${apiBase}/negotiate`, { method: 'POST', headers: given });
        if (!res.ok) return false;
        const snapshot = await (await fetch(`${apiBase}/snapshot`, { headers: given })).json();
        return snapshot.devices.length === 0 || snapshot.positions.length + snapshot.readings.length > 0;
      },
      { timeoutMs: 60000, what: 'the simulator to answer negotiate and hold its devices\' state' },
    );
    // A simulator that refuses its flags exits at once: say why without waiting out the poll.
    let settled = false;
    const early = exited.then((code) => {
      if (!settled) throw new Error(`simulator exited (${code}): ${output}`);
    });
    try {
      await Promise.race([ready, early]);
    } finally {
      settled = true;
      ready.catch(() => {});
      early.catch(() => {});
    }
  } catch (error) {
    await sim.stop();
    throw error;
  }
  stopAfter?.after(() => sim.stop());
  return sim;
}

/**
 * Joins every site's group with a connected client, through the functions API (data is
 * published to site groups, as in a serverless deployment).
 */
export async function subscribeAllSites(apiBase, connectionId) {
  const { sites } = await (await fetch(`${apiBase}/snapshot`)).json();
  const answer = await fetch(`${apiBase}/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ connectionId, groups: sites.map((site) => `site:${site}`) }),
  });
  if (!answer.ok) throw new Error(`subscription failed: HTTP ${answer.status} ${await answer.text()}`);
}

/** An HS256 JWT signed with the AccessKey, as any backend holding the connection string makes it. */
export function restToken(accessKey, audience, lifetimeSeconds = 60) {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ aud: audience, exp: Math.floor(Date.now() / 1000) + lifetimeSeconds })}`;
  const signature = crypto.createHmac('sha256', accessKey).update(body).digest('base64url');
  return `${body}.${signature}`;
}
