import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { encodeSessionId } from '@tokhost/protocol';
import { ClientTokenError, verifyClientToken } from '../../src/auth/client-token.js';
import { signJwt, signT1 } from './harness.js';
import type { OpenTokSdk } from './harness.js';

const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string) => OpenTokSdk;

const KEY = '47665971';
const SECRET = '0123456789abcdef0123456789abcdef01234567';
const SID = encodeSessionId({ apiKey: KEY, createdAt: 1739538894959, random: 'Q9mcXG1QrN3TIYu8y+ppx/gs', flag: 'P' });
const lookup = (k: string) => (k === KEY ? { apiSecret: SECRET } : undefined);
const now = Math.floor(Date.now() / 1000);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClientTokenError);
    return (err as ClientTokenError).code;
  }
  throw new Error('expected a ClientTokenError');
}

describe('verifyClientToken: tokens from the official opentok SDK', () => {
  const ot = new OpenTok(KEY, SECRET);
  it('accepts a JWT with role, data, expiry and class list', () => {
    const token = ot.generateToken(SID, { role: 'moderator', data: 'name=Johnny&x=1', expireTime: now + 600, initialLayoutClassList: ['focus', 'big'] });
    const v = verifyClientToken(token, lookup);
    expect(v).toMatchObject({ format: 'jwt', apiKey: KEY, sessionId: SID, role: 'moderator', connectionData: 'name=Johnny&x=1', initialLayoutClassList: ['focus', 'big'], expiresAt: now + 600 });
  });
  it('accepts a T1 token (node: %20 spaces, standard base64)', () => {
    const token = ot.generateToken(SID, { role: 'subscriber', data: 'a b', initialLayoutClassList: ['focus', 'big'] }, true);
    expect(token.startsWith('T1==')).toBe(true);
    const v = verifyClientToken(token, lookup);
    expect(v).toMatchObject({ format: 't1', role: 'subscriber', connectionData: 'a b', initialLayoutClassList: ['focus', 'big'] });
  });
  it('defaults the role to publisher', () => {
    expect(verifyClientToken(ot.generateToken(SID), lookup).role).toBe('publisher');
  });
});

describe('verifyClientToken: other SDKs (reference §5.2, §5.3)', () => {
  it('JWT in Java claim order, header without typ, integer nonce', () => {
    const t = signJwt({ ist: 'project', iss: KEY, jti: 'x', exp: now + 60, iat: now, session_id: SID, nonce: -5, role: 'publisher', scope: 'session.connect', initial_layout_class_list: 'a', connection_data: 'd' }, SECRET, { alg: 'HS256' });
    expect(verifyClientToken(t, lookup)).toMatchObject({ role: 'publisher', connectionData: 'd', initialLayoutClassList: ['a'] });
  });
  it('JWT in Python order', () => {
    const t = signJwt({ session_id: SID, role: 'moderator', iat: now, exp: now + 60, scope: 'session.connect', iss: KEY, ist: 'project', nonce: 12 }, SECRET);
    expect(verifyClientToken(t, lookup).role).toBe('moderator');
  });
  it('Ruby JWT without exp gets iat + 24 h', () => {
    const t = signJwt({ iss: KEY, ist: 'project', iat: now, nonce: 0.5, role: 'publisher', scope: 'session.connect', session_id: SID }, SECRET);
    expect(verifyClientToken(t, lookup).expiresAt).toBe(now + 86400);
  });
  it('Python T1: + spaces, expire_time before role', () => {
    const data = `session_id=${SID}&create_time=${now}&expire_time=${now + 60}&role=moderator&nonce=123456&initial_layout_class_list=focus+big&connection_data=hello+world`;
    expect(verifyClientToken(signT1(data, KEY, SECRET), lookup)).toMatchObject({ role: 'moderator', connectionData: 'hello world', initialLayoutClassList: ['focus', 'big'] });
  });
  it('PHP T1 without expire_time defaults to create_time + 24 h', () => {
    const data = `session_id=${SID}&create_time=${now}&role=publisher&nonce=1700000000.1234&initial_layout_class_list=`;
    expect(verifyClientToken(signT1(data, KEY, SECRET), lookup).expiresAt).toBe(now + 86400);
  });
  it('Ruby T1 (role first)', () => {
    const data = `role=subscriber&session_id=${SID}&create_time=${now}&nonce=0.25&expire_time=${now + 60}`;
    expect(verifyClientToken(signT1(data, KEY, SECRET), lookup).role).toBe('subscriber');
  });
  it('Java T1: URL-safe base64, raw spaces, URL-encoded data', () => {
    // Bytes of ASCII text map to base64 62/63 ('+'/'/') only for '>', '?', '~' at the end of a
    // triplet: vary the nonce until '~' lands there, so the URL-safe alphabet is really exercised.
    const dataFor = (nonce: number) => `create_time=${now}&expire_time=${now + 60}&session_id=${SID}&nonce=${nonce}&role=publisher&scope=session.connect&initial_layout_class_list=focus big~x&connection_data=name%3DJo%C3%ABl`;
    let nonce = -42;
    let token = signT1(dataFor(nonce), KEY, SECRET, 'url');
    while (!/[-_]/.test(token.slice(4)) && nonce > -60) token = signT1(dataFor(--nonce), KEY, SECRET, 'url');
    expect(token.slice(4)).toMatch(/[-_]/);
    const v = verifyClientToken(token, lookup);
    expect(v).toMatchObject({ initialLayoutClassList: ['focus', 'big~x'], connectionData: 'name=Joël' });
  });
});

