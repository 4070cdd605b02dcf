// The benchmark suite: every budget of DESIGN.md measured the same way each time, in headless
// Chromium against the release simulator, with a peer in the same run where one exists.
//
//   scripts/bench.sh                  # builds, runs everything, rewrites BENCHMARKS.md
//   node tests/bench/suite.mjs --quick --out target/bench/BENCHMARKS.md   # seconds, for tests
//   node tests/bench/suite.mjs --only map,decode   # some sections (size, first, history,
//                                                  # store, replay, decode, latency, map,
//                                                  # ingest, soak)
//   node tests/bench/suite.mjs --only map --trails # the map with trails for all
//
// Figures come from the page itself: `window.dashboardMetrics()` (latency from each datum's
// device timestamp to applied state, counts, wasm memory), requestAnimationFrame timestamps,
// `performance.memory`, and the app's own decode path exported for timing. Nothing here
// asserts a time: the output is the report.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { repoRoot, startSimulator, waitFor, sleep } from '../support/simulator.mjs';
import { serveStatic } from '../support/static-server.mjs';
import { launchBrowser, openPage } from '../support/browser.mjs';

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(repoRoot, 'BENCHMARKS.md') },
    only: { type: 'string', default: 'size,first,history,store,replay,decode,latency,map,ingest,soak' },
    'soak-minutes': { type: 'string' },
    trails: { type: 'boolean', default: false },
    // The fleet sizes of the map section, e.g. `--sizes 100000`.
    sizes: { type: 'string' },
  },
});
const quick = options.quick;
const sections = new Set(options.only.split(','));
const dist = process.env.DIST_DIR ?? path.join(repoRoot, 'dist');
process.env.SIMULATOR_BIN ??= path.join(repoRoot, 'target', 'release', 'simulator');
const soakMinutes = Number(options['soak-minutes'] ?? (quick ? 0.25 : 10));

const log = (...args) => console.log(...args);
const fmt = (n, digits = 1) => (n == null || Number.isNaN(n) ? 'n/a' : Number(n).toFixed(digits));
const thousands = (n) => Math.round(n).toLocaleString('en-US');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One row of the summary table. */
const rows = [];
/** One budget's row; `why` says, for a budget not met, what the measurements show. */
function budget(what, target, figure, met, peer = '', ratio = '', why = '') {
  rows.push({ what, target, figure, met, peer, ratio, why });
  log(`  ${met ? 'met ' : 'MISS'}  ${what}: ${figure}${peer ? ` (peer ${peer}, ratio ${ratio})` : ''}`);
}
const details = [];

// --- the files the browser downloads -----------------------------------------------------------
function transferSizes() {
  const gzip = (file) => zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length;
  const ours = { wasm: 0, js: 0, css: 0 };
  for (const name of fs.readdirSync(dist)) {
    const ext = path.extname(name).slice(1);
    if (ext in ours) ours[ext] += gzip(path.join(dist, name));
  }
  const leafletDir = path.join(dist, 'vendor', 'leaflet');
  const leaflet = gzip(path.join(leafletDir, 'leaflet.js')) + gzip(path.join(leafletDir, 'leaflet.css'));
  const total = ours.wasm + ours.js + ours.css;
  budget('transfer size, our wasm + JS + CSS, gzip', '≤ 250 KB', `${fmt(total / 1024)} KB`, total <= 250 * 1024, '', '',
    'by crate, Leptos (91 KB compressed), the share of Rust\'s core and alloc (82 KB) and serde_json (28 KB) come to about ' +
    '200 KB before any of our own code; the SignalR client and the dashboard take 101 KB (docs/performance-notes.md, ' +
    'with the table and what was cut: our own MessagePack codec instead of rmp-serde, −29 KB).');
  details.push(
    `### Transfer size\n\ngzip -9 of the release build in \`dist/\`: wasm ${fmt(ours.wasm / 1024)} KB, JS ${fmt(ours.js / 1024)} KB, ` +
      `CSS ${fmt(ours.css / 1024)} KB, total ${fmt(total / 1024)} KB; Leaflet (JS + CSS, separately) ${fmt(leaflet / 1024)} KB.`,
  );
}

// --- shared page helpers ---------------------------------------------------------------------
async function livePage(browser, site, sim, { query = '', hash = '' } = {}) {
  const page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}${query}${hash}`);
  await waitFor(async () => (await page.getByTestId('connection-state').first().textContent()) === 'connected', {
    timeoutMs: 30000,
    what: 'connected',
  });
  await waitFor(() => page.evaluate(() => typeof window.dashboardMetrics === 'function'), { what: 'the metrics object' });
  return page;
}

const metrics = (page) => page.evaluate(() => window.dashboardMetrics());

/** rAF deltas (ms) over `ms`, and the page's long tasks (main-thread tasks over 50 ms) meanwhile. */
function frameDeltas(page, ms) {
  return page.evaluate(
    (ms) =>
      new Promise((resolve) => {
        const longTasks = [];
        const observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration)));
        observer.observe({ type: 'longtask' });
        const stamps = [];
        const start = performance.now();
        const tick = (t) => {
          stamps.push(t);
          if (t - start < ms) requestAnimationFrame(tick);
          else {
            observer.disconnect();
            resolve({ deltas: stamps.slice(1).map((s, i) => s - stamps[i]), longTasks });
          }
        };
        requestAnimationFrame(tick);
      }),
    ms,
  );
}

function frameSummary({ deltas, longTasks }) {
  const sorted = [...deltas].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const total = deltas.reduce((a, b) => a + b, 0);
  return {
    fps: (deltas.length / total) * 1000,
    p50: at(0.5),
    p95: at(0.95),
    max: sorted.at(-1),
    over50: deltas.filter((d) => d > 50).length,
    longTasks: longTasks.length,
    longestTask: Math.max(0, ...longTasks),
  };
}

// --- first live datum, cold cache ---------------------------------------------------------------
async function firstDatum(browser, site) {
  const sim = await startSimulator({ args: ['--vehicles', '50'] });
  try {
    const runs = [];
    const pushes = [];
    for (let i = 0; i < (quick ? 1 : 5); i += 1) {
      // A new context each time: an empty cache, as on a first visit.
      const page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}`);
      const at = await waitFor(() => page.evaluate(() => window.dashboardMetrics?.().firstDatumAt), {
        timeoutMs: 30000,
        what: 'the first live datum',
      });
      const push = await waitFor(() => page.evaluate(() => window.dashboardMetrics().firstPushAt), {
        timeoutMs: 30000,
        what: 'the first pushed datum',
      });
      runs.push(at);
      pushes.push(push);
      await page.context().close();
    }
    const ms = median(runs);
    budget('first live datum after navigation, loopback, cold cache', '≤ 1 s', `${fmt(ms, 0)} ms`, ms <= 1000);
    details.push(
      `### First live datum\n\nFrom navigation start (a fresh browser context each run, so a cold cache) to the first ` +
        `live data on screen (\`dashboardMetrics().firstDatumAt\`: the current positions loaded on connect, or a pushed ` +
        `batch if one comes first): ${runs.map((r) => fmt(r, 0)).join(', ')} ms; median ${fmt(ms, 0)} ms. The first batch ` +
        `pushed through the hub (each vehicle reports once a second, a tenth of the fleet every 100 ms): median ${fmt(median(pushes), 0)} ms.`,
    );
  } finally {
    await sim.stop();
  }
}

