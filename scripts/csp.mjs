#!/usr/bin/env node
// Trunk post_build hook: gives the built index.html a Content-Security-Policy.
//
// The site is static (blob storage, any file server), so the policy travels in a <meta> tag
// rather than a response header, and inline code is allowed by hash, never wholesale: Trunk's
// module script that starts the wasm (and, under `trunk serve`, its reload script) is hashed
// here, after the build wrote it. Everything else must come from the site itself.
//
//   script-src 'self' 'wasm-unsafe-eval' + hashes: our JS, vendored Leaflet, the wasm; no eval
//   style-src  'self': stylesheets only (the app sets styles through the CSSOM, never inline)
//   connect-src http(s) and ws(s): the backend is chosen at run time by config.json, so any
//              origin; a host that knows its backend should narrow this in a response header
//   img-src    'self' data: and http(s): map tiles come from the configured tile server
//   object-src 'none', base-uri 'none', form-action 'none'
//
// Usage: node scripts/csp.mjs [index.html]  (default: $TRUNK_STAGING_DIR/index.html)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const file = process.argv[2] ?? path.join(process.env.TRUNK_STAGING_DIR ?? 'dist', 'index.html');
let html = fs.readFileSync(file, 'utf8');

const MARK = 'http-equiv="Content-Security-Policy"';
html = html.replace(/\s*<meta http-equiv="Content-Security-Policy"[^>]*>/g, '');

const hashes = [];
for (const match of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  const [, attributes, body] = match;
  if (/\bsrc\s*=/.test(attributes)) continue;
  if (body.includes('.well-known/trunk/ws')) {
    // `trunk serve`'s reload script gets its address filled in after this hook, so no hash
    // can allow it: development with reload goes without the policy.
    console.log('csp: trunk serve with auto-reload: no policy (serve with --no-autoreload to have it)');
    process.exit(0);
  }
  hashes.push(`'sha256-${crypto.createHash('sha256').update(body, 'utf8').digest('base64')}'`);
}

const policy = [
  "default-src 'self'",
  `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`.trim(),
  "style-src 'self'",
  "connect-src 'self' http: https: ws: wss:",
  "img-src 'self' data: blob: http: https:",
  "font-src 'self'",
  "media-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const meta = `<meta ${MARK} content="${policy}" />`;
if (!/<meta charset[^>]*>/i.test(html)) {
  console.error(`csp: ${file} has no <meta charset>, where the policy goes`);
  process.exit(1);
}
html = html.replace(/(<meta charset[^>]*>)/i, `$1\n    ${meta}`);
fs.writeFileSync(file, html);
console.log(`csp: ${path.relative(process.cwd(), file)}: ${hashes.length} inline script(s) allowed by hash`);