describe('verifyClientToken: refusals', () => {
  it('expired', () => {
    const t = signJwt({ iss: KEY, ist: 'project', iat: now - 100, exp: now - 10, session_id: SID, role: 'publisher', scope: 'session.connect' }, SECRET);
    expect(codeOf(() => verifyClientToken(t, lookup))).toBe('ERR_RT_TOKEN_EXPIRED');
  });
  it('forged (signed with another secret)', () => {
    const t = signJwt({ iss: KEY, ist: 'project', iat: now, exp: now + 60, session_id: SID, role: 'publisher', scope: 'session.connect' }, 'not-the-secret');
    expect(codeOf(() => verifyClientToken(t, lookup))).toBe('ERR_RT_TOKEN_SIGNATURE');
    const t1 = signT1(`session_id=${SID}&create_time=${now}&role=publisher`, KEY, 'not-the-secret');
    expect(codeOf(() => verifyClientToken(t1, lookup))).toBe('ERR_RT_TOKEN_SIGNATURE');
  });
  it('tampered claims', () => {
    const t = signJwt({ iss: KEY, ist: 'project', iat: now, exp: now + 60, session_id: SID, role: 'subscriber', scope: 'session.connect' }, SECRET);
    const [h, , s] = t.split('.');
    const p = Buffer.from(JSON.stringify({ iss: KEY, ist: 'project', iat: now, exp: now + 60, session_id: SID, role: 'moderator', scope: 'session.connect' })).toString('base64url');
    expect(codeOf(() => verifyClientToken(`${h}.${p}.${s}`, lookup))).toBe('ERR_RT_TOKEN_SIGNATURE');
  });
  it('unknown API key', () => {
    const t = signJwt({ iss: '999', ist: 'project', iat: now, exp: now + 60, session_id: SID, role: 'publisher', scope: 'session.connect' }, SECRET);
    expect(codeOf(() => verifyClientToken(t, lookup))).toBe('ERR_RT_TOKEN_PROJECT');
  });
  it('session of another key', () => {
    const other = encodeSessionId({ apiKey: '1234', createdAt: 1, random: 'r' });
    const t = signJwt({ iss: KEY, ist: 'project', iat: now, exp: now + 60, session_id: other, role: 'publisher', scope: 'session.connect' }, SECRET);
    expect(codeOf(() => verifyClientToken(t, lookup))).toBe('ERR_RT_TOKEN_SESSION');
  });
  it('bad role, scope, alg and garbage', () => {
    const base = { iss: KEY, ist: 'project', iat: now, exp: now + 60, session_id: SID, scope: 'session.connect' };
    expect(codeOf(() => verifyClientToken(signJwt({ ...base, role: 'admin' }, SECRET), lookup))).toBe('ERR_RT_TOKEN_ROLE');
    expect(codeOf(() => verifyClientToken(signJwt({ ...base, role: 'publisher', scope: 'x' }, SECRET), lookup))).toBe('ERR_RT_TOKEN_SCOPE');
    expect(codeOf(() => verifyClientToken(signJwt({ ...base, role: 'publisher' }, SECRET, { alg: 'none' }), lookup))).toBe('ERR_RT_TOKEN_MALFORMED');
    expect(codeOf(() => verifyClientToken('hello', lookup))).toBe('ERR_RT_TOKEN_MALFORMED');
    expect(codeOf(() => verifyClientToken('T1==!!!', lookup))).toBe('ERR_RT_TOKEN_MALFORMED');
    expect(codeOf(() => verifyClientToken('', lookup))).toBe('ERR_RT_TOKEN_MALFORMED');
  });
});

