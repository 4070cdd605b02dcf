// Frame-time benchmark of the fleet map (not a test: it prints figures and asserts nothing).
//
//   node tests/bench/fleet-map-frames.mjs [--sizes 1000,5000,10000] [--seconds 10] [--trails]
//
// Needs the release build in dist/ (`trunk build --release`) and the release simulator
// (`cargo build --release -p simulator`). For each size it starts the simulator with that many
// vehicles at 1 Hz, opens the Fleet screen in headless Chromium with the whole fleet in view,
// waits until every vehicle is on the map, then counts animation frames for the measured
// seconds: frames delivered per second, frame-delta p50 / p95 / max and frames longer than
// 50 ms (the budget in DESIGN.md: ≥ 55 frames/s and none longer than 50 ms at 10,000). In the
// same run, stock Leaflet 1.9.4 (canvas renderer, one circleMarker per vehicle, each moved once
// a second) gives the floor to compare with.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot, startSimulator, waitFor, sleep } from '../support/simulator.mjs';
import { serveStatic } from '../support/static-server.mjs';
import { launchBrowser, openPage } from '../support/browser.mjs';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000,10000' },
    seconds: { type: 'string', default: '10' },
    trails: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const seconds = Number(values.seconds);
process.env.SIMULATOR_BIN ??= path.join(repoRoot, 'target', 'release', 'simulator');

/** Counts frames in the page for `seconds` and returns the deltas (ms). */
async function frameDeltas(page) {
  return page.evaluate(
    (ms) =>
      new Promise((resolve) => {
        const stamps = [];
        const start = performance.now();
        const tick = (t) => {
          stamps.push(t);
          if (t - start < ms) requestAnimationFrame(tick);
          else resolve(stamps.slice(1).map((s, i) => s - stamps[i]));
        };
        requestAnimationFrame(tick);
      }),
    seconds * 1000,
  );
}

function summary(deltas) {
  const sorted = [...deltas].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const total = deltas.reduce((a, b) => a + b, 0);
  return {
    fps: (deltas.length / total) * 1000,
    p50: at(0.5),
    p95: at(0.95),
    max: sorted[sorted.length - 1],
    over50: deltas.filter((d) => d > 50).length,
  };
}

const line = (name, n, s) =>
  `${name.padEnd(22)} ${String(n).padStart(6)}  ${s.fps.toFixed(1).padStart(6)} fps  p50 ${s.p50.toFixed(1).padStart(5)} ms` +
  `  p95 ${s.p95.toFixed(1).padStart(5)} ms  max ${s.max.toFixed(1).padStart(6)} ms  >50 ms: ${s.over50}`;

// Stock Leaflet with the same vehicles: one L.circleMarker each on the canvas renderer, every
// marker moved once a second (a quarter of them every 250 ms, as batches arrive per site).
const STOCK = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/vendor/leaflet/leaflet.css"><script src="/vendor/leaflet/leaflet.js"></script>
<style>html,body{margin:0;height:100%}#map{height:100%;background:#1c2630}</style></head>
<body><div id="map"></div><script>
const n = Number(new URLSearchParams(location.search).get('n'));
const map = L.map('map', { preferCanvas: true }).setView([47.3769, 8.5417], 12);
const markers = [];
for (let i = 0; i < n; i++) {
  const a = (i / n) * Math.PI * 2, r = 0.01 + (i % 97) / 1000;
  markers.push(L.circleMarker([47.3769 + r * Math.sin(a), 8.5417 + r * Math.cos(a)], { radius: 5 }).addTo(map));
}
let phase = 0;
setInterval(() => {
  phase += 1;
  for (let i = phase % 4; i < n; i += 4) {
    const p = markers[i].getLatLng();
    markers[i].setLatLng([p.lat + (Math.random() - 0.5) * 1e-4, p.lng + (Math.random() - 0.5) * 1e-4]);
  }
}, 250);
window.ready = true;
</script></body></html>`;

const site = await serveStatic(path.join(repoRoot, 'dist'), { extra: { '/stock-leaflet.html': STOCK } });
const browser = await launchBrowser();
console.log(`fleet map frame times, ${seconds} s per run, headless Chromium (${browser.version()})${values.trails ? ', trails for all' : ''}`);
try {
  for (const n of sizes) {
    const sim = await startSimulator({ args: ['--vehicles', String(n), '--rate', '1', '--machines', '0', '--rigs', '0'] });
    try {
      const page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}#/fleet`);
      await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === String(n), {
        timeoutMs: 60000,
        what: `${n} vehicles on the map`,
      });
      if (values.trails) await page.getByTestId('trails-all').check();
      await page.getByTestId('fit-fleet').click();
      await sleep(2000);
      console.log(line('dashboard (this repo)', n, summary(await frameDeltas(page))));
      await page.context().close();
    } finally {
      await sim.stop();
    }
    const stock = await openPage(browser, `${site.url}stock-leaflet.html?n=${n}`);
    await waitFor(() => stock.evaluate(() => window.ready === true), { what: 'stock Leaflet page' });
    await sleep(2000);
    console.log(line('stock Leaflet canvas', n, summary(await frameDeltas(stock))));
    await stock.context().close();
  }
} finally {
  await browser.close();
  await site.close();
}
