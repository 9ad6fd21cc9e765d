import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSessionId } from '@tokhost/protocol';
import type { ServerMessage } from '@tokhost/protocol';
import { startHarness, TestClient } from './harness.js';
import type { Harness, OpenTokSdk } from './harness.js';

const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string) => OpenTokSdk;
const publishBody = { type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } };
type ErrorMessage = Extract<ServerMessage, { type: 'error' }>;

let h: Harness | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await h?.close();
  h = undefined;
});

async function join(sessionId: string, token: string, extra: Record<string, unknown> = {}): Promise<{ client: TestClient; first: ServerMessage }> {
  const r = await TestClient.connect(h!, sessionId, token, extra);
  clients.push(r.client);
  return r;
}

/** A second project in the harness store, with a session and its own SDK. */
function otherProject(harness: Harness): { apiKey: string; sessionId: string; opentok: OpenTokSdk } {
  const apiKey = String(Number(harness.apiKey) + 1);
  const apiSecret = randomBytes(20).toString('hex');
  harness.store.createProject({ apiKey, apiSecret, name: 'other', createdAt: Date.now(), webhookUrl: null });
  const createdAt = Date.now();
  const sessionId = encodeSessionId({ apiKey, createdAt, random: randomBytes(18).toString('base64'), flag: 'P' });
  harness.store.createSession({ sessionId, apiKey, mediaMode: 'relayed', archiveMode: 'manual', archiveName: null, archiveResolution: null, location: null, e2ee: false, createdAt });
  return { apiKey, sessionId, opentok: new OpenTok(apiKey, apiSecret) };
}

const connectionsIn = (sessionId: string) => h!.realtime.metrics().sessions.find((s) => s.sessionId === sessionId)?.connections ?? 0;

describe('connection limits', () => {
  it('refuses a token used by more than maxConnectionsPerToken sockets with ERR_RT_CONNECTION_LIMIT (1027) and close 4006', async () => {
    h = await startHarness({ maxConnectionsPerToken: 3 });
    const sid = h.createSession();
    const token = h.opentok.generateToken(sid);
    const first = await Promise.all([1, 2, 3].map(() => join(sid, token)));
    for (const f of first) expect(f.first.type).toBe('sessionConnected');
    const refused = await join(sid, token);
    expect(refused.first.type).toBe('error');
    const error = (refused.first as ErrorMessage).error;
    expect(error).toMatchObject({ code: 'ERR_RT_CONNECTION_LIMIT', name: 'OT_CONNECTION_LIMIT_EXCEEDED', otCode: 1027 });
    expect(error.message).toContain('maxConnectionsPerToken 3');
    expect(await refused.client.closed).toEqual({ code: 4006, reason: 'ERR_RT_CONNECTION_LIMIT' });
    // Nothing changed: three connections, and nobody heard of a fourth.
    expect(connectionsIn(sid)).toBe(3);
    await new Promise((r) => setTimeout(r, 50));
    expect(first[0]!.client.ofType('connectionCreated')).toHaveLength(2);
    // Another token of the same session is not affected.
    expect((await join(sid, h.opentok.generateToken(sid))).first.type).toBe('sessionConnected');
    // A slot frees when one of the three leaves for good.
    await first[0]!.client.request({ type: 'disconnect' });
    expect((await join(sid, token)).first.type).toBe('sessionConnected');
    expect(h.realtime.metrics().limits.connectionLimit).toBe(1);
  });

  it('refuses the connection over maxConnectionsPerProject and leaves other projects alone', async () => {
    h = await startHarness({ maxConnectionsPerProject: 3 });
    const a = h.createSession();
    const b = h.createSession();
    expect((await join(a, h.opentok.generateToken(a))).first.type).toBe('sessionConnected');
    expect((await join(a, h.opentok.generateToken(a))).first.type).toBe('sessionConnected');
    expect((await join(b, h.opentok.generateToken(b))).first.type).toBe('sessionConnected');
    // The cap spans every session of the project.
    const refused = await join(b, h.opentok.generateToken(b));
    expect((refused.first as ErrorMessage).error).toMatchObject({ code: 'ERR_RT_CONNECTION_LIMIT', otCode: 1027 });
    expect((refused.first as ErrorMessage).error.message).toContain('maxConnectionsPerProject 3');
    expect(connectionsIn(a) + connectionsIn(b)).toBe(3);
    // Another project (API key) has its own count.
    const other = otherProject(h);
    for (let i = 0; i < 3; i++) expect((await TestClient.connect({ wsUrl: h.wsUrl, apiKey: other.apiKey }, other.sessionId, other.opentok.generateToken(other.sessionId)).then((r) => (clients.push(r.client), r))).first.type).toBe('sessionConnected');
    expect(connectionsIn(other.sessionId)).toBe(3);
  });

  it('counts a resumed connection once (a resume is not a new connection)', async () => {
    h = await startHarness({ maxConnectionsPerToken: 1 });
    const sid = h.createSession();
    const token = h.opentok.generateToken(sid);
    const { client, first } = await join(sid, token);
    const hello = first as Extract<ServerMessage, { type: 'sessionConnected' }>;
    client.close();
    await new Promise((r) => setTimeout(r, 50));
    const again = await join(sid, token, { resume: { connectionId: hello.connection.connectionId, resumeKey: hello.resumeKey, lastSeq: client.lastSeq } });
    expect(again.first.type).toBe('sessionResumed');
    expect(connectionsIn(sid)).toBe(1);
  });
});

