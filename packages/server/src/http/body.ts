import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokhostError } from '../errors.js';

/**
 * How many body bytes are read (and discarded) before a too-large body is refused: 16 × the limit,
 * at least 16 MiB. Most clients read the answer only once they have sent their whole body, so
 * reading it to the end and then answering keeps the connection usable.
 */
export function drainBound(limit: number): number {
  return Math.max(limit * 16, 16 * 1024 * 1024);
}

/**
 * Read a request body up to `limit` bytes. A larger body is drained to its end (up to
 * {@link drainBound}) and then refused with 413 on a connection that stays open; past the bound the
 * 413 goes out at once with `connection: close`, and the server closes with a lingering close
 * (http/linger.ts) so that the client, still uploading, reads the answer instead of a reset.
 * `res`, the answer to the request, is told to close the connection then.
 */
export function readBody(req: IncomingMessage, limit: number, res?: ServerResponse): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const bound = drainBound(limit);
  return new Promise((resolve, reject) => {
    if (Number.isFinite(declared) && declared > bound) {
      req.resume();
      res?.setHeader('connection', 'close');
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    // The listeners stay on the request (it lives no longer than this read): once settled, later
    // events change nothing, and not removing four listeners per request is measurably cheaper.
    let settled = false;
    const onData = (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        if (size > bound) {
          settled = true;
          req.resume();
          res?.setHeader('connection', 'close');
          reject(tooLarge(limit));
        }
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (settled) return;
      settled = true;
      if (over) reject(tooLarge(limit));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(new TokhostError('ERR_REQUEST_BODY_MALFORMED', 'Request body could not be read', { description: err.message, cause: err }));
    };
    // A client that goes away mid-body may only close the stream; settle the promise anyway.
    const onClose = () => {
      if (!req.complete) onError(new Error('request aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number): TokhostError {
  return new TokhostError('ERR_REQUEST_BODY_TOO_LARGE', 'Request body too large', { description: `The request body exceeds ${limit} bytes` });
}

/** The media type of a request, lower-case, without parameters (`''` when absent). */
export function mediaType(req: IncomingMessage): string {
  const header = req.headers['content-type'] ?? '';
  if (header === 'application/x-www-form-urlencoded' || header === 'application/json') return header;
  return header.split(';')[0]!.trim().toLowerCase();
}

/**
 * `new URLSearchParams(text)` into a map, first value winning. Bodies without `%` (what the SDKs
 * send for session options) are split here; the rest go through URLSearchParams, whose lenient
 * percent-decoding (a bad escape stays as it is) this must match.
 */
function formFields(text: string, fields: Map<string, string>): void {
  if (text.includes('%')) {
    for (const [k, v] of new URLSearchParams(text)) if (!fields.has(k)) fields.set(k, v);
    return;
  }
  const plus = text.includes('+');
  // URLSearchParams drops one leading '?'.
  let start = text.startsWith('?') ? 1 : 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    if (end > start) {
      const eq = text.indexOf('=', start);
      let k = eq === -1 || eq > end ? text.slice(start, end) : text.slice(start, eq);
      let v = eq === -1 || eq > end ? '' : text.slice(eq + 1, end);
      if (plus) {
        k = k.replace(/\+/g, ' ');
        v = v.replace(/\+/g, ' ');
      }
      if (!fields.has(k)) fields.set(k, v);
    }
    start = end + 1;
  }
}

/**
 * Parse a JSON body. Empty bodies (opentok-node sends none on some action POSTs, others send
 * `{}`) become `{}`. JSON is accepted with `application/json`, `text/plain` or no Content-Type,
 * since several SDKs omit it on body-less POSTs.
 */
export function parseJsonBody(req: IncomingMessage, raw: Buffer): unknown {
  if (raw.length === 0) return {};
  const type = mediaType(req);
  if (type !== '' && type !== 'application/json' && type !== 'text/plain' && !type.endsWith('+json')) {
    throw new TokhostError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type', { description: `Expected application/json, got ${type}` });
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new TokhostError('ERR_REQUEST_BODY_MALFORMED', 'Invalid JSON in request body', { description: (cause as Error).message, cause });
  }
}

/**
 * Parse a `POST /session/create` body: form-encoded as the SDKs send it, JSON tolerated.
 * Returns the fields as strings (first value wins for repeated keys).
 */
export function parseFormBody(req: IncomingMessage, raw: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  if (raw.length === 0) return fields;
  const type = mediaType(req);
  if (type === 'application/json') {
    const json = parseJsonBody(req, raw);
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new TokhostError('ERR_REQUEST_INVALID', 'Invalid request body', { description: 'Expected a JSON object' });
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      if (typeof v === 'object') throw new TokhostError('ERR_REQUEST_INVALID', `Invalid ${k}`, { description: `${k} must be a string, number or boolean` });
      fields.set(k, String(v));
    }
    return fields;
  }
  if (type !== '' && type !== 'application/x-www-form-urlencoded' && type !== 'text/plain') {
    throw new TokhostError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type', { description: `Expected application/x-www-form-urlencoded, got ${type}` });
  }
  formFields(raw.toString('utf8'), fields);
  return fields;
}