// --- history: opening a device with an hour of its metrics ----------------------------------------
async function deviceHistory(browser, site) {
  const sim = await startSimulator({ args: ['--vehicles', '50', '--machines', '3', '--rigs', '0'] });
  try {
    const runs = [];
    for (const device of ['press-01', 'press-02', 'press-03']) {
      // A fresh context each run, connected on the overview (which loads no device history).
      const page = await livePage(browser, site, sim);
      const ms = await page.evaluate(
        (id) =>
          new Promise((resolve) => {
            const t0 = performance.now();
            location.hash = `#/device/${id}?window=1h`;
            const full = () => {
              const charts = document.querySelectorAll('[data-testid="chart"]');
              const loading = document.querySelector('[data-testid="history-loading"]').classList.contains('active');
              const metrics = [...charts].map((c) => c.dataset.metric);
              return charts.length > 0 && !loading && metrics.every((m) => window.dashboardSeries(id, m).length > 3000);
            };
            // Drawn: the frame after the data is in (the charts draw on the next animation frame).
            // A deadline, so a run whose history never comes reports it instead of hanging.
            const poll = () => {
              if (full()) requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
              else if (performance.now() - t0 > 30_000) resolve(NaN);
              else requestAnimationFrame(poll);
            };
            poll();
          }),
        device,
      );
      runs.push(ms);
      await page.context().close();
    }
    const sorted = [...runs].sort((a, b) => a - b);
    budget('open a device with an hour of its metrics, charts drawn (loopback)', '≤ 300 ms', `${fmt(median(runs), 0)} ms`, median(runs) <= 300);
    details.push(
      `### Opening a device with its history

From the navigation to \`#/device/<id>?window=1h\` (a fresh page, connected on ` +
        `the overview, so nothing of the device's history is loaded yet) until every chart's series holds over 3,000 points ` +
        `of the hour (\`window.dashboardSeries\`), no history request is on its way, and two animation frames have passed ` +
        `(the charts draw on the next one): three devices, ${runs.map((r) => fmt(r, 0)).join(', ')} ms; min ${fmt(sorted[0], 0)}, ` +
        `median ${fmt(median(runs), 0)}, max ${fmt(sorted.at(-1), 0)} ms. One request per device (\`GET /api/history\`, 3,700 ` +
        `buckets per metric), answered by the release simulator's store.`,
    );
  } finally {
    await sim.stop();
  }
}

// --- store: the simulator's history store, ingest and an hour's queries ----------------------------
// The store's own benchmark (`crates/simulator/examples/history.rs`), run as a process of its own
// so the browser shares nothing with it; it times each section three times and writes its figures
// with `--json`, read here into the table.
async function historyStore() {
  const bin = process.env.HISTORY_BENCH_BIN ?? path.join(repoRoot, 'target', 'release', 'examples', 'history');
  const out = path.join(os.tmpdir(), `history-bench-${process.pid}.json`);
  const vehicles = quick ? 200 : 10000;
  const args = ['--vehicles', String(vehicles), '--seconds', quick ? '2' : '20', '--minutes', quick ? '2' : '60', '--json', out];
  log(`  ${path.relative(repoRoot, bin)} ${args.join(' ')}`);
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (run.status !== 0) throw new Error(`the history store benchmark failed (${run.status}): ${run.stderr || run.error}`);
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(out, { force: true });
  const figures = report.figures.filter((f) => f.what);
  const store = report.figures.find((f) => f.store)?.store;
  const find = (start) => {
    const figure = figures.find((f) => f.what.startsWith(start));
    if (!figure) throw new Error(`the history store benchmark printed no "${start}"`);
    return figure;
  };
  const spread = (f, digits = 1) => `${fmt(f.median, digits)} (${fmt(f.min, digits)}–${fmt(f.max, digits)})`;
  for (const where of ['in memory', 'on disk (WAL)']) {
    const f = find(`live ingest ${vehicles} vehicles × 1 Hz, ${where}`);
    // Keeping up: the writer thread needs less than one core, and not one row was dropped.
    budget(`history store ingest, ${thousands(vehicles)} vehicles × 1 Hz, ${where}: writer thread CPU`,
      '< 100 % of one core, 0 rows dropped', `${spread(f, 2)} % of a core, ${thousands(f.counts.dropped)} dropped`,
      f.median < 100 && f.counts.dropped === 0, '', '',
      'the writer fell behind: rows were dropped (the figure counts them), or it needs a whole core.');
  }
  // A device screen's hour must leave most of its 300 ms to the transfer and the drawing.
  for (const [start, label] of [
    ['an hour of a device, every metric', "an hour's query per device (every metric, 1,000 buckets)"],
    ["an hour of a vehicle's track, 1,000 points", "an hour's query per vehicle (its track)"],
  ]) {
    const f = find(start);
    budget(`history store: ${label}, ${thousands(vehicles)}-vehicle hour stored`, '≤ 100 ms', `${spread(f, 1)} ms`,
      f.median <= 100, '', '', 'the query takes most of the 300 ms a device screen has to open.');
  }
  details.push(
    `### History store

The simulator's SQLite history store (\`crates/simulator/src/history\`, how and why in ` +
      `[docs/history-store.md](docs/history-store.md)), measured by its own benchmark in a process of its own: ` +
      `\`${path.relative(repoRoot, bin)} ${args.slice(0, -2).join(' ')}\`. Each row three runs, min / median / max. ` +
      (store
        ? `The queries run on a store holding ${thousands(store.positions)} positions, ${thousands(store.samples)} samples and ` +
          `${thousands(store.events)} alert events (filled in ${fmt(store.filledSeconds, 1)} s; resident memory +${fmt(store.residentMb, 0)} MB).`
        : '') +
      `\n\n| what | min | median | max | unit |\n|---|---|---|---|---|\n` +
      figures.map((f) => `| ${f.what.replace(/^… /, '')} | ${fmt(f.min, 2)} | ${fmt(f.median, 2)} | ${fmt(f.max, 2)} | ${f.unit} |`).join('\n'),
  );
}

