import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from '../logger.js';

/**
 * What the console page may load and where it may connect: its own origin only (the REST API,
 * the HLS playlists, archive downloads), object URLs for thumbnails and media, and hls.js's
 * worker. Styles may be inline (the chart library sizes its canvas with `style`).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json; charset=utf-8', '.html': 'text/html; charset=utf-8' };

interface Built {
  index: Buffer;
  /** Asset name (content-hashed by the build) → bytes. */
  assets: Map<string, Buffer>;
}

/** Reads the console build (`@tokhost/console`'s dist/) once. */
async function loadBuild(): Promise<Built> {
  const require = createRequire(import.meta.url);
  const dist = join(dirname(require.resolve('@tokhost/console/package.json')), 'dist');
  const index = await readFile(join(dist, 'index.html'));
  const assets = new Map<string, Buffer>();
  for (const name of await readdir(join(dist, 'assets'))) assets.set(name, await readFile(join(dist, 'assets', name)));
  return { index, assets };
}

/** Options of {@link createConsoleHandler}. */
export interface ConsoleHandlerOptions {
  logger: Logger;
}

/**
 * The web console (docs/console.md): `GET /console` (the page, never cached, with its CSP) and
 * `GET /console/assets/<name>` (content-hashed scripts and styles, cached for a year). The page
 * holds no data: it reads everything from the REST API with the credentials it is signed in with.
 */
export function createConsoleHandler(options: ConsoleHandlerOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  let built: Promise<Built> | undefined;
  const page = { 'content-security-policy': CONSOLE_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/console' && path !== '/console/' && !path.startsWith('/console/assets/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end();
      return true;
    }
    built ??= loadBuild();
    built.then(
      ({ index, assets }) => {
        if (!path.startsWith('/console/assets/')) {
          res.writeHead(200, { ...page, 'content-type': TYPES['.html']!, 'cache-control': 'no-cache', 'content-length': index.length });
          res.end(req.method === 'HEAD' ? undefined : index);
          return;
        }
        const name = path.slice('/console/assets/'.length);
        const body = assets.get(name);
        if (!body) {
          const text = JSON.stringify({ code: 404, message: 'Not Found', description: 'No console asset of that name' });
          res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) }).end(text);
          return;
        }
        const type = TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
        res.writeHead(200, { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff', 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        built = undefined;
        options.logger.warn({ err: (err as Error).message }, 'console build not found (run npm run build)');
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('console not built; run npm run build\n');
      },
    );
    return true;
  };
}
