/**
 * `GET /archive-files/<apiKey>/<archiveId>.<mp4|zip>?expires=…&signature=…`: the download behind
 * an available archive's `url`. No REST auth: the link itself is the credential (HMAC of the path
 * and expiry with the project secret, see `signArchiveUrl`), as OpenTok's pre-signed links are.
 * Byte ranges are served so players can seek.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../storage/store.js';
import { verifyArchiveUrl } from './archiver.js';
import type { ArchiveStorage } from './storage.js';

const PATH = /^\/archive-files\/([0-9]{1,20})\/([0-9a-f-]{36})\.(mp4|zip)$/;

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
}

export function createArchiveDownloads(deps: { store: Store; storage: ArchiveStorage; logger: { warn(obj: object, msg?: string): void } }) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/';
    if (!url.startsWith('/archive-files/')) return false;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const m = PATH.exec(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      plain(res, 405, 'method not allowed\n');
      return true;
    }
    const project = m ? deps.store.getProject(m[1]!) : undefined;
    if (!m || !project || !verifyArchiveUrl(path, query.get('expires'), query.get('signature'), project.apiSecret)) {
      plain(res, 403, 'invalid or expired archive link\n');
      return true;
    }
    const record = deps.store.getArchive(m[1]!, m[2]!);
    if (!record || record.archive.status !== 'available') {
      plain(res, 404, 'archive not available\n');
      return true;
    }
    const key = `${m[1]}/${m[2]}.${m[3]}`;
    void (async () => {
      const info = await deps.storage.stat(key);
      if (!info) return plain(res, 404, 'archive file not found\n');
      const type = m[3] === 'mp4' ? 'video/mp4' : 'application/zip';
      const headers: Record<string, string | number> = { 'content-type': type, 'accept-ranges': 'bytes', 'cache-control': 'private, no-store', 'content-disposition': `attachment; filename="${m[2]}.${m[3]}"` };
      let range: { start: number; end: number } | undefined;
      const r = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (r && (r[1] || r[2])) {
        const start = r[1] ? Number(r[1]) : Math.max(0, info.size - Number(r[2]));
        const end = r[1] && r[2] ? Math.min(Number(r[2]), info.size - 1) : info.size - 1;
        if (start > end || start >= info.size) {
          res.writeHead(416, { 'content-range': `bytes */${info.size}` }).end();
          return;
        }
        range = { start, end };
      }
      headers['content-length'] = range ? range.end - range.start + 1 : info.size;
      if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${info.size}`;
      res.writeHead(range ? 206 : 200, headers);
      if (req.method === 'HEAD') return void res.end();
      const body = await deps.storage.read(key, range);
      if (!body) return void res.destroy();
      body.stream.on('error', (err) => {
        deps.logger.warn({ err: err.message, key }, 'archive download failed');
        res.destroy();
      });
      body.stream.pipe(res);
    })().catch((err: Error) => {
      deps.logger.warn({ err: err.message, key }, 'archive download failed');
      if (!res.headersSent) plain(res, 500, 'could not read the archive\n');
      else res.destroy();
    });
    return true;
  };
}
