/**
 * Differential test: the official `opentok` package (devDependency, pinned 2.23.2) and this SDK make
 * the same calls against one loopback recording server; for every method both have, method, path,
 * query and body must match. The known differences (docs/compat.md) are asserted as differences.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenTok, RequestError } from '../src/index.js';
import { AID, ARCHIVE, BID, BROADCAST, CALLBACK, CAPTIONS_ID, CID, KEY, RENDER, RENDER_ID, SECRET, SID, SIP_CALL, STID, STREAM, STOPPED_ARCHIVE } from './fixtures.js';
import { verifyHs256, verifyT1 } from './helpers/decode.js';
import { startRecordingServer } from './helpers/recording-server.js';
import type { RecordedRequest, Reply, RecordingServer } from './helpers/recording-server.js';

type NodeCb = (err: unknown, ...results: unknown[]) => void;
/** The slice of opentok-node's (untyped) API used here. */
type NodeOpenTok = Record<string, (...args: unknown[]) => unknown> & { generateToken(sid: string, opts?: object, t1?: boolean): string };
const require = createRequire(import.meta.url);
const NodeOpenTokCtor = require('opentok') as new (key: string, secret: string, apiUrl?: string) => NodeOpenTok;
const NODE_VERSION = (require('opentok/package.json') as { version: string }).version;

let server: RecordingServer;
let ours: OpenTok;
let node: NodeOpenTok;

beforeAll(async () => {
  server = await startRecordingServer();
  ours = new OpenTok(KEY, SECRET, server.url);
  node = new NodeOpenTokCtor(KEY, SECRET, server.url);
});
afterAll(() => server.close());
beforeEach(() => server.reset());

/** Run opentok-node's callback API; resolves with the callback's arguments. */
function callNode(fn: (cb: NodeCb) => void): Promise<unknown[]> {
  return new Promise((resolve) => fn((...args) => resolve(args)));
}

interface Wire {
  method: string;
  path: string;
  query: Array<[string, string]>;
  body: unknown;
}
function wire(r: RecordedRequest): Wire {
  const type = String(r.headers['content-type'] ?? '');
  let body: unknown = r.body === '' ? undefined : r.body;
  if (type.startsWith('application/json')) body = JSON.parse(r.body);
  // Form fields compared as a sorted list: opentok-node keeps the caller's key order.
  if (type.startsWith('application/x-www-form-urlencoded')) body = [...new URLSearchParams(r.body)].sort(([a], [b]) => a.localeCompare(b));
  return { method: r.method, path: r.path, query: r.query, body };
}

/** Make one call with each SDK and return both recorded requests. */
async function both(reply: Reply, nodeCall: (cb: NodeCb) => void, ourCall: () => Promise<unknown>): Promise<{ node: Wire; ours: Wire; nodeArgs: unknown[]; ourResult: unknown }> {
  server.reply(reply);
  server.reset();
  const nodeArgs = await callNode(nodeCall);
  expect(server.requests, 'opentok-node made one request').toHaveLength(1);
  const n = wire(server.requests[0]!);
  server.reset();
  const ourResult = await ourCall();
  expect(server.requests, 'this SDK made one request').toHaveLength(1);
  return { node: n, ours: wire(server.requests[0]!), nodeArgs, ourResult };
}

const archiveOptions = () => ({
  name: 'n',
  hasAudio: true,
  hasVideo: false,
  outputMode: 'composed',
  resolution: '1280x720',
  layout: { type: 'custom', stylesheet: 's' },
  streamMode: 'manual',
  multiArchiveTag: 't',
  maxBitrate: 100000,
}) as const;
const broadcastOptions = () => ({
  outputs: { hls: { dvr: true }, rtmp: [{ id: 'r', serverUrl: 'rtmp://a/b', streamName: 'c' }] },
  resolution: '1280x720' as const,
  layout: { type: 'bestFit' as const, screenshareType: 'pip' as const },
  maxDuration: 5400,
  multiBroadcastTag: 'm',
  maxBitrate: 2000000,
});
const dialOptions = () => ({
  headers: { 'X-Foo': 'bar' },
  auth: { username: 'u', password: 'p' },
  secure: true,
  from: '14155550101@example.com',
  video: true,
  observeForceMute: true,
  streams: ['s1'],
});

