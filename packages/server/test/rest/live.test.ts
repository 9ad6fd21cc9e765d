import { REALTIME_PATH, REALTIME_PROTOCOL_VERSION } from '@tokhost/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { until } from '../kit/index.js';
import { call, createSessionId, KEY_A, postJson, projectJwt, SECRET_A, startServer } from './harness.js';
import { OfficialOpenTok, settle } from './opentok-types.js';
import type { OpenTokLike } from './opentok-types.js';

type Server = Awaited<ReturnType<typeof startServer>>;
type Msg = Record<string, unknown> & { type: string };

/** A bare client of the realtime protocol, enough to put real connections and streams in a session. */
class Client {
  readonly messages: Msg[] = [];
  private waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  private nextId = 1;
  closed: Promise<number>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as Msg;
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
    });
    this.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  }
  static async connect(server: Server, sessionId: string, token: string): Promise<{ client: Client; connectionId: string }> {
    const ws = new WebSocket(server.url.replace('http', 'ws') + REALTIME_PATH);
    const client = new Client(ws);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const connected = client.next((m) => m.type === 'sessionConnected' || m.type === 'error');
    ws.send(JSON.stringify({ type: 'connect', version: REALTIME_PROTOCOL_VERSION, apiKey: KEY_A, sessionId, token }));
    const m = await connected;
    if (m.type !== 'sessionConnected') throw new Error(`connect refused: ${JSON.stringify(m)}`);
    return { client, connectionId: (m.connection as { connectionId: string }).connectionId };
  }
  next(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('message never came')), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }
  async request(body: Record<string, unknown>): Promise<Msg> {
    const id = this.nextId++;
    const answer = this.next((m) => m.type === 'response' && m.id === id);
    this.ws.send(JSON.stringify({ ...body, id }));
    return answer;
  }
  close(): void {
    this.ws.close();
  }
}

describe('REST on live state (real realtime connections)', () => {
  let server: Server;
  let ot: OpenTokLike;
  const clients: Client[] = [];
  beforeAll(async () => {
    server = await startServer();
    ot = new OfficialOpenTok(KEY_A, SECRET_A, server.url);
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(() => server.close());

  it('lists connections and streams, serves getStream to opentok-node, sets class lists, signals and disconnects', async () => {
    const sessionId = await createSessionId(server, 'p2p.preference=enabled');
    const { client, connectionId } = await Client.connect(server, sessionId, ot.generateToken(sessionId, { role: 'moderator', data: 'me' }));
    clients.push(client);
    const published = await client.request({ type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } });
    expect(published.ok, JSON.stringify(published)).toBe(true);

    const conns = await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/connection`);
    expect(conns.json).toMatchObject({ count: 1, items: [{ connectionId }] });

    const streams = await settle<unknown[]>((cb) => ot.listStreams(sessionId, cb));
    expect(streams.err).toBeNull();
    expect(streams.value).toHaveLength(1);
    const streamId = (streams.value as { id: string }[])[0]!.id;

    // The one route answered as text/plain to opentok-node, so its double JSON.parse works; the
    // Ruby SDK (HTTParty parses by type) and PHP get application/json, with the headers each sends.
    const streamPath = `/v2/project/${KEY_A}/session/${sessionId}/stream/${streamId}`;
    const raw = await call(server, 'GET', streamPath, { headers: { 'user-agent': 'OpenTok-Node-SDK/2.23.2', accept: 'application/json' } });
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
    const ruby = await call(server, 'GET', streamPath, { headers: { 'user-agent': 'OpenTok-Ruby-SDK/4.9.0-Ruby-Version-3.2.2-p53', accept: '*/*' } });
    expect(ruby.headers.get('content-type')).toMatch(/^application\/json/);
    expect(ruby.json).toMatchObject({ id: streamId, name: 'cam', videoType: 'camera' });
    const php = await fetch(server.url + streamPath, { headers: { 'user-agent': 'OpenTok-PHP-SDK/4.15.0 php/8.2', 'x-opentok-auth': projectJwt(KEY_A, SECRET_A) } });
    expect(php.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await php.json()).toMatchObject({ id: streamId });
    const got = await settle((cb) => ot.getStream(sessionId, streamId, cb));
    expect(got.err).toBeNull();
    expect(got.value).toMatchObject({ id: streamId, name: 'cam', videoType: 'camera' });

    expect((await settle((cb) => ot.setStreamClassLists(sessionId, [{ id: streamId, layoutClassList: ['focus'] }], cb))).err).toBeNull();
    expect(((await settle((cb) => ot.getStream(sessionId, streamId, cb))).value as { layoutClassList: string[] }).layoutClassList).toEqual(['focus']);
    // The older single-stream form (PHP updateStream).
    const one = await call(server, 'PUT', `/v2/project/${KEY_A}/session/${sessionId}/stream/${streamId}`, { body: JSON.stringify({ layoutClassList: ['a', 'b'] }), headers: { 'content-type': 'application/json' } });
    expect(one.status).toBe(200);
    expect(JSON.parse((await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/stream/${streamId}`)).text)).toMatchObject({ layoutClassList: ['a', 'b'] });
    expect((await call(server, 'PUT', `/v2/project/${KEY_A}/session/${sessionId}/stream/nope`, { body: JSON.stringify({ layoutClassList: [] }), headers: { 'content-type': 'application/json' } })).status).toBe(404);

    expect((await settle((cb) => ot.signal(sessionId, connectionId, { type: 'chat', data: 'hello' }, cb))).err).toBeNull();
    const signal = await client.next((m) => m.type === 'signal');
    expect(signal).toMatchObject({ signalType: 'chat', data: 'hello' });

    // Every precondition of an archive holds now: it starts (then pauses: nobody publishes) and stops;
    // with nothing published it ends `failed` with the reason (the recordings are tested in e2e/archive).
    const routed = await createSessionId(server, 'p2p.preference=disabled');
    const other = await Client.connect(server, routed, ot.generateToken(routed));
    clients.push(other.client);
    const archive = await postJson(server, `/v2/project/${KEY_A}/archive`, { sessionId: routed });
    expect(archive.status).toBe(200);
    const id = (archive.json as { id: string; status: string }).id;
    expect((archive.json as { status: string }).status).toBe('started');
    await until(() => server.store.getArchive(KEY_A, id)?.archive.status === 'paused', { timeoutMs: 5000, what: 'archive paused (nobody publishes)' });
    expect(server.store.listArchives(KEY_A).total).toBe(1);
    expect((await postJson(server, `/v2/project/${KEY_A}/archive/${id}/stop`, {})).json).toMatchObject({ id, status: 'stopped', reason: 'user initiated' });
    await until(() => server.store.getArchive(KEY_A, id)?.archive.status === 'failed', { timeoutMs: 20_000, what: 'archive failed (nothing recorded)' });
    expect(server.store.getArchive(KEY_A, id)?.archive.reason).toMatch(/nothing was recorded/);

    expect((await settle((cb) => ot.forceDisconnect(sessionId, connectionId, cb))).err).toBeNull();
    await client.closed;
    const after = await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/connection`);
    expect(after.json).toMatchObject({ count: 0 });
  });
});