describe('verifyClientToken: lifetime rules (OpenTok: times carried, creation not in the future, expiry ≤ 30 days after it)', () => {
  const DAY = 86_400;
  const jwt = (times: Record<string, unknown>) => signJwt({ iss: KEY, ist: 'project', ...times, session_id: SID, role: 'publisher', scope: 'session.connect' }, SECRET);
  const t1 = (times: string) => signT1(`session_id=${SID}${times}&nonce=0.5&role=publisher`, KEY, SECRET);
  // [name, JWT time claims, T1 time fields, expected code]
  const hostile: [string, Record<string, unknown>, string, string][] = [
    ['creation in the future', { iat: now + 3600, exp: now + 7200 }, `&create_time=${now + 3600}&expire_time=${now + 7200}`, 'ERR_RT_TOKEN_NOT_YET_VALID'],
    ['create_time in the future (iat now)', { iat: now, create_time: now + 3600, exp: now + 7200 }, `&create_time=${now + 120}&expire_time=${now + 7200}`, 'ERR_RT_TOKEN_NOT_YET_VALID'],
    ['exp ten years out', { iat: now, exp: now + 3650 * DAY }, `&create_time=${now}&expire_time=${now + 3650 * DAY}`, 'ERR_RT_TOKEN_LIFETIME'],
    ['exp 30 days and 1 s after creation', { iat: now, exp: now + 30 * DAY + 1 }, `&create_time=${now}&expire_time=${now + 30 * DAY + 1}`, 'ERR_RT_TOKEN_LIFETIME'],
    ['created long ago, lifetime over 30 days, not yet expired', { iat: now - 40 * DAY, exp: now + DAY }, `&create_time=${now - 40 * DAY}&expire_time=${now + DAY}`, 'ERR_RT_TOKEN_LIFETIME'],
    ['expired', { iat: now - 600, exp: now - 1 }, `&create_time=${now - 600}&expire_time=${now - 1}`, 'ERR_RT_TOKEN_EXPIRED'],
    ['no expiry, created more than 24 h ago (default lifetime over)', { iat: now - DAY - 5 }, `&create_time=${now - DAY - 5}`, 'ERR_RT_TOKEN_EXPIRED'],
    ['no time claims at all', {}, '', 'ERR_RT_TOKEN_MALFORMED'],
    ['expiry but no creation time', { exp: now + 600 }, `&expire_time=${now + 600}`, 'ERR_RT_TOKEN_MALFORMED'],
    ['non-numeric creation time', { iat: 'yesterday', exp: now + 600 }, `&create_time=yesterday&expire_time=${now + 600}`, 'ERR_RT_TOKEN_MALFORMED'],
  ];
  it.each(hostile)('refuses %s (JWT and T1)', (_name, claims, fields, code) => {
    expect(codeOf(() => verifyClientToken(jwt(claims), lookup))).toBe(code);
    expect(codeOf(() => verifyClientToken(t1(fields), lookup))).toBe(code);
  });
  it('refuses a JWT whose nbf is in the future', () => {
    expect(codeOf(() => verifyClientToken(jwt({ iat: now, nbf: now + 3600, exp: now + 7200 }), lookup))).toBe('ERR_RT_TOKEN_NOT_YET_VALID');
  });
  it('names the offending claim in the message', () => {
    expect(() => verifyClientToken(jwt({ iat: now, nbf: now + 3600, exp: now + 7200 }), lookup)).toThrow(/"nbf"/);
    expect(() => verifyClientToken(t1(`&create_time=${now}&expire_time=${now + 3650 * DAY}`), lookup)).toThrow(/"expire_time".*30 days/);
    expect(() => verifyClientToken(jwt({}), lookup)).toThrow(/no creation time \("iat" or "create_time"\)/);
  });
  it('tolerates creation up to the clock skew ahead (default 30 s, configurable)', () => {
    expect(verifyClientToken(jwt({ iat: now + 25, exp: now + 600 }), lookup).createdAt).toBe(now + 25);
    expect(verifyClientToken(t1(`&create_time=${now + 25}&expire_time=${now + 600}`), lookup).createdAt).toBe(now + 25);
    expect(codeOf(() => verifyClientToken(jwt({ iat: now + 25, exp: now + 600 }), lookup, { clockSkewSeconds: 10 }))).toBe('ERR_RT_TOKEN_NOT_YET_VALID');
    expect(verifyClientToken(jwt({ iat: now + 100, exp: now + 600 }), lookup, { clockSkewSeconds: 120 }).expiresAt).toBe(now + 600);
  });
  it('accepts exactly 30 days, and a token checked at a given instant', () => {
    expect(verifyClientToken(jwt({ iat: now, exp: now + 30 * DAY }), lookup).expiresAt).toBe(now + 30 * DAY);
    expect(verifyClientToken(t1(`&create_time=${now}&expire_time=${now + 30 * DAY}`), lookup).expiresAt).toBe(now + 30 * DAY);
    expect(codeOf(() => verifyClientToken(jwt({ iat: now, exp: now + 600 }), lookup, { now: now + 601 }))).toBe('ERR_RT_TOKEN_EXPIRED');
  });
  it('accepts what the official opentok SDK mints: defaults, 30 days, both formats; refuses its 31-day tokens (it has no cap)', () => {
    const ot = new OpenTok(KEY, SECRET);
    for (const legacy of [false, true]) {
      expect(verifyClientToken(ot.generateToken(SID, undefined, legacy), lookup).expiresAt - now).toBeGreaterThanOrEqual(DAY - 2);
      expect(verifyClientToken(ot.generateToken(SID, { expireTime: now + 30 * DAY }, legacy), lookup).expiresAt).toBe(now + 30 * DAY);
      expect(codeOf(() => verifyClientToken(ot.generateToken(SID, { expireTime: now + 31 * DAY }, legacy), lookup))).toBe('ERR_RT_TOKEN_LIFETIME');
    }
  });
});
