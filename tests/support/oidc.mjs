// A real OpenID provider on loopback for the sign-in tests: `oidc-provider` (the certified
// implementation, from npm), configured as a company's identity provider would be for the
// dashboard. No token here is made by hand: every access token is issued by the provider's own
// code and signed with its own keys, whether through the authorization code flow in a browser
// or through `token()` below (the provider's AccessToken model, for the API tests).
//
// What it offers:
//  * the public client `dashboard` (no secret, `token_endpoint_auth_method: none`), grant
//    types `authorization_code` and `refresh_token`, response type `code`, PKCE with S256
//    required, the `redirectUris` and `postLogoutRedirectUris` given;
//  * the scopes `openid profile offline_access` and the API's scope `telemetry`;
//  * JWT access tokens (`typ: at+jwt`) for the API audience (`audience`, by default
//    `api://iot-dashboard`; `api://other` is a second resource for wrong-audience tests),
//    carrying `roles`, `sites` and `name` of the account; the id token and userinfo carry
//    the same claims (scope `profile`);
//  * refresh tokens for `dashboard` whenever it redeems a code (with or without
//    `offline_access`, which the provider only honours with `prompt=consent`), so a page can
//    renew its access token silently at the token endpoint;
//  * a JWKS with an EC P-256 key (ES256) and an RSA key (RS256, also the id tokens'),
//    generated at start; `rotateKeys()` publishes a fresh key of each kind, first;
//  * CORS at the token, userinfo and revocation endpoints for loopback origins.
//
// The browser flow (devInteractions, the provider's built-in pages):
//  1. the page redirects to `${issuer}/auth?client_id=dashboard&response_type=code&
//     redirect_uri=...&scope=openid profile telemetry&code_challenge=...&
//     code_challenge_method=S256&state=...` (a `resource` parameter is not needed: the API
//     audience is the default resource);
//  2. the login page `${issuer}/interaction/<uid>` has a form with a text input
//     `name="login"` (the account id, e.g. `alice`: only the accounts given are known) and a
//     password input `name="password"` (anything non-empty), submitted by the button
//     "Sign-in" (`button[type=submit]`);
//  3. there is no consent page for `dashboard`: `loadExistingGrant` grants it every scope at
//     once (a first-party client), so the provider redirects to the redirect URI with `code`;
//  4. the page redeems the code at `${issuer}/token` (POST form: grant_type=authorization_code,
//     code, redirect_uri, client_id=dashboard, code_verifier) and later renews with
//     grant_type=refresh_token, refresh_token, client_id=dashboard (the refresh token is
//     rotated: each answer carries a new one);
//  5. sign-out: `${issuer}/session/end?client_id=dashboard&post_logout_redirect_uri=...`
//     (the provider asks "Do you want to sign-out": button `name="logout"` "Yes, sign me out").
// The cookies are plain `SameSite=Lax` ones without `Secure`, so they work over http on
// loopback.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

/** The API's scope at the provider. */
export const API_SCOPE = 'telemetry';
/** A second resource the provider issues tokens for (a token for another API). */
export const OTHER_AUDIENCE = 'api://other';

const isLoopbackOrigin = (origin) => {
  const url = URL.parse(origin);
  return !!url && ['http:', 'https:'].includes(url.protocol) && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
};

