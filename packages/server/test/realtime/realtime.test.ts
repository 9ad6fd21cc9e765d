import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSessionId, RT_CLOSE } from '@tokhost/protocol';
import type { ServerMessage, SessionConnectedMessage } from '@tokhost/protocol';
import type { MediaRouter } from '../../src/media/types.js';
import { signWebhookBody } from '../../src/webhooks/index.js';
import { signJwt, signT1, startHarness, TestClient } from './harness.js';
import type { Harness } from './harness.js';

type Msg<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;
const now = () => Math.floor(Date.now() / 1000);
/** Connection IDs a message announces: `connectionCreated`, or several in a `connectionsCreated` (batch clients). */
const createdIds = (m: ServerMessage): string[] => (m.type === 'connectionCreated' ? [m.connection.connectionId] : m.type === 'connectionsCreated' ? m.connections.map((c) => c.connectionId) : []);

let h: Harness;
const open: TestClient[] = [];
beforeAll(async () => {
  h = await startHarness({ reconnectGraceMs: 1500 });
});
afterAll(async () => {
  open.forEach((c) => c.close());
  await h.close();
});

async function join(sessionId: string, options: Record<string, unknown> = {}): Promise<{ c: TestClient; hello: SessionConnectedMessage }> {
  const { client, first } = await TestClient.connect(h, sessionId, h.opentok.generateToken(sessionId, options));
  open.push(client);
  expect(first.type).toBe('sessionConnected');
  return { c: client, hello: first as SessionConnectedMessage };
}

const publishBody = { type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } };

