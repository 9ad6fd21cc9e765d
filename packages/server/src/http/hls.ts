/**
 * HLS of broadcasts, served by the server itself outside the REST auth: `GET /hls/<token>/index.m3u8`
 * and its segments. The token is 24 random bytes (base64url) handed out only in the Broadcast
 * object, so the URL is the credential, as OpenTok's CDN URLs are. Only the playlist and
 * `seg-NNNNN.ts` names are served, from the broadcast's own directory.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

const PATH = /^\/hls\/([A-Za-z0-9_-]{32})\/(index\.m3u8|seg-\d{5,9}\.ts)(?:\?.*)?$/;

/** Looks a token up: the directory of its files while they exist. */
export type HlsDirectoryLookup = (token: string) => string | undefined;

/**
 * Cluster mode: a request for a token this server does not know is offered here (another node
 * may run the broadcast); resolves true once it answered, false when no other node serves it.
 */
export type HlsRemote = (token: string, req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

function answer(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ code: status, message, description: message });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'access-control-allow-origin': '*' });
  res.end(body);
}

/**
 * Answers `/hls/…` requests (returns false for other paths). CORS is open (`*`): players on any
 * origin (hls.js in a web page) fetch the playlist and segments with XHR.
 */
export function createHlsHandler(lookup: HlsDirectoryLookup, remote?: HlsRemote): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith('/hls/')) return false;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': 'range', 'access-control-max-age': '86400' });
      res.end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      answer(res, 405, 'Method Not Allowed');
      return true;
    }
    const m = PATH.exec(url);
    const dir = m ? lookup(m[1]!) : undefined;
    if (m && !dir && remote) {
      remote(m[1]!, req, res).then(
        (served) => served || answer(res, 404, 'Not Found'),
        () => (res.headersSent ? res.destroy() : answer(res, 502, 'Bad Gateway')),
      );
      return true;
    }
    if (!m || !dir) {
      answer(res, 404, 'Not Found');
      return true;
    }
    const name = m[2]!;
    const file = join(dir, name);
    const playlist = name.endsWith('.m3u8');
    // The playlist is replaced (renamed over) every segment: read it whole so length and body agree.
    let body: Buffer | undefined;
    let size: number;
    try {
      if (playlist) size = (body = readFileSync(file)).length;
      else size = statSync(file).size;
    } catch {
      answer(res, 404, 'Not Found');
      return true;
    }
    res.writeHead(200, {
      'content-type': playlist ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
      'content-length': size,
      // The live playlist changes every segment; a segment never changes once listed.
      'cache-control': playlist ? 'no-cache' : 'public, max-age=3600',
      'access-control-allow-origin': '*',
    });
    if (req.method === 'HEAD' || body) {
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    return true;
  };
}
