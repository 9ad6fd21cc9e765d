/**
 * Every token the SDK makes is checked by the independent decoders in helpers/decode.ts
 * (HS256 for JWT, HMAC-SHA1 for T1): claims, role, expiry, data, layout classes; plus a failing
 * case for every validation rule.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError, OpenTok } from '../src/index.js';
import type { Role, TokenOptions } from '../src/index.js';
import { sessionIdFor, verifyHs256, verifyT1 } from './helpers/decode.js';

const KEY = '123456';
const SECRET = '1234567890abcdef1234567890abcdef1234567890';
const SID = sessionIdFor(KEY);
const ot = new OpenTok(KEY, SECRET);
const now = (): number => Math.floor(Date.now() / 1000);

describe('JWT client tokens', () => {
  it('default token: claims in opentok-node order, publisher, 24 h, no data', () => {
    const before = now();
    const token = ot.generateToken(SID);
    const after = now();
    const { header, claims, claimOrder } = verifyHs256(token, SECRET);
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(claimOrder).toEqual([
      'iss',
      'ist',
      'iat',
      'exp',
      'session_id',
      'create_time',
      'nonce',
      'role',
      'expire_time',
      'initial_layout_class_list',
      'scope',
    ]);
    expect(claims['iss']).toBe(KEY);
    expect(claims['ist']).toBe('project');
    expect(claims['session_id']).toBe(SID);
    expect(claims['role']).toBe('publisher');
    expect(claims['scope']).toBe('session.connect');
    expect(claims['initial_layout_class_list']).toBe('');
    const iat = claims['iat'] as number;
    expect(iat).toBeGreaterThanOrEqual(before);
    expect(iat).toBeLessThanOrEqual(after);
    expect(claims['create_time']).toBe(iat);
    expect(claims['exp']).toBe(iat + 86400);
    expect(claims['expire_time']).toBe(iat + 86400);
    expect(typeof claims['nonce']).toBe('number');
    expect('connection_data' in claims).toBe(false);
  });

  it.each(['publisher', 'subscriber', 'publisheronly', 'moderator'] as Role[])('role %s', (role) => {
    expect(verifyHs256(ot.generateToken(SID, { role }), SECRET).claims['role']).toBe(role);
  });

  it('expiry, data and layout classes (array)', () => {
    const expireTime = now() + 3600;
    const data = 'name=Johnny&x=1 ünïcode "quoted"';
    const { claims, claimOrder } = verifyHs256(ot.generateToken(SID, { expireTime, data, initialLayoutClassList: ['focus', 'big'] }), SECRET);
    expect(claims['exp']).toBe(expireTime);
    expect(claims['expire_time']).toBe(expireTime);
    expect(claims['connection_data']).toBe(data);
    expect(claims['initial_layout_class_list']).toBe('focus big');
    expect(claimOrder.indexOf('connection_data')).toBe(claimOrder.indexOf('expire_time') + 1);
  });

  it('layout classes as a string; fractional and string expireTime rounded (not floored)', () => {
    const t = now() + 1000;
    expect(verifyHs256(ot.generateToken(SID, { initialLayoutClassList: 'a b' }), SECRET).claims['initial_layout_class_list']).toBe('a b');
    expect(verifyHs256(ot.generateToken(SID, { expireTime: t + 0.6 }), SECRET).claims['exp']).toBe(t + 1);
    expect(verifyHs256(ot.generateToken(SID, { expireTime: t + 0.4 }), SECRET).claims['exp']).toBe(t);
    expect(verifyHs256(ot.generateToken(SID, { expireTime: String(t) }), SECRET).claims['exp']).toBe(t);
  });

  it('nonce differs between tokens; a wrong secret fails verification', () => {
    const a = verifyHs256(ot.generateToken(SID), SECRET).claims['nonce'];
    const b = verifyHs256(ot.generateToken(SID), SECRET).claims['nonce'];
    expect(a).not.toBe(b);
    expect(() => verifyHs256(ot.generateToken(SID), SECRET + 'x')).toThrow('bad JWT signature');
  });

  it('a numeric API key becomes the string iss', () => {
    const numeric = new OpenTok(Number(KEY), SECRET);
    expect(numeric.apiKey).toBe(KEY);
    expect(verifyHs256(numeric.generateToken(SID, { role: 'moderator' }), SECRET).claims['iss']).toBe(KEY);
  });
});

describe('legacy T1 tokens', () => {
  it.each([
    ['third argument true', (o: TokenOptions) => ot.generateToken(SID, o, true)],
    ["format: 't1'", (o: TokenOptions) => ot.generateToken(SID, { ...o, format: 't1' })],
  ])('%s: HMAC-SHA1, opentok-node field order, all claims', (_name, make) => {
    const expireTime = now() + 7200;
    const token = make({ role: 'moderator', expireTime, data: 'name=Johnny&x=1', initialLayoutClassList: ['focus', 'big'] });
    expect(token.startsWith('T1==')).toBe(true);
    const t1 = verifyT1(token, SECRET);
    expect(t1.partnerId).toBe(KEY);
    expect(t1.fieldOrder).toEqual(['session_id', 'create_time', 'nonce', 'role', 'expire_time', 'connection_data', 'initial_layout_class_list', 'scope']);
    expect(t1.fields['session_id']).toBe(SID);
    expect(t1.fields['role']).toBe('moderator');
    expect(Number(t1.fields['expire_time'])).toBe(expireTime);
    expect(Math.abs(Number(t1.fields['create_time']) - now())).toBeLessThanOrEqual(2);
    expect(t1.fields['connection_data']).toBe('name=Johnny&x=1');
    expect(t1.fields['initial_layout_class_list']).toBe('focus big');
    expect(t1.fields['scope']).toBe('session.connect');
    // Node's querystring writes spaces as %20, as opentok-node does.
    expect(t1.dataString).toContain('initial_layout_class_list=focus%20big');
    expect(() => verifyT1(token, 'other')).toThrow('bad T1 signature');
  });

  it('default T1: publisher, 24 h, empty layout list present, no data', () => {
    const t1 = verifyT1(ot.generateToken(SID, {}, true), SECRET);
    expect(t1.fields['role']).toBe('publisher');
    expect(Number(t1.fields['expire_time']) - Number(t1.fields['create_time'])).toBe(86400);
    expect(t1.fields['initial_layout_class_list']).toBe('');
    expect('connection_data' in t1.fields).toBe(false);
  });
});

describe('token validation (each rule has a failing case)', () => {
  const bad: Array<[string, () => unknown, RegExp]> = [
    ['session of another key', () => ot.generateToken(sessionIdFor('999999')), /sessionId/],
    ['garbage session ID', () => ot.generateToken('not-a-session'), /sessionId/],
    ['empty session ID', () => ot.generateToken(''), /sessionId/],
    ['non-string session ID', () => ot.generateToken(42 as unknown as string), /sessionId/],
    ['unknown role', () => ot.generateToken(SID, { role: 'admin' as Role }), /role/],
    ['expireTime in the past', () => ot.generateToken(SID, { expireTime: now() - 10 }), /expireTime.*future/],
    ['expireTime now', () => ot.generateToken(SID, { expireTime: now() - 0.4 }), /expireTime/],
    ['expireTime beyond 30 days', () => ot.generateToken(SID, { expireTime: now() + 30 * 86400 + 120 }), /expireTime.*30 days/],
    ['expireTime not numeric', () => ot.generateToken(SID, { expireTime: 'tomorrow' }), /expireTime/],
    ['data over 1000 characters', () => ot.generateToken(SID, { data: 'x'.repeat(1001) }), /data.*1000/],
    ['data not a string', () => ot.generateToken(SID, { data: 5 as unknown as string }), /data/],
    ['layout classes not strings', () => ot.generateToken(SID, { initialLayoutClassList: [1] as unknown as string[] }), /initialLayoutClassList/],
    ['layout classes wrong type', () => ot.generateToken(SID, { initialLayoutClassList: 5 as unknown as string }), /initialLayoutClassList/],
    ['layout classes too long', () => ot.generateToken(SID, { initialLayoutClassList: 'x'.repeat(1025) }), /initialLayoutClassList/],
    ['unknown format', () => ot.generateToken(SID, { format: 'T2' as 'jwt' }), /format/],
  ];
  it.each(bad)('%s → ArgumentError naming the option', (_name, fn, message) => {
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ArgumentError);
    expect((caught as ArgumentError).code).toBe('ERR_SDK_ARGUMENT');
    expect((caught as Error).message).toMatch(message);
  });

  it('limits are inclusive: 1000 characters of data and exactly 30 days are accepted', () => {
    const t = now() + 30 * 86400 - 5;
    const { claims } = verifyHs256(ot.generateToken(SID, { data: 'x'.repeat(1000), expireTime: t }), SECRET);
    expect((claims['connection_data'] as string).length).toBe(1000);
    expect(claims['exp']).toBe(t);
  });
});
