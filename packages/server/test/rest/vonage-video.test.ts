/**
 * Application credentials (docs/applications.md) with the SDKs that use them, unmodified:
 * `@vonage/video` 1.31.1 with `videoHost` pointing at an in-process server, and opentok-node
 * 2.23.2 in its Vonage mode (application ID + PKCS#8 private key). Each call is compared with the
 * same call made through `opentok` with key/secret credentials; forged JWTs change nothing.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeSessionId, REALTIME_PATH } from '@tokhost/protocol';
import type { ServerMessage } from '@tokhost/protocol';
import { MediaMode, Video } from '@vonage/video';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { moonshineAvailable } from '../../src/captions/moonshine.js';
import { hasChromium } from '../kit/chromium.mjs';
import { verifyAnyClientToken, verifyClientToken } from '../../src/auth/client-token.js';
import { createApplication } from '../../src/services/applications.js';
import { TestClient, signJwt, signT1 } from '../realtime/harness.js';
import { ScriptedFarEnd } from '../sip/far-end.js';
import { call, createSessionId, KEY_A, KEY_B, postJson, projectJwt, SECRET_A, SECRET_B, startServer } from './harness.js';
import { OfficialOpenTok, settle } from './opentok-types.js';
import type { OpenTokLike } from './opentok-types.js';

type Server = Awaited<ReturnType<typeof startServer>>;
type VonageError = Error & { response?: { status: number } };

/** The HTTP status `@vonage/video` failed with (it throws `VetchError` carrying the response), or 0 on success. */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (err) {
    const status = (err as VonageError).response?.status;
    if (typeof status !== 'number') throw err;
    return status;
  }
}

/** The status an `opentok` callback error came with (`opentok` puts it in the message), or 0. */
const failed = (r: { err: Error | null }) => (r.err ? r.err.message : '');