/** A new signing key pair as a private JWK with its `kid`, `alg` and `use`. */
function signingKey(alg) {
  const { privateKey } =
    alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

/** The public half of a private JWK. */
function publicJwk({ d, p, q, dp, dq, qi, ...rest }) {
  return rest;
}

/**
 * Starts the provider on 127.0.0.1 and `port` (a free one by default). `accounts` maps account ids (what the login
 * form takes, and the tokens' `sub`) to `{ name, roles, sites }`; `sites` may be left out (the
 * token then has no `sites` claim). Returns:
 *  * `issuer` (`http://127.0.0.1:PORT`), `clientId` (`dashboard`), `audience`;
 *  * `token(accountId, { ttl, audience, alg, kid, scope })`: an access token for that account,
 *    issued by the provider's AccessToken model exactly as its token endpoint issues them
 *    (the same claims, `iss`, `aud`, `exp`, and signature);
 *  * `publicJwks`: the keys it publishes now (`{ keys: [...] }`);
 *  * `rotateKeys()`: publishes a new EC and a new RSA key ahead of the old ones (which stay
 *    published) and signs with the new ones from then on; answers the new kids;
 *  * `stop()`.
 */
export async function startProvider({
  redirectUris,
  postLogoutRedirectUris = [],
  accessTokenTtl = 300,
  accounts,
  audience = 'api://iot-dashboard',
  alg = 'ES256',
  port = 0,
}) {
  if (!accounts || typeof accounts !== 'object') throw new TypeError('startProvider needs `accounts`');
  let keys = [signingKey('ES256'), signingKey('RS256')];
  const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
  const resources = new Set([audience, OTHER_AUDIENCE]);

  const server = http.createServer((req, res) => current.callback()(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const claimsOf = (accountId) => {
    const account = accounts[accountId];
    if (!account) return undefined;
    const claims = { name: account.name, preferred_username: accountId, roles: account.roles ?? [] };
    if (account.sites !== undefined) claims.sites = account.sites;
    return claims;
  };

  const resourceServer = (indicator, { ttl = accessTokenTtl, signWith = alg, kid } = {}) => ({
    scope: API_SCOPE,
    audience: indicator,
    accessTokenTTL: ttl,
    accessTokenFormat: 'jwt',
    jwt: { sign: kid ? { alg: signWith, kid } : { alg: signWith } },
  });

  const configuration = () => ({
    clients: [
      {
        client_id: 'dashboard',
        client_name: 'IoT dashboard',
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        post_logout_redirect_uris: postLogoutRedirectUris,
      },
    ],
    jwks: { keys },
    cookies: { keys: cookieKeys },
    scopes: ['openid', 'profile', 'offline_access', API_SCOPE],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'roles', 'sites'] },
    // The id token carries the profile claims too (the access token is for the API, not for
    // userinfo).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      const claims = claimsOf(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    async extraTokenClaims(_ctx, token) {
      if (!token.accountId) return undefined;
      const { name, roles, sites } = claimsOf(token.accountId) ?? {};
      return { name, roles, ...(sites !== undefined ? { sites } : {}) };
    },
    // A first-party client: no consent page. The grant it gets holds every scope at once.
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (client.clientId !== 'dashboard') return grant;
      grant ??= new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(`openid profile offline_access ${API_SCOPE}`);
      grant.addOIDCClaims(['name', 'preferred_username', 'roles', 'sites']);
      for (const resource of resources) grant.addResourceScope(resource, API_SCOPE);
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (_ctx, client) => client.clientId === 'dashboard' && client.grantTypeAllowed('refresh_token'),
    clientBasedCORS: (_ctx, origin) => isLoopbackOrigin(origin),
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (!resources.has(indicator)) throw new errors.InvalidTarget();
          return resourceServer(indicator);
        },
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
    },
  });

  const build = () => {
    const provider = new Provider(issuer, configuration());
    // Errors a test provokes on purpose (a refused grant) are answered, not logged.
    provider.on('server_error', (_ctx, error) => console.error('oidc-provider:', error));
    return provider;
  };
  let current = build();

  const sockets = new Set();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    issuer,
    clientId: 'dashboard',
    audience,
    get publicJwks() {
      return { keys: keys.map(publicJwk) };
    },
    async token(accountId, { ttl = accessTokenTtl, audience: aud = audience, alg: signWith = alg, kid, scope = API_SCOPE } = {}) {
      if (!accounts[accountId]) throw new Error(`no account ${accountId}`);
      const client = await current.Client.find('dashboard');
      const token = new current.AccessToken({
        accountId,
        client,
        scope,
        expiresIn: ttl,
        gty: 'authorization_code',
        resourceServer: new current.ResourceServer(aud, resourceServer(aud, { ttl, signWith, kid })),
      });
      return token.save();
    },
    rotateKeys() {
      const fresh = [signingKey('ES256'), signingKey('RS256')];
      keys = [...fresh, ...keys];
      current = build();
      return fresh.map((key) => key.kid);
    },
    async stop() {
      await new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
