// Sign-in on the functions API against a real OpenID provider on loopback (oidc-provider,
// tests/support/oidc.mjs): the simulator runs with --oidc-issuer, --oidc-audience and --access,
// and every token here is issued by the provider itself (forged ones are signed with keys of
// our own on purpose). Run: node --test tests/e2e/auth-api.test.mjs (after cargo build -p
// simulator).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { restToken, sleep, startSimulator, waitFor } from '../support/simulator.mjs';
import { collect, hubConnection, signalR } from '../support/hub-client.mjs';
import { startProvider } from '../support/oidc.mjs';

const AUDIENCE = 'api://iot-dashboard';
const accounts = {
  // Roles and sites in the token.
  alice: { name: 'Alice Operator', roles: ['operator'], sites: ['harbour'] },
  // A viewer whose token has no sites claim: the access file's role entry gives them.
  victor: { name: 'Victor Viewer', roles: ['viewer'] },
  // No role in the token: the access file makes her an operator of old-town.
  olga: { name: 'Olga', roles: [] },
  // No role anywhere.
  nora: { name: 'Nora Nobody', roles: [], sites: ['harbour'] },
};
const access = {
  users: { olga: { roles: ['operator'], sites: ['old-town'] } },
  roles: { viewer: { sites: ['airport'] } },
};

let provider;
let sim;
const tokens = {};

before(async () => {
  provider = await startProvider({ redirectUris: ['http://127.0.0.1:9/callback'], accounts, audience: AUDIENCE });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-'));
  const accessFile = path.join(dir, 'access.json');
  fs.writeFileSync(accessFile, JSON.stringify(access));
  for (const name of Object.keys(accounts)) tokens[name] = await provider.token(name);
  sim = await startSimulator({
    args: [
      '--vehicles', '24', '--machines', '8', '--rigs', '4', '--history-minutes', '2', '--no-geofences',
      '--oidc-issuer', provider.issuer, '--oidc-audience', AUDIENCE, '--access', accessFile,
      '--oidc-leeway-seconds', '0', '--oidc-min-refetch-seconds', '1',
    ],
    headers: () => ({ authorization: `Bearer ${tokens.alice}` }),
  });
});

after(async () => {
  await sim?.stop();
  await provider?.stop();
});

const api = (pathAndQuery, { token, method = 'GET', body, headers = {} } = {}) =>
  fetch(`${sim.apiBase}${pathAndQuery}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });

const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

async function refused(answer, status, reason) {
  assert.equal(answer.status, status, `expected ${status}, got ${answer.status}: ${await answer.clone().text()}`);
  const body = await answer.json();
  assert.equal(body.status, status);
  assert.match(body.error, reason);
  return answer;
}

/** A hub connection of `user`'s (negotiated through the functions with their token). */
function connectionOf(user, t) {
  const connection = hubConnection(sim.apiBase, {
    transport: 'WebSockets',
    options: { accessTokenFactory: () => tokens[user] },
    stopAfter: t,
  });
  return connection;
}

/** Publishes `target(batch)` to `group` through the service's REST API, as a backend does. */
async function publish(pathAfterHub, target, batch) {
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry${pathAfterHub}`;
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target, arguments: [batch] }),
  });
  assert.equal(answer.status, 202, await answer.text());
}

test('an anonymous request is refused with 401, a reason and a Bearer challenge', async () => {
  for (const [route, method] of [['/snapshot', 'GET'], ['/negotiate', 'POST'], ['/history/alerts', 'GET'], ['/me', 'GET']]) {
    const answer = await refused(await api(route, { method }), 401, /sign-in required/);
    assert.match(answer.headers.get('www-authenticate'), /^Bearer realm="api:\/\/iot-dashboard"$/);
  }
  const basic = await refused(await api('/snapshot', { headers: { authorization: 'Basic YTpi' } }), 401, /Bearer <token>/);
  assert.match(basic.headers.get('www-authenticate'), /error="invalid_request"/);
});

test('a CORS preflight is answered without a token', async () => {
  const answer = await fetch(`${sim.apiBase}/snapshot`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://127.0.0.1:5173',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    },
  });
  assert.ok(answer.status >= 200 && answer.status < 300, `preflight answered ${answer.status}`);
  assert.equal(answer.headers.get('access-control-allow-origin'), 'http://127.0.0.1:5173');
  assert.match(answer.headers.get('access-control-allow-headers'), /authorization/i);
  // The refusal itself carries the CORS headers, so the page can read its reason.
  const denied = await api('/snapshot', { headers: { origin: 'http://127.0.0.1:5173' } });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('access-control-allow-origin'), 'http://127.0.0.1:5173');
});

