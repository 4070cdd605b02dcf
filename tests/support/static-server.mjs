// A plain static file server for the built dashboard: what blob storage or any CDN does,
// and nothing more (no proxy, no rewriting), on a loopback port.
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/**
 * Serves `root` under `prefix` (default `/`), plus `extra` files given as { '/path': text }
 * (typed by their extension, HTML without one; they win over files in `root`), on `port` (a
 * free one by default).
 * Returns { url, close() }.
 */
export async function serveStatic(root, { prefix = '/', extra = {}, port = 0 } = {}) {
  const base = path.resolve(root);
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      if (Object.hasOwn(extra, url.pathname)) {
        const type = TYPES[path.extname(url.pathname)] ?? TYPES['.html'];
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(extra[url.pathname]);
        return;
      }
      if (!url.pathname.startsWith(prefix)) {
        res.writeHead(404).end('not found');
        return;
      }
      let rel = decodeURIComponent(url.pathname.slice(prefix.length));
      if (rel === '' || rel.endsWith('/')) rel += 'index.html';
      const file = path.resolve(base, rel);
      if (!file.startsWith(base + path.sep)) {
        res.writeHead(403).end('forbidden');
        return;
      }
      const body = await fs.readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}${prefix}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
