/**
 * The OpenTok.js front end with an application's RS256 client token (`@vonage/video`
 * `generateClientToken`), without a browser: session info names the application ID as the
 * partner (OpenTok.js compares it with the key the app gave), the config request takes the
 * application ID, and the messaging join checks the token asynchronously while the client's next
 * messages wait and then run in order. OpenTok.js itself in Chromium: test/e2e/vonage-credentials.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { MediaMode, Video } from '@vonage/video';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { TokhostServer } from '../../src/create-server.js';
import { decodeRumor, encodeRumor, RUMOR_TYPE } from '../../src/opentok-js/rumor.js';
import { createApplication } from '../../src/services/applications.js';
import { call, OpenTok, sleep, startServer, until } from '../kit/index.js';
import type { OpenTokSdk } from '../kit/index.js';

describe('OpenTok.js front end: application (RS256) client tokens', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let video: Video;
  let appId: string;
  let sessionId: string;
  const hostOf = () => new URL(server.url).host;

  beforeAll(async () => {
    server = await startServer({ apiKey, apiSecret });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    const made = createApplication(server.store, { apiKey });
    appId = made.application.applicationId;
    video = new Video({ applicationId: appId, privateKey: made.privateKey! }, { videoHost: server.url });
    sessionId = (await video.createSession({ mediaMode: MediaMode.RELAYED })).sessionId;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('session info: partner_id is the application ID for its token and the API key for a key/secret one; config takes either', async () => {
    const info = async (token: string) => {
      const res = await fetch(`${server.url}/anvil.opentok.com/session/${sessionId}?extended=true`, { headers: { 'X-OPENTOK-AUTH': token } });
      expect(res.status).toBe(200);
      return ((await res.json()) as Record<string, unknown>[])[0]!;
    };
    expect(await info(video.generateClientToken(sessionId))).toMatchObject({ session_id: sessionId, partner_id: appId });
    expect(await info(ot.generateToken(sessionId))).toMatchObject({ session_id: sessionId, partner_id: apiKey });
    // A token signed by a key that is not the application's: OpenTok.js's authentication error (anvil 403).
    const strayApp = createApplication(server.store, { apiKey });
    const stray = new Video({ applicationId: appId, privateKey: strayApp.privateKey! }, { videoHost: server.url });
    expect(await info(stray.generateClientToken(sessionId))).toEqual({ error: { code: 403, errorMessage: { message: expect.stringMatching(/signature/) } } });

    const config = (key: string, token: string) => fetch(`${server.url}/config.opentok.com/project/${key}/config.json`, { headers: { 'X-TB-TOKEN-AUTH': token } }).then((r) => r.status);
    expect(await config(appId, video.generateClientToken(sessionId))).toBe(200);
    expect(await config(apiKey, video.generateClientToken(sessionId))).toBe(200);
    // Another application of the project is not this token's application.
    expect(await config(strayApp.application.applicationId, video.generateClientToken(sessionId))).toBe(403);
    expect(await config(appId, stray.generateClientToken(sessionId))).toBe(403);
  });

  it('a join with an RS256 token: messages sent before its answer wait for it and run in order; a bad one is refused and changes nothing', async () => {
    const ws = new WebSocket(`ws://${hostOf()}/${hostOf()}/opentok-js/messaging?socketId=s-app`);
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const frames: ReturnType<typeof decodeRumor>[] = [];
    ws.on('message', (d) => frames.push(decodeRumor(d as Buffer)));
    const base = `/v2/partner/${appId}/session/${sessionId}`;
    const me = 'otjs-app-1';
    const send = (tx: string, msg: object, headers: Record<string, string> = {}) =>
      ws.send(encodeRumor({ type: RUMOR_TYPE.message, addresses: ['symphony.tokhost'], headers: { 'TRANSACTION-ID': tx, 'Content-Type': 'application/x-raptor+v2', ...headers }, body: JSON.stringify(msg) }));
    const statusIndex = async (tx: string) => {
      await until(() => frames.some((f) => f.type === RUMOR_TYPE.status && f.headers['TRANSACTION-ID'] === tx), { timeoutMs: 10_000, what: `STATUS of ${tx}` });
      const i = frames.findIndex((f) => f.type === RUMOR_TYPE.status && f.headers['TRANSACTION-ID'] === tx);
      return { i, status: frames[i]!.headers['STATUS'] };
    };

    ws.send(encodeRumor({ type: RUMOR_TYPE.connect, addresses: [], headers: { uniqueId: me } }));
    send('t1', { method: 'create', uri: `${base}/connection/${me}`, content: {} }, { 'X-TB-TOKEN-AUTH': video.generateClientToken(sessionId, { data: 'who=otjs' }) });
    // Right behind the join, before its answer: a signal to everyone (the sender gets it too).
    send('t2', { method: 'signal', uri: `${base}/signal/1`, content: { type: 'early', data: 'before the answer' } });
    const joined = await statusIndex('t1');
    const signalled = await statusIndex('t2');
    expect([joined.status, signalled.status]).toEqual(['200', '200']);
    expect(signalled.i).toBeGreaterThan(joined.i);
    await until(() => frames.some((f) => f.type === RUMOR_TYPE.message && JSON.parse(f.body).method === 'signal' && JSON.parse(f.body).content.data === 'before the answer'), { timeoutMs: 5000, what: 'the early signal delivered' });

    // Another project's application cannot join this project's session.
    const otherKey = '8' + String(Date.now()).slice(-7);
    server.store.createProject({ apiKey: otherKey, apiSecret: randomBytes(20).toString('hex'), name: 'other', createdAt: Date.now(), webhookUrl: null });
    const other = createApplication(server.store, { apiKey: otherKey });
    const foreign = new Video({ applicationId: other.application.applicationId, privateKey: other.privateKey! }, { videoHost: server.url }).generateClientToken(sessionId);
    const refused = new WebSocket(`ws://${hostOf()}/${hostOf()}/opentok-js/messaging?socketId=s-app-2`);
    await new Promise((r, j) => (refused.once('open', r), refused.once('error', j)));
    const seen = frames.length;
    refused.on('message', (d) => frames.push(decodeRumor(d as Buffer)));
    const me2 = 'otjs-app-2';
    refused.send(encodeRumor({ type: RUMOR_TYPE.connect, addresses: [], headers: { uniqueId: me2 } }));
    refused.send(encodeRumor({ type: RUMOR_TYPE.message, addresses: ['symphony.tokhost'], headers: { 'TRANSACTION-ID': 'r1', 'X-TB-TOKEN-AUTH': foreign }, body: JSON.stringify({ method: 'create', uri: `${base}/connection/${me2}`, content: {} }) }));
    const answer = await until(() => frames.find((f) => f.type === RUMOR_TYPE.status && f.headers['TRANSACTION-ID'] === 'r1'), { timeoutMs: 10_000, what: 'STATUS of r1' });
    // The member already there heard of no new connection; the refused socket got its answer only.
    await sleep(200);
    expect(frames.slice(seen).filter((f) => f.body.includes(me2) || f.type === RUMOR_TYPE.message)).toEqual([]);
    expect(answer.headers['STATUS']).toBe('400');
    expect(JSON.parse(answer.body)).toEqual({ reason: expect.stringMatching(/session/) });
    refused.close();
    ws.close();
    expect(await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb))).toEqual([]);
  });
});
