/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22, RFC 2617, RFC 7616 for the MD5
 * algorithm): answering a `WWW-Authenticate` (401) or `Proxy-Authenticate` (407) challenge.
 * MD5 and MD5-sess with `qop=auth` or without qop; SHA-256 (RFC 8760) too, as it costs one line.
 */
import { createHash, randomBytes } from 'node:crypto';
import { quotedStringSafeProblem, TOKEN_RE } from './grammar.js';
import { splitOutside } from './message.js';
import { TokhostError } from '../errors.js';

export interface DigestChallenge {
  scheme: string;
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: string;
  qop: string[];
  stale: boolean;
}

/** A digest challenge this user agent cannot answer. */
export class DigestError extends TokhostError<'ERR_SIP_DIGEST_INVALID'> {
  override readonly name = 'DigestError';
  constructor(message: string) {
    super('ERR_SIP_DIGEST_INVALID', message);
  }
}

/** Parse `Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5`. */
export function parseChallenge(value: string): DigestChallenge {
  const m = /^\s*(\S+)\s+(.*)$/s.exec(value);
  if (!m) throw new DigestError(`bad challenge ${JSON.stringify(value.slice(0, 80))}`);
  const params = new Map<string, string>();
  for (const part of splitOutside(m[2]!, ',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set(part.slice(0, eq).trim().toLowerCase(), v);
  }
  if (m[1]!.toLowerCase() !== 'digest') throw new DigestError(`unsupported auth scheme ${m[1]}`);
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) throw new DigestError('challenge without realm or nonce');
  // realm, nonce and opaque are echoed in our Authorization header: a hostile server must not be
  // able to close the quoted-string or break the line there.
  for (const name of ['realm', 'nonce', 'opaque'] as const) {
    const v = params.get(name);
    const problem = v === undefined ? undefined : quotedStringSafeProblem(v);
    if (problem) throw new DigestError(`challenge ${name} ${problem}`);
  }
  const algorithm = params.get('algorithm');
  if (algorithm !== undefined && !TOKEN_RE.test(algorithm)) throw new DigestError('challenge algorithm must be a token');
  return {
    scheme: 'Digest',
    realm,
    nonce,
    opaque: params.get('opaque'),
    algorithm: params.get('algorithm') ?? 'MD5',
    qop: (params.get('qop') ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .filter(Boolean),
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

export interface DigestInput {
  username: string;
  password: string;
  method: string;
  uri: string;
  /** For qop=auth: the nonce count (1 for the first use of a nonce). */
  nc?: number;
  /** For qop=auth: the client nonce (random when omitted). */
  cnonce?: string;
}

function hashFor(algorithm: string): (s: string) => string {
  const a = algorithm.toUpperCase().replace(/-SESS$/, '');
  const name = a === 'MD5' ? 'md5' : a === 'SHA-256' ? 'sha256' : undefined;
  if (!name) throw new DigestError(`unsupported digest algorithm ${algorithm}`);
  return (s) => createHash(name).update(s, 'utf8').digest('hex');
}

/** The `response` value and the fields that go with it. */
export function digestResponse(ch: DigestChallenge, input: DigestInput): { response: string; qop: string | undefined; nc: string | undefined; cnonce: string | undefined } {
  const H = hashFor(ch.algorithm);
  const qop = ch.qop.includes('auth') ? 'auth' : undefined;
  if (ch.qop.length > 0 && !qop) throw new DigestError(`unsupported qop ${ch.qop.join(',')} (only auth)`);
  const cnonce = qop || /-sess$/i.test(ch.algorithm) ? (input.cnonce ?? randomBytes(8).toString('hex')) : undefined;
  let ha1 = H(`${input.username}:${ch.realm}:${input.password}`);
  if (/-sess$/i.test(ch.algorithm)) ha1 = H(`${ha1}:${ch.nonce}:${cnonce}`);
  const ha2 = H(`${input.method}:${input.uri}`);
  if (!qop) return { response: H(`${ha1}:${ch.nonce}:${ha2}`), qop: undefined, nc: undefined, cnonce };
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');
  return { response: H(`${ha1}:${ch.nonce}:${nc}:${cnonce}:${qop}:${ha2}`), qop, nc, cnonce };
}

/**
 * The `Authorization` / `Proxy-Authorization` header value answering `ch`. Throws
 * {@link DigestError} when a value would not fit its quoted-string unescaped (a username or URI
 * with `"`, `\` or control characters, a challenge not checked by {@link parseChallenge}).
 */
export function authorizationHeader(ch: DigestChallenge, input: DigestInput): string {
  for (const [name, v] of [['username', input.username], ['uri', input.uri], ['realm', ch.realm], ['nonce', ch.nonce], ['opaque', ch.opaque]] as const) {
    const problem = v === undefined ? undefined : quotedStringSafeProblem(v);
    if (problem) throw new DigestError(`digest ${name} ${problem}`);
  }
  if (!TOKEN_RE.test(ch.algorithm)) throw new DigestError('digest algorithm must be a token');
  const r = digestResponse(ch, input);
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [`username=${q(input.username)}`, `realm=${q(ch.realm)}`, `nonce=${q(ch.nonce)}`, `uri=${q(input.uri)}`, `response=${q(r.response)}`, `algorithm=${ch.algorithm}`];
  if (r.cnonce !== undefined) parts.push(`cnonce=${q(r.cnonce)}`);
  if (ch.opaque !== undefined) parts.push(`opaque=${q(ch.opaque)}`);
  if (r.qop) parts.push(`qop=${r.qop}`, `nc=${r.nc}`);
  return `Digest ${parts.join(', ')}`;
}