// --- replay: the fleet played back from the history API, and a seek ------------------------------
/** A page paused or playing at `hash`'s moment, once its replayed fleet holds `n` vehicles. */
async function replayPage(browser, site, sim, hash, n) {
  const page = await livePage(browser, site, sim, { hash });
  await waitFor(async () => (await page.evaluate(() => window.dashboardFleetShown().length)) >= n, {
    timeoutMs: 60000,
    what: `${n} vehicles replayed`,
  });
  await page.getByTestId('fit-fleet').click();
  await sleep(1500);
  return page;
}

async function replay(browser, site) {
  const seconds = quick ? 3 : 8;
  const runs = quick ? 1 : 3;
  const lines = [];
  const summaries = {};
  const cases = quick ? [[200, 60]] : [[1000, 60], [10000, 10]];
  const seeks = [];
  for (const [n, speed] of cases) {
    const sim = await startSimulator({ args: ['--vehicles', String(n), '--machines', '0', '--rigs', '0'] });
    try {
      const all = [];
      for (let run = 0; run < runs; run += 1) {
        // From 40 minutes back: a minute of wall time at 60× is still inside the hour.
        const page = await replayPage(browser, site, sim, `#/fleet?at=${Date.now() - 40 * 60_000}&speed=${speed}`, n);
        const s = frameSummary(await frameDeltas(page, seconds * 1000));
        const note = await page.getByTestId('replay-note').textContent();
        all.push({ ...s, note });
        lines.push(
          `| ${thousands(n)} | ${speed}× | ${run + 1} | ${fmt(s.fps)} | ${fmt(s.p50)} ms | ${fmt(s.p95)} ms | ${fmt(s.max)} ms | ${s.over50} | ${s.longTasks} |`,
        );
        await page.context().close();
      }
      summaries[n] = all;
      if (n === cases[0][0]) {
        // Seeks on a paused page: to a moment, until the fleet of that moment is drawn.
        const page = await replayPage(browser, site, sim, `#/fleet?at=${Date.now() - 55 * 60_000}`, n);
        // Forward, forward, and back 35 minutes (past the frames a replay keeps).
        for (const back of quick ? [20] : [50, 35, 10, 45]) {
          const target = Date.now() - back * 60_000;
          const ms = await page.evaluate(
            ([target, n]) =>
              new Promise((resolve) => {
                const t0 = performance.now();
                location.hash = `#/fleet?at=${target}`;
                const poll = () => {
                  const rows = window.dashboardFleetShown();
                  const there =
                    window.dashboardMoment() === target && rows.length >= n && rows.every((r) => r[3] <= target && r[3] > target - 10_000);
                  // Drawn: the frame after the fleet of that moment is in.
                  if (there) requestAnimationFrame(() => resolve(performance.now() - t0));
                  else if (performance.now() - t0 > 30_000) resolve(NaN);
                  else requestAnimationFrame(poll);
                };
                poll();
              }),
            [target, n],
          );
          seeks.push({ back, ms });
        }
        await page.context().close();
      }
    } finally {
      await sim.stop();
    }
  }
  const verdict = (all) => {
    const fps = all.map((s) => s.fps).sort((a, b) => a - b);
    const over = all.map((s) => s.over50).sort((a, b) => a - b);
    return { fps, over, median: median(all.map((s) => s.fps)), overMedian: median(all.map((s) => s.over50)) };
  };
  const [n0, speed0] = cases[0];
  const first = verdict(summaries[n0]);
  budget(
    `replay, ${thousands(n0)} vehicles at ${speed0}×: frames delivered`,
    '≥ 55 frames/s, none > 50 ms',
    `${fmt(first.median)} frames/s (${fmt(first.fps[0])}–${fmt(first.fps.at(-1))}), ${first.overMedian} frames > 50 ms`,
    first.median >= 55 && first.overMedian === 0,
    '',
    '',
    `median of ${runs} runs: ${fmt(first.median)} frames/s with ${first.overMedian} frame(s) over 50 ms; see the replay table.`,
  );
  const seekMs = seeks.map((s) => s.ms);
  const seekSorted = [...seekMs].sort((a, b) => a - b);
  budget(
    `replay seek to a moment of the hour, ${thousands(n0)} vehicles, redrawn (loopback)`,
    '≤ 500 ms',
    `${fmt(median(seekMs), 0)} ms (${fmt(seekSorted[0], 0)}–${fmt(seekSorted.at(-1), 0)})`,
    median(seekMs) <= 500,
  );
  if (summaries[10000]) {
    const big = verdict(summaries[10000]);
    budget(
      'replay, 10,000 vehicles at 10× (measured and reported)',
      'report',
      `${fmt(big.median)} frames/s (${fmt(big.fps[0])}–${fmt(big.fps.at(-1))}), ${big.overMedian} frames > 50 ms`,
      true,
    );
  }
  details.push(
    `### Replay

The Fleet screen replaying the history API's fleet (\`GET /api/history/fleet\`, read ahead of the play head in ` +
      `chunks of at most 40,000 cells, a frame step that grows with fleet × speed beyond 60,000 cells a second), the whole ` +
      `fleet in view (*fit fleet*), live data arriving underneath; frames counted with requestAnimationFrame for ${seconds} s, ` +
      `${runs} run(s) per case, each on a fresh page. The seek: on a paused page, the URL's \`at\` set to a moment ` +
      `${seeks.map((s) => `${s.back} min`).join(', ')} back, until the fleet of that moment is drawn (the frame after every ` +
      `vehicle shows a fix of at most that moment): ${seeks.map((s) => `${fmt(s.ms, 0)} ms`).join(', ')}. This section alone: ` +
      `\`scripts/bench.sh --only replay\`.` +
      (summaries[10000] ? ` At 10,000 vehicles the page says: “${summaries[10000][0].note}”.` : '') +
      `\n\n| vehicles | speed | run | frames/s | p50 | p95 | max | frames > 50 ms | long tasks |\n|---|---|---|---|---|---|---|---|---|\n${lines.join('\n')}`,
  );
}