type Case = [name: string, reply: Reply, nodeCall: (cb: NodeCb) => void, ourCall: () => Promise<unknown>];
const SAME: Case[] = [
  ['createSession (no options)', { status: 200, body: [{ session_id: SID }] }, (cb) => node['createSession']!(cb), () => ours.createSession()],
  [
    'createSession (routed, always, location, e2ee false, name, resolution)',
    { status: 200, body: [{ session_id: SID }] },
    (cb) =>
      node['createSession']!({ mediaMode: 'routed', archiveMode: 'always', location: '10.1.1.1', archiveName: 'n a', archiveResolution: '1280x720' }, cb),
    () => ours.createSession({ mediaMode: 'routed', archiveMode: 'always', location: '10.1.1.1', archiveName: 'n a', archiveResolution: '1280x720' }),
  ],
  [
    'createSession (routed, e2ee)',
    { status: 200, body: [{ session_id: SID }] },
    (cb) => node['createSession']!({ mediaMode: 'routed', e2ee: true }, cb),
    () => ours.createSession({ mediaMode: 'routed', e2ee: true }),
  ],
  ['startArchive (all options)', { status: 200, body: ARCHIVE }, (cb) => node['startArchive']!(SID, archiveOptions(), cb), () => ours.startArchive(SID, archiveOptions())],
  ['startArchive (no options)', { status: 200, body: ARCHIVE }, (cb) => node['startArchive']!(SID, cb), () => ours.startArchive(SID)],
  ['stopArchive', { status: 200, body: STOPPED_ARCHIVE }, (cb) => node['stopArchive']!(AID, cb), () => ours.stopArchive(AID)],
  ['getArchive', { status: 200, body: ARCHIVE }, (cb) => node['getArchive']!(AID, cb), () => ours.getArchive(AID)],
  ['deleteArchive', { status: 204 }, (cb) => node['deleteArchive']!(AID, cb), () => ours.deleteArchive(AID)],
  [
    'listArchives (offset, count, sessionId)',
    { status: 200, body: { count: 2, items: [ARCHIVE] } },
    (cb) => node['listArchives']!({ offset: 5, count: 10, sessionId: SID }, cb),
    () => ours.listArchives({ offset: 5, count: 10, sessionId: SID }),
  ],
  ['listArchives (offset 0 omitted)', { status: 200, body: { count: 0, items: [] } }, (cb) => node['listArchives']!({ offset: 0 }, cb), () => ours.listArchives({ offset: 0 })],
  ['addArchiveStream (defaults)', { status: 204 }, (cb) => node['addArchiveStream']!(AID, STID, cb), () => ours.addArchiveStream(AID, STID)],
  [
    'addArchiveStream (hasAudio false)',
    { status: 204 },
    (cb) => node['addArchiveStream']!(AID, STID, { hasAudio: false }, cb),
    () => ours.addArchiveStream(AID, STID, { hasAudio: false }),
  ],
  ['removeArchiveStream', { status: 204 }, (cb) => node['removeArchiveStream']!(AID, STID, cb), () => ours.removeArchiveStream(AID, STID)],
  [
    'setArchiveLayout (bestFit + screenshareType)',
    { status: 200, body: {} },
    (cb) => node['setArchiveLayout']!(AID, 'bestFit', null, 'pip', cb),
    () => ours.setArchiveLayout(AID, 'bestFit', null, 'pip'),
  ],
  [
    'setArchiveLayout (custom + stylesheet)',
    { status: 200, body: {} },
    (cb) => node['setArchiveLayout']!(AID, 'custom', 'stream { x: 1 }', cb),
    () => ours.setArchiveLayout(AID, { type: 'custom', stylesheet: 'stream { x: 1 }' }),
  ],
  ['startBroadcast', { status: 200, body: BROADCAST }, (cb) => node['startBroadcast']!(SID, broadcastOptions(), cb), () => ours.startBroadcast(SID, broadcastOptions())],
  [
    'startBroadcast (manual stream mode, hls only)',
    { status: 200, body: BROADCAST },
    (cb) => node['startBroadcast']!(SID, { outputs: { hls: { lowLatency: true } }, streamMode: 'manual' }, cb),
    () => ours.startBroadcast(SID, { outputs: { hls: { lowLatency: true } }, streamMode: 'manual' }),
  ],
  ['stopBroadcast', { status: 200, body: BROADCAST }, (cb) => node['stopBroadcast']!(BID, cb), () => ours.stopBroadcast(BID)],
  ['getBroadcast', { status: 200, body: BROADCAST }, (cb) => node['getBroadcast']!(BID, cb), () => ours.getBroadcast(BID)],
  [
    'listBroadcasts',
    { status: 200, body: { count: 1, items: [BROADCAST] } },
    (cb) => node['listBroadcasts']!({ offset: 1, count: 2, sessionId: SID }, cb),
    () => ours.listBroadcasts({ offset: 1, count: 2, sessionId: SID }),
  ],
  ['setBroadcastLayout', { status: 200, body: {} }, (cb) => node['setBroadcastLayout']!(BID, 'pip', cb), () => ours.setBroadcastLayout(BID, 'pip')],
  [
    'setBroadcastLayout vs updateBroadcastLayout',
    { status: 200, body: {} },
    (cb) => node['setBroadcastLayout']!(BID, 'bestFit', undefined, 'verticalPresentation', cb),
    () => ours.updateBroadcastLayout(BID, { type: 'bestFit', screenshareType: 'verticalPresentation' }),
  ],
  ['addBroadcastStream (defaults)', { status: 204 }, (cb) => node['addBroadcastStream']!(BID, STID, cb), () => ours.addBroadcastStream(BID, STID)],
  ['removeBroadcastStream', { status: 204 }, (cb) => node['removeBroadcastStream']!(BID, STID, cb), () => ours.removeBroadcastStream(BID, STID)],
  [
    'setStreamClassLists',
    { status: 200, body: {} },
    (cb) => node['setStreamClassLists']!(SID, [{ id: STID, layoutClassList: ['a', 'b'] }, { id: 's2', layoutClassList: [] }], cb),
    () => ours.setStreamClassLists(SID, [{ id: STID, layoutClassList: ['a', 'b'] }, { id: 's2', layoutClassList: [] }]),
  ],
  [
    'setStreamClassLists (one) vs updateStream',
    { status: 200, body: {} },
    (cb) => node['setStreamClassLists']!(SID, [{ id: STID, layoutClassList: ['focus'] }], cb),
    () => ours.updateStream(SID, STID, { layoutClassList: ['focus'] }),
  ],
  // text/plain: opentok-node's getStream breaks on application/json (asserted below).
  ['getStream', { status: 200, body: JSON.stringify(STREAM), contentType: 'text/plain' }, (cb) => node['getStream']!(SID, STID, cb), () => ours.getStream(SID, STID)],
  ['listStreams', { status: 200, body: { count: 1, items: [STREAM] } }, (cb) => node['listStreams']!(SID, cb), () => ours.listStreams(SID)],
  ['forceDisconnect', { status: 204 }, (cb) => node['forceDisconnect']!(SID, CID, cb), () => ours.forceDisconnect(SID, CID)],
  ['forceMuteStream', { status: 200, body: {} }, (cb) => node['forceMuteStream']!(SID, STID, cb), () => ours.forceMuteStream(SID, STID)],
  [
    'forceMuteAll (excludedStreamIds)',
    { status: 200, body: {} },
    (cb) => node['forceMuteAll']!(SID, { excludedStreamIds: ['st-2'] }, cb),
    () => ours.forceMuteAll(SID, { excludedStreamIds: ['st-2'] }),
  ],
  ['forceMuteAll (no options)', { status: 200, body: {} }, (cb) => node['forceMuteAll']!(SID, cb), () => ours.forceMuteAll(SID)],
  ['disableForceMute', { status: 200, body: {} }, (cb) => node['disableForceMute']!(SID, cb), () => ours.disableForceMute(SID)],
  ['signal (session; node order vs seed order)', { status: 204 }, (cb) => node['signal']!(SID, null, { type: 'chat', data: 'hi' }, cb), () => ours.signal(SID, { type: 'chat', data: 'hi' })],
  [
    'signal (connection; node order both sides)',
    { status: 204 },
    (cb) => node['signal']!(SID, CID, { type: 'chat', data: 'hi' }, cb),
    () => ours.signal(SID, CID, { type: 'chat', data: 'hi' }),
  ],
  [
    'signal (connection; seed order on our side)',
    { status: 204 },
    (cb) => node['signal']!(SID, CID, { data: 'only data' }, cb),
    () => ours.signal(SID, { data: 'only data' }, CID),
  ],
  ['dial (all options)', { status: 200, body: SIP_CALL }, (cb) => node['dial']!(SID, 'tok', 'sip:u@sip.example.com', dialOptions(), cb), () => ours.dial(SID, 'tok', 'sip:u@sip.example.com', dialOptions())],
  ['playDTMF (session)', { status: 200, body: {} }, (cb) => node['playDTMF']!(SID, null, '1p2#', cb), () => ours.playDTMF(SID, '1p2#')],
  ['playDTMF (connection)', { status: 200, body: {} }, (cb) => node['playDTMF']!(SID, CID, '*9#', cb), () => ours.playDTMF(SID, '*9#', CID)],
  [
    'websocketConnect',
    { status: 200, body: { id: 'ws-1', connectionId: CID } },
    (cb) => node['websocketConnect']!(SID, 'tok', 'wss://a.example/s', { streams: ['s1'], headers: { 'X-A': 'b' }, bidirectional: true }, cb),
    () => ours.websocketConnect(SID, 'tok', 'wss://a.example/s', { streams: ['s1'], headers: { 'X-A': 'b' }, bidirectional: true }),
  ],
  ['startCaptions (defaults)', { status: 202, body: { captionsId: CAPTIONS_ID } }, (cb) => node['startCaptions']!(SID, 'tok', {}, cb), () => ours.startCaptions(SID, 'tok')],
  [
    'startCaptions (options)',
    { status: 202, body: { captionsId: CAPTIONS_ID } },
    (cb) => node['startCaptions']!(SID, 'tok', { languageCode: 'en-GB', maxDuration: 600, partialCaptions: false }, cb),
    () => ours.startCaptions(SID, 'tok', { languageCode: 'en-GB', maxDuration: 600, partialCaptions: false }),
  ],
  // Values opentok-node passes on for the server to judge (or replaces with the default), as we do.
  ['createSession (unknown modes become relayed / manual)', { status: 200, body: [{ session_id: SID }] }, (cb) => node['createSession']!({ mediaMode: 'p2p', archiveMode: 'sometimes' }, cb), () => ours.createSession({ mediaMode: 'p2p' as 'routed', archiveMode: 'sometimes' as 'always' })],
  ['dial (a custom header without X-)', { status: 200, body: SIP_CALL }, (cb) => node['dial']!(SID, 'tok', 'sip:u@sip.example.com', { headers: { someKey: 'v' } }, cb), () => ours.dial(SID, 'tok', 'sip:u@sip.example.com', { headers: { someKey: 'v' } })],
  ['startCaptions (maxDuration below the server\'s minimum: the server judges it)', { status: 202, body: { captionsId: CAPTIONS_ID } }, (cb) => node['startCaptions']!(SID, 'tok', { maxDuration: 42 }, cb), () => ours.startCaptions(SID, 'tok', { maxDuration: 42 })],
  ['stopCaptions', { status: 202 }, (cb) => node['stopCaptions']!(CAPTIONS_ID, cb), () => ours.stopCaptions(CAPTIONS_ID)],
  [
    'startRender',
    { status: 202, body: RENDER },
    (cb) => node['startRender']!({ sessionId: SID, token: 'tok', url: 'https://w.example/p', maxDuration: 900, resolution: '1920x1080', statusCallbackUrl: 'https://e.example/r' }, cb),
    () => ours.startRender({ sessionId: SID, token: 'tok', url: 'https://w.example/p', maxDuration: 900, resolution: '1920x1080', statusCallbackUrl: 'https://e.example/r' }),
  ],
  ['startRender (defaults)', { status: 202, body: RENDER }, (cb) => node['startRender']!({ sessionId: SID, token: 'tok', url: 'https://w.example/p' }, cb), () => ours.startRender({ sessionId: SID, token: 'tok', url: 'https://w.example/p' })],
  ['getRender', { status: 200, body: RENDER }, (cb) => node['getRender']!(RENDER_ID, cb), () => ours.getRender(RENDER_ID)],
  ['stopRender', { status: 204 }, (cb) => node['stopRender']!(RENDER_ID, cb), () => ours.stopRender(RENDER_ID)],
  ['listRenders', { status: 200, body: { count: 1, items: [RENDER] } }, (cb) => node['listRenders']!({ offset: 2, count: 3 }, cb), () => ours.listRenders({ offset: 2, count: 3 })],
  [
    'registerCallback',
    { status: 200, body: CALLBACK },
    (cb) => node['registerCallback']!({ group: 'connection', event: 'created', url: 'https://e.example/cb' }, cb),
    () => ours.registerCallback({ group: 'connection', event: 'created', url: 'https://e.example/cb' }),
  ],
  ['unregisterCallback', { status: 204 }, (cb) => node['unregisterCallback']!('cb-1', cb), () => ours.unregisterCallback('cb-1')],
  ['listCallbacks', { status: 200, body: [CALLBACK] }, (cb) => node['listCallbacks']!(cb), () => ours.listCallbacks()],
];

