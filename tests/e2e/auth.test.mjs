// Sign-in in headless Chromium against a real OpenID provider (oidc-provider, on loopback) and
// a simulator that requires its bearer tokens: an operator limited to one site signs in
// through the page (authorization code with PKCE), sees only that site's vehicles and devices,
// and acknowledges under the name the provider vouches for, on every page; a viewer's
// acknowledge button is greyed and says why; the access token, short-lived here, is renewed
// again and again without the live connection dropping; a refused sign-in is said with a way
// to try again; signing out ends the provider's session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { restToken, startSimulator, waitFor, sleep } from '../support/simulator.mjs';
import { assertNoCrash, openPage, text } from '../support/browser.mjs';
import { dist, setupDashboard } from '../support/setup.mjs';
import { serveStatic } from '../support/static-server.mjs';
import { startProvider, API_SCOPE } from '../support/oidc.mjs';

const AUDIENCE = 'api://iot-dashboard';
// Access tokens live 12 s: the page renews each after 9 s.
const TOKEN_SECONDS = 12;
const accounts = {
  alice: { name: 'Alice Operator', roles: ['operator'], sites: ['harbour'] },
  victor: { name: 'Victor Viewer', roles: ['viewer'], sites: ['harbour'] },
  // No `sites` claim and no access file: every site (the test's own view of the truth).
  root: { name: 'Root', roles: ['viewer'] },
};

const dash = setupDashboard();
let site;
let provider;
let sim;

// The site first (the provider must know its address as the redirect URI), its config.json
// written once the simulator is up (the server reads `extra` at each request).
const extra = {};

before(async () => {
  await dash.ready;
  site = await serveStatic(dist, { extra });
  provider = await startProvider({
    redirectUris: [site.url],
    postLogoutRedirectUris: [site.url],
    accessTokenTtl: TOKEN_SECONDS,
    accounts,
    audience: AUDIENCE,
  });
  sim = await startSimulator({
    args: ['--vehicles', '24', '--machines', '4', '--rigs', '2', '--no-geofences',
      '--oidc-issuer', provider.issuer, '--oidc-audience', AUDIENCE, '--oidc-leeway-seconds', '0'],
    // Its readiness checks sign in too.
    headers: async () => ({ authorization: `Bearer ${await provider.token('root')}` }),
  });
  extra['/config.json'] = JSON.stringify({
    apiBase: sim.apiBase,
    auth: { authority: provider.issuer, clientId: provider.clientId, scope: API_SCOPE },
  });
});

after(async () => {
  await site?.close();
  await sim?.stop();
  await provider?.stop();
});

/** A new window (cookies of its own) signed in as `account` through the provider's login page. */
async function signIn(account, suffix = '') {
  const page = await openPage(dash.browser, `${site.url}${suffix}`);
  await page.waitForURL((url) => url.href.startsWith(`${provider.issuer}/interaction/`), { timeout: 15000 });
  await page.locator('input[name="login"]').fill(account);
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  await page.waitForURL((url) => url.href.startsWith(site.url), { timeout: 15000 });
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: `${account} connected` });
  return page;
}

/** What the functions give an account, asked with a token the provider issued for it. */
async function snapshotOf(account) {
  const token = await provider.token(account);
  const answer = await fetch(`${sim.apiBase}/snapshot`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(answer.status, 200);
  return answer.json();
}

async function publishTo(group, alerts) {
  const url = `http://127.0.0.1:${sim.servicePort}/api/v1/hubs/telemetry/groups/${encodeURIComponent(group)}`;
  const answer = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${restToken(sim.accessKey, url)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'alerts', arguments: [alerts] }),
  });
  assert.equal(answer.status, 202);
}