// --- decode: our wasm client vs @microsoft/signalr, same frames, same browser -------------------
async function decode(browser, site) {
  const sim = await startSimulator({ args: ['--vehicles', '10'] });
  try {
    const page = await livePage(browser, site, sim);
    await page.addScriptTag({ url: `${site.url}bench/signalr.js` });
    await page.addScriptTag({ url: `${site.url}bench/signalr-protocol-msgpack.js` });
    const result = await page.evaluate(async ({ rounds, quick }) => {
      const bindings = window.wasmBindings;
      // 20 records of 100 positions each: what a busy second of a 2,000-vehicle fleet sends.
      const batch = (r) =>
        Array.from({ length: 100 }, (_, i) => ({
          id: `veh-${String(r * 100 + i).padStart(5, '0')}`,
          ts: 1_700_000_000_000 + r * 1000 + i,
          lat: 47.37 + i / 10000,
          lon: 8.54 + r / 10000,
          heading: (i * 37) % 360,
          speed: 12.5 + (i % 40),
          state: ['moving', 'idle', 'stopped'][i % 3],
          site: ['harbour', 'airport', 'old-town', 'industrial'][i % 4],
        }));
      const messages = Array.from({ length: 20 }, (_, r) => ({ type: 1, target: 'positions', arguments: [batch(r)] }));
      const json = new signalR.JsonHubProtocol();
      const packer = new signalR.protocols.msgpack.MessagePackHubProtocol();
      const text = messages.map((m) => json.writeMessage(m)).join('');
      const parts = messages.map((m) => new Uint8Array(packer.writeMessage(m)));
      const binary = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((offset, p) => (binary.set(p, offset), offset + p.length), 0);
      const logger = signalR.NullLogger.instance;
      // Ours and theirs take turns, five blocks each, and each keeps its median block: a slow
      // moment of the shared machine then falls on both sides instead of on one.
      const race = (ours, theirs) => {
        // Warm up for two seconds: V8 runs wasm on its baseline tier first and optimises hot
        // functions in the background, on the same two cores.
        const warm = quick ? 200 : 2000;
        for (const until = performance.now() + warm; performance.now() < until; ) ours(), theirs();
        const block = (fn) => {
          const start = performance.now();
          let n = 0;
          for (let i = 0; i < rounds / 5; i += 1) n += fn();
          return { ms: performance.now() - start, n };
        };
        const blocks = { ours: [], theirs: [] };
        for (let b = 0; b < 5; b += 1) {
          blocks.ours.push(block(ours));
          blocks.theirs.push(block(theirs));
        }
        const median = (list) => list.sort((x, y) => x.n / x.ms - y.n / y.ms)[2];
        return [median(blocks.ours), median(blocks.theirs)];
      };
      const countPositions = (msgs) => msgs.reduce((n, m) => n + (m.target === 'positions' ? m.arguments[0].length : 0), 0);
      const [oursJson, theirsJson] = race(
        () => bindings.bench_decode_json(text, 1),
        () => countPositions(json.parseMessages(text, logger)),
      );
      const [oursPack, theirsPack] = race(
        () => bindings.bench_decode_msgpack(binary, 1),
        () => countPositions(packer.parseMessages(binary.buffer, logger)),
      );
      // Our first stages alone, counted as the positions they carry: the text brought into
      // wasm memory (the transports' `TextEncoder.encodeInto`), then framing and hub messages
      // with the batches left as text.
      const [copyIn] = race(() => (bindings.bench_text_into_wasm(text) === text.length ? 2000 : 0), () => 0);
      const [envelope] = race(() => bindings.bench_decode_json_envelope(text, 100), () => 0);
      return { bytesJson: text.length, bytesPack: binary.length, oursJson, theirsJson, copyIn, envelope, oursPack, theirsPack };
    }, { rounds: quick ? 50 : 500, quick });
    await page.context().close();
    const rate = (r) => (r.n / r.ms) * 1000; // positions per second
    const ratio = rate(result.oursJson) / rate(result.theirsJson);
    const packRatio = rate(result.oursPack) / rate(result.theirsPack);
    // Each stage's share of our time per position, and the first stage against the peer's.
    const perPosition = (r) => 1 / rate(r);
    const share = (part, whole) => fmt((perPosition(part) / perPosition(whole)) * 100, 0);
    const copyShare = share(result.copyIn, result.oursJson);
    const envelopeShare = fmt(((perPosition(result.envelope) - perPosition(result.copyIn)) / perPosition(result.oursJson)) * 100, 0);
    const decodeShare = fmt((1 - perPosition(result.envelope) / perPosition(result.oursJson)) * 100, 0);
    const copyOfPeer = share(result.copyIn, result.theirsJson);
    budget(
      'JSON frame decode in wasm vs `@microsoft/signalr`, same frames, same Chromium',
      'ratio ≥ 1.0',
      `${thousands(rate(result.oursJson))} positions/s`,
      ratio >= 1.0,
      `${thousands(rate(result.theirsJson))} positions/s`,
      fmt(ratio, 2),
      `the peer is V8's native JSON.parse into untyped objects. Of our time per position, ${copyShare} % goes to bringing ` +
        `the text into wasm (the browser's UTF-16 string encoded into wasm memory: alone ${copyOfPeer} % of the peer's whole ` +
        `time), ${envelopeShare} % to framing and the hub message, ${decodeShare} % to the typed \`Vec<Position>\` (our ` +
        `hand-written reader, crates/jsonread). The ratio moves with the shared machine from run to run, around parity ` +
        `(repeated runs of the same build, and the next step, a single pass over each record, in docs/performance-notes.md). ` +
        `Our MessagePack decoding runs at ${fmt(packRatio, 2)} × theirs.`,
    );
    details.push(
      `### Decode\n\n20 invocations of \`positions\` with 100 positions each (JSON ${thousands(result.bytesJson)} bytes, ` +
        `MessagePack ${thousands(result.bytesPack)} bytes), decoded ${quick ? 50 : 500} times after a warm-up, ours and ` +
        `theirs in turns (five blocks each, the median block kept). Ours is the client's whole receive path (text into ` +
        `wasm, framing, hub message, typed \`Vec<Position>\`); theirs is \`parseMessages\` of \`@microsoft/signalr\` ` +
        `10.0.11 (plain JS objects).\n\n` +
        `| protocol | ours, positions/s | @microsoft/signalr, positions/s | ratio |\n|---|---|---|---|\n` +
        `| JSON | ${thousands(rate(result.oursJson))} | ${thousands(rate(result.theirsJson))} | ${fmt(ratio, 2)} |\n` +
        `| MessagePack | ${thousands(rate(result.oursPack))} | ${thousands(rate(result.theirsPack))} | ${fmt(packRatio, 2)} |\n\n` +
        `MessagePack vs JSON for our client: ${fmt(rate(result.oursPack) / rate(result.oursJson), 2)} × the speed, ` +
        `${fmt((result.bytesPack / result.bytesJson) * 100, 0)} % of the bytes.\n\n` +
        `Our JSON path by stage, in the same run: the text into wasm alone ${thousands(rate(result.copyIn))} positions/s ` +
        `(${copyShare} % of our time), with framing and hub messages ${thousands(rate(result.envelope))} positions/s ` +
        `(${envelopeShare} % more), the typed batches the remaining ${decodeShare} %.`,
    );
  } finally {
    await sim.stop();
  }
}