describe('connect', () => {
  it('gives a new client the existing connections and streams; others see connectionCreated', async () => {
    const sid = h.createSession();
    const a = await join(sid, { data: 'name=a', initialLayoutClassList: ['focus'] });
    expect(a.hello.connection.data).toBe('name=a');
    expect(a.hello.connections).toEqual([]);
    const pub = await a.c.request(publishBody);
    expect(pub.ok).toBe(true);
    expect((pub.result!['stream'] as { layoutClassList: string[] }).layoutClassList).toEqual(['focus']);
    const createdSeen = a.c.next<Msg<'connectionCreated'>>((m) => m.type === 'connectionCreated');
    const b = await join(sid, { data: 'name=b' });
    expect(b.hello.connections.map((c) => c.connectionId)).toEqual([a.hello.connection.connectionId]);
    expect(b.hello.streams).toHaveLength(1);
    expect(b.hello.streams[0]).toMatchObject({ name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } });
    expect((await createdSeen).connection).toMatchObject({ connectionId: b.hello.connection.connectionId, data: 'name=b' });
    expect(h.realtime.live.listConnections(sid).map((c) => c.connectionId)).toEqual([a.hello.connection.connectionId, b.hello.connection.connectionId]);
    const destroyed = a.c.next<Msg<'connectionDestroyed'>>((m) => m.type === 'connectionDestroyed');
    expect((await b.c.request({ type: 'disconnect' })).ok).toBe(true);
    expect(await destroyed).toMatchObject({ reason: 'clientDisconnected', connection: { connectionId: b.hello.connection.connectionId } });
  });

  it('connectionEventsSuppressed: that client gets no connection events and no list, others still do', async () => {
    const sid = h.createSession();
    const a = await join(sid, { data: 'a' });
    const { client: quiet, first } = await TestClient.connect(h, sid, h.opentok.generateToken(sid, { data: 'quiet' }), { connectionEventsSuppressed: true });
    open.push(quiet);
    expect(first).toMatchObject({ type: 'sessionConnected', connections: [] });
    const quietId = (first as SessionConnectedMessage).connection.connectionId;
    // The others learn of the quiet client as usual.
    expect((await a.c.find<Msg<'connectionCreated'>>((m) => m.type === 'connectionCreated')).connection.connectionId).toBe(quietId);
    const b = await join(sid, { data: 'b' });
    expect(b.hello.connections.map((c) => c.connectionId)).toEqual([a.hello.connection.connectionId, quietId]);
    await b.c.request({ type: 'disconnect' });
    expect(await a.c.find<Msg<'connectionDestroyed'>>((m) => m.type === 'connectionDestroyed')).toMatchObject({ connection: { connectionId: b.hello.connection.connectionId } });
    // The quiet client still gets streams (naming their connection) and signals, in order.
    await a.c.request(publishBody);
    await a.c.request({ type: 'signal', signalType: 'after', data: 'x' });
    const sig = await quiet.find<Msg<'signal'>>((m) => m.type === 'signal');
    expect(sig.signalType).toBe('after');
    const types = quiet.messages.map((m) => m.type);
    expect(types).toContain('streamCreated');
    expect(types.indexOf('streamCreated')).toBeLessThan(types.indexOf('signal'));
    expect(types).not.toContain('connectionCreated');
    expect(types).not.toContain('connectionsCreated');
    expect(types).not.toContain('connectionDestroyed');
  });

  it('a large session: batched presence reaches everyone once, in order, before a later signal', async () => {
    const sid = h.createSession();
    const n = 90; // above the size where presence is batched (64)
    const clients: { c: TestClient; hello: SessionConnectedMessage }[] = [];
    for (let i = 0; i < n; i++) {
      const { client, first } = await TestClient.connect(h, sid, h.opentok.generateToken(sid, { data: `p${i}` }), { batch: true });
      open.push(client);
      expect(first.type).toBe('sessionConnected');
      clients.push({ c: client, hello: first as SessionConnectedMessage });
    }
    const ids = clients.map((x) => x.hello.connection.connectionId);
    // Every client knows every other one exactly once: from its join list or a connectionCreated.
    for (const [i, { c, hello }] of clients.entries()) {
      const later = ids.slice(i + 1);
      if (later.length) await c.find((m) => createdIds(m).includes(later[later.length - 1]!), 5000);
      const created = c.messages.flatMap(createdIds);
      expect(created).toEqual(later);
      expect(hello.connections.map((x) => x.connectionId)).toEqual(ids.slice(0, i));
    }
    // Seqs only increase, per client.
    for (const { c } of clients) {
      const seqs = c.messages.map((m) => ('seq' in m ? m.seq : 0)).filter((x) => x > 0);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
    // (How many frames that took depends on timing; session-log.test.ts checks the batching itself.)
    // A join then a signal from the same sender: the signal comes after the connectionCreated.
    const last = await TestClient.connect(h, sid, h.opentok.generateToken(sid), { batch: true });
    open.push(last.client);
    const lastId = (last.first as SessionConnectedMessage).connection.connectionId;
    expect((await last.client.request({ type: 'signal', signalType: 'hi', data: 'all' })).ok).toBe(true);
    await Promise.all(clients.map(({ c }) => c.find((m) => m.type === 'signal' && m.signalType === 'hi')));
    for (const { c } of clients) {
      const types = c.messages.map((m) => (createdIds(m).includes(lastId) ? 'created:last' : m.type));
      expect(types.indexOf('created:last')).toBeGreaterThanOrEqual(0);
      expect(types.indexOf('created:last')).toBeLessThan(types.indexOf('signal'));
    }
    clients.forEach(({ c }) => c.close());
    last.client.close();
  });

  it('accepts T1 tokens', async () => {
    const sid = h.createSession();
    const { first, client } = await TestClient.connect(h, sid, h.opentok.generateToken(sid, { role: 'moderator', data: 'x y' }, true));
    open.push(client);
    expect(first).toMatchObject({ type: 'sessionConnected', role: 'moderator', connection: { data: 'x y' } });
  });

  it.each([
    ['expired', () => signJwt({ iss: h.apiKey, ist: 'project', iat: now() - 100, exp: now() - 1, session_id: sidA, role: 'publisher', scope: 'session.connect' }, h.apiSecret), 'ERR_RT_TOKEN_EXPIRED', 'apiKey'],
    ['forged', () => signJwt({ iss: h.apiKey, ist: 'project', iat: now(), exp: now() + 60, session_id: sidA, role: 'moderator', scope: 'session.connect' }, 'guessed-secret'), 'ERR_RT_TOKEN_SIGNATURE', 'apiKey'],
    ['wrong key', () => h.opentok.generateToken(sidA), 'ERR_RT_TOKEN_PROJECT', 'wrongKey'],
    ['other session', () => h.opentok.generateToken(sidB), 'ERR_RT_TOKEN_SESSION', 'apiKey'],
    ['garbage', () => 'not-a-token', 'ERR_RT_TOKEN_MALFORMED', 'apiKey'],
  ])('refuses a %s token with a clear error and closes the socket', async (_name, token, code, key) => {
    const { client, first } = await TestClient.connect({ wsUrl: h.wsUrl, apiKey: key === 'wrongKey' ? '1234567' : h.apiKey }, sidA, token());
    expect(first.type).toBe('error');
    expect((first as Msg<'error'>).error).toMatchObject({ code, name: 'OT_AUTHENTICATION_ERROR', otCode: 1004 });
    expect((first as Msg<'error'>).error.message.length).toBeGreaterThan(5);
    expect((await client.closed).code).toBe(RT_CLOSE.authFailed);
    expect(h.realtime.live.connectionCount(sidA)).toBe(0);
  });

  // Issue 17 item 8: OpenTok's lifetime rules, for both token formats, at the door.
  const DAY = 86_400;
  const hostile: [string, (n: number) => Record<string, unknown>, (n: number) => string, string][] = [
    ['future iat', (n) => ({ iat: n + 3600, exp: n + 7200 }), (n) => `create_time=${n + 3600}&expire_time=${n + 7200}`, 'ERR_RT_TOKEN_NOT_YET_VALID'],
    ['future nbf', (n) => ({ iat: n, nbf: n + 3600, exp: n + 7200 }), (n) => `create_time=${n + 600}&expire_time=${n + 7200}`, 'ERR_RT_TOKEN_NOT_YET_VALID'],
    ['future create_time', (n) => ({ iat: n, create_time: n + 3600, exp: n + 7200 }), (n) => `create_time=${n + 3600}&expire_time=${n + 7200}`, 'ERR_RT_TOKEN_NOT_YET_VALID'],
    ['exp ten years out', (n) => ({ iat: n, exp: n + 3650 * DAY }), (n) => `create_time=${n}&expire_time=${n + 3650 * DAY}`, 'ERR_RT_TOKEN_LIFETIME'],
    ['exp - iat over 30 days', (n) => ({ iat: n - 31 * DAY, exp: n + 60 }), (n) => `create_time=${n - 31 * DAY}&expire_time=${n + 60}`, 'ERR_RT_TOKEN_LIFETIME'],
    ['exp before now', (n) => ({ iat: n - 600, exp: n - 60 }), (n) => `create_time=${n - 600}&expire_time=${n - 60}`, 'ERR_RT_TOKEN_EXPIRED'],
    ['no time claims', () => ({}), () => 'nonce=1', 'ERR_RT_TOKEN_MALFORMED'],
  ];
  it.each(hostile)('refuses a token with %s (JWT and T1) with the invalid-token error', async (_name, jwtTimes, t1Times, code) => {
    const tokens = [
      signJwt({ iss: h.apiKey, ist: 'project', ...jwtTimes(now()), session_id: sidA, role: 'moderator', scope: 'session.connect' }, h.apiSecret),
      signT1(`session_id=${sidA}&${t1Times(now())}&role=moderator`, h.apiKey, h.apiSecret),
    ];
    for (const token of tokens) {
      const { client, first } = await TestClient.connect(h, sidA, token);
      expect(first.type).toBe('error');
      expect((first as Msg<'error'>).error).toMatchObject({ code, name: 'OT_AUTHENTICATION_ERROR', otCode: 1004 });
      expect((await client.closed).code).toBe(RT_CLOSE.authFailed);
    }
    expect(h.realtime.live.connectionCount(sidA)).toBe(0);
  });

  it('refuses a session the store does not know', async () => {
    // Well-formed and of this key, but never created through the REST API.
    const ghost = encodeSessionId({ apiKey: h.apiKey, createdAt: Date.now(), random: 'never-created' });
    const { first, client } = await TestClient.connect(h, ghost, h.opentok.generateToken(ghost));
    expect((first as Msg<'error'>).error).toMatchObject({ code: 'ERR_RT_SESSION_INVALID', name: 'OT_INVALID_SESSION_ID', otCode: 1005 });
    expect((await client.closed).code).toBe(RT_CLOSE.authFailed);
  });

  it('refuses a first frame that is not connect, and a wrong protocol version', async () => {
    const c = await TestClient.open(h.wsUrl);
    const first = c.next(() => true);
    c.send({ type: 'publish', id: 1 });
    expect((await first as Msg<'error'>).error.code).toBe('ERR_RT_PROTOCOL');
    expect((await c.closed).code).toBe(RT_CLOSE.protocolError);
    const { first: v } = await TestClient.connect(h, sidA, h.opentok.generateToken(sidA), { version: 99 });
    expect((v as Msg<'error'>).error.code).toBe('ERR_RT_VERSION');
  });
});