test('an operator of one site signs in through the provider, sees only that site, and acknowledges under the verified name on every page', async () => {
  const all = await snapshotOf('root');
  const harbourVehicles = all.positions.filter((p) => p.site === 'harbour').map((p) => p.id).sort();
  // The registry lists the vehicles too: the equipment is the rest.
  const vehicles = new Set(all.positions.map((p) => p.id));
  const harbourDevices = all.devices.filter((d) => d.site === 'harbour' && !vehicles.has(d.id)).map((d) => d.id).sort();
  assert.ok(harbourVehicles.length > 0 && harbourVehicles.length < all.positions.length, 'harbour holds some vehicles, not all');
  assert.ok(harbourDevices.length > 0 && harbourDevices.length < all.devices.length - vehicles.size, 'harbour holds some devices, not all');

  const alice = await signIn('alice', '#/fleet');
  assert.equal(await text(alice, 'signed-in-user'), 'Alice Operator');
  assert.equal(await text(alice, 'signed-in-roles'), 'operator');
  // Back where she started, on that screen, the provider's answer gone from the address bar.
  assert.match(alice.url(), /#\/fleet$/);
  await waitFor(async () => (await alice.getByTestId('nav-fleet').getAttribute('aria-current')) === 'page', {
    what: 'the fleet screen shown, not the overview',
  });
  assert.doesNotMatch(alice.url(), /[?&](code|state)=/);
  // Only harbour's vehicles, every one of them.
  await waitFor(async () => (await alice.getByTestId('vehicle-row').count()) === harbourVehicles.length, {
    what: `${harbourVehicles.length} harbour vehicles`,
  });
  const shown = await alice.getByTestId('vehicle-row').evaluateAll((rows) => rows.map((r) => r.dataset.vehicleId).sort());
  assert.deepEqual(shown, harbourVehicles);
  // A few more seconds of live data bring no vehicle of another site.
  await sleep(3000);
  assert.equal(await alice.getByTestId('vehicle-row').count(), harbourVehicles.length);
  await alice.getByTestId('nav-equipment').click();
  await waitFor(async () => (await alice.getByTestId('equipment-card').count()) === harbourDevices.length, {
    what: `${harbourDevices.length} harbour devices`,
  });
  const cards = await alice.getByTestId('equipment-card').evaluateAll((cs) => cs.map((c) => c.dataset.deviceId).sort());
  assert.deepEqual(cards, harbourDevices);
  // No token in storage that outlives the page: nothing JWT-like in local or session storage.
  const stored = await alice.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
  assert.doesNotMatch(stored, /eyJ[\w-]+\.[\w-]+\./, 'no token in web storage');

  // A viewer of the same site sees the alarm, and cannot acknowledge it.
  const victor = await signIn('victor');
  assert.equal(await text(victor, 'signed-in-roles'), 'viewer');
  const id = `auth-${Date.now()}`;
  const device = harbourDevices[0];
  await publishTo('site:harbour', [{
    id, ts: Date.now(), device, site: 'harbour', severity: 'critical', metric: 'temperature',
    value: 120, threshold: 100, message: 'temperature high (sign-in test)',
  }]);
  const toastOf = (page) => page.locator(`[data-testid="toast"][data-device="${device}"]`);
  await waitFor(async () => (await toastOf(victor).count()) === 1, { what: 'the toast on the viewer\'s page' });
  const refused = toastOf(victor).getByTestId('toast-ack');
  assert.equal(await refused.isDisabled(), true, 'a viewer\'s acknowledge button is greyed');
  assert.match(await refused.getAttribute('title'), /Victor Viewer \(viewer\).*operator role/);

  await alice.getByTestId('nav-alerts').click();
  assert.match(await text(alice, 'acknowledging-as'), /Alice Operator/);
  assert.equal(await alice.getByTestId('operator').count(), 0, 'no name to type when signed in');
  await alice.getByTestId('nav-overview').click();
  await waitFor(async () => (await toastOf(alice).count()) === 1, { what: 'the toast on the operator\'s page' });
  await toastOf(alice).getByTestId('toast-ack').click();
  // Recorded under the provider's name, seen on both pages.
  for (const page of [alice, victor]) {
    await page.getByTestId('nav-alerts').click();
    const row = page.locator(`[data-testid="history-row"][data-alert-id="${id}"]`);
    await waitFor(async () => /acknowledged by Alice Operator/.test((await row.getByTestId('history-state').textContent()) ?? ''), {
      what: 'acknowledged by Alice Operator',
    });
  }
  for (const page of [alice, victor]) {
    assertNoCrash(page);
    await page.context().close();
  }
});

test('the access token is renewed again and again while the live connection stays up', async () => {
  const negotiations = [];
  const refusedCalls = [];
  const page = await openPage(dash.browser, 'about:blank');
  page.on('request', (request) => {
    if (request.url().includes('/negotiate')) negotiations.push(request.url());
  });
  page.on('response', (response) => {
    if (response.status() === 401) refusedCalls.push(response.url());
  });
  await page.goto(site.url);
  await page.waitForURL((url) => url.href.startsWith(`${provider.issuer}/interaction/`));
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  await waitFor(async () => (await text(page, 'connection-state')) === 'connected', { what: 'connected' });
  const negotiated = negotiations.length;
  // Three lifetimes of the access token, the connection state sampled all along.
  const states = new Set();
  const until = Date.now() + TOKEN_SECONDS * 3 * 1000;
  while (Date.now() < until) {
    states.add(await text(page, 'connection-state'));
    await sleep(250);
  }
  const probe = await page.evaluate(() => window.dashboardAuth());
  assert.ok(probe.renewals >= 3, `renewed ${probe.renewals} times in three lifetimes`);
  assert.ok(probe.expiresAt > Date.now(), 'the token held now is still good');
  assert.deepEqual([...states], ['connected'], 'the connection never dropped');
  assert.equal(negotiations.length, negotiated, 'no new negotiate: the same connection all along');
  // A functions call long after the first token ended goes through with the renewed one.
  await page.getByTestId('nav-alerts').click();
  await page.getByTestId('nav-health').click();
  await waitFor(async () => (await page.locator('[data-testid^="health-"][data-met]').count()) > 0, {
    what: 'the health screen computed from history',
  });
  assert.deepEqual(refusedCalls, [], 'no call was refused');
  assertNoCrash(page);
  await page.context().close();
});

test('a sign-in refused at the provider is said, with a way to sign in again', async () => {
  const page = await openPage(dash.browser, site.url);
  await page.waitForURL((url) => url.href.startsWith(`${provider.issuer}/interaction/`));
  // The provider's own page offers to cancel: the answer is `error=access_denied`.
  await page.getByText('Cancel').click();
  await page.waitForURL((url) => url.href.startsWith(site.url));
  await waitFor(async () => (await page.getByTestId('auth-problem').count()) === 1, { what: 'the problem said' });
  assert.match(await text(page, 'auth-problem'), /refused the sign-in: access_denied/);
  assert.notEqual(await text(page, 'connection-state'), 'connected');
  assert.doesNotMatch(page.url(), /error=/, 'the answer left the address bar');
  await page.getByTestId('sign-in-again').click();
  await page.waitForURL((url) => url.href.startsWith(`${provider.issuer}/interaction/`));
  assertNoCrash(page);
  await page.context().close();
});

test('signing out ends the provider\'s session: the page asks for a sign-in again', async () => {
  const page = await signIn('alice');
  await page.getByTestId('sign-out').click();
  await page.waitForURL((url) => url.href.startsWith(provider.issuer));
  // The provider asks to confirm.
  await page.locator('button[name="logout"]').click();
  // Back on the dashboard, which finds no session and goes to the login page.
  await page.waitForURL((url) => url.href.startsWith(`${provider.issuer}/interaction/`), { timeout: 15000 });
  assert.equal(await page.locator('input[name="login"]').count(), 1);
  await page.context().close();
});