// --- latency per transport ------------------------------------------------------------------
async function latency(browser, site) {
  const vehicles = quick ? 500 : 5000;
  const seconds = quick ? 3 : 10;
  const sim = await startSimulator({ args: ['--vehicles', String(vehicles), '--rate', '1', '--machines', '0', '--rigs', '0'] });
  const lines = [];
  try {
    for (const transport of ['webSockets', 'serverSentEvents', 'longPolling']) {
      const page = await livePage(browser, site, sim, { query: `&transport=${transport}` });
      await sleep(2000);
      await page.evaluate(() => window.dashboardMetrics.reset());
      await sleep(seconds * 1000);
      const m = await metrics(page);
      await page.context().close();
      const perSecond = m.positions / seconds;
      lines.push(`| ${transport} | ${thousands(perSecond)} | ${fmt(m.latencyP50, 0)} ms | ${fmt(m.latencyP99, 0)} ms | ${fmt(m.latencyMax, 0)} ms |`);
      if (transport === 'webSockets') {
        budget(
          `latency device \`ts\` → applied, WebSockets, ${thousands(vehicles)} msg/s`,
          'p50 ≤ 10 ms, p99 ≤ 50 ms',
          `p50 ${fmt(m.latencyP50, 0)} ms, p99 ${fmt(m.latencyP99, 0)} ms`,
          m.latencyP50 <= 10 && m.latencyP99 <= 50,
        );
      }
    }
  } finally {
    await sim.stop();
  }
  details.push(
    `### Latency per transport\n\n${thousands(vehicles)} vehicles reporting once a second at their own moments (${thousands(vehicles)} position ` +
      `updates/s: the simulator publishes a tenth of the fleet every 100 ms, one batch per site), JSON, measured over ${seconds} s after a 2 s warm-up: from each position's device ` +
      `timestamp to the moment the page applied it (every sample, 1 ms histogram).\n\n` +
      `| transport | applied/s | p50 | p99 | max |\n|---|---|---|---|---|\n${lines.join('\n')}`,
  );
}

