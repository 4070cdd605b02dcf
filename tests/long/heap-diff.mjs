// Diagnostic: which objects does a screen change leave behind? Two heap snapshots, counts by
// constructor name, the biggest growth first. Not a test.
import path from 'node:path';
import { repoRoot, startSimulator, waitFor, sleep } from '../support/simulator.mjs';
import { serveStatic } from '../support/static-server.mjs';
import { launchBrowser, openPage } from '../support/browser.mjs';

const [a, b] = (process.argv[2] ?? 'fleet-alerts').split('-');
const site = await serveStatic(process.env.DIST_DIR ?? path.join(repoRoot, 'dist'));
const browser = await launchBrowser();
const sim = await startSimulator({ args: ['--vehicles', '50', '--rate', '1'] });
const page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}`);
await waitFor(async () => (await page.getByTestId('connection-state').textContent()) === 'connected', { what: 'connected' });
const cdp = await page.context().newCDPSession(page);
async function census() {
  await cdp.send('HeapProfiler.collectGarbage');
  let chunks = '';
  const onChunk = (e) => (chunks += e.chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  const snap = JSON.parse(chunks);
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const n = f.length;
  const counts = new Map();
  for (let i = 0; i < snap.nodes.length; i += n) {
    const key = `${types[snap.nodes[i + f.indexOf('type')]]}:${snap.strings[snap.nodes[i + f.indexOf('name')]]}`.slice(0, 80);
    const c = counts.get(key) ?? [0, 0];
    c[0] += 1;
    c[1] += snap.nodes[i + f.indexOf('self_size')];
    counts.set(key, c);
  }
  return counts;
}
const round = async () => {
  await page.getByTestId(`nav-${a}`).click();
  await sleep(300);
  await page.getByTestId(`nav-${b}`).click();
  await sleep(500);
};
for (let i = 0; i < 5; i += 1) await round();
const before = await census();
for (let i = 0; i < 20; i += 1) await round();
const after = await census();
const growth = [...after].map(([k, [c, s]]) => [k, c - (before.get(k)?.[0] ?? 0), s - (before.get(k)?.[1] ?? 0)]);
growth.sort((x, y) => y[2] - x[2]);
for (const [k, c, s] of growth.slice(0, 25)) console.log(`${String(s).padStart(9)} B ${String(c).padStart(6)} × ${k}`);
await browser.close();
await site.close();
await sim.stop();
