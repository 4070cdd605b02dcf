// Sign-in on a developer's machine, with no cloud account: a real OpenID provider
// (oidc-provider, the same one the tests sign in against) on loopback, and the dashboard's
// release bundle served with a config.json that signs in with it. scripts/run.sh starts this
// instead of `trunk serve` when SIGN_IN=1, and starts the simulator with --oidc-issuer.
//
//   node scripts/sign-in-demo.mjs --port 8080 --issuer-port 9090 --api-base http://127.0.0.1:7071/api
//
// Accounts (any password): alice (operator of the harbour), victor (viewer of the harbour and
// the airport), olga (operator of every site).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProvider, API_SCOPE } from '../tests/support/oidc.mjs';
import { serveStatic } from '../tests/support/static-server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const port = Number(option('port', '8080'));
const issuerPort = Number(option('issuer-port', '9090'));
const apiBase = option('api-base', 'http://127.0.0.1:7071/api');
const audience = option('audience', 'api://iot-dashboard');

export const ACCOUNTS = {
  alice: { name: 'Alice (operator, harbour)', roles: ['operator'], sites: ['harbour'] },
  victor: { name: 'Victor (viewer, harbour and airport)', roles: ['viewer'], sites: ['harbour', 'airport'] },
  olga: { name: 'Olga (operator, every site)', roles: ['operator'] },
};

const site = `http://127.0.0.1:${port}/`;
const provider = await startProvider({
  redirectUris: [site],
  postLogoutRedirectUris: [site],
  accounts: ACCOUNTS,
  audience,
  port: issuerPort,
});
const config = { apiBase, auth: { authority: provider.issuer, clientId: provider.clientId, scope: API_SCOPE } };
const dashboard = await serveStatic(path.join(root, 'dist'), { extra: { '/config.json': JSON.stringify(config) }, port });
console.log(`sign-in provider: ${provider.issuer} (accounts: ${Object.keys(ACCOUNTS).join(', ')}; any password)`);
console.log(`dashboard: ${site} (config.json: ${JSON.stringify(config)})`);
const stop = async () => {
  await dashboard.close();
  await provider.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
