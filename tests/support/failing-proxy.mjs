// A functions side that misbehaves like a cold Function App: a proxy in front of the
// simulator's functions API that answers 503 to the first calls of the routes it is told to
// fail, and passes everything else through (CORS headers included, so the page sees the 503).
import http from 'node:http';

/**
 * Starts the proxy on a free loopback port in front of `target` (`http://127.0.0.1:port`).
 * `failFirst` maps a request key (`GET /api/snapshot`, `POST /api/subscriptions`) to how many
 * of its first calls answer 503. Returns `{ url, apiBase, calls, close }`; `calls[key]` counts
 * every call of each key.
 */
export async function failingProxy(target, failFirst) {
  const calls = {};
  const server = http.createServer((req, res) => {
    const key = `${req.method} ${new URL(req.url, 'http://x').pathname}`;
    calls[key] = (calls[key] ?? 0) + 1;
    if (calls[key] <= (failFirst[key] ?? 0)) {
      const origin = req.headers.origin;
      res.writeHead(503, {
        'content-type': 'text/plain',
        ...(origin ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' } : {}),
      });
      res.end('the function app is starting');
      return;
    }
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    apiBase: `${url}/api`,
    calls,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
