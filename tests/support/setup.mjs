// The set-up the Node test files share, as hooks registered for the whole file: the release
// bundle on a plain static server, one headless Chromium, and one simulator for all of a file's
// tests. A test file states what it needs; starting and stopping is done here.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, startSimulator } from './simulator.mjs';
import { serveStatic } from './static-server.mjs';
import { launchBrowser, openPage } from './browser.mjs';

/** The release bundle under test (`trunk build --release`), or DIST_DIR. */
export const dist = process.env.DIST_DIR ?? path.join(repoRoot, 'dist');
/** Where screenshots go. */
export const outputDir = path.join(repoRoot, 'target', 'e2e');

/** The config.json shipped with the bundle. */
export const shippedConfig = () => JSON.parse(fs.readFileSync(path.join(dist, 'config.json'), 'utf8'));

// node:test starts a file's top-level `before` hook as soon as it is registered, without waiting
// for the ones registered earlier. Each set-up here waits for the one before it instead, so that
// a later one may use what an earlier one started (a second simulator the first one's connection
// string). Returns a promise that settles once this set-up has run, for a file's own hook.
let previousSetUp = Promise.resolve();
function beforeInTurn(setUp) {
  const previous = previousSetUp;
  let settle;
  const done = new Promise((resolve) => (settle = resolve));
  previousSetUp = done;
  before(async () => {
    try {
      await previous;
      await setUp();
    } finally {
      settle();
    }
  });
  return done;
}

/**
 * One simulator for the whole file: started in a `before` hook with `options` (startSimulator's,
 * just its flags, or a function giving them when the hook runs, as for options naming another
 * simulator of the file), stopped in an `after` hook. Returns the simulator, whose fields
 * (apiBase, servicePort, ...) are there once the hook has run, that is in every test.
 */
export function setupSimulator(options) {
  const sim = {};
  beforeInTurn(async () => {
    const given = typeof options === 'function' ? options() : options;
    Object.assign(sim, await startSimulator(Array.isArray(given) ? { args: given } : given));
  });
  after(() => sim.stop?.());
  return sim;
}

/**
 * Registers the file's `before` and `after` hooks and returns the dashboard they set up, whose
 * fields are there in every test (and in a `before` hook of the file's once it awaited `ready`):
 *  * `site`: the bundle served at `site.url`; `browser`: Chromium; `sim`: the file's simulator
 *    (see setupSimulator), only when `simulator` gives its flags or options.
 *  * `url(suffix, { apiBase, site })`: the page's address on `site` (or the file's), `?apiBase=`
 *    the file's simulator (or the `apiBase` given) and then `suffix`: more parameters
 *    (`&transport=longPolling`), a route (`#/fleet`), or both.
 *  * `open(suffix, { apiBase, site, prepare })`: a new window on that address (openPage: it
 *    records problems). `prepare(page)` runs before the page loads, for listeners and init
 *    scripts.
 *  * `serve({ config, prefix, root, closeAfter })`: the bundle (or the folder `root`) on a server
 *    of its own, with `config` as its config.json, closed when the test `closeAfter` ends (or
 *    with the file).
 */
export function setupDashboard({ simulator } = {}) {
  const closers = [];
  const dash = {
    site: undefined,
    browser: undefined,
    sim: simulator ? setupSimulator(simulator) : undefined,
    url(suffix = '', { apiBase = dash.sim?.apiBase, site = dash.site } = {}) {
      return `${site.url}?apiBase=${encodeURIComponent(apiBase)}${suffix}`;
    },
    async open(suffix = '', { apiBase, site, prepare } = {}) {
      const url = dash.url(suffix, { apiBase, site });
      if (!prepare) return openPage(dash.browser, url);
      const page = await openPage(dash.browser, 'about:blank');
      await prepare(page);
      await page.goto(url);
      return page;
    },
    async serve({ config, prefix = '/', root = dist, closeAfter } = {}) {
      const extra = config ? { [`${prefix}config.json`]: JSON.stringify(config) } : {};
      const site = await serveStatic(root, { prefix, extra });
      if (closeAfter) closeAfter.after(() => site.close());
      else closers.push(() => site.close());
      return site;
    },
  };

  dash.ready = beforeInTurn(async () => {
    assert.ok(fs.existsSync(path.join(dist, 'index.html')), `no release bundle in ${dist}: run trunk build --release`);
    fs.mkdirSync(outputDir, { recursive: true });
    dash.site = await serveStatic(dist);
    dash.browser = await launchBrowser();
  });

  after(async () => {
    await dash.browser?.close();
    await dash.site?.close();
    for (const close of closers) await close();
  });

  return dash;
}