describe('application credentials: @vonage/video and opentok-node in Vonage mode', () => {
  let server: Server;
  let appId: string;
  let privateKey: string;
  let otherAppId: string;
  let otherKey: string;
  let video: Video;
  let ot: OpenTokLike;
  let otVonage: OpenTokLike;
  const clients: TestClient[] = [];
  const wsUrl = () => server.url.replace('http', 'ws') + REALTIME_PATH;
  const join = async (sessionId: string, token: string, apiKey: string) => {
    const { client, first } = await TestClient.connect({ wsUrl: wsUrl(), apiKey }, sessionId, token);
    clients.push(client);
    return { client, first };
  };
  const joined = async (sessionId: string, token: string, apiKey: string) => {
    const { client, first } = await join(sessionId, token, apiKey);
    expect(first, JSON.stringify(first)).toMatchObject({ type: 'sessionConnected', sessionId });
    return { client, connectionId: (first as Extract<ServerMessage, { type: 'sessionConnected' }>).connection.connectionId };
  };
  const archiveCount = () => server.store.listArchives(KEY_A, { count: 1000 }).total;
  const sessionCount = () => server.store.listSessions(KEY_A, { count: 1000 }).total;

  beforeAll(async () => {
    server = await startServer({ outboundAllow: ['127.0.0.0/8'] });
    const made = createApplication(server.store, { apiKey: KEY_A });
    appId = made.application.applicationId;
    privateKey = made.privateKey!;
    const other = createApplication(server.store, { apiKey: KEY_B });
    otherAppId = other.application.applicationId;
    otherKey = other.privateKey!;
    video = new Video({ applicationId: appId, privateKey }, { videoHost: server.url });
    ot = new OfficialOpenTok(KEY_A, SECRET_A, server.url);
    otVonage = new OfficialOpenTok(appId, privateKey, server.url);
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(() => server.close());

  it('@vonage/video creates a session of the project and a client token the realtime layer accepts', async () => {
    const created = await video.createSession({ mediaMode: MediaMode.ROUTED });
    const sessionId = created.sessionId;
    expect(typeof sessionId).toBe('string');
    // Session IDs name the project key, so key/secret SDKs (which check it) can mint tokens too.
    expect(decodeSessionId(sessionId)?.apiKey).toBe(KEY_A);
    expect(server.store.getSession(sessionId)).toMatchObject({ apiKey: KEY_A, mediaMode: 'routed', location: null });

    const token = video.generateClientToken(sessionId, { role: 'moderator' as never, data: 'name=vonage', initialLayoutClassList: ['focus', 'inactive'] });
    const verified = await verifyAnyClientToken(token, (k) => server.store.getProject(k), { lookupApplication: (id) => server.store.getApplication(id) });
    expect(verified).toMatchObject({ apiKey: KEY_A, applicationId: appId, sessionId, role: 'moderator', connectionData: 'name=vonage', initialLayoutClassList: ['focus', 'inactive'] });
    // The client may name the application ID where it would give the API key.
    const { first } = await join(sessionId, token, appId);
    expect(first).toMatchObject({ type: 'sessionConnected', role: 'moderator', connection: { data: 'name=vonage' } });

    // The RSA check is asynchronous: frames sent right behind the connect wait for it, in order.
    const eager = await TestClient.open(wsUrl());
    clients.push(eager);
    const order: string[] = [];
    eager.ws.on('message', (raw) => order.push((JSON.parse(raw.toString()) as { type: string }).type));
    const answered = eager.next((m) => m.type === 'response' && m.id === 2);
    eager.send({ type: 'connect', version: 1, apiKey: appId, sessionId, token });
    eager.send({ type: 'signal', id: 1, signalType: 'first', data: 'a' });
    eager.send({ type: 'signal', id: 2, signalType: 'second', data: 'b' });
    expect(await answered).toMatchObject({ ok: true });
    expect(order[0]).toBe('sessionConnected');
    expect(order.filter((t) => t === 'response')).toHaveLength(2);
  });

  it('refuses client tokens of another application, another key, expired ones and HS256 ones made with the public key', async () => {
    const sessionId = (await video.createSession()).sessionId;
    const lookups = { lookupApplication: (id: string) => server.store.getApplication(id) };
    const lookupProject = (k: string) => server.store.getProject(k);
    // Another application (of project B) cannot mint tokens for project A's sessions.
    const otherVideo = new Video({ applicationId: otherAppId, privateKey: otherKey }, { videoHost: server.url });
    const foreign = otherVideo.generateClientToken(sessionId);
    await expect(verifyAnyClientToken(foreign, lookupProject, lookups)).rejects.toMatchObject({ code: 'ERR_RT_TOKEN_SESSION' });
    const refused = await join(sessionId, foreign, otherAppId);
    expect(refused.first).toMatchObject({ type: 'error', error: { code: 'ERR_RT_TOKEN_SESSION' } });
    // Signed by a key that is not the application's.
    const stray = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scope: 'session.connect', session_id: sessionId, role: 'moderator', application_id: appId, iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(stray);
    await expect(verifyAnyClientToken(forged, lookupProject, lookups)).rejects.toMatchObject({ code: 'ERR_RT_TOKEN_SIGNATURE' });
    expect((await join(sessionId, forged, appId)).first).toMatchObject({ type: 'error', error: { code: 'ERR_RT_TOKEN_SIGNATURE' } });
    // Expired (iat and exp in the past).
    const expired = await new SignJWT({ scope: 'session.connect', session_id: sessionId, application_id: appId, iat: now - 7200, exp: now - 3600 }).setProtectedHeader({ alg: 'RS256' }).sign((await import('node:crypto')).createPrivateKey(privateKey));
    await expect(verifyAnyClientToken(expired, lookupProject, lookups)).rejects.toMatchObject({ code: 'ERR_RT_TOKEN_EXPIRED' });
    // HS256 "signed" with the public key text (the classic algorithm confusion): an HS256 token
    // naming the application must carry the project secret's signature, so it is refused.
    const confused = signJwt({ scope: 'session.connect', session_id: sessionId, application_id: appId, iss: appId, iat: now, exp: now + 600 }, server.store.getApplication(appId)!.publicKey);
    await expect(verifyAnyClientToken(confused, lookupProject, lookups)).rejects.toMatchObject({ code: 'ERR_RT_TOKEN_SIGNATURE' });
    expect((await join(sessionId, confused, appId)).first).toMatchObject({ type: 'error', error: { code: 'ERR_RT_TOKEN_SIGNATURE' } });
    const conns = await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/connection`);
    expect((conns.json as { count: number }).count).toBe(0);
  });

  it('mixes both generations in one session: key/secret session + application token, and the reverse', async () => {
    // A session made with key/secret, joined with an application token and a key/secret token.
    const classic = (await settle<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).value!.sessionId;
    const a = await joined(classic, video.generateClientToken(classic, { data: 'app' }), appId);
    const b = await joined(classic, ot.generateToken(classic, { data: 'classic' }), KEY_A);
    expect(await a.client.find((m) => m.type === 'connectionCreated' && m.connection.connectionId === b.connectionId)).toMatchObject({ connection: { data: 'classic' } });
    // A session made with application credentials, joined with opentok-node key/secret tokens
    // (opentok-node checks the session ID names its key: it does) and opentok-node Vonage tokens.
    const modern = (await settle<{ sessionId: string }>((cb) => otVonage.createSession({ mediaMode: 'routed' }, cb))).value!.sessionId;
    const c = await joined(modern, ot.generateToken(modern, { data: 'classic' }), KEY_A);
    const d = await joined(modern, otVonage.generateToken(modern, { data: 'vonage-mode' }), appId);
    expect(await c.client.find((m) => m.type === 'connectionCreated' && m.connection.connectionId === d.connectionId)).toMatchObject({ connection: { data: 'vonage-mode' } });
    // A signal from REST reaches both generations.
    await video.sendSignal({ type: 'chat', data: 'to all' }, modern);
    for (const x of [c, d]) expect(await x.client.find((m) => m.type === 'signal')).toMatchObject({ signalType: 'chat', data: 'to all' });
  });

  it('takes the application ID where key/secret credentials name the API key (REST iss, T1 partner_id, JWT iss)', async () => {
    const sessionId = (await video.createSession()).sessionId;
    // X-OPENTOK-AUTH with iss = application ID, signed with the project secret.
    expect((await call(server, 'GET', `/v2/project/${appId}/archive`, { auth: projectJwt(appId, SECRET_A) })).status).toBe(200);
    expect((await call(server, 'GET', `/v2/project/${appId}/archive`, { auth: projectJwt(appId, SECRET_B) })).status).toBe(403);
    const now = Math.floor(Date.now() / 1000);
    const lookups = { lookupApplication: (id: string) => server.store.getApplication(id) };
    const t1 = signT1(`session_id=${sessionId}&create_time=${now}&nonce=1&role=publisher&expire_time=${now + 600}`, appId, SECRET_A);
    expect(verifyClientToken(t1, (k) => server.store.getProject(k), lookups)).toMatchObject({ format: 't1', apiKey: KEY_A, applicationId: appId, sessionId });
    const jwt = signJwt({ iss: appId, ist: 'project', iat: now, session_id: sessionId, scope: 'session.connect', role: 'moderator' }, SECRET_A);
    const { first } = await join(sessionId, jwt, appId);
    expect(first).toMatchObject({ type: 'sessionConnected', role: 'moderator' });
    // Signed with another project's secret: refused.
    const wrong = signT1(`session_id=${sessionId}&create_time=${now}&nonce=1&role=publisher`, appId, SECRET_B);
    expect(() => verifyClientToken(wrong, (k) => server.store.getProject(k), lookups)).toThrow(expect.objectContaining({ code: 'ERR_RT_TOKEN_SIGNATURE' }));
  });

  it('streams, class lists, signals, mute and forceDisconnect do what the opentok calls do', async () => {
    // A relayed session: a stream exists as soon as a client publishes (no media needed).
    const sessionId = (await video.createSession({ mediaMode: MediaMode.RELAYED })).sessionId;
    expect(server.store.getSession(sessionId)?.mediaMode).toBe('relayed');
    const pub = await joined(sessionId, video.generateClientToken(sessionId, { role: 'moderator' as never }), appId);
    const published = await pub.client.request({ type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } });
    expect(published.ok, JSON.stringify(published)).toBe(true);

    const list = (await video.getStreamInfo(sessionId)) as { count: number; items: { id: string }[] };
    const viaOpentok = await settle((cb) => ot.listStreams(sessionId, cb as never));
    expect(list.count).toBe(1);
    expect(list.items.map((s) => s.id)).toEqual((viaOpentok.value as { id: string }[]).map((s) => s.id));
    const streamId = list.items[0]!.id;
    // One stream: @vonage/video parses the answer as JSON (it gets application/json, opentok-node text/plain).
    const one = (await video.getStreamInfo(sessionId, streamId)) as { id: string; name: string; layoutClassList: string[] };
    expect(one).toMatchObject({ id: streamId, name: 'cam', videoType: 'camera' });
    const viaOt = await settle((cb) => ot.getStream(sessionId, streamId, cb));
    expect(viaOt.value).toMatchObject({ id: one.id, name: one.name });

    await video.setStreamClassLists(sessionId, [{ id: streamId, layoutClassList: ['full'] }]);
    expect(((await video.getStreamInfo(sessionId, streamId)) as { layoutClassList: string[] }).layoutClassList).toEqual(['full']);

    await video.sendSignal({ type: 'direct', data: 'one' }, sessionId, pub.connectionId);
    expect(await pub.client.find((m) => m.type === 'signal' && m.signalType === 'direct')).toMatchObject({ data: 'one' });

    await video.muteStream(sessionId, streamId);
    expect(await pub.client.find((m) => m.type === 'muteForced' && m.streamId === streamId)).toMatchObject({ active: true });
    await video.forceMuteAll(sessionId, []);
    expect(await pub.client.find((m) => m.type === 'forceMuteState' && m.active)).toBeTruthy();
    await video.disableForceMute(sessionId);
    expect(await pub.client.find((m) => m.type === 'forceMuteState' && !m.active)).toBeTruthy();
    const other = await joined(sessionId, ot.generateToken(sessionId), KEY_A);
    // An unknown connection is 404 through both.
    expect(await statusOf(video.disconnectClient(sessionId, 'no-such-connection'))).toBe(404);
    expect(failed(await settle((cb) => ot.forceDisconnect(sessionId, 'no-such-connection', cb)))).toMatch(/not found|404/i);
    await video.disconnectClient(sessionId, other.connectionId);
    expect((await other.client.closed).code).toBeGreaterThan(0);
    const conns = await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/connection`);
    expect((conns.json as { count: number }).count).toBe(1);
  });

  it('archives: start, get, search, stop, delete through @vonage/video as through opentok', async () => {
    const sessionId = (await video.createSession()).sessionId;
    // Nobody connected: both SDKs get the same refusal.
    expect(await statusOf(video.startArchive(sessionId))).toBe(400);
    expect(failed(await settle((cb) => ot.startArchive(sessionId, {}, cb)))).toMatch(/No clients|400/i);
    await joined(sessionId, video.generateClientToken(sessionId), appId);
    const before = archiveCount();
    const started = (await video.startArchive(sessionId, { name: 'vonage', hasAudio: true })) as { id: string; status: string; name: string; sessionId: string };
    expect(started).toMatchObject({ status: 'started', name: 'vonage', sessionId });
    expect(archiveCount()).toBe(before + 1);
    // A second untagged archive is refused as opentok refuses it; a tagged one runs beside it.
    expect(await statusOf(video.startArchive(sessionId))).toBe(409);
    expect(failed(await settle((cb) => ot.startArchive(sessionId, {}, cb)))).toMatch(/already|409/i);
    const tagged = (await video.startArchive(sessionId, { multiArchiveTag: 'second' } as never)) as { id: string; status: string };
    expect(tagged.status).toBe('started');

    expect(await video.getArchive(started.id)).toMatchObject({ id: started.id, name: 'vonage' });
    const found = (await video.searchArchives({ sessionId })) as { count: number; items: { id: string }[] };
    expect(found.items.map((a) => a.id).sort()).toEqual([started.id, tagged.id].sort());
    const viaOpentok = await settle((cb) => ot.listArchives({ sessionId }, cb as never));
    expect((viaOpentok.value as { id: string }[]).map((a) => a.id).sort()).toEqual(found.items.map((a) => a.id).sort());
    // Layout and stream changes: auto-mode archives refuse stream changes (405) through both.
    expect(await statusOf(video.addArchiveStream(started.id, 'no-such-stream'))).toBe(405);
    await video.updateArchiveLayout(started.id, { type: 'bestFit' } as never);

    // Stop: no body, Content-Type application/json.
    expect(await video.stopArchive(started.id)).toMatchObject({ id: started.id, status: 'stopped' });
    expect(await video.stopArchive(tagged.id)).toMatchObject({ status: 'stopped' });
    expect(await statusOf(video.stopArchive(started.id))).toBe(409);
    expect(await statusOf(video.getArchive(randomUUID()))).toBe(404);
    // Once the (empty) recordings settle they can be deleted.
    const settledStatus = async (id: string) => {
      for (let i = 0; i < 200; i++) {
        const s = server.store.getArchive(KEY_A, id)?.archive.status;
        if (s && s !== 'started' && s !== 'paused' && s !== 'stopped') return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      return 'timeout';
    };
    expect(await settledStatus(started.id)).not.toBe('timeout');
    await video.deleteArchive(started.id);
    expect(server.store.getArchive(KEY_A, started.id)).toBeUndefined();
  });

  it('broadcasts: start (HLS + RTMP) at /broadcast/, get, search, PATCH with broadcastId, stop', async () => {
    const sessionId = (await video.createSession()).sessionId;
    await joined(sessionId, video.generateClientToken(sessionId), appId);
    const b = (await video.startBroadcast(sessionId, {
      outputs: { hls: {}, rtmp: [{ id: 'one', serverUrl: 'rtmp://127.0.0.1:9/live', streamName: 'x' }] },
      streamMode: 'manual',
    } as never)) as unknown as { id: string; status: string; broadcastUrls: { hls?: string; rtmp?: unknown[] } };
    expect(b.status).toBe('started');
    expect(b.broadcastUrls.hls).toMatch(/\.m3u8$/);
    expect(b.broadcastUrls.rtmp).toHaveLength(1);
    // Same refusal as opentok for a second untagged one.
    expect(await statusOf(video.startBroadcast(sessionId, { outputs: { hls: {} } } as never))).toBe(409);
    expect(failed(await settle((cb) => ot.startBroadcast(sessionId, { outputs: { hls: {} } }, cb)))).toMatch(/already|409/i);
    expect(await video.getBroadcast(b.id)).toMatchObject({ id: b.id, status: 'started' });
    const found = (await video.searchBroadcasts({ sessionId })) as { items: { id: string }[] };
    expect(found.items.map((x) => x.id)).toEqual([b.id]);
    // PATCH carries `broadcastId` in the body: accepted, and an unknown stream is 404 as through opentok.
    expect(await statusOf(video.addStreamToBroadcast(b.id, 'no-such-stream'))).toBe(404);
    expect(await statusOf(video.removeStreamFromBroadcast(b.id, 'no-such-stream'))).toBe(404);
    expect(await video.stopBroadcast(b.id)).toMatchObject({ id: b.id });
    expect(server.store.getBroadcast(KEY_A, b.id)?.broadcast.status).toBe('stopped');
  });

  it('dials a local SIP peer with an application client token, as opentok dials with a key/secret one', async () => {
    const sessionId = (await video.createSession()).sessionId;
    const peers = [new ScriptedFarEnd({ send: 'tone' }), new ScriptedFarEnd({ send: 'silence' })];
    try {
      for (const p of peers) await p.start();
      const viaVonage = (await video.initiateSIPCall(sessionId, { token: video.generateClientToken(sessionId, { data: 'sip-vonage' }), sip: { uri: peers[0]!.uri } } as never)) as { id: string; connectionId: string; streamId: string };
      expect(viaVonage).toMatchObject({ id: expect.any(String), connectionId: expect.any(String), streamId: expect.any(String) });
      const viaOpentok = await settle((cb) => ot.dial(sessionId, ot.generateToken(sessionId, { data: 'sip-classic' }), peers[1]!.uri, {}, cb));
      expect(viaOpentok.err).toBeNull();
      expect(Object.keys(viaOpentok.value as object)).toEqual(expect.arrayContaining(['id', 'connectionId', 'streamId']));
      // Both legs joined the one session, each with its token's data; the peers hear each other.
      const conns = (await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/connection`)).json as { items: { connectionId: string }[] };
      expect(conns.items.map((c) => c.connectionId)).toEqual(expect.arrayContaining([viaVonage.connectionId, (viaOpentok.value as { connectionId: string }).connectionId]));
      const deadline = Date.now() + 8000;
      while (peers[1]!.levelOver(500) <= 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(peers[1]!.levelOver(500)).toBeGreaterThan(1000);
      // A token of another application cannot dial into this project's session: 400 naming the token, nothing dialled.
      const foreign = new Video({ applicationId: otherAppId, privateKey: otherKey }, { videoHost: server.url }).generateClientToken(sessionId);
      expect(await statusOf(video.initiateSIPCall(sessionId, { token: foreign, sip: { uri: peers[0]!.uri } } as never))).toBe(400);
      await video.disconnectClient(sessionId, viaVonage.connectionId);
    } finally {
      for (const p of peers) p.close();
    }
  }, 30_000);

  it('Audio Connector through @vonage/video: connectToWebsocket sends the header and PCM, disconnectWebsocket ends it', async () => {
    const sessionId = (await video.createSession({ mediaMode: MediaMode.ROUTED })).sessionId;
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const got: { text: string[]; binary: number; closed: boolean } = { text: [], binary: 0, closed: false };
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => (isBinary ? (got.binary += (data as Buffer).length) : got.text.push(String(data))));
      ws.on('close', () => (got.closed = true));
    });
    try {
      const uri = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/audio`;
      const made = (await video.connectToWebsocket(sessionId, video.generateClientToken(sessionId), { uri, audioRate: 16000, headers: { from: 'vonage-video' } } as never)) as { id: string; connectionId: string };
      expect(made).toMatchObject({ id: expect.any(String), connectionId: expect.any(String) });
      const until = async (ok: () => boolean, what: string) => {
        for (const end = Date.now() + 8000; !ok(); await new Promise((r) => setTimeout(r, 50))) if (Date.now() > end) throw new Error(`timed out: ${what}`);
      };
      await until(() => got.text.length > 0 && got.binary >= 640 * 10, 'the header message and 10 PCM frames');
      expect(JSON.parse(got.text[0]!)).toEqual({ 'content-type': 'audio/l16;rate=16000', from: 'vonage-video' });
      const conns = () => call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/connection`).then((r) => (r.json as { items: { connectionId: string }[] }).items.map((c) => c.connectionId));
      expect(await conns()).toContain(made.connectionId);
      await video.disconnectWebsocket(made.id);
      await until(() => got.closed, 'the socket closed by disconnectWebsocket');
      expect(await conns()).not.toContain(made.connectionId);
      // A second stop, and a stop by another application's project, find nothing.
      expect(await statusOf(video.disconnectWebsocket(made.id))).toBe(404);
      console.info(`[vonage-video] Audio Connector: ${got.binary} PCM bytes before disconnectWebsocket`);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  }, 30_000);

  it.skipIf(!moonshineAvailable())('captions through @vonage/video: enableCaptions, a second one refused (409), disableCaptions', async () => {
    const sessionId = (await video.createSession({ mediaMode: MediaMode.ROUTED })).sessionId;
    const started = (await video.enableCaptions(sessionId, video.generateClientToken(sessionId, { role: 'moderator' } as never))) as { captionsId: string };
    expect(started.captionsId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await statusOf(video.enableCaptions(sessionId, video.generateClientToken(sessionId, { role: 'moderator' } as never)))).toBe(409);
    await video.disableCaptions(started.captionsId);
    expect(await statusOf(video.disableCaptions(started.captionsId))).toBe(404);
  }, 30_000);

  it.skipIf(!hasChromium)('Experience Composer through @vonage/video: start, get, list, stop with its reason', async () => {
    const sessionId = (await video.createSession({ mediaMode: MediaMode.ROUTED })).sessionId;
    const page = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<body style="background:#f00"></body>'));
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
      const render = (await video.startExperienceComposerRender(sessionId, video.generateClientToken(sessionId, { role: 'publisher' } as never), { url, maxDuration: 60, properties: { name: 'composed' } } as never)) as { id: string; sessionId: string; status: string };
      expect(render).toMatchObject({ id: expect.any(String), sessionId, status: 'starting' });
      expect(await video.getExperienceComposerRender(render.id)).toMatchObject({ id: render.id, url });
      const listed = (await video.listExperienceComposerRenders({} as never)) as { items: { id: string }[] };
      expect(listed.items.map((r) => r.id)).toContain(render.id);
      await video.stopExperienceComposerRender(render.id);
      expect(await video.getExperienceComposerRender(render.id)).toMatchObject({ id: render.id, status: 'stopped', reason: 'Stop Requested' });
      // Another application's credentials see no such render.
      const foreign = new Video({ applicationId: otherAppId, privateKey: otherKey }, { videoHost: server.url });
      expect(await statusOf(foreign.getExperienceComposerRender(render.id))).toBe(404);
    } finally {
      await new Promise((r) => page.close(r));
    }
  }, 60_000);

  it('opentok-node 2.23.2 in Vonage mode: sessions, tokens, archives, signals and streams', async () => {
    const created = await settle<{ sessionId: string }>((cb) => otVonage.createSession({ mediaMode: 'routed' }, cb));
    expect(created.err).toBeNull();
    const sessionId = created.value!.sessionId;
    const token = otVonage.generateToken(sessionId, { role: 'publisher', data: 'otv' });
    const c = await joined(sessionId, token, appId);
    expect((await settle((cb) => otVonage.signal(sessionId, c.connectionId, { type: 'x', data: 'y' }, cb))).err).toBeNull();
    expect(await c.client.find((m) => m.type === 'signal')).toMatchObject({ signalType: 'x', data: 'y' });
    const archive = await settle((cb) => otVonage.startArchive(sessionId, { name: 'otv' }, cb));
    expect(archive.err).toBeNull();
    const archived = archive.value as { id: string; status: string };
    expect(archived.status).toBe('started');
    const listed = await settle((cb) => otVonage.listArchives({ sessionId }, cb as never));
    expect((listed.value as { id: string }[]).map((a) => a.id)).toEqual([archived.id]);
    expect((await settle((cb) => otVonage.stopArchive(archived.id, cb))).err).toBeNull();
    const streams = await settle<unknown[]>((cb) => otVonage.listStreams(sessionId, cb));
    expect(streams.err).toBeNull();
    expect(streams.value).toEqual([]);
    expect((await settle((cb) => otVonage.forceDisconnect(sessionId, c.connectionId, cb))).err).toBeNull();
    expect((await c.client.closed).code).toBeGreaterThan(0);
  });

  it('refuses forged, expired, other-application, HS256 and alg-none Bearer JWTs with 403, changing nothing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const appKey = (await import('node:crypto')).createPrivateKey(privateKey);
    const bearer = (jwt: string, path = `/v2/project/${appId}/archive`, body?: string) =>
      call(server, body === undefined ? 'GET' : 'POST', path, { auth: null, headers: { authorization: `Bearer ${jwt}`, ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, ...(body !== undefined ? { body } : {}) });
    const good = await new SignJWT({ application_id: appId, jti: randomUUID() }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setIssuedAt(now).setExpirationTime(now + 900).sign(appKey);
    expect((await bearer(good)).status).toBe(200);
    // The other claim set in use (opentok-node Vonage mode: iss/ist too) is accepted.
    const withIss = await new SignJWT({ iss: appId, ist: 'project', application_id: appId, jti: randomUUID() }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setIssuedAt(now).setExpirationTime(now + 300).sign(appKey);
    expect((await bearer(withIss)).status).toBe(200);

    const stray = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const cases: Record<string, string> = {
      forged: await new SignJWT({ application_id: appId, jti: randomUUID() }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(now).setExpirationTime(now + 900).sign(stray),
      expired: await new SignJWT({ application_id: appId }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(now - 3600).setExpirationTime(now - 1800).sign(appKey),
      'no exp': await new SignJWT({ application_id: appId }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(now).sign(appKey),
      'issued in the future': await new SignJWT({ application_id: appId }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(now + 3600).setExpirationTime(now + 4000).sign(appKey),
      'HS256 with the project secret': signJwt({ application_id: appId, iss: KEY_A, ist: 'project', iat: now, exp: now + 300 }, SECRET_A),
      'HS256 with the public key': signJwt({ application_id: appId, iat: now, exp: now + 300 }, server.store.getApplication(appId)!.publicKey),
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ application_id: appId, iat: now, exp: now + 300 })}.`,
      'unknown application': await new SignJWT({ application_id: randomUUID() }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(now).setExpirationTime(now + 300).sign(appKey),
      'iss of another application': await new SignJWT({ application_id: appId, iss: otherAppId }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(now).setExpirationTime(now + 300).sign(appKey),
    };
    const sessions = sessionCount();
    for (const [name, jwt] of Object.entries(cases)) {
      const listed = await bearer(jwt);
      expect(listed.status, name).toBe(403);
      expect(listed.json, name).toMatchObject({ code: -1 });
      const create = await bearer(jwt, '/session/create', 'p2p.preference=disabled');
      expect(create.status, name).toBe(403);
    }
    // A valid token of another application must name its own ID in the path.
    const otherSigned = await new SignJWT({ application_id: otherAppId }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(now).setExpirationTime(now + 300).sign((await import('node:crypto')).createPrivateKey(otherKey));
    expect((await bearer(otherSigned)).status).toBe(403);
    expect((await bearer(otherSigned, `/v2/project/${KEY_A}/archive`)).status).toBe(403);
    expect((await bearer(otherSigned, `/v2/project/${otherAppId}/archive`)).status).toBe(200);
    // And an application token may not use the project key in the path either.
    expect((await bearer(good, `/v2/project/${KEY_A}/archive`)).status).toBe(403);
    // @vonage/video with the wrong key: 403 through the SDK, nothing created.
    const wrong = new Video({ applicationId: appId, privateKey: stray.export({ type: 'pkcs8', format: 'pem' }) as string }, { videoHost: server.url });
    expect(await statusOf(wrong.createSession())).toBe(403);
    expect(sessionCount()).toBe(sessions);
    // Key/secret credentials may name the project's application ID in the path (it stands for the project), not another project's.
    expect((await call(server, 'GET', `/v2/project/${appId}/archive`)).status).toBe(200);
    expect((await call(server, 'GET', `/v2/project/${otherAppId}/archive`)).status).toBe(403);
  });

  it('sees a re-keyed or deleted application at the next request (no stale cache)', async () => {
    const fresh = createApplication(server.store, { apiKey: KEY_A });
    const id = fresh.application.applicationId;
    const v = new Video({ applicationId: id, privateKey: fresh.privateKey! }, { videoHost: server.url });
    expect(await statusOf(v.searchArchives())).toBe(0);
    const next = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    server.store.updateApplication(id, { publicKey: next.publicKey });
    expect(await statusOf(v.searchArchives())).toBe(403);
    const rekeyed = new Video({ applicationId: id, privateKey: next.privateKey }, { videoHost: server.url });
    expect(await statusOf(rekeyed.searchArchives())).toBe(0);
    server.store.deleteApplication(id);
    expect(await statusOf(rekeyed.searchArchives())).toBe(403);
  });
});

describe('what the PHP and Ruby SDKs send', () => {
  let server: Server;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    server = await startServer();
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(() => server.close());

  it('decodes the URL-encoded initial_layout_class_list of PHP SDK 4.x JWT tokens', async () => {
    const sessionId = await createSessionId(server, 'p2p.preference=enabled');
    const now = Math.floor(Date.now() / 1000);
    // OpenTok::generateToken of the PHP SDK: these claims in this order, HS256 (firebase/php-jwt),
    // the class list through urlencode(implode(' ', …)), exp only when an expireTime is given.
    const php = signJwt({ iss: KEY_A, iat: now, session_id: sessionId, role: 'moderator', ist: 'project', nonce: 1804289383, scope: 'session.connect', connection_data: 'name=php', initial_layout_class_list: 'focus+inactive' }, SECRET_A, { typ: 'JWT', alg: 'HS256' });
    const verified = verifyClientToken(php, (k) => server.store.getProject(k));
    expect(verified).toMatchObject({ role: 'moderator', connectionData: 'name=php', initialLayoutClassList: ['focus', 'inactive'] });
    expect(verifyClientToken(signJwt({ iss: KEY_A, iat: now, session_id: sessionId, scope: 'session.connect', initial_layout_class_list: 'a%2Bb+c%20d' }, SECRET_A), (k) => server.store.getProject(k)).initialLayoutClassList).toEqual(['a+b', 'c', 'd']);
    // Other SDKs' space-joined lists are taken as they are.
    expect(verifyClientToken(signJwt({ iss: KEY_A, iat: now, session_id: sessionId, scope: 'session.connect', initial_layout_class_list: 'focus big' }, SECRET_A), (k) => server.store.getProject(k)).initialLayoutClassList).toEqual(['focus', 'big']);
    const { client, first } = await TestClient.connect({ wsUrl: server.url.replace('http', 'ws') + REALTIME_PATH, apiKey: KEY_A }, sessionId, php);
    clients.push(client);
    expect(first).toMatchObject({ type: 'sessionConnected' });
    const published = await client.request({ type: 'publish', name: 'cam', hasAudio: true, hasVideo: false, videoType: 'camera' });
    expect(published.ok, JSON.stringify(published)).toBe(true);
    // The stream starts with the token's classes, decoded.
    const streams = await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/stream`);
    expect((streams.json as { items: { layoutClassList: string[] }[] }).items[0]?.layoutClassList).toEqual(['focus', 'inactive']);
  });

  it('starts a tagged archive and broadcast while untagged ones run (Ruby and PHP SDK requests)', async () => {
    const sessionId = await createSessionId(server, 'p2p.preference=disabled');
    const ot = new OfficialOpenTok(KEY_A, SECRET_A, server.url);
    const { client, first } = await TestClient.connect({ wsUrl: server.url.replace('http', 'ws') + REALTIME_PATH, apiKey: KEY_A }, sessionId, ot.generateToken(sessionId));
    clients.push(client);
    expect(first.type).toBe('sessionConnected');
    const auto = await postJson(server, `/v2/project/${KEY_A}/archive`, { sessionId });
    expect(auto.status).toBe(200);
    // Ruby SDK 4.x start_archive: JSON body, User-Agent OpenTok-Ruby-SDK, Accept */*, X-OPENTOK-AUTH with ist in the header.
    const rubyJwt = projectJwt(KEY_A, SECRET_A, { header: { ist: 'project' }, claims: { ist: undefined } });
    const ruby = await call(server, 'POST', `/v2/project/${KEY_A}/archive`, {
      auth: rubyJwt,
      headers: { 'user-agent': 'OpenTok-Ruby-SDK/4.9.0-Ruby-Version-3.2.2-p53', accept: '*/*', 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId, multiArchiveTag: 'manual-ruby' }),
    });
    expect(ruby.status, ruby.text).toBe(200);
    // PHP SDK 4.x startArchive: Guzzle, no Accept, JSON body with its defaults.
    const php = await call(server, 'POST', `/v2/project/${KEY_A}/archive`, {
      headers: { 'user-agent': 'OpenTok-PHP-SDK/4.15.0 php/8.2', accept: '', 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId, name: null, hasVideo: true, hasAudio: true, outputMode: 'composed', resolution: '640x480', streamMode: 'auto', multiArchiveTag: 'manual-php' }),
    });
    expect(php.status, php.text).toBe(200);
    // Still refused: a second untagged one, and a tag already in use.
    expect((await postJson(server, `/v2/project/${KEY_A}/archive`, { sessionId })).status).toBe(409);
    expect((await postJson(server, `/v2/project/${KEY_A}/archive`, { sessionId, multiArchiveTag: 'manual-php' })).status).toBe(409);
    // Broadcasts: the same rule with multiBroadcastTag.
    const untagged = await postJson(server, `/v2/project/${KEY_A}/broadcast`, { sessionId, outputs: { hls: {} } });
    expect(untagged.status, untagged.text).toBe(200);
    const tagged = await postJson(server, `/v2/project/${KEY_A}/broadcast`, { sessionId, outputs: { hls: {} }, multiBroadcastTag: 'second' });
    expect(tagged.status, tagged.text).toBe(200);
    expect((await postJson(server, `/v2/project/${KEY_A}/broadcast`, { sessionId, outputs: { hls: {} } })).status).toBe(409);
    for (const id of [auto, ruby, php].map((r) => (r.json as { id: string }).id)) expect((await postJson(server, `/v2/project/${KEY_A}/archive/${id}/stop`, {})).status).toBe(200);
    for (const id of [untagged, tagged].map((r) => (r.json as { id: string }).id)) expect((await postJson(server, `/v2/project/${KEY_A}/broadcast/${id}/stop`, {})).status).toBe(200);
  });

  it('accepts location=null and empty JSON bodies as @vonage/video sends them', async () => {
    const before = server.store.listSessions(KEY_A, { count: 1000 }).total;
    const r = await call(server, 'POST', '/session/create', { body: 'archiveMode=manual&location=null&p2p.preference=disabled', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const sessionId = (r.json as { session_id: string }[])[0]!.session_id;
    expect(server.store.getSession(sessionId)?.location).toBeNull();
    expect(server.store.listSessions(KEY_A, { count: 1000 }).total).toBe(before + 1);
    // A bad location is still refused, naming the field.
    const bad = await call(server, 'POST', '/session/create', { body: 'location=nowhere', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('location');
    // An action POST with Content-Type application/json and no body (content-length 0).
    const stop = await call(server, 'POST', `/v2/project/${KEY_A}/archive/${randomUUID()}/stop`, { headers: { 'content-type': 'application/json' }, body: '' });
    expect(stop.status).toBe(404);
    void KEY_B;
    void SECRET_B;
  });
});