// --- map frame times, with stock Leaflet (canvas and DOM markers) as peers ----------------------
const STOCK = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/vendor/leaflet/leaflet.css"><script src="/vendor/leaflet/leaflet.js"></script>
<style>html,body{margin:0;height:100%}#map{height:100%;background:#1c2630}</style></head>
<body><div id="map"></div><script>
const params = new URLSearchParams(location.search);
const n = Number(params.get('n'));
const dom = params.get('kind') === 'dom';
L.Icon.Default.imagePath = '/vendor/leaflet/images/';
const map = L.map('map', { preferCanvas: !dom }).setView([47.3769, 8.5417], 12);
const markers = [];
for (let i = 0; i < n; i++) {
  const a = (i / n) * Math.PI * 2, r = 0.01 + (i % 97) / 1000;
  const at = [47.3769 + r * Math.sin(a), 8.5417 + r * Math.cos(a)];
  markers.push((dom ? L.marker(at) : L.circleMarker(at, { radius: 5 })).addTo(map));
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

async function mapFrames(browser, site) {
  const sizes = options.sizes ? options.sizes.split(',').map(Number) : quick ? [1000] : [1000, 10000, 50000, 100000];
  const seconds = quick ? 3 : 10;
  const runs = quick ? 1 : 3;
  const lines = [];
  const drawnLines = [];
  const range = (xs, digits = 1, unit = '') =>
    xs.length > 1
      ? `${fmt(median(xs), digits)}${unit} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`
      : `${fmt(xs[0], digits)}${unit}`;
  // Runs of one renderer: the median run's figures, frames/s as median (min–max) over the runs.
  const summarize = (all) => {
    const byFps = [...all].sort((a, b) => a.fps - b.fps);
    const mid = byFps[Math.floor(byFps.length / 2)];
    return { ...mid, all, overMedian: median(all.map((s) => s.over50)) };
  };
  const line = (name, n, r) =>
    Number.isFinite(r.fps) && r.fps > 0
      ? `| ${name} | ${thousands(n)} | ${range(r.all.map((s) => s.fps))} | ${fmt(r.p50)} ms | ${fmt(r.p95)} ms | ` +
        `${fmt(r.max)} ms | ${r.all.map((s) => s.over50).join(', ')} | ${wasm(r)} |`
      : `| ${name} | ${thousands(n)} | none: the page's main thread did not yield a frame in ${seconds} s | – | – | – | – | – |`;
  // The layer's own time per frame drawn (median run): p50 / p99, and of it the clustering.
  const wasm = (r) =>
    !r.layer?.count
      ? '–'
      : `${fmt(r.layer.p50)} / ${fmt(r.layer.p99)} ms` +
        (r.clustering?.count ? `, clustering ${fmt(r.clustering.p50)} / ${fmt(r.clustering.p99)} ms` : '');
  // Frames, and what the fleet layer took in wasm meanwhile (its own histogram, 0.1 ms steps).
  const measure = async (page, ours = true) => {
    const all = [];
    for (let i = 0; i < runs; i += 1) {
      if (ours) await page.evaluate(() => window.dashboardMetrics.reset());
      const s = frameSummary(await frameDeltas(page, seconds * 1000));
      if (ours) {
        const m = await metrics(page);
        s.layer = m.mapDrawMs;
        s.clustering = m.mapClusterMs;
      }
      all.push(s);
    }
    return summarize(all);
  };
  const at = {};
  let stock10k;
  for (const n of sizes) {
    const sim = await startSimulator({ args: ['--vehicles', String(n), '--rate', '1', '--machines', '0', '--rigs', '0'] });
    try {
      // From opening the Fleet screen (navigation start, a fresh context) to the first frame
      // with every vehicle drawn (the map's own count, as clusters or arrows), three times.
      const drawn = [];
      let page;
      for (let i = 0; i < runs; i += 1) {
        if (page) await page.context().close();
        page = await openPage(browser, `${site.url}?apiBase=${encodeURIComponent(sim.apiBase)}#/fleet`);
        const ms = await page.evaluate(
          (n) =>
            new Promise((resolve) => {
              const poll = () => {
                const count = document.querySelector('[data-testid="map-vehicle-count"]');
                if (count && count.textContent === String(n)) resolve(performance.now());
                else if (performance.now() > 120_000) resolve(NaN);
                else requestAnimationFrame(poll);
              };
              poll();
            }),
          n,
        );
        drawn.push(ms);
      }
      drawnLines.push(`| ${thousands(n)} | ${drawn.map((ms) => fmt(ms, 0)).join(', ')} ms | ${fmt(median(drawn), 0)} ms |`);
      if (options.trails) await page.getByTestId('trails-all').check();
      await page.getByTestId('fit-fleet').click();
      // As it opens: clusters gather at this zoom (more than 1,000 in view).
      await sleep(2000);
      const c = await measure(page);
      const gathered = await page.evaluate(() => window.dashboardClusters().clusters.length);
      lines.push(line(`dashboard (ours), clusters on (${gathered} clusters)`, n, c));
      // And every vehicle drawn as itself: clustering off.
      await page.getByTestId('clusters').uncheck();
      await sleep(2000);
      const s = await measure(page);
      lines.push(line('dashboard (ours), clusters off', n, s));
      at[n] = { on: c, off: s, drawn };
      await page.context().close();
    } finally {
      await sim.stop();
    }
    // Stock Leaflet builds its 50,000 or 100,000 markers for minutes: peers up to 10,000.
    for (const kind of n <= 10000 ? ['canvas', 'dom'] : []) {
      const stock = await openPage(browser, `${site.url}bench/stock-leaflet.html?n=${n}&kind=${kind}`);
      await waitFor(() => stock.evaluate(() => window.ready === true), { timeoutMs: 120000, what: 'stock Leaflet page' });
      await sleep(2000);
      const s = await measure(stock, false);
      if (n === 10000 && kind === 'canvas') stock10k = s;
      lines.push(line(`stock Leaflet, ${kind === 'dom' ? 'DOM markers' : 'canvas circleMarkers'}`, n, s));
      await stock.context().close();
    }
  }
  const why = (r) =>
    `${r.overMedian} frame(s) over 50 ms in ${seconds} s (median of ${r.all.length} runs), longest ${fmt(r.max, 0)} ms, while the page's main thread ` +
    (r.longTasks === 0
      ? `ran no task over 50 ms (PerformanceObserver \`longtask\`): the time was lost outside the page's own work, on ` +
        `two cores shared with the simulator, Node and the browser's other processes`
      : `ran ${r.longTasks} task(s) over 50 ms (PerformanceObserver \`longtask\`, longest ${fmt(r.longestTask, 0)} ms): ` +
        `the page's own work`);
  if (at[10000]) {
    const r = at[10000].off;
    budget(
      'map, 10,000 vehicles at 1 Hz, clusters off: frames delivered',
      '≥ 55 frames/s, none > 50 ms',
      `${range(r.all.map((s) => s.fps))} frames/s, ${r.overMedian} frames > 50 ms (max ${fmt(r.max, 0)} ms)`,
      r.fps >= 55 && r.overMedian === 0,
      stock10k ? `${fmt(stock10k.fps)} frames/s (stock Leaflet canvas)` : '',
      stock10k ? fmt(r.fps / stock10k.fps, 2) : '',
      why(r) + (stock10k ? `; stock Leaflet in the same run: ${stock10k.overMedian} frame(s) over 50 ms.` : '.'),
    );
  }
  if (at[100000]) {
    const r = at[100000].on;
    budget(
      'map, 100,000 vehicles at 1 Hz, whole fleet in view: frames delivered',
      '≥ 50 frames/s, none > 50 ms',
      `${range(r.all.map((s) => s.fps))} frames/s, ${r.overMedian} frames > 50 ms (max ${fmt(r.max, 0)} ms)`,
      r.fps >= 50 && r.overMedian === 0,
      '',
      '',
      why(r) + '.',
    );
  }
  details.push(
    `### Map frame times\n\nThe Fleet screen with the whole fleet in view (*fit fleet*), every vehicle reporting once a second; ` +
      `frames counted with requestAnimationFrame for ${seconds} s, ${runs} run(s) per row: frames/s as the median (min–max) of the runs, ` +
      `the other columns from the median run, frames over 50 ms per run. First as the page opens (clusters gather when more than ` +
      `1,000 vehicles are in view below zoom 15), then with clustering off, every vehicle an arrow. Peers in the same run, up to ` +
      `10,000 vehicles: stock Leaflet 1.9.4 with one \`circleMarker\` per vehicle on its canvas renderer, and with its default DOM ` +
      `markers, a quarter of them moved every 250 ms. This section alone: \`scripts/bench.sh --only map\` ` +
      `(\`node tests/bench/suite.mjs --only map --sizes 100000\` for one size).\n\n` +
      `The last column is the fleet layer's own work per frame it drew, measured in wasm (\`dashboardMetrics().mapDrawMs\`: ` +
      `projecting, clustering, rasterizing and handing the pixels to the canvas; p50 / p99), and of that the clustering ` +
      `(\`mapClusterMs\`).\n\n` +
      `| renderer | vehicles | frames/s | p50 | p95 | max | frames > 50 ms | fleet layer in wasm |\n|---|---|---|---|---|---|---|---|\n${lines.join('\n')}\n\n` +
      `From opening the Fleet screen (navigation start, a fresh browser context) to the first frame with every vehicle drawn:\n\n` +
      `| vehicles | runs | median |\n|---|---|---|\n${drawnLines.join('\n')}`,
  );
}

// --- sustained ingest while the map stays smooth -----------------------------------------------
async function ingest(browser, site) {
  const steps = quick ? [[1000, 2]] : [[10000, 2], [10000, 5], [10000, 8]];
  const seconds = quick ? 3 : 10;
  const lines = [];
  let best = 0;
  for (const [vehicles, rate] of steps) {
    const sim = await startSimulator({ args: ['--vehicles', String(vehicles), '--rate', String(rate), '--machines', '0', '--rigs', '0'] });
    try {
      const page = await livePage(browser, site, sim, { hash: '#/fleet' });
      await waitFor(async () => (await page.getByTestId('map-vehicle-count').textContent()) === String(vehicles), {
        timeoutMs: 60000,
        what: 'the fleet',
      });
      await sleep(2000);
      await page.evaluate(() => window.dashboardMetrics.reset());
      const s = frameSummary(await frameDeltas(page, seconds * 1000));
      const m = await metrics(page);
      await page.context().close();
      const applied = m.positions / seconds;
      if (s.fps >= 55) best = Math.max(best, applied);
      lines.push(`| ${thousands(vehicles)} × ${rate} Hz | ${thousands(applied)} | ${fmt(s.fps)} | ${fmt(s.max, 0)} ms | ${fmt(m.latencyP50, 0)} ms | ${fmt(m.latencyP99, 0)} ms |`);
    } finally {
      await sim.stop();
    }
  }
  budget('sustained position updates applied with the page ≥ 55 frames/s', '≥ 50,000 /s', `${thousands(best)} /s`, best >= 50000);
  details.push(
    `### Sustained ingest\n\nThe Fleet screen while the simulator sends faster and faster; applied counts and latency from ` +
      `\`dashboardMetrics()\` over ${seconds} s.\n\n| load | applied/s | frames/s | longest frame | latency p50 | p99 |\n|---|---|---|---|---|---|\n${lines.join('\n')}`,
  );
}

// --- soak: memory over time at 5,000 msg/s ------------------------------------------------------
async function soak(browser, site) {
  const vehicles = quick ? 500 : 5000;
  const sim = await startSimulator({ args: ['--vehicles', String(vehicles), '--rate', '1'] });
  const samples = [];
  try {
    const page = await livePage(browser, site, sim);
    // Precise heap figures through the DevTools protocol: the heap in use as found (it saws up
    // and down with the garbage collector) and after a forced collection (what is retained).
    const cdp = await page.context().newCDPSession(page);
    const every = quick ? 3000 : 10000;
    const until = Date.now() + soakMinutes * 60000;
    while (Date.now() < until) {
      await sleep(every);
      const m = await metrics(page);
      const found = (await cdp.send('Runtime.getHeapUsage')).usedSize;
      await cdp.send('HeapProfiler.collectGarbage');
      const heap = (await cdp.send('Runtime.getHeapUsage')).usedSize;
      samples.push({ t: samples.length * (every / 1000), wasm: m.wasmMemoryBytes, found, heap, positions: m.positions });
    }
    await page.context().close();
  } finally {
    await sim.stop();
  }
  if (samples.length < 2) return;
  // After warm-up (the first third), growth: the mean of the last half of the rest against the
  // mean of its first half.
  const rest = samples.slice(Math.floor(samples.length / 3));
  const half = Math.max(1, Math.floor(rest.length / 2));
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const growth = (key) => {
    const early = mean(rest.slice(0, half).map((s) => s[key]));
    const late = mean(rest.slice(-half).map((s) => s[key]));
    return ((late - early) / early) * 100;
  };
  const signed = (x) => `${x >= 0 ? '+' : '−'}${fmt(Math.abs(x))} %`;
  const wasm = growth('wasm');
  const heap = growth('heap');
  budget(
    `memory over a ${fmt(soakMinutes, 2)} minute soak at ${thousands(vehicles)} msg/s`,
    'flat (±10 % after warm-up)',
    `wasm ${signed(wasm)}, JS heap retained ${signed(heap)}`,
    Math.abs(wasm) <= 10 && Math.abs(heap) <= 10,
  );
  const mb = (x) => `${fmt(x / 1048576, 2)} MB`;
  details.push(
    `### Soak\n\nThe Overview (map, tiles, alerts, vehicle table) for ${fmt(soakMinutes, 2)} minutes with ${thousands(vehicles)} ` +
      `vehicles at 1 Hz, sampled every ${quick ? 3 : 10} s: wasm linear memory, the JS heap in use as found (it saws ` +
      `with the garbage collector) and retained after a forced collection (DevTools protocol). Growth compares the ` +
      `mean of the last half of the samples after warm-up (the first third) with the mean of the first half.\n\n` +
      `| t | wasm memory | JS heap as found | JS heap retained | positions applied |\n|---|---|---|---|---|\n` +
      samples.map((s) => `| ${s.t} s | ${mb(s.wasm)} | ${mb(s.found)} | ${mb(s.heap)} | ${thousands(s.positions)} |`).join('\n'),
  );
}

// --- run --------------------------------------------------------------------------------------
const nodeModules = path.join(repoRoot, 'node_modules', '@microsoft');
const site = await serveStatic(dist, {
  extra: {
    '/bench/stock-leaflet.html': STOCK,
    '/bench/signalr.js': fs.readFileSync(path.join(nodeModules, 'signalr', 'dist', 'browser', 'signalr.min.js'), 'utf8'),
    '/bench/signalr-protocol-msgpack.js': fs.readFileSync(
      path.join(nodeModules, 'signalr-protocol-msgpack', 'dist', 'browser', 'signalr-protocol-msgpack.min.js'),
      'utf8',
    ),
  },
});
const browser = await launchBrowser();
const started = Date.now();
log(`benchmark suite${quick ? ' (quick mode)' : ''}, Chromium ${browser.version()}`);
try {
  if (sections.has('size')) transferSizes();
  if (sections.has('first')) await firstDatum(browser, site);
  if (sections.has('history')) await deviceHistory(browser, site);
  if (sections.has('store')) await historyStore();
  if (sections.has('replay')) await replay(browser, site);
  if (sections.has('decode')) await decode(browser, site);
  if (sections.has('latency')) await latency(browser, site);
  if (sections.has('map')) await mapFrames(browser, site);
  if (sections.has('ingest')) await ingest(browser, site);
  if (sections.has('soak') && soakMinutes > 0) await soak(browser, site);
} finally {
  await browser.close();
  await site.close();
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const report = `# Benchmarks

Written by \`scripts/bench.sh\` (which builds the release bundle and simulator, then runs
\`node tests/bench/suite.mjs\`)${quick ? ' in quick mode: tiny loads, figures not comparable' : ''}. Measured ${new Date().toISOString().slice(0, 10)} on
${cpu}, ${os.cpus().length} cores, ${thousands(os.totalmem() / 1048576)} MB, headless Chromium ${browser.version()} (software
rendering), the release simulator on loopback; the suite took ${fmt((Date.now() - started) / 60000, 1)} minutes. These
machines are shared and noisy: compare figures within one run, as the peer columns do.

| budget | target | measured | peer, same run | ratio | met |
|---|---|---|---|---|---|
${rows.map((r) => `| ${r.what} | ${r.target} | ${r.figure} | ${r.peer || '–'} | ${r.ratio || '–'} | ${r.met ? 'yes' : '**no**'} |`).join('\n')}
${rows.some((r) => !r.met) ? `\nNot met, and why:\n\n${rows.filter((r) => !r.met).map((r) => `- **${r.what}**: ${r.why || 'see the section below.'}`).join('\n')}\n` : ''}
${details.join('\n\n')}
${fs.existsSync(path.join(repoRoot, 'docs', 'performance-notes.md')) ? '\nHow the figures were reached, and the simulator\'s own load benchmark: [docs/performance-notes.md](docs/performance-notes.md).\n' : ''}`;
fs.mkdirSync(path.dirname(options.out), { recursive: true });
fs.writeFileSync(options.out, report);
log(`wrote ${options.out}`);