test('an expired token is refused with 401', async () => {
  const short = await provider.token('alice', { ttl: 1 });
  assert.equal((await api('/me', { token: short })).status, 200, 'good while it lasts');
  await sleep(2200);
  const answer = await refused(await api('/me', { token: short }), 401, /expired/);
  assert.match(answer.headers.get('www-authenticate'), /error="invalid_token", error_description="the token expired/);
});

test('a token for another audience is refused with 401', async () => {
  const other = await provider.token('alice', { audience: 'api://other' });
  assert.equal(payloadOf(other).aud, 'api://other');
  await refused(await api('/snapshot', { token: other }), 401, /audience "api:\/\/other", not "api:\/\/iot-dashboard"/);
});

test('tokens signed by another key, or with alg none, are refused with 401', async () => {
  const claims = payloadOf(tokens.alice);
  const { privateKey } = await jose.generateKeyPair('ES256');
  const providerKid = provider.publicJwks.keys.find((k) => k.alg === 'ES256').kid;
  const forge = (kid) =>
    new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey);
  await refused(await api('/snapshot', { token: await forge('not-the-providers') }), 401, /key "not-the-providers" is not among/);
  await refused(await api('/snapshot', { token: await forge(providerKid) }), 401, /signature does not verify/);
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${tokens.alice.split('.')[1]}.`;
  await refused(await api('/snapshot', { token: none }), 401, /alg "none": only RS256 and ES256/);
  const [header, payload] = tokens.alice.split('.');
  const hs = `${Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url')}.${payload}`;
  const hmac = crypto.createHmac('sha256', JSON.stringify(provider.publicJwks)).update(hs).digest('base64url');
  await refused(await api('/snapshot', { token: `${hs}.${hmac}` }), 401, /alg "HS256"/);
  // A tampered payload under the provider's own signature.
  const tampered = { ...claims, sites: ['harbour', 'airport'] };
  const body = Buffer.from(JSON.stringify(tampered)).toString('base64url');
  await refused(await api('/snapshot', { token: `${header}.${body}.${tokens.alice.split('.')[2]}` }), 401, /signature/);
});

test('a valid token without a role is refused with 403 on every route', async () => {
  for (const route of ['/me', '/snapshot', '/catalog']) {
    await refused(await api(route, { token: tokens.nora }), 403, /no role: "viewer" or "operator" is needed/);
  }
});

test('/me says who the caller is, from the token and the access file', async () => {
  const alice = await (await api('/me', { token: tokens.alice })).json();
  assert.deepEqual(alice, {
    signedIn: true, userId: 'alice', name: 'Alice Operator', roles: ['operator'], sites: ['harbour'], mayOperate: true,
  });
  const victor = await (await api('/me', { token: tokens.victor })).json();
  assert.deepEqual(victor, {
    signedIn: true, userId: 'victor', name: 'Victor Viewer', roles: ['viewer'], sites: ['airport'], mayOperate: false,
  });
  const olga = await (await api('/me', { token: tokens.olga })).json();
  assert.deepEqual([olga.roles, olga.sites, olga.mayOperate], [['operator'], ['old-town'], true]);
});

test('snapshot, catalog, basemap and history hold only the caller\'s sites', async () => {
  const snapshot = await (await api('/snapshot', { token: tokens.alice })).json();
  assert.deepEqual(snapshot.sites, ['harbour']);
  assert.ok(snapshot.positions.length > 0 && snapshot.readings.length > 0, 'harbour has vehicles and machines');
  for (const item of [...snapshot.positions, ...snapshot.readings, ...snapshot.devices, ...snapshot.alerts]) {
    assert.equal(item.site, 'harbour', JSON.stringify(item));
  }
  const catalog = await (await api('/catalog', { token: tokens.alice })).json();
  assert.deepEqual(catalog.sites.map((s) => s.id), ['harbour']);
  assert.ok(catalog.devices.every((d) => d.site === 'harbour'));
  assert.ok(catalog.kinds.length > 0, 'the kinds stay');
  const basemap = await (await api('/basemap', { token: tokens.alice })).json();
  assert.ok(basemap.sites.every((s) => s.id === 'harbour'));
  // Victor sees airport only.
  const theirs = await (await api('/snapshot', { token: tokens.victor })).json();
  assert.deepEqual(theirs.sites, ['airport']);
  assert.ok(theirs.positions.every((p) => p.site === 'airport'));

  const ownMachine = { id: snapshot.readings[0].device };
  const otherMachine = { id: theirs.readings[0].device };
  const otherVehicle = { id: theirs.positions[0].id };
  assert.ok(ownMachine && otherMachine && otherVehicle, 'devices at both sites');
  const series = await api(`/history?device=${ownMachine.id}`, { token: tokens.alice });
  assert.equal(series.status, 200, await series.clone().text());
  await refused(await api(`/history?device=${otherMachine.id}`, { token: tokens.alice }), 403, /at site "airport", not among yours/);
  await refused(await api(`/history/track?vehicle=${otherVehicle.id}`, { token: tokens.alice }), 403, /not among yours/);
  const fleet = await (await api('/history/fleet', { token: tokens.alice })).json();
  const harbourVehicles = new Set(snapshot.positions.map((p) => p.id));
  assert.ok(fleet.ids.length > 0 && fleet.ids.every((id) => harbourVehicles.has(id)), 'only harbour vehicles replay');
  const named = await (await api(`/history/fleet?vehicles=${otherVehicle.id},${fleet.ids[0]}`, { token: tokens.alice })).json();
  assert.deepEqual(named.ids, [fleet.ids[0]], 'a vehicle of another site named is left out');
  const log = await (await api('/history/alerts', { token: tokens.alice })).json();
  assert.ok(log.events.filter((e) => e.alert).every((e) => e.alert.site === 'harbour'), 'only harbour alerts');
});

test('negotiate names the verified user in the client token, whatever the principal header says', async () => {
  const answer = await api('/negotiate', { token: tokens.alice, method: 'POST', headers: { 'x-ms-client-principal-id': 'mallory' } });
  assert.equal(answer.status, 200);
  const info = await answer.json();
  const claims = payloadOf(info.accessToken);
  assert.equal(claims.nameid, 'alice');
  assert.equal(claims['asrs.s.uid'], undefined);
});

test('a connection joins its own sites only, and receives only their data', async (t) => {
  const connection = connectionOf('alice', t);
  const received = collect(connection, 'positions', 'readings', 'direct');
  await connection.start();
  assert.equal(connection.state, signalR.HubConnectionState.Connected);
  const subscribe = (groups, token = tokens.alice) =>
    api('/subscriptions', { token, method: 'POST', body: { connectionId: connection.connectionId, groups } });
  await refused(await subscribe(['site:airport']), 403, /site "airport" is not among yours/);
  await refused(await subscribe(['site:harbour', 'site:old-town']), 403, /"old-town"/);
  const snapshot = await (await api('/snapshot', { token: tokens.victor })).json();
  const airportDevice = snapshot.devices.find((d) => d.site === 'airport');
  await refused(await subscribe([`device:${airportDevice.id}`]), 403, /not among yours/);
  const joined = await subscribe(['site:harbour']);
  assert.equal(joined.status, 200);
  assert.deepEqual((await joined.json()).groups, ['site:harbour']);
  // Another user naming this connection is refused, even for a site of theirs.
  await refused(await subscribe(['site:airport'], tokens.victor), 403, /belongs to another user/);
  // The hub's own methods cannot join groups either.
  await assert.rejects(connection.invoke('subscribe', ['site:airport']), /functions API/);

  await waitFor(() => received.positions.length >= 3 && received.readings.length >= 3, { what: 'harbour data' });
  await sleep(1500);
  for (const item of [...received.positions.flat(), ...received.readings.flat()]) {
    assert.equal(item.site, 'harbour', JSON.stringify(item));
  }
  // A send to the user reaches their connection: the client token named them.
  await publish('/users/alice', 'direct', { hello: 'alice' });
  await waitFor(() => received.direct.length === 1, { what: 'the /users/alice send' });
  assert.deepEqual(received.direct[0], { hello: 'alice' });
});

test('acknowledging records the token\'s name, not the body\'s; viewers may not act', async (t) => {
  const connection = connectionOf('alice', t);
  const received = collect(connection, 'alertAcknowledged', 'suppressed');
  await connection.start();
  const joined = await api('/subscriptions', {
    token: tokens.alice, method: 'POST', body: { connectionId: connection.connectionId, groups: ['site:harbour'] },
  });
  assert.equal(joined.status, 200);
  const snapshot = await (await api('/snapshot', { token: tokens.alice })).json();
  const machine = snapshot.readings[0];
  const id = `auth-test-${Date.now()}`;
  const alert = {
    id, ts: Date.now(), device: machine.device, site: 'harbour', severity: 'warning', metric: 'temperature',
    value: 95, threshold: 90, message: `${machine.device} temperature 95 °C is above 90 °C`,
  };
  await publish('/groups/site:harbour', 'alerts', [alert]);
  await waitFor(async () => (await (await api('/snapshot', { token: tokens.alice })).json()).alerts.some((a) => a.id === id), { what: 'the published alert' });

  // A viewer of another site, and an operator of another site, are refused.
  await refused(await api(`/alerts/${id}/ack`, { token: tokens.victor, method: 'POST', body: { by: 'victor' } }), 403, /a viewer may not acknowledge: the operator role is needed/);
  await refused(await api('/alerts/ack', { token: tokens.olga, method: 'POST', body: { ids: [id] } }), 403, /at site "harbour", not among yours/);
  const shelf = { kind: 'shelved', device: machine.device, metric: 'temperature', minutes: 5, reason: 'test' };
  await refused(await api('/suppressions', { token: tokens.victor, method: 'POST', body: shelf }), 403, /a viewer may not shelve/);

  const answer = await api(`/alerts/${id}/ack`, { token: tokens.alice, method: 'POST', body: { by: 'mallory' } });
  assert.equal(answer.status, 200, await answer.clone().text());
  assert.equal((await answer.json()).by, 'Alice Operator');
  await waitFor(() => received.alertAcknowledged.flat().some((a) => a.id === id), { what: 'the alertAcknowledged push' });
  assert.equal(received.alertAcknowledged.flat().find((a) => a.id === id).by, 'Alice Operator');
  await waitFor(async () => {
    const log = await (await api('/history/alerts', { token: tokens.alice })).json();
    return log.events.find((e) => e.id === id && e.change === 'acknowledged')?.by === 'Alice Operator';
  }, { what: 'the acknowledgement in the alert log, under the token\'s name' });
  // Another site's reader does not see it in the log.
  const victorLog = await (await api('/history/alerts', { token: tokens.victor })).json();
  assert.ok(!victorLog.events.some((e) => e.id === id), 'the harbour alert is not in the airport log');

  // Shelving, with no `by` at all: the token's name.
  const made = await api('/suppressions', { token: tokens.alice, method: 'POST', body: shelf });
  assert.equal(made.status, 200, await made.clone().text());
  const suppression = await made.json();
  assert.equal(suppression.by, 'Alice Operator');
  await waitFor(() => received.suppressed.flat().some((s) => s.id === suppression.id), { what: 'the suppressed push' });
  assert.ok(!(await (await api('/suppressions', { token: tokens.victor })).json()).some((s) => s.id === suppression.id));
  await refused(await api(`/suppressions/${suppression.id}`, { token: tokens.olga, method: 'DELETE' }), 403, /not among yours/);
  const ended = await api(`/suppressions/${suppression.id}`, { token: tokens.alice, method: 'DELETE', body: { by: 'mallory' } });
  assert.equal((await ended.json()).by, 'Alice Operator');
});

test('under sign-in, acknowledgements, shelves and geofences reach only their own site', async (t) => {
  // Alice sees the harbour, Olga the old town: each joins hers.
  const connections = {};
  const received = {};
  for (const [user, site] of [['alice', 'harbour'], ['olga', 'old-town']]) {
    const connection = connectionOf(user, t);
    received[user] = collect(connection, 'alertAcknowledged', 'suppressed', 'suppressionEnded', 'catalog', 'sentinel');
    await connection.start();
    const joined = await api('/subscriptions', {
      token: tokens[user], method: 'POST', body: { connectionId: connection.connectionId, groups: [`site:${site}`] },
    });
    assert.equal(joined.status, 200, await joined.clone().text());
    connections[user] = connection;
  }
  const oldTown = await (await api('/snapshot', { token: tokens.olga })).json();
  const machine = oldTown.readings[0].device;
  const id = `old-town-${Date.now()}`;
  const alert = {
    id, ts: Date.now(), device: machine, site: 'old-town', severity: 'warning', metric: 'temperature',
    value: 95, threshold: 90, message: 'an old-town alert',
  };
  await publish('/groups/site:old-town', 'alerts', [alert]);
  await waitFor(async () => (await (await api('/snapshot', { token: tokens.olga })).json()).alerts.some((a) => a.id === id), {
    what: 'the old-town alert',
  });
  const acked = await api('/alerts/ack', { token: tokens.olga, method: 'POST', body: { ids: [id] } });
  assert.equal(acked.status, 200, await acked.clone().text());
  const shelf = { kind: 'shelved', device: machine, metric: 'temperature', minutes: 5 };
  const made = await api('/suppressions', { token: tokens.olga, method: 'POST', body: shelf });
  assert.equal(made.status, 200, await made.clone().text());
  const suppression = await made.json();
  const ended = await api(`/suppressions/${suppression.id}`, { token: tokens.olga, method: 'DELETE' });
  assert.equal(ended.status, 200, await ended.clone().text());
  // A fence of the old town, saved by its operator.
  const fence = {
    id: `fence-${Date.now()}`, name: 'Old town yard', site: 'old-town',
    polygon: [{ lat: 47.37, lon: 8.54 }, { lat: 47.371, lon: 8.54 }, { lat: 47.371, lon: 8.541 }],
  };
  const saved = await api('/geofences', { token: tokens.olga, method: 'POST', body: fence });
  assert.equal(saved.status, 200, await saved.clone().text());
  const mine = received.olga;
  await waitFor(() => mine.alertAcknowledged.flat().some((a) => a.id === id), { what: 'the old town hearing of the acknowledgement' });
  await waitFor(() => mine.suppressed.length > 0, { what: 'the old town hearing of the shelf' });
  await waitFor(() => mine.suppressionEnded.length > 0, { what: 'the old town hearing of the shelf ended' });
  await waitFor(() => mine.catalog.some((c) => c.geofences?.some((g) => g.id === fence.id)), { what: 'the old town hearing of its fence' });
  // A sentinel sent to everyone after them: once the harbour has it, anything before it is in.
  await publish('', 'sentinel', { after: id });
  await waitFor(() => received.alice.sentinel.length === 1, { what: 'the sentinel at the harbour' });
  for (const target of ['alertAcknowledged', 'suppressed', 'suppressionEnded']) {
    assert.deepEqual(received.alice[target], [], `the harbour heard nothing of the old town's ${target}`);
  }
  assert.ok(!received.alice.catalog.some((c) => c.geofences?.some((g) => g.id === fence.id)), 'nor of its fence');
});

test('a key the simulator has not seen yet is fetched and accepted after the provider rotates', async () => {
  const [ecKid] = provider.rotateKeys();
  await sleep(1200); // past --oidc-min-refetch-seconds since the last fetch
  const fresh = await provider.token('alice', { kid: ecKid });
  assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0], 'base64url')).kid, ecKid);
  const answer = await api('/me', { token: fresh });
  assert.equal(answer.status, 200, await answer.clone().text());
  assert.equal((await answer.json()).userId, 'alice');
  // RS256 tokens of the provider pass as well.
  const rs = await provider.token('victor', { alg: 'RS256' });
  assert.equal((await api('/me', { token: rs })).status, 200);
});