describe(`same wire requests as opentok ${NODE_VERSION}`, () => {
  it('the official package under test is the pinned 2.23.2', () => {
    expect(NODE_VERSION).toBe('2.23.2');
  });

  it.each(SAME)('%s', async (_name, reply, nodeCall, ourCall) => {
    const r = await both(reply, nodeCall, ourCall);
    expect(r.nodeArgs[0], 'opentok-node succeeded').toBeFalsy();
    expect(r.ours).toEqual(r.node);
  });

  it('a callback that throws is called again with what it threw, as opentok-node does', async () => {
    const calls = async (run: (cb: NodeCb) => void) => {
      const seen: unknown[] = [];
      await new Promise<void>((resolve) => {
        run((...args) => {
          seen.push(args[0] ?? null);
          if (seen.length === 1) throw new Error('app bug in the callback');
          resolve();
        });
      });
      return seen.map((e) => (e instanceof Error ? e.message : e));
    };
    server.reply({ status: 200, body: [{ session_id: SID }] });
    const n = await calls((cb) => node['createSession']!(cb));
    server.reply({ status: 200, body: [{ session_id: SID }] });
    const o = await calls((cb) => (ours.createSession as (cb: NodeCb) => void)(cb));
    // opentok-node's createSession prefixes every error it passes on ("Failed to createSession. Error: …").
    expect(n).toEqual([null, 'Failed to createSession. Error: app bug in the callback']);
    expect(o).toEqual([null, 'app bug in the callback']);
  });

  it('results are instances of Session and SipInterconnect, built as opentok-node builds them; client.c holds the settings', async () => {
    const { Session, SipInterconnect } = await import('../src/index.js');
    server.reply({ status: 200, body: [{ session_id: SID }] });
    const session = await ours.createSession({ mediaMode: 'routed' });
    expect(session).toBeInstanceOf(Session);
    expect({ ...session }).toEqual({ sessionId: SID, mediaMode: 'routed', archiveMode: 'manual', location: undefined, e2ee: false });
    const made = new Session(ours, SID, { location: '12.34.56.78' });
    expect([made.sessionId, made.location, made.mediaMode]).toEqual([SID, '12.34.56.78', undefined]);
    expect(verifyHs256(made.generateToken({ role: 'moderator' }), SECRET).claims).toMatchObject({ session_id: SID, role: 'moderator' });
    server.reply({ status: 200, body: SIP_CALL });
    const call = await ours.dial(SID, 'tok', 'sip:u@sip.example.com');
    expect(call).toBeInstanceOf(SipInterconnect);
    expect({ ...call }).toEqual(SIP_CALL);
    const nodeClient = (node as unknown as { client: { c: { apiUrl: string; request: { timeout: number } } } }).client.c;
    expect([ours.client.c.apiUrl, ours.client.c.request.timeout]).toEqual([nodeClient.apiUrl, nodeClient.request.timeout]);
  });

  it('generateToken: same claim names, order and values (JWT) and same fields (T1)', () => {
    const opts = { role: 'moderator', expireTime: Math.floor(Date.now() / 1000) + 3600, data: 'name=Johnny', initialLayoutClassList: ['focus', 'big'] } as const;
    const a = verifyHs256(node.generateToken(SID, { ...opts, initialLayoutClassList: [...opts.initialLayoutClassList] }), SECRET);
    const b = verifyHs256(ours.generateToken(SID, { ...opts, initialLayoutClassList: [...opts.initialLayoutClassList] }), SECRET);
    expect(b.header).toEqual(a.header);
    expect(b.claimOrder).toEqual(a.claimOrder);
    const stable = (c: Record<string, unknown>) => ({ ...c, iat: 0, create_time: 0, nonce: 0 });
    expect(stable(b.claims)).toEqual(stable(a.claims));
    const t1a = verifyT1(node.generateToken(SID, { ...opts, initialLayoutClassList: ['focus', 'big'] }, true), SECRET);
    const t1b = verifyT1(ours.generateToken(SID, { ...opts, initialLayoutClassList: ['focus', 'big'] }, true), SECRET);
    expect(t1b.fieldOrder).toEqual(t1a.fieldOrder);
    expect({ ...t1b.fields, create_time: 0, nonce: 0 }).toEqual({ ...t1a.fields, create_time: 0, nonce: 0 });
    // Default tokens too (no options).
    expect(verifyHs256(ours.generateToken(SID), SECRET).claimOrder).toEqual(verifyHs256(node.generateToken(SID), SECRET).claimOrder);
  });
});