let sidA: string;
let sidB: string;
beforeAll(() => {
  sidA = h.createSession();
  sidB = h.createSession();
});

describe('streams and roles', () => {
  it('a subscriber token cannot publish; publisheronly cannot subscribe; property changes are broadcast', async () => {
    const sid = h.createSession();
    const sub = await join(sid, { role: 'subscriber' });
    const denied = await sub.c.request(publishBody);
    expect(denied).toMatchObject({ ok: false, error: { code: 'ERR_RT_PERMISSION_DENIED', name: 'OT_PERMISSION_DENIED' } });
    const pubOnly = await join(sid, { role: 'publisheronly' });
    const p = await pubOnly.c.request({ ...publishBody, name: 'only', videoType: 'screen' });
    expect(p.ok).toBe(true);
    const streamId = p.result!['streamId'] as string;
    const created = await sub.c.find<Msg<'streamCreated'>>((m) => m.type === 'streamCreated');
    expect(created.stream).toMatchObject({ streamId, name: 'only', videoType: 'screen' });
    expect(await pubOnly.c.request({ type: 'subscribe', streamId, audio: true, video: true })).toMatchObject({ ok: false, error: { code: 'ERR_RT_SUBSCRIBE_DENIED' } });
    const changed = sub.c.next<Msg<'streamPropertyChanged'>>((m) => m.type === 'streamPropertyChanged');
    expect((await pubOnly.c.request({ type: 'streamUpdate', streamId, hasVideo: false })).ok).toBe(true);
    expect(await changed).toMatchObject({ changedProperty: 'hasVideo', oldValue: true, newValue: false });
    const dims = sub.c.next<Msg<'streamPropertyChanged'>>((m) => m.type === 'streamPropertyChanged');
    await pubOnly.c.request({ type: 'streamUpdate', streamId, videoDimensions: { width: 320, height: 240 } });
    expect(await dims).toMatchObject({ changedProperty: 'videoDimensions', newValue: { width: 320, height: 240 } });
    expect(h.realtime.live.listStreams(sid)).toEqual([{ id: streamId, videoType: 'screen', name: 'only', layoutClassList: [] }]);
    h.realtime.live.setStreamClassLists(sid, [{ id: streamId, layoutClassList: ['full'] }]);
    expect(h.realtime.live.getStream(sid, streamId)?.layoutClassList).toEqual(['full']);
    expect(() => h.realtime.live.setStreamClassLists(sid, [{ id: 'nope', layoutClassList: [] }])).toThrow(/nope/);
    const gone = sub.c.next<Msg<'streamDestroyed'>>((m) => m.type === 'streamDestroyed');
    await pubOnly.c.request({ type: 'unpublish', streamId });
    expect(await gone).toMatchObject({ reason: 'clientDisconnected', stream: { streamId } });
    expect(h.realtime.live.listStreams(sid)).toEqual([]);
  });

  it('relays SDP and ICE between the two ends of a subscription', async () => {
    const sid = h.createSession();
    const pub = await join(sid);
    const sub = await join(sid);
    const streamId = (await pub.c.request(publishBody)).result!['streamId'] as string;
    const joined = pub.c.next<Msg<'subscriberJoined'>>((m) => m.type === 'subscriberJoined');
    const r = await sub.c.request({ type: 'subscribe', streamId, audio: true, video: true });
    const subscriberId = r.result!['subscriberId'] as string;
    expect(await joined).toMatchObject({ subscriberId, streamId, connection: { connectionId: sub.hello.connection.connectionId } });
    const offer = sub.c.next<Msg<'sdp'>>((m) => m.type === 'sdp');
    await pub.c.request({ type: 'sdp', peerId: subscriberId, end: 'publisher', description: { type: 'offer', sdp: 'v=0 offer' } });
    expect(await offer).toMatchObject({ peerId: subscriberId, end: 'publisher', description: { type: 'offer', sdp: 'v=0 offer' } });
    const answer = pub.c.next<Msg<'sdp'>>((m) => m.type === 'sdp');
    await sub.c.request({ type: 'sdp', peerId: subscriberId, end: 'subscriber', description: { type: 'answer', sdp: 'v=0 answer' } });
    expect((await answer).description.type).toBe('answer');
    const ice = pub.c.next<Msg<'ice'>>((m) => m.type === 'ice');
    await sub.c.request({ type: 'ice', peerId: subscriberId, end: 'subscriber', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
    expect((await ice).candidate?.candidate).toContain('127.0.0.1');
    // A third party cannot inject into the link.
    const other = await join(sid);
    expect(await other.c.request({ type: 'sdp', peerId: subscriberId, end: 'publisher', description: { type: 'offer', sdp: 'x' } })).toMatchObject({ ok: false });
    const closed = pub.c.next<Msg<'peerClosed'>>((m) => m.type === 'peerClosed');
    await sub.c.request({ type: 'unsubscribe', subscriberId });
    expect((await closed).peerId).toBe(subscriberId);
  });
});

describe('signals', () => {
  it('client to session, to one connection, REST; in order per sender; limits', async () => {
    const sid = h.createSession();
    const a = await join(sid, { data: 'a' });
    const b = await join(sid, { data: 'b' });
    const outsider = await join(h.createSession());
    for (let i = 0; i < 20; i++) await a.c.request({ type: 'signal', signalType: 'n', data: String(i) }).then((r) => expect(r.ok).toBe(true));
    await b.c.find((m) => m.type === 'signal' && m.data === '19');
    expect(b.c.ofType('signal').filter((s) => s.signalType === 'n').map((s) => s.data)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(b.c.ofType('signal')[0]!.from).toMatchObject({ connectionId: a.hello.connection.connectionId, data: 'a' });
    // The sender gets its own session signals too (OpenTok behaviour).
    expect(a.c.ofType('signal').filter((s) => s.signalType === 'n')).toHaveLength(20);
    const direct = b.c.next<Msg<'signal'>>((m) => m.type === 'signal' && m.signalType === 'dm');
    expect((await a.c.request({ type: 'signal', to: b.hello.connection.connectionId, signalType: 'dm', data: 'hi' })).result).toEqual({ delivered: 1 });
    expect((await direct).data).toBe('hi');
    expect(await a.c.request({ type: 'signal', to: 'nobody', data: 'x' })).toMatchObject({ ok: false, error: { code: 'ERR_RT_CONNECTION_NOT_FOUND' } });
    expect(await a.c.request({ type: 'signal', signalType: 't', data: 'x'.repeat(8193) })).toMatchObject({ ok: false, error: { code: 'ERR_RT_SIGNAL_TOO_LARGE', otCode: 413 } });
    expect(await a.c.request({ type: 'signal', signalType: 'x'.repeat(129), data: '' })).toMatchObject({ ok: false, error: { otCode: 413 } });
    expect(await a.c.request({ type: 'signal', signalType: 'bad type!', data: '' })).toMatchObject({ ok: false, error: { otCode: 400 } });
    expect((await a.c.request({ type: 'signal', signalType: 'max', data: 'é'.repeat(4096) })).ok).toBe(true);
    const rest = b.c.next<Msg<'signal'>>((m) => m.type === 'signal' && m.signalType === 'rest');
    expect(h.realtime.live.signal(sid, null, { type: 'rest', data: 'from server' })).toBe(2);
    expect(await rest).toMatchObject({ from: null, data: 'from server' });
    expect(h.realtime.live.signal(sid, a.hello.connection.connectionId, { type: 'one' })).toBe(1);
    expect(() => h.realtime.live.signal(sid, 'ghost', { type: 'one' })).toThrow();
    await new Promise((r) => setTimeout(r, 50));
    expect(outsider.c.ofType('signal')).toEqual([]);
  });
});

describe('moderation', () => {
  it('only a moderator force-disconnects/unpublishes/mutes; force-mute state applies to new publishers', async () => {
    const sid = h.createSession();
    const mod = await join(sid, { role: 'moderator' });
    const user = await join(sid);
    const s1 = (await user.c.request(publishBody)).result!['streamId'] as string;
    expect(await user.c.request({ type: 'forceDisconnect', connectionId: mod.hello.connection.connectionId })).toMatchObject({ ok: false, error: { code: 'ERR_RT_FORCE_DISCONNECT_DENIED', otCode: 1520 } });
    expect(await user.c.request({ type: 'forceUnpublish', streamId: s1 })).toMatchObject({ ok: false, error: { otCode: 1530 } });
    expect(await user.c.request({ type: 'forceMuteAll' })).toMatchObject({ ok: false });
    const muted = user.c.next<Msg<'muteForced'>>((m) => m.type === 'muteForced');
    const prop = mod.c.next<Msg<'streamPropertyChanged'>>((m) => m.type === 'streamPropertyChanged');
    expect((await mod.c.request({ type: 'forceMuteStream', streamId: s1 })).ok).toBe(true);
    expect(await muted).toMatchObject({ streamId: s1, active: true });
    expect(await prop).toMatchObject({ changedProperty: 'hasAudio', newValue: false });
    // REST force-mute-all with an exclusion, then a new publisher joins muted.
    const s2 = (await user.c.request({ ...publishBody, name: 'second' })).result!['streamId'] as string;
    h.realtime.live.forceMuteAll(sid, [s1]);
    expect(await user.c.find<Msg<'muteForced'>>((m) => m.type === 'muteForced' && m.streamId === s2)).toMatchObject({ active: true });
    const late = await join(sid);
    expect(late.hello.forceMuteActive).toBe(true);
    const r = await late.c.request(publishBody);
    expect(r.result).toMatchObject({ forceMuted: true, stream: { hasAudio: false } });
    h.realtime.live.disableForceMute(sid);
    const r2 = await late.c.request({ ...publishBody, name: 'after' });
    expect(r2.result).toMatchObject({ forceMuted: false, stream: { hasAudio: true } });
    const unpub = user.c.next<Msg<'streamDestroyed'>>((m) => m.type === 'streamDestroyed' && m.stream.streamId === s2);
    expect((await mod.c.request({ type: 'forceUnpublish', streamId: s2 })).ok).toBe(true);
    expect((await unpub).reason).toBe('forceUnpublished');
    const seen = mod.c.next<Msg<'connectionDestroyed'>>((m) => m.type === 'connectionDestroyed');
    const kicked = user.c.next<Msg<'disconnected'>>((m) => m.type === 'disconnected');
    expect((await mod.c.request({ type: 'forceDisconnect', connectionId: user.hello.connection.connectionId })).ok).toBe(true);
    expect((await kicked).reason).toBe('forceDisconnected');
    expect(await seen).toMatchObject({ reason: 'forceDisconnected', connection: { connectionId: user.hello.connection.connectionId } });
    expect((await user.c.closed).code).toBe(RT_CLOSE.ended);
    // REST force-disconnect.
    const gone = mod.c.closed;
    h.realtime.live.forceDisconnect(sid, mod.hello.connection.connectionId);
    expect((await gone).reason).toBe('forceDisconnected');
    expect(() => h.realtime.live.forceDisconnect(sid, 'ghost')).toThrow();
  });
});

describe('reconnection', () => {
  it('resumes on a new socket with the same connection and no lost signals; otherwise networkDisconnected after the grace period', async () => {
    const sid = h.createSession();
    const a = await join(sid);
    const b = await join(sid);
    await b.c.request({ type: 'signal', signalType: 'before', data: '1' });
    await a.c.find((m) => m.type === 'signal' && m.signalType === 'before');
    const lastSeq = a.c.lastSeq;
    a.c.ws.terminate();
    await a.c.closed;
    // Sent while A has no socket.
    for (let i = 0; i < 5; i++) await b.c.request({ type: 'signal', signalType: 'during', data: String(i) });
    const { client, first } = await TestClient.connect(h, sid, h.opentok.generateToken(sid), { resume: { connectionId: a.hello.connection.connectionId, resumeKey: a.hello.resumeKey, lastSeq } });
    open.push(client);
    expect(first).toMatchObject({ type: 'sessionResumed', connectionId: a.hello.connection.connectionId });
    await client.find((m) => m.type === 'signal' && m.data === '4');
    expect(client.ofType('signal').map((s) => s.data)).toEqual(['0', '1', '2', '3', '4']);
    expect(b.c.ofType('connectionDestroyed')).toEqual([]);
    expect(h.realtime.live.connectionCount(sid)).toBe(2);
    // Wrong resume key is refused.
    const bad = await TestClient.connect(h, sid, h.opentok.generateToken(sid), { resume: { connectionId: a.hello.connection.connectionId, resumeKey: 'nope', lastSeq: 0 } });
    expect((bad.first as Msg<'error'>).error.code).toBe('ERR_RT_RESUME_FAILED');
    // Now drop for good: after the grace period (1.5 s here) the others see networkDisconnected.
    const destroyed = b.c.next<Msg<'connectionDestroyed'>>((m) => m.type === 'connectionDestroyed', 6000);
    client.ws.terminate();
    expect(await destroyed).toMatchObject({ reason: 'networkDisconnected', connection: { connectionId: a.hello.connection.connectionId } });
  });
});

describe('routed sessions', () => {
  it('a router failure fails media requests with OT_STREAM_CREATE_FAILED but never signals', async () => {
    const broken = {
      room: () => Promise.reject(new Error('no workers')),
      iceServers: [],
      metrics: () => ({ workers: [], sessions: [] }),
      closed: false,
      close: async () => undefined,
    } as unknown as MediaRouter;
    const rh = await startHarness({}, { media: broken });
    try {
      const sid = rh.createSession('routed');
      const { client, first } = await TestClient.connect(rh, sid, rh.opentok.generateToken(sid));
      expect(first).toMatchObject({ type: 'sessionConnected', mediaMode: 'routed' });
      expect(await client.request(publishBody)).toMatchObject({ ok: false, error: { code: 'ERR_RT_BAD_REQUEST' } });
      const r = await client.request({ ...publishBody, offer: { type: 'offer', sdp: 'v=0' } });
      expect(r).toMatchObject({ ok: false, error: { code: 'ERR_RT_MEDIA', name: 'OT_STREAM_CREATE_FAILED' } });
      expect(await client.request({ type: 'signal', signalType: 'still', data: 'works' })).toMatchObject({ ok: true, result: { delivered: 1 } });
      client.close();
    } finally {
      await rh.close();
    }
  });

  it('routing off: routed sessions negotiate peer to peer', async () => {
    const rh = await startHarness({}, { media: null });
    try {
      const sid = rh.createSession('routed');
      const { client, first } = await TestClient.connect(rh, sid, rh.opentok.generateToken(sid));
      expect(first).toMatchObject({ type: 'sessionConnected', mediaMode: 'relayed' });
      expect((await client.request(publishBody)).ok).toBe(true);
      client.close();
    } finally {
      await rh.close();
    }
  });
});

describe('webhooks', () => {
  it('POSTs signed session-monitoring events for connections and streams', async () => {
    const received: { body: string; sig: string }[] = [];
    const sink = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        // Fail the first delivery to exercise the retry.
        if (received.length === 0 && !sinkFailedOnce) {
          sinkFailedOnce = true;
          res.writeHead(500).end();
          return;
        }
        received.push({ body, sig: String(req.headers['x-tokhost-signature']) });
        res.writeHead(200).end();
      });
    });
    let sinkFailedOnce = false;
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const wh = await startHarness({ webhookRetryDelaysMs: [50, 100, 200] });
    try {
      wh.store.updateProject(wh.apiKey, { webhookUrl: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook` });
      const sid = wh.createSession();
      const { client } = await TestClient.connect(wh, sid, wh.opentok.generateToken(sid, { data: 'who=me' }));
      const p = await client.request(publishBody);
      await client.request({ type: 'unpublish', streamId: p.result!['streamId'] });
      await client.request({ type: 'disconnect' });
      const deadline = Date.now() + 8000;
      while (received.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const events = received.map((r) => JSON.parse(r.body) as { event: string; sessionId: string; projectId: string; reason?: string; connection?: { data: string }; stream?: { name: string; videoType?: string } });
      expect(events.map((e) => e.event)).toEqual(['sessionCreated', 'connectionCreated', 'streamCreated', 'streamDestroyed', 'connectionDestroyed', 'sessionDestroyed']);
      expect(events[1]).toMatchObject({ sessionId: sid, projectId: wh.apiKey, connection: { data: 'who=me' } });
      expect(events[2]).toMatchObject({ stream: { name: 'cam', videoType: 'camera', connection: { data: 'who=me' } } });
      expect(events[3]!.reason).toBe('clientDisconnected');
      expect(events[4]!.reason).toBe('clientDisconnected');
      for (const r of received) {
        const t = Number(/t=(\d+)/.exec(r.sig)![1]);
        expect(r.sig).toBe(signWebhookBody(wh.apiSecret, r.body, t));
      }
    } finally {
      await wh.close();
      sink.closeAllConnections();
      await new Promise((r) => sink.close(r));
    }
  });
});

describe('http assets', () => {
  it('serves the demo only when enabled (not for being on loopback), and the SDK with CORS (or 503 when not built)', async () => {
    // h listens on loopback without demo: true — the demo hands out tokens, so it stays off.
    expect((await fetch(`${h.url}/demo`)).status).toBe(404);
    const on = await startHarness({ demo: true });
    try {
      const page = await fetch(`${on.url}/demo`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/js/tokhost.js');
      const join = (await (await fetch(`${on.url}/demo/join?room=t1`)).json()) as { apiKey: string; sessionId: string; token: string };
      const { first, client } = await TestClient.connect({ wsUrl: on.wsUrl, apiKey: join.apiKey }, join.sessionId, join.token);
      client.close();
      expect(first).toMatchObject({ type: 'sessionConnected', role: 'publisher' });
    } finally {
      await on.close();
    }
    const js = await fetch(`${h.url}/js/tokhost.js`, { headers: { Origin: 'http://app.example' } });
    expect([200, 503]).toContain(js.status);
    expect(js.headers.get('access-control-allow-origin')).toBe('*');
  });
});