test('a token from the provider\'s own authorization code flow (PKCE) is accepted, and refreshed', async () => {
  const redirect = 'http://127.0.0.1:9/callback';
  const jar = new Map();
  const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res) => {
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
  };
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({
    client_id: provider.clientId, response_type: 'code', redirect_uri: redirect, scope: 'openid profile telemetry',
    code_challenge: challenge, code_challenge_method: 'S256', state: 's1',
  });
  let url = `${provider.issuer}/auth?${query}`;
  for (let hop = 0; hop < 8 && !url.startsWith(redirect); hop++) {
    let res = await fetch(url, { redirect: 'manual', headers: { cookie: cookies() } });
    keep(res);
    if (res.status === 200) {
      // The login form: the account id in `login`, any password.
      const html = await res.text();
      const action = /action="([^"]+)"/.exec(html)[1];
      assert.match(html, /name="login"/);
      const form = new URLSearchParams({ prompt: 'login', login: 'alice', password: 'anything' });
      res = await fetch(new URL(action, url), { method: 'POST', body: form, redirect: 'manual', headers: { cookie: cookies() } });
      keep(res);
    }
    url = new URL(res.headers.get('location'), url).href;
  }
  const code = new URL(url).searchParams.get('code');
  assert.ok(code, `redirected back with a code (${url})`);
  const token = async (form) => {
    const res = await fetch(`${provider.issuer}/token`, { method: 'POST', body: new URLSearchParams(form), headers: { origin: 'http://127.0.0.1:5173' } });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://127.0.0.1:5173');
    return res.json();
  };
  const first = await token({ grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: provider.clientId, code_verifier: verifier });
  assert.ok(first.refresh_token, 'a refresh token for the dashboard');
  assert.equal((await (await api('/me', { token: first.access_token })).json()).name, 'Alice Operator');
  const renewed = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: provider.clientId });
  assert.notEqual(renewed.access_token, first.access_token);
  assert.equal((await api('/snapshot', { token: renewed.access_token })).status, 200);
});
