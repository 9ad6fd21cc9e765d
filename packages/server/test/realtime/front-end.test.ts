// The seam a second client protocol drives the live state through (`realtime.frontEnd()`): a
// foreign connection joins with a Delivery on a started server and meets native clients (real
// WebSockets) in one session. No part of the state is faked: only the foreign transport is a
// recorder, as a front end's socket would be.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientRequest, RtError, ServerMessage, SessionConnectedMessage, UnsequencedServerMessage } from '@tokhost/protocol';
import type { Connection, Delivery, FrontEnd, JoinSnapshot } from '../../src/realtime/index.js';
import { startHarness, TestClient } from './harness.js';
import type { Harness } from './harness.js';

/** A foreign front end's transport for one connection: records what the state hands it. */
class Recorder implements Delivery {
  readonly messages: UnsequencedServerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: { pred: (m: UnsequencedServerMessage) => boolean; resolve: (m: UnsequencedServerMessage) => void }[] = [];

  deliver(msg: UnsequencedServerMessage): void {
    this.messages.push(msg);
    for (const w of [...this.waiters]) {
      if (!w.pred(msg)) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(msg);
    }
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  /** The first message so far (or the next one) matching `pred`. */
  find<K extends UnsequencedServerMessage['type']>(type: K, pred: (m: Extract<UnsequencedServerMessage, { type: K }>) => boolean = () => true, timeoutMs = 3000): Promise<Extract<UnsequencedServerMessage, { type: K }>> {
    const match = (m: UnsequencedServerMessage): m is Extract<UnsequencedServerMessage, { type: K }> => m.type === type && pred(m as Extract<UnsequencedServerMessage, { type: K }>);
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a ${type}`)), timeoutMs);
      this.waiters.push({
        pred: match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<UnsequencedServerMessage, { type: K }>);
        },
      });
    });
  }

  ofType<K extends UnsequencedServerMessage['type']>(type: K): Extract<UnsequencedServerMessage, { type: K }>[] {
    return this.messages.filter((m): m is Extract<UnsequencedServerMessage, { type: K }> => m.type === type);
  }
}

let h: Harness;
let front: FrontEnd;
const natives: TestClient[] = [];
beforeAll(async () => {
  h = await startHarness({ reconnectGraceMs: 1500, iceServers: [{ urls: 'stun:127.0.0.1:3478' }] });
  front = h.realtime.frontEnd();
});
afterAll(async () => {
  natives.forEach((c) => c.close());
  await h.close();
});

async function joinNative(sessionId: string, options: Record<string, unknown> = {}): Promise<{ c: TestClient; hello: SessionConnectedMessage }> {
  const { client, first } = await TestClient.connect(h, sessionId, h.opentok.generateToken(sessionId, options));
  natives.push(client);
  expect(first.type).toBe('sessionConnected');
  return { c: client, hello: first as SessionConnectedMessage };
}

async function joinForeign(sessionId: string, options: Record<string, unknown> = {}, suppressed = false): Promise<{ conn: Connection; snapshot: JoinSnapshot; out: Recorder }> {
  const raw = h.opentok.generateToken(sessionId, options);
  const out = new Recorder();
  const joined = front.join(await front.verifyToken(raw), raw, out, { connectionEventsSuppressed: suppressed });
  if ('code' in joined) throw new Error(`join refused: ${joined.code} ${joined.message}`);
  return { ...joined, out };
}

/** A request from the foreign side and its answer (the state answers through the delivery). */
let nextId = 1;
async function request(conn: Connection, out: Recorder, body: Record<string, unknown>): Promise<Extract<UnsequencedServerMessage, { type: 'response' }>> {
  const id = nextId++;
  front.rooms.handle(conn, { ...body, id } as unknown as ClientRequest);
  return out.find('response', (m) => m.id === id);
}

const publishBody = { type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 }, frameRate: 30 };

describe('a foreign connection beside native ones', () => {
  it('sees the native connections and streams at join, and is seen joining', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid, { data: 'native' });
    const pub = await a.c.request({ ...publishBody, name: 'native cam' });
    expect(pub.ok).toBe(true);
    const seen = a.c.next((m) => m.type === 'connectionCreated');
    const f = await joinForeign(sid, { data: 'foreign', role: 'moderator' });

    expect(f.snapshot).toMatchObject({ sessionId: sid, mediaMode: 'relayed', role: 'moderator', connection: { data: 'foreign' }, forceMuteActive: false, e2ee: false, archives: [], reconnectGraceMs: 1500 });
    expect(f.snapshot.connections.map((c) => c.connectionId)).toEqual([a.hello.connection.connectionId]);
    expect(f.snapshot.streams.map((s) => s.name)).toEqual(['native cam']);
    expect(f.snapshot.iceServers).toEqual([{ urls: 'stun:127.0.0.1:3478' }]);
    expect(await seen).toMatchObject({ type: 'connectionCreated', connection: { connectionId: f.conn.id, data: 'foreign' } });
    expect(h.realtime.live.listConnections(sid).map((c) => c.connectionId)).toEqual([a.hello.connection.connectionId, f.conn.id]);

    // A native client joining later lists the foreign connection in its hello; the foreign one is told.
    const b = await joinNative(sid, { data: 'late' });
    expect(b.hello.connections.map((c) => c.connectionId)).toContain(f.conn.id);
    expect(await f.out.find('connectionCreated')).toMatchObject({ connection: { connectionId: b.hello.connection.connectionId, data: 'late' } });
  });

  it('publishes, subscribes and signals both ways with a native client', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const f = await joinForeign(sid, { data: 'f' });

    const created = a.c.next((m) => m.type === 'streamCreated');
    const published = await request(f.conn, f.out, { ...publishBody, name: 'foreign cam' });
    expect(published).toMatchObject({ ok: true, result: { stream: { name: 'foreign cam', connection: { connectionId: f.conn.id } } } });
    const streamId = String(published.result?.['streamId']);
    expect(await created).toMatchObject({ stream: { streamId, name: 'foreign cam' } });
    expect(f.out.ofType('streamCreated')).toEqual([]);

    const nativeStream = await a.c.request({ ...publishBody, name: 'native cam' });
    expect(await f.out.find('streamCreated')).toMatchObject({ stream: { name: 'native cam', connection: { connectionId: a.hello.connection.connectionId } } });

    // Relayed: the foreign side subscribes to the native stream; the native publisher is asked
    // for a peer link and its offer reaches the foreign side.
    const joined = a.c.next((m) => m.type === 'subscriberJoined');
    const sub = await request(f.conn, f.out, { type: 'subscribe', streamId: String(nativeStream.result?.['streamId']) });
    expect(sub.ok).toBe(true);
    const subscriberId = String(sub.result?.['subscriberId']);
    expect(await joined).toMatchObject({ subscriberId, connection: { connectionId: f.conn.id } });
    expect((await a.c.request({ type: 'sdp', peerId: subscriberId, end: 'publisher', description: { type: 'offer', sdp: 'v=0 offer' } })).ok).toBe(true);
    expect(await f.out.find('sdp')).toMatchObject({ peerId: subscriberId, end: 'publisher', description: { type: 'offer', sdp: 'v=0 offer' } });
    const answered = a.c.next((m) => m.type === 'sdp');
    expect((await request(f.conn, f.out, { type: 'sdp', peerId: subscriberId, end: 'subscriber', description: { type: 'answer', sdp: 'v=0 answer' } })).ok).toBe(true);
    expect(await answered).toMatchObject({ peerId: subscriberId, end: 'subscriber', description: { type: 'answer', sdp: 'v=0 answer' } });

    // Signals: native to all reaches the foreign side; foreign to one reaches the native client.
    expect(await a.c.request({ type: 'signal', signalType: 'chat', data: 'from native' })).toMatchObject({ ok: true, result: { delivered: 2 } });
    expect(await f.out.find('signal')).toMatchObject({ from: { connectionId: a.hello.connection.connectionId }, signalType: 'chat', data: 'from native' });
    const got = a.c.next((m) => m.type === 'signal' && m.data === 'from foreign');
    expect(await request(f.conn, f.out, { type: 'signal', to: a.hello.connection.connectionId, signalType: 'chat', data: 'from foreign' })).toMatchObject({ ok: true, result: { delivered: 1 } });
    expect(await got).toMatchObject({ from: { connectionId: f.conn.id }, signalType: 'chat' });

    // The foreign client leaves: its stream ends for the native one, then its connection.
    const gone = a.c.next((m) => m.type === 'connectionDestroyed');
    const ended = a.c.next((m) => m.type === 'streamDestroyed');
    expect((await request(f.conn, f.out, { type: 'disconnect' })).ok).toBe(true);
    expect(await ended).toMatchObject({ stream: { streamId }, reason: 'clientDisconnected' });
    expect(await gone).toMatchObject({ connection: { connectionId: f.conn.id }, reason: 'clientDisconnected' });
    expect(f.out.closed).toEqual({ code: 4004, reason: 'clientDisconnected' });
    expect(h.realtime.live.listConnections(sid).map((c) => c.connectionId)).toEqual([a.hello.connection.connectionId]);
  });

  it('gets no connection events when it suppressed them', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const f = await joinForeign(sid, {}, true);
    expect(f.snapshot.connections).toEqual([]);
    await joinNative(sid);
    await a.c.request({ type: 'signal', signalType: 'marker', data: '' });
    await f.out.find('signal', (m) => m.signalType === 'marker');
    expect(f.out.ofType('connectionCreated')).toEqual([]);
  });
});

describe('what the state tells every kind of connection', () => {
  it('archives recording: told as they start and stop, and in a later joiner\'s snapshot', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const f = await joinForeign(sid);
    h.realtime.live.archiveNotice(sid, { id: 'arch-1', name: 'weekly' }, true);
    expect(await f.out.find('archiveStarted')).toEqual({ type: 'archiveStarted', id: 'arch-1', name: 'weekly' });
    expect(await a.c.find((m) => m.type === 'archiveStarted')).toMatchObject({ id: 'arch-1', name: 'weekly' });
    const late = await joinForeign(sid);
    expect(late.snapshot.archives).toEqual([{ id: 'arch-1', name: 'weekly' }]);
    h.realtime.live.archiveNotice(sid, { id: 'arch-1', name: 'weekly' }, false);
    expect(await late.out.find('archiveStopped')).toMatchObject({ id: 'arch-1' });
    expect((await joinForeign(sid)).snapshot.archives).toEqual([]);
  });

  it('a delivery that throws is logged and disturbs neither the change nor the other connections', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const broken = new Recorder();
    broken.deliver = () => {
      throw new Error('front end bug');
    };
    const raw = h.opentok.generateToken(sid);
    const joined = front.join(await front.verifyToken(raw), raw, broken);
    expect('conn' in joined).toBe(true);
    const f = await joinForeign(sid);
    expect(await a.c.request({ type: 'signal', signalType: 'through', data: '' })).toMatchObject({ ok: true, result: { delivered: 3 } });
    expect(await f.out.find('signal', (m) => m.signalType === 'through')).toMatchObject({ from: { connectionId: a.hello.connection.connectionId } });
    expect(h.realtime.live.connectionCount(sid)).toBe(3);
  });
});

describe('REST (LiveSessions) reaches a foreign connection', () => {
  it('signal, listStreams, forceMuteStream and forceDisconnect', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const f = await joinForeign(sid);
    const streamId = String((await request(f.conn, f.out, { ...publishBody, name: 'listed' })).result?.['streamId']);

    expect(h.realtime.live.signal(sid, null, { type: 'all', data: 'to everyone' })).toBe(2);
    expect(await f.out.find('signal', (m) => m.signalType === 'all')).toEqual({ type: 'signal', from: null, signalType: 'all', data: 'to everyone' });
    expect(h.realtime.live.signal(sid, f.conn.id, { type: 'one', data: 'to you' })).toBe(1);
    expect(await f.out.find('signal', (m) => m.signalType === 'one')).toMatchObject({ from: null, data: 'to you' });
    expect(h.realtime.live.listStreams(sid)).toEqual([{ id: streamId, videoType: 'camera', name: 'listed', layoutClassList: [] }]);

    const changed = a.c.next((m) => m.type === 'streamPropertyChanged');
    h.realtime.live.forceMuteStream(sid, streamId);
    expect(await f.out.find('muteForced')).toMatchObject({ streamId, active: true });
    expect(await changed).toMatchObject({ streamId, changedProperty: 'hasAudio', newValue: false });

    const gone = a.c.next((m) => m.type === 'connectionDestroyed');
    h.realtime.live.forceDisconnect(sid, f.conn.id);
    expect(await f.out.find('disconnected')).toMatchObject({ reason: 'forceDisconnected' });
    expect(f.out.closed).toEqual({ code: 4004, reason: 'forceDisconnected' });
    expect(await gone).toMatchObject({ connection: { connectionId: f.conn.id }, reason: 'forceDisconnected' });
    expect(h.realtime.live.listStreams(sid)).toEqual([]);
    expect(front.rooms.find(sid, f.conn.id)).toBeUndefined();
  });
});

describe('refusals reach the foreign side as errors', () => {
  it('answers a refused request with ok: false and the RtError, and changes nothing', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const f = await joinForeign(sid, { role: 'subscriber' });
    expect(await request(f.conn, f.out, publishBody)).toMatchObject({ ok: false, error: { code: 'ERR_RT_PERMISSION_DENIED', message: 'a subscriber token cannot publish' } });
    expect(await request(f.conn, f.out, { type: 'forceDisconnect', connectionId: a.hello.connection.connectionId })).toMatchObject({ ok: false, error: { code: 'ERR_RT_FORCE_DISCONNECT_DENIED' } });
    expect(await request(f.conn, f.out, { type: 'signal', to: 'ghost', signalType: 't', data: '' })).toMatchObject({ ok: false, error: { code: 'ERR_RT_CONNECTION_NOT_FOUND' } });
    expect(await request(f.conn, f.out, { type: 'signal', signalType: 'x'.repeat(200), data: '' })).toMatchObject({ ok: false, error: { code: 'ERR_RT_SIGNAL_TOO_LARGE' } });
    expect(h.realtime.live.listStreams(sid)).toEqual([]);
    expect(h.realtime.live.connectionCount(sid)).toBe(2);
  });

  it('refuses a join for a session that does not exist or past a connection limit', async () => {
    const sid = h.createSession();
    const raw = h.opentok.generateToken(sid);
    const token = await front.verifyToken(raw);
    const refused = front.join({ ...token, sessionId: 'no-such-session' }, raw, new Recorder()) as RtError;
    expect(refused.code).toBe('ERR_RT_SESSION_INVALID');
    // One token, more connections than `maxConnectionsPerToken` (32 by default) allows.
    const outs: Recorder[] = [];
    let last: ReturnType<FrontEnd['join']> | null = null;
    for (let i = 0; i < 33; i++) {
      const out = new Recorder();
      outs.push(out);
      last = front.join(token, raw, out);
    }
    expect(last).toMatchObject({ code: 'ERR_RT_CONNECTION_LIMIT' });
    expect(h.realtime.live.connectionCount(sid)).toBe(32);
    expect(h.realtime.metrics().limits.connectionLimit).toBeGreaterThan(0);
    for (const c of [...front.rooms.rooms.get(sid)!.connections.values()]) front.rooms.destroyConnection(c, 'clientDisconnected');
    expect(h.realtime.live.connectionCount(sid)).toBe(0);
    // The count went down with them: the same token joins again.
    expect('conn' in front.join(token, raw, new Recorder())).toBe(true);
  });
});

describe('a foreign transport drop: suspend and reattach', () => {
  it('keeps the connection and hands over what was sent meanwhile, in order', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const f = await joinForeign(sid);
    front.rooms.suspend(f.conn, f.out);
    expect(h.realtime.live.signal(sid, f.conn.id, { type: 'missed', data: '1' })).toBe(1);
    await a.c.request({ type: 'signal', signalType: 'missed', data: '2' });
    const b = await joinNative(sid);
    expect(f.out.ofType('signal')).toEqual([]);

    const again = new Recorder();
    const back = front.rooms.reattach(f.conn, again);
    if ('code' in back) throw new Error(back.message);
    expect(back.missed.map((m) => (m.type === 'signal' ? m.data : m.type))).toEqual(['1', '2', 'connectionCreated']);
    expect(back.snapshot.connection.connectionId).toBe(f.conn.id);
    expect(back.snapshot.connections.map((c) => c.connectionId)).toEqual([a.hello.connection.connectionId, b.hello.connection.connectionId]);
    // Later messages go to the new transport only; nobody saw the foreign connection leave.
    h.realtime.live.signal(sid, null, { type: 'after', data: '' });
    expect(await again.find('signal', (m) => m.signalType === 'after')).toMatchObject({ from: null });
    expect(f.out.ofType('signal')).toEqual([]);
    expect(a.c.ofType('connectionDestroyed')).toEqual([]);
    // A late drop report of the old transport changes nothing.
    front.rooms.suspend(f.conn, f.out);
    h.realtime.live.signal(sid, f.conn.id, { type: 'still', data: '' });
    expect(await again.find('signal', (m) => m.signalType === 'still')).toMatchObject({ from: null });
  });

  it('ends the connection after the grace period, and a reattach then fails', async () => {
    const sid = h.createSession();
    const a = await joinNative(sid);
    const f = await joinForeign(sid);
    const gone = a.c.next((m: ServerMessage) => m.type === 'connectionDestroyed', 5000);
    front.rooms.suspend(f.conn);
    expect(await gone).toMatchObject({ connection: { connectionId: f.conn.id }, reason: 'networkDisconnected' });
    expect(front.rooms.reattach(f.conn, new Recorder())).toMatchObject({ code: 'ERR_RT_RESUME_FAILED' });
  });

  it('fails the reattach when more was sent meanwhile than the queue keeps', async () => {
    const sid = h.createSession();
    await joinNative(sid);
    const f = await joinForeign(sid);
    front.rooms.suspend(f.conn);
    // The queue keeps as much as a session's replay buffer: 10,000 messages.
    for (let i = 0; i <= 10_000; i++) h.realtime.live.signal(sid, f.conn.id, { type: 'flood', data: String(i) });
    expect(front.rooms.reattach(f.conn, new Recorder())).toMatchObject({ code: 'ERR_RT_RESUME_FAILED', message: 'messages since the connection dropped are no longer available' });
    front.rooms.destroyConnection(f.conn, 'networkDisconnected');
  });

  it('refuses to give a foreign connection to a native resume', async () => {
    const sid = h.createSession();
    const f = await joinForeign(sid);
    const { first } = await TestClient.connect(h, sid, h.opentok.generateToken(sid), { resume: { connectionId: f.conn.id, resumeKey: f.conn.resumeKey, lastSeq: 0 } });
    expect(first).toMatchObject({ type: 'error', error: { code: 'ERR_RT_RESUME_FAILED' } });
    expect(f.out.closed).toBeNull();
  });
});

describe('closing', () => {
  it('a drain closes foreign transports; the connection stays for its grace period', async () => {
    const sid = h.createSession();
    const f = await joinForeign(sid);
    h.realtime.closeClients(1012, 'draining');
    expect(f.out.closed).toEqual({ code: 1012, reason: 'draining' });
    expect(front.rooms.find(sid, f.conn.id)).toBe(f.conn);
    front.rooms.destroyConnection(f.conn, 'clientDisconnected');
  });
});
