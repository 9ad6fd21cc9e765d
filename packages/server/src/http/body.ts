import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

/** How many bytes past the limit are read (and discarded) so the client can see the 413. */
const DRAIN_FACTOR = 16;

/**
 * Read a request body up to `limit` bytes. A larger body is drained (up to 16 × the limit, so a
 * client still writing can read the answer) and then refused with 413; past that the request is
 * refused as soon as the limit is crossed and the connection is closed.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve, reject) => {
    if (Number.isFinite(declared) && declared > limit * DRAIN_FACTOR) {
      req.resume();
      reject(tooLarge(limit, true));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        if (size > limit * DRAIN_FACTOR) {
          cleanup();
          req.resume();
          reject(tooLarge(limit, true));
        }
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (over) reject(tooLarge(limit, false));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new HttpError('ERR_REQUEST_BODY_MALFORMED', 'Request body could not be read', err.message, { cause: err }));
    };
    // A client that goes away mid-body may only close the stream; settle the promise anyway.
    const onClose = () => {
      if (!req.complete) onError(new Error('request aborted'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number, close: boolean): HttpError {
  return new HttpError('ERR_REQUEST_BODY_TOO_LARGE', 'Request body too large', `The request body exceeds ${limit} bytes`, {
    headers: close ? { connection: 'close' } : {},
  });
}

/** The media type of a request, lower-case, without parameters (`''` when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
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
    throw new HttpError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type', `Expected application/json, got ${type}`);
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new HttpError('ERR_REQUEST_BODY_MALFORMED', 'Invalid JSON in request body', (cause as Error).message, { cause });
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
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new HttpError('ERR_REQUEST_INVALID', 'Invalid request body', 'Expected a JSON object');
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      if (typeof v === 'object') throw new HttpError('ERR_REQUEST_INVALID', `Invalid ${k}`, `${k} must be a string, number or boolean`);
      fields.set(k, String(v));
    }
    return fields;
  }
  if (type !== '' && type !== 'application/x-www-form-urlencoded' && type !== 'text/plain') {
    throw new HttpError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type', `Expected application/x-www-form-urlencoded, got ${type}`);
  }
  for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) if (!fields.has(k)) fields.set(k, v);
  return fields;
}
