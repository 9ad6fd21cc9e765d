/**
 * Token decoders written independently of the SDK (no shared code): HS256 and RS256 JWT, HMAC-SHA1 T1.
 */
import { createHmac, verify } from 'node:crypto';

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** Claim names in the order they appear in the payload JSON. */
  claimOrder: string[];
}

function b64urlToText(part: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error(`not base64url: ${part}`);
  return Buffer.from(part.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

/** Verify an HS256 JWT's signature with `secret` and return header and claims; throws on a bad signature. */
export function verifyHs256(token: string, secret: string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('a JWT has three parts');
  const [h, p, s] = parts as [string, string, string];
  const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  if (expected !== s) throw new Error('bad JWT signature');
  const header = JSON.parse(b64urlToText(h)) as Record<string, unknown>;
  if (header['alg'] !== 'HS256') throw new Error('alg is not HS256');
  const claims = JSON.parse(b64urlToText(p)) as Record<string, unknown>;
  return { header, claims, claimOrder: Object.keys(claims) };
}

export interface DecodedT1 {
  partnerId: string;
  sig: string;
  dataString: string;
  fields: Record<string, string>;
  fieldOrder: string[];
}

/** Verify a `T1==` token's HMAC-SHA1 with `secret` and return its fields; throws on a bad signature. */
export function verifyT1(token: string, secret: string): DecodedT1 {
  if (!token.startsWith('T1==')) throw new Error('missing T1== sentinel');
  const decoded = Buffer.from(token.slice(4), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new Error('missing ":"');
  const meta = new URLSearchParams(decoded.slice(0, colon));
  const dataString = decoded.slice(colon + 1);
  const sig = meta.get('sig') ?? '';
  const expected = createHmac('sha1', secret).update(dataString, 'utf8').digest('hex');
  if (sig !== expected) throw new Error('bad T1 signature');
  const params = new URLSearchParams(dataString);
  return { partnerId: meta.get('partner_id') ?? '', sig, dataString, fields: Object.fromEntries(params), fieldOrder: [...params.keys()] };
}

/** A session ID of the format every SDK decodes, for `apiKey`. */
export function sessionIdFor(apiKey: string, random = 'rAnDoM0123456789abcdefgh'): string {
  return '1_' + Buffer.from(`1~${apiKey}~~1700000000000~${random}~~`, 'utf8').toString('base64url');
}

/** Verify an RS256 JWT's signature with `publicKey` (PEM or KeyObject) and return header and claims; throws on a bad signature. */
export function verifyRs256(token: string, publicKey: Parameters<typeof verify>[2]): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('a JWT has three parts');
  const [h, p, s] = parts as [string, string, string];
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'))) throw new Error('bad JWT signature');
  const header = JSON.parse(b64urlToText(h)) as Record<string, unknown>;
  if (header['alg'] !== 'RS256') throw new Error('alg is not RS256');
  const claims = JSON.parse(b64urlToText(p)) as Record<string, unknown>;
  return { header, claims, claimOrder: Object.keys(claims) };
}