describe('known differences (docs/compat.md), asserted', () => {
  it('D1 (resolved) dial: `secure` is sent only when true, as opentok-node does (the REST default is plain RTP)', async () => {
    for (const opts of [{ secure: false }, {}, { secure: true }]) {
      const r = await both({ status: 200, body: SIP_CALL }, (cb) => node['dial']!(SID, 'tok', 'sip:u@x', opts, cb), () => ours.dial(SID, 'tok', 'sip:u@x', opts));
      expect((r.ours.body as { sip: Record<string, unknown> }).sip).toEqual((r.node.body as { sip: Record<string, unknown> }).sip);
    }
    const d = await both({ status: 200, body: SIP_CALL }, (cb) => node['dial']!(SID, 'tok', 'sip:u@x', cb), () => ours.dial(SID, 'tok', 'sip:u@x'));
    expect((d.ours.body as { sip: Record<string, unknown> }).sip).toEqual({ uri: 'sip:u@x' });
  });

  it('D2 addBroadcastStream: opentok-node always sends hasAudio/hasVideo true; we honour false', async () => {
    const r = await both({ status: 204 }, (cb) => node['addBroadcastStream']!(BID, STID, { hasAudio: false, hasVideo: true }, cb), () => ours.addBroadcastStream(BID, STID, { hasAudio: false }));
    expect(r.node.body).toEqual({ addStream: STID, hasAudio: true, hasVideo: true });
    expect(r.ours.body).toEqual({ addStream: STID, hasAudio: false, hasVideo: true });
  });

  it('D3 createSession: opentok-node forwards unknown options and mutates the caller\'s object; we do neither', async () => {
    const nodeOpts: Record<string, unknown> = { mediaMode: 'routed', foo: 'bar' };
    const ourOpts: Record<string, unknown> = { mediaMode: 'routed', foo: 'bar' };
    const r = await both({ status: 200, body: [{ session_id: SID }] }, (cb) => node['createSession']!(nodeOpts, cb), () => ours.createSession(ourOpts));
    expect(r.node.body).toContainEqual(['foo', 'bar']);
    expect(r.ours.body).not.toContainEqual(['foo', 'bar']);
    expect(nodeOpts['archiveMode']).toBe('manual');
    expect(ourOpts).toEqual({ mediaMode: 'routed', foo: 'bar' });
  });

  it('D4 startBroadcast / forceMuteAll: opentok-node writes into the caller\'s options; we do not', async () => {
    const n = broadcastOptions() as Record<string, unknown>;
    const o = broadcastOptions();
    await both({ status: 200, body: BROADCAST }, (cb) => node['startBroadcast']!(SID, n, cb), () => ours.startBroadcast(SID, o));
    expect(n['sessionId']).toBe(SID);
    expect(o).toEqual(broadcastOptions());
    const nm: Record<string, unknown> = { excludedStreamIds: [] };
    const om = { excludedStreamIds: [] };
    await both({ status: 200, body: {} }, (cb) => node['forceMuteAll']!(SID, nm, cb), () => ours.forceMuteAll(SID, om));
    expect(nm['active']).toBe(true);
    expect(om).toEqual({ excludedStreamIds: [] });
  });

  it('D5 a base URL with a trailing slash: opentok-node requests `//path`; we do not', async () => {
    server.reply({ status: 200, body: [{ session_id: SID }] });
    server.reset();
    const slashNode = new NodeOpenTokCtor(KEY, SECRET, server.url + '/');
    await callNode((cb) => slashNode['createSession']!(cb));
    await new OpenTok(KEY, SECRET, server.url + '/').createSession();
    expect(server.requests.map((r) => r.path)).toEqual(['//session/create', '/session/create']);
  });

  it('D6 getStream answered with application/json: opentok-node fails with a SyntaxError; we return the stream', async () => {
    const r = await both({ status: 200, body: STREAM }, (cb) => node['getStream']!(SID, STID, cb), () => ours.getStream(SID, STID));
    expect(r.nodeArgs[0]).toBeInstanceOf(SyntaxError);
    expect(r.ourResult).toEqual(STREAM);
    expect(r.ours).toEqual(r.node);
  });

  it('D7 listBroadcasts with a JSON error body: opentok-node yields a TypeError; we yield a typed RequestError', async () => {
    server.reply({ status: 500, body: { code: 500, message: 'boom' } });
    const [nodeErr] = await callNode((cb) => node['listBroadcasts']!(cb));
    expect(nodeErr).toBeInstanceOf(TypeError);
    const ourErr = await ours.listBroadcasts().catch((e: unknown) => e);
    expect(ourErr).toBeInstanceOf(RequestError);
    expect((ourErr as RequestError).serverMessage).toBe('boom');
  });

  it('D8 errors: opentok-node\'s have no name, status or server code; startBroadcast 400 gets a SIP text', async () => {
    server.reply({ status: 400, body: { code: 400, message: 'Invalid outputs' } });
    const [nodeErr] = await callNode((cb) => node['startBroadcast']!(SID, { outputs: { hls: {} } }, cb));
    expect((nodeErr as Error).message).toBe('Failed to start broadcast. Error: Bad session ID, token, SIP credentials, or SIP URI (sip:user@domain.tld)');
    expect((nodeErr as Record<string, unknown>)['status']).toBeUndefined();
    const ourErr = (await ours.startBroadcast(SID, { outputs: { hls: {} } }).catch((e: unknown) => e)) as RequestError;
    expect(ourErr.name).toBe('RequestError');
    expect(ourErr.status).toBe(400);
    expect(ourErr.serverMessage).toBe('Invalid outputs');
  });

  it('D9 startArchive 409: opentok-node passes the ArchiveError as the second callback argument; we reject with it', async () => {
    server.reply({ status: 409, body: { code: 15008, message: 'Only routed sessions are allowed to initiate archives.' } });
    const [first, second] = await callNode((cb) => node['startArchive']!(SID, cb));
    expect((first as Error).message).toMatch(/^Unexpected response from OpenTok/);
    expect((second as Error).message).toBe('Recording already in progress or session not using OpenTok Media Router');
    const ourErr = (await ours.startArchive(SID).catch((e: unknown) => e)) as RequestError;
    expect(ourErr.name).toBe('ArchiveError');
    expect(ourErr.message).toBe('Recording already in progress or session not using OpenTok Media Router');
    expect(ourErr.serverCode).toBe(15008);
  });

  it('D10 REST auth and User-Agent: opentok-node sends no jti; we send a fresh jti per request', async () => {
    const r = await both({ status: 204 }, (cb) => node['forceDisconnect']!(SID, CID, cb), () => ours.forceDisconnect(SID, CID));
    expect(r.ours).toEqual(r.node);
    server.reset();
    await callNode((cb) => node['forceDisconnect']!(SID, CID, cb));
    await ours.forceDisconnect(SID, CID);
    await ours.forceDisconnect(SID, CID);
    const [n, o1, o2] = server.requests.map((q) => verifyHs256(String(q.headers['x-opentok-auth']), SECRET));
    expect(n!.claimOrder).toEqual(['iss', 'ist', 'iat', 'exp']);
    expect(o1!.claimOrder).toEqual(['iss', 'ist', 'iat', 'exp', 'jti']);
    expect(o1!.claims['jti']).not.toBe(o2!.claims['jti']);
    expect(server.requests[0]!.headers['user-agent']).toBe(`OpenTok-Node-SDK/${NODE_VERSION}`);
    // Ours names the opentok-node release it is compatible with first, so servers that key behaviour off it treat both alike.
    expect(server.requests[1]!.headers['user-agent']).toMatch(/^OpenTok-Node-SDK\/2\.23\.1 \(compatible; Tokhost-Node-SDK\/\d+\.\d+\.\d+\)$/);
  });

  it('D11 token limits: opentok-node accepts data up to 1024 characters and any future expiry; we follow the documented 1000 / 30 days', () => {
    const data = 'x'.repeat(1010);
    const far = Math.floor(Date.now() / 1000) + 60 * 86400;
    expect(verifyHs256(node.generateToken(SID, { data, expireTime: far }), SECRET).claims['exp']).toBe(far);
    expect(() => ours.generateToken(SID, { data })).toThrow(/data/);
    expect(() => ours.generateToken(SID, { expireTime: far })).toThrow(/30 days/);
  });

  it('D12 validation opentok-node skips: e2ee on relayed, oversized signals, bad DTMF, custom layout without stylesheet, layout type focus, a stylesheet without custom, screenshareType custom', async () => {
    server.reply({ status: 200, body: [{ session_id: SID }] });
    server.reset();
    await callNode((cb) => node['createSession']!({ e2ee: true }, cb));
    server.reply({ status: 413, body: { code: 413, message: 'too large' } });
    await callNode((cb) => node['signal']!(SID, null, { type: 'x', data: 'y'.repeat(9000) }, cb));
    await callNode((cb) => node['playDTMF']!(SID, null, 'abc', cb));
    await callNode((cb) => node['setArchiveLayout']!(AID, 'custom', cb));
    await callNode((cb) => node['setArchiveLayout']!(AID, 'focus', cb));
    await callNode((cb) => node['setArchiveLayout']!(AID, 'pip', 'stream { width: 1px }', cb));
    await callNode((cb) => node['setArchiveLayout']!(AID, 'bestFit', null, 'custom', cb));
    expect(server.requests).toHaveLength(7);
    server.reset();
    await expect(ours.createSession({ e2ee: true })).rejects.toThrow(/e2ee/);
    await expect(ours.signal(SID, { type: 'x', data: 'y'.repeat(9000) })).rejects.toThrow(/data/);
    await expect(ours.playDTMF(SID, 'abc')).rejects.toThrow(/digits/);
    await expect(ours.setArchiveLayout(AID, 'custom')).rejects.toThrow(/stylesheet/);
    await expect(ours.setArchiveLayout(AID, 'focus' as 'pip')).rejects.toThrow(/type/);
    await expect(ours.setArchiveLayout(AID, 'pip', 'stream { width: 1px }')).rejects.toThrow(/stylesheet is only allowed/);
    await expect(ours.setArchiveLayout(AID, 'bestFit', null, 'custom' as 'pip')).rejects.toThrow(/screenshareType/);
    expect(server.requests).toHaveLength(0);
  });

  it('D13 network failure: opentok-node never calls back from startArchive (unhandled rejection); we always report it', async () => {
    // Run opentok-node in a child process so its unhandled rejection cannot disturb this test run.
    const closed = await startRecordingServer();
    const url = closed.url;
    await closed.close();
    const script = `
      const OpenTok = require('opentok');
      const ot = new OpenTok(${JSON.stringify(KEY)}, ${JSON.stringify(SECRET)}, ${JSON.stringify(url)});
      let called = false, unhandled = false;
      process.on('unhandledRejection', () => { unhandled = true; });
      ot.startArchive(${JSON.stringify(SID)}, () => { called = true; });
      setTimeout(() => { console.log(JSON.stringify({ called, unhandled })); }, 1500);
    `;
    const child = spawnSync(process.execPath, ['-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(child.stdout.trim())).toEqual({ called: false, unhandled: true });
    const ourErr = await new OpenTok(KEY, SECRET, url).startArchive(SID).catch((e: unknown) => e);
    expect((ourErr as RequestError).code).toBe('ERR_SDK_NETWORK');
  });

  it('D14 options opentok-node drops: captions statusCallbackUrl, render properties, Audio Connector audioRate', async () => {
    const c = await both(
      { status: 202, body: { captionsId: CAPTIONS_ID } },
      (cb) => node['startCaptions']!(SID, 'tok', { statusCallbackUrl: 'https://e.example/c' }, cb),
      () => ours.startCaptions(SID, 'tok', { statusCallbackUrl: 'https://e.example/c' }),
    );
    expect(c.node.body).not.toHaveProperty('statusCallbackUrl');
    expect(c.ours.body).toHaveProperty('statusCallbackUrl', 'https://e.example/c');
    const r = await both(
      { status: 202, body: RENDER },
      (cb) => node['startRender']!({ sessionId: SID, token: 'tok', url: 'https://w.example/p', properties: { name: 'EC' } }, cb),
      () => ours.startRender({ sessionId: SID, token: 'tok', url: 'https://w.example/p', properties: { name: 'EC' } }),
    );
    expect(r.node.body).not.toHaveProperty('properties');
    expect(r.ours.body).toHaveProperty('properties', { name: 'EC' });
    const w = await both(
      { status: 200, body: { id: 'ws', connectionId: CID } },
      (cb) => node['websocketConnect']!(SID, 'tok', 'wss://a.example/s', { audioRate: 16000 }, cb),
      () => ours.websocketConnect(SID, 'tok', 'wss://a.example/s', { audioRate: 16000 }),
    );
    expect((w.node.body as { websocket: object }).websocket).toEqual({ uri: 'wss://a.example/s' });
    expect((w.ours.body as { websocket: object }).websocket).toEqual({ uri: 'wss://a.example/s', audioRate: 16000 });
  });

  it("D15 Callback#unregister: opentok-node's throws (it calls an undefined function); ours deletes the callback", async () => {
    server.reply({ status: 200, body: CALLBACK });
    const [, nodeCallback] = await callNode((cb) => node['registerCallback']!({ group: 'connection', event: 'created', url: 'https://e.example/cb' }, cb));
    expect(() => (nodeCallback as { unregister(cb: () => void): void }).unregister(() => undefined)).toThrow(TypeError);
    const ourCallback = await ours.registerCallback({ group: 'connection', event: 'created', url: 'https://e.example/cb' });
    server.reset();
    server.reply({ status: 204 });
    await ourCallback.unregister();
    expect(server.requests.map((q) => `${q.method} ${q.path}`)).toEqual([`DELETE /v2/project/${KEY}/callback/cb-1`]);
  });

  it('D16 listCallbacks error: opentok-node calls back twice and leaves an unhandled rejection; we reject once', async () => {
    server.reply({ status: 500, body: { code: 500, message: 'boom' } });
    const script = `
      const OpenTok = require('opentok');
      const ot = new OpenTok(${JSON.stringify(KEY)}, ${JSON.stringify(SECRET)}, process.env.URL);
      let calls = 0, unhandled = false;
      process.on('unhandledRejection', () => { unhandled = true; });
      ot.listCallbacks((err) => { calls++; });
      setTimeout(() => console.log(JSON.stringify({ calls, unhandled })), 1500);
    `;
    // Asynchronous: the recording server lives in this process.
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: process.cwd(), env: { ...process.env, URL: server.url }, timeout: 20_000 });
    const result = JSON.parse(stdout.trim()) as { calls: number; unhandled: boolean };
    expect(result.unhandled).toBe(true);
    expect(result.calls).toBeGreaterThanOrEqual(2);
    await expect(ours.listCallbacks()).rejects.toBeInstanceOf(RequestError);
  });
});
