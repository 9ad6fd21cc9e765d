/**
 * Application credentials (application ID + RSA private key, opentok-node 2.23's Vonage mode): the
 * REST calls carry `Authorization: Bearer` RS256 JWTs, client tokens are RS256 with the Vonage
 * claims, both checked with the public key by the independent decoder; the official `opentok`
 * package in the same mode makes the same requests and the same claim sets. Bad credentials are
 * refused before any request.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArgumentError, OpenTok } from '../src/index.js';
import { ARCHIVE, BROADCAST, CID, SECRET } from './fixtures.js';
import { sessionIdFor, verifyHs256, verifyRs256 } from './helpers/decode.js';
import { startRecordingServer } from './helpers/recording-server.js';
import type { RecordedRequest, Reply, RecordingServer } from './helpers/recording-server.js';

const APP_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PKCS1_PEM = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
/** A session made with the project's API key: an application of the same project mints tokens for it. */
const PROJECT_SID = sessionIdFor('4567890');
const APP_SID = sessionIdFor(APP_ID);
const now = (): number => Math.floor(Date.now() / 1000);

let server: RecordingServer;
beforeAll(async () => {
  server = await startRecordingServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

describe('REST authentication', () => {
  it('sends a fresh RS256 Bearer JWT with the opentok-node Vonage-mode claims, to the application path', async () => {
    const ot = new OpenTok(APP_ID, PEM, { apiUrl: server.url });
    server.reply({ status: 200, body: ARCHIVE });
    const before = now();
    await ot.getArchive(ARCHIVE.id);
    await ot.getArchive(ARCHIVE.id);
    expect(server.requests).toHaveLength(2);
    const [first, second] = server.requests as [(typeof server.requests)[0], (typeof server.requests)[0]];
    expect(first.path).toBe(`/v2/project/${APP_ID}/archive/${ARCHIVE.id}`);
    expect(first.headers['x-opentok-auth']).toBeUndefined();
    const auth = String(first.headers['authorization']);
    expect(auth).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const { header, claims, claimOrder } = verifyRs256(auth.slice('Bearer '.length), publicKey);
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(claimOrder).toEqual(['iss', 'ist', 'iat', 'exp', 'application_id', 'jti']);
    expect(claims).toMatchObject({ iss: APP_ID, ist: 'project', application_id: APP_ID });
    expect(claims['iat']).toBeGreaterThanOrEqual(before);
    expect(claims['exp']).toBe((claims['iat'] as number) + 300);
    const secondClaims = verifyRs256(String(second.headers['authorization']).slice(7), publicKey).claims;
    expect(secondClaims['jti']).not.toBe(claims['jti']);
    expect(() => verifyRs256(auth.slice(7), other.publicKey)).toThrow('bad JWT signature');
  });

  it('accepts a PKCS#1 key (openssl genrsa) as well, and defaults to the Vonage API host', async () => {
    const ot = new OpenTok(APP_ID, PKCS1_PEM);
    expect(ot.apiUrl).toBe('https://video.api.vonage.com');
    expect(verifyRs256(ot.generateJwt(), publicKey).claims['application_id']).toBe(APP_ID);
  });

  it('generateJwt() is the REST JWT of either kind of credentials', () => {
    const app = verifyRs256(new OpenTok(APP_ID, PEM).generateJwt(), publicKey);
    expect(app.claims['iss']).toBe(APP_ID);
    const project = verifyHs256(new OpenTok('4567890', SECRET).generateJwt(), SECRET);
    expect(project.claimOrder).toEqual(['iss', 'ist', 'iat', 'exp', 'jti']);
    expect(project.claims['exp']).toBe((project.claims['iat'] as number) + 300);
  });
});

describe('client tokens', () => {
  const ot = new OpenTok(APP_ID, PEM);

  it('are RS256 with the Vonage claims, in order, and no nonce/create_time/expire_time', () => {
    const before = now();
    const { header, claims, claimOrder } = verifyRs256(ot.generateToken(APP_SID), publicKey);
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(claimOrder).toEqual(['scope', 'session_id', 'role', 'initial_layout_class_list', 'exp', 'sub', 'acl', 'jti', 'iat', 'application_id']);
    expect(claims).toMatchObject({
      scope: 'session.connect',
      session_id: APP_SID,
      role: 'publisher',
      initial_layout_class_list: '',
      sub: 'video',
      acl: { paths: { '/session/**': {} } },
      application_id: APP_ID,
    });
    expect(claims['iat']).toBeGreaterThanOrEqual(before);
    expect(claims['exp']).toBe((claims['iat'] as number) + 86400);
  });

  it('carry role, expiry, data and layout classes', () => {
    const expireTime = now() + 600;
    const token = ot.generateToken(APP_SID, { role: 'moderator', expireTime, data: 'name=Ann ü', initialLayoutClassList: ['focus', 'big'] });
    const { claims, claimOrder } = verifyRs256(token, publicKey);
    expect(claims).toMatchObject({ role: 'moderator', exp: expireTime, connection_data: 'name=Ann ü', initial_layout_class_list: 'focus big' });
    expect(claimOrder.indexOf('connection_data')).toBe(claimOrder.indexOf('acl') + 1);
  });

  it("are made for sessions created with the project's API key too (the server checks the project)", () => {
    expect(verifyRs256(ot.generateToken(PROJECT_SID), publicKey).claims['session_id']).toBe(PROJECT_SID);
  });

  it('refuse a T1 token and the usual bad options with an ArgumentError naming the option', () => {
    expect(() => ot.generateToken(APP_SID, { format: 't1' })).toThrow(/^format: "t1" tokens need API key\/secret credentials/);
    expect(() => ot.generateToken(APP_SID, {}, true)).toThrow(ArgumentError);
    expect(() => ot.generateToken('', {})).toThrow(/sessionId/);
    expect(() => ot.generateToken(APP_SID, { role: 'boss' as never })).toThrow(/^role must be one of/);
    expect(() => ot.generateToken(APP_SID, { expireTime: now() - 10 })).toThrow(/^expireTime must be in the future/);
  });
});

describe('bad credentials are refused before any request', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['a private key with an API key that is not a UUID', '4567890', PEM, /^apiKey must be an application ID \(a UUID\)/],
    ['an unreadable PEM', APP_ID, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', /^apiSecret is not a readable PEM private key/],
    [
      'a public key',
      APP_ID,
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      /^apiSecret is a PEM but not a private key/,
    ],
    [
      'an EC key',
      APP_ID,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      /^apiSecret must be an RSA private key \(got ec\)/,
    ],
    [
      'a 1024-bit RSA key',
      APP_ID,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      /^apiSecret must be an RSA key of at least 2048 bits \(got 1024\)/,
    ],
  ];
  it.each(cases)('%s', (_name, key, secret, message) => {
    expect(() => new OpenTok(key, secret, { apiUrl: server.url })).toThrow(message);
    expect(() => new OpenTok(key, secret, { apiUrl: server.url })).toThrow(ArgumentError);
    expect(server.requests).toHaveLength(0);
  });

  it('a UUID with a plain secret stays key/secret credentials (HS256), as in opentok-node', () => {
    const ot = new OpenTok(APP_ID, SECRET);
    expect(ot.apiUrl).toBe('https://api.opentok.com');
    expect(verifyHs256(ot.generateJwt(), SECRET).claims['iss']).toBe(APP_ID);
  });
});

describe('called without new', () => {
  it('constructs an instance, with the statics of the class', () => {
    const call = OpenTok as unknown as (key: string, secret: string) => OpenTok;
    const ot = call(APP_ID, PEM);
    expect(ot).toBeInstanceOf(OpenTok);
    expect(ot.apiKey).toBe(APP_ID);
    expect(OpenTok.name).toBe('OpenTok');
    expect(new OpenTok.ArchiveError('x')).toBeInstanceOf(Error);
    expect(() => call('', 'x')).toThrow(/^apiKey must be/);
  });
});

describe('the official opentok 2.23.2 in Vonage mode', () => {
  type NodeCb = (err: unknown, ...results: unknown[]) => void;
  type NodeOpenTok = Record<string, (...args: unknown[]) => unknown> & {
    getArchive(id: string, cb: NodeCb): void;
    generateToken(sid: string, opts?: object): string;
    generateJwt(): string;
  };
  const require = createRequire(import.meta.url);
  const NodeOpenTokCtor = require('opentok') as new (key: string, secret: string, apiUrl?: string) => NodeOpenTok;

  it('makes the same request with the same REST claim names, and client tokens with the same claims', async () => {
    const node = new NodeOpenTokCtor(APP_ID, PEM, server.url);
    const ours = new OpenTok(APP_ID, PEM, server.url);
    server.reply({ status: 200, body: ARCHIVE });
    await new Promise<void>((resolve, reject) => node.getArchive(ARCHIVE.id, (err) => (err ? reject(err as Error) : resolve())));
    await ours.getArchive(ARCHIVE.id);
    const [n, o] = server.requests as [(typeof server.requests)[0], (typeof server.requests)[0]];
    expect([o.method, o.path]).toEqual([n.method, n.path]);
    const nodeRest = verifyRs256(String(n.headers['authorization']).slice(7), publicKey);
    const ourRest = verifyRs256(String(o.headers['authorization']).slice(7), publicKey);
    expect(ourRest.header).toEqual(nodeRest.header);
    expect(ourRest.claimOrder).toEqual(nodeRest.claimOrder);
    expect(verifyRs256(ours.generateJwt(), publicKey).claimOrder).toEqual(verifyRs256(node.generateJwt(), publicKey).claimOrder);

    const opts = { role: 'subscriber', data: 'd=1', initialLayoutClassList: ['a', 'b'] };
    const nodeToken = verifyRs256(node.generateToken(APP_SID, opts), publicKey);
    const ourToken = verifyRs256(ours.generateToken(APP_SID, opts as never), publicKey);
    expect(ourToken.claimOrder).toEqual(nodeToken.claimOrder);
    const { jti: _a, iat: _b, exp: _c, ...ourFixed } = ourToken.claims;
    const { jti: _d, iat: _e, exp: _f, ...nodeFixed } = nodeToken.claims;
    expect(ourFixed).toEqual(nodeFixed);
  });
});

describe('the same requests as opentok 2.23.2 in Vonage mode, call by call', () => {
  type NodeCb = (err: unknown, ...results: unknown[]) => void;
  type NodeOpenTok = Record<string, (...args: unknown[]) => void>;
  const require = createRequire(import.meta.url);
  const NodeOpenTokCtor = require('opentok') as new (key: string, secret: string, apiUrl?: string) => NodeOpenTok;

  /** What is compared: method, path, query, content type and body (form fields sorted, JSON parsed). */
  function wire(r: RecordedRequest): unknown[] {
    const type = String(r.headers['content-type'] ?? '').split(';')[0]!.toLowerCase();
    let body: unknown = r.body;
    if (type === 'application/json') body = JSON.parse(r.body);
    if (type === 'application/x-www-form-urlencoded') body = [...new URLSearchParams(r.body)].sort(([a], [b]) => a.localeCompare(b));
    return [r.method, r.path, r.query, type, body];
  }

  const calls: Array<[string, Reply, (node: NodeOpenTok, cb: NodeCb) => void, (ours: OpenTok) => Promise<unknown>]> = [
    ['createSession', { status: 200, body: [{ session_id: APP_SID }] }, (n, cb) => n['createSession']!({ mediaMode: 'routed' }, cb), (o) => o.createSession({ mediaMode: 'routed' })],
    ['startArchive', { status: 200, body: ARCHIVE }, (n, cb) => n['startArchive']!(APP_SID, { name: 'a', outputMode: 'composed' }, cb), (o) => o.startArchive(APP_SID, { name: 'a', outputMode: 'composed' })],
    ['stopArchive', { status: 200, body: { ...ARCHIVE, status: 'stopped' } }, (n, cb) => n['stopArchive']!(ARCHIVE.id, cb), (o) => o.stopArchive(ARCHIVE.id)],
    ['listArchives', { status: 200, body: { count: 1, items: [ARCHIVE] } }, (n, cb) => n['listArchives']!({ count: 5 }, cb), (o) => o.listArchives({ count: 5 })],
    [
      'startBroadcast',
      { status: 200, body: BROADCAST },
      (n, cb) => n['startBroadcast']!(APP_SID, { outputs: { hls: {} }, resolution: '1280x720' }, cb),
      (o) => o.startBroadcast(APP_SID, { outputs: { hls: {} }, resolution: '1280x720' }),
    ],
    ['signal', { status: 204 }, (n, cb) => n['signal']!(APP_SID, CID, { type: 'chat', data: 'hi' }, cb), (o) => o.signal(APP_SID, { type: 'chat', data: 'hi' }, CID)],
    ['forceDisconnect', { status: 204 }, (n, cb) => n['forceDisconnect']!(APP_SID, CID, cb), (o) => o.forceDisconnect(APP_SID, CID)],
  ];

  it.each(calls)('%s', async (_name, reply, nodeCall, ourCall) => {
    const node = new NodeOpenTokCtor(APP_ID, PEM, server.url);
    const ours = new OpenTok(APP_ID, PEM, server.url);
    server.reply(reply);
    const nodeErr = await new Promise<unknown>((resolve) => nodeCall(node, (err) => resolve(err)));
    expect(nodeErr).toBeNull();
    await ourCall(ours);
    expect(server.requests).toHaveLength(2);
    const [n, o] = server.requests as [RecordedRequest, RecordedRequest];
    expect(wire(o)).toEqual(wire(n));
    for (const r of [n, o]) {
      expect(r.path.startsWith(`/v2/project/${APP_ID}/`) || r.path === '/session/create').toBe(true);
      expect(verifyRs256(String(r.headers['authorization']).slice('Bearer '.length), publicKey).claims['application_id']).toBe(APP_ID);
    }
  });
});
