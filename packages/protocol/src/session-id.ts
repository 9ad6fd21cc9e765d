import { base64Decode, base64UrlEncode, utf8Decode, utf8Encode } from './base64.js';

/** The fields carried inside an OpenTok-format session ID (reference §5.1). */
export interface SessionIdParts {
  /** The leading version digit before `_` (`1` or `2`). */
  version: string;
  /** API key (project) the session belongs to. */
  apiKey: string;
  /** Location hint, an IPv4 address or `""`. */
  location: string;
  /** Creation time, ms since the epoch (or the legacy date string as found). */
  createdAt: string;
  /** Random part. */
  random: string;
  /** Every `~`-separated field of the decoded payload. */
  fields: string[];
}

/** Longest session ID OpenTok documents. */
export const SESSION_ID_MAX_LENGTH = 255;

/**
 * Build a session ID in the format every official SDK decodes:
 * `1_` + base64url-nopad(`1~{apiKey}~{location}~{createdMs}~{random}~~`).
 *
 * @example
 * encodeSessionId({ apiKey: '123456', location: '', createdAt: Date.now(), random: 'abc' })
 */
export function encodeSessionId(parts: {
  apiKey: string;
  location?: string;
  createdAt: number;
  random: string;
  /** Media-mode flag field: `P` for relayed (peer to peer), `` for routed. */
  flag?: string;
}): string {
  const payload = `1~${parts.apiKey}~${parts.location ?? ''}~${parts.createdAt}~${parts.random}~${parts.flag ?? ''}~`;
  return '1_' + base64UrlEncode(utf8Encode(payload));
}

/**
 * Decode a session ID the way opentok-node does (drop two characters, base64 in either alphabet,
 * split on `~`). Returns `null` when it does not decode to at least the key field.
 */
export function decodeSessionId(sessionId: string): SessionIdParts | null {
  if (typeof sessionId !== 'string' || sessionId.length < 3 || sessionId.length > SESSION_ID_MAX_LENGTH) return null;
  if (!/^[0-9]_[A-Za-z0-9_\-+/=]+$/.test(sessionId)) return null;
  const bytes = base64Decode(sessionId.slice(2));
  if (!bytes) return null;
  const text = utf8Decode(bytes);
  const fields = text.split('~');
  if (fields.length < 5 || !fields[1]) return null;
  return {
    version: sessionId[0]!,
    apiKey: fields[1],
    location: fields[2] ?? '',
    createdAt: fields[3] ?? '',
    random: fields[4] ?? '',
    fields,
  };
}