describe('signal rate per connection', () => {
  it('refuses signals over the burst with ERR_RT_SIGNAL_RATE (429), delivers none of them, and refills at the rate', async () => {
    h = await startHarness({ signalRatePerConnection: 5, signalBurstPerConnection: 10 });
    const sid = h.createSession();
    const sender = (await join(sid, h.opentok.generateToken(sid))).client;
    const receiver = (await join(sid, h.opentok.generateToken(sid))).client;
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: 15 }, (_, i) => sender.request({ type: 'signal', signalType: 'chat', data: `m${i}` })));
    // The burst, plus what the rate refilled while the 15 were on their way (a loaded machine).
    const refill = Math.floor(((performance.now() - t0) * 5) / 1000);
    const delivered = answers.filter((a) => a.ok).length;
    expect(delivered).toBeGreaterThanOrEqual(10);
    expect(delivered).toBeLessThanOrEqual(10 + refill);
    const refused = answers.filter((a) => !a.ok);
    expect(refused.length).toBe(15 - delivered);
    for (const a of refused) {
      expect(a.error).toMatchObject({ code: 'ERR_RT_SIGNAL_RATE', name: 'OT_RATE_LIMIT_EXCEEDED', otCode: 429 });
    }
    expect(refused[0]!.error?.message).toContain('signalRatePerConnection');
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.ofType('signal')).toHaveLength(delivered);
    // The receiver's own bucket is untouched.
    expect((await receiver.request({ type: 'signal', signalType: 'chat', data: 'x' })).ok).toBe(true);
    // 5 per second: after 0.5 s two more go through.
    await new Promise((r) => setTimeout(r, 500));
    const later = await Promise.all(Array.from({ length: 4 }, () => sender.request({ type: 'signal', data: 'later' })));
    expect(later.filter((a) => a.ok).length).toBeGreaterThanOrEqual(2);
    expect(h.realtime.metrics().limits.signalRate).toBe(refused.length + later.filter((a) => !a.ok).length);
  });
});

describe('subscriptions per connection', () => {
  it('allows one subscription per stream and at most maxSubscriptionsPerConnection', async () => {
    h = await startHarness({ maxSubscriptionsPerConnection: 2 });
    const sid = h.createSession();
    const pub = (await join(sid, h.opentok.generateToken(sid, { role: 'publisher' }))).client;
    const sub = (await join(sid, h.opentok.generateToken(sid, { role: 'subscriber' }))).client;
    const streams: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await pub.request(publishBody);
      expect(r.ok).toBe(true);
      streams.push(String(r.result?.['streamId']));
    }
    const [a, b, c] = streams as [string, string, string];
    expect((await sub.request({ type: 'subscribe', streamId: a })).ok).toBe(true);
    const twice = await sub.request({ type: 'subscribe', streamId: a });
    expect(twice.error).toMatchObject({ code: 'ERR_RT_ALREADY_SUBSCRIBED', otCode: 1011 });
    expect((await sub.request({ type: 'subscribe', streamId: b })).ok).toBe(true);
    const third = await sub.request({ type: 'subscribe', streamId: c });
    expect(third.error).toMatchObject({ code: 'ERR_RT_SUBSCRIBE_LIMIT', name: 'OT_STREAM_LIMIT_EXCEEDED' });
    expect(third.error?.message).toContain('maxSubscriptionsPerConnection');
    // Refused subscribes changed nothing: two subscriptions, the publisher heard of two subscribers.
    const session = h.realtime.metrics().sessions.find((s) => s.sessionId === sid)!;
    expect(session.subscribers).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(pub.ofType('subscriberJoined')).toHaveLength(2);
    // Freeing one makes room for another.
    const subA = String(sub.ofType('response').find((m) => m.ok && m.result?.['subscriberId'])?.result?.['subscriberId']);
    expect((await sub.request({ type: 'unsubscribe', subscriberId: subA })).ok).toBe(true);
    expect((await sub.request({ type: 'subscribe', streamId: c })).ok).toBe(true);
    expect(h.realtime.metrics().limits.subscriptions).toBe(2);
  });
});
