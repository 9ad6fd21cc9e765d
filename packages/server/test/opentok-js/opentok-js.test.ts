/**
 * The OpenTok.js front end without a browser: discovery in both URL forms, CORS and preflights,
 * the config request's token check, logging answered locally with a bounded body, and a malformed
 * messaging frame closing only its own socket. The official client itself, in Chromium, is
 * test/e2e/opentok-js.test.ts (docs/opentok-js.md).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { TokhostServer } from '../../src/create-server.js';
import { decodeRumor, encodeRumor, RUMOR_TYPE } from '../../src/opentok-js/rumor.js';
import { call, OpenTok, startServer, until } from '../kit/index.js';
import type { OpenTokSdk } from '../kit/index.js';

describe('OpenTok.js front end without a browser: discovery, CORS, logging, malformed frames', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let sessionId: string;
  const hostOf = () => new URL(server.url).host;

  beforeAll(async () => {
    server = await startServer({ apiKey, apiSecret, mediaWorkers: 1 });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers session info in the proxy form and the apiURL form, with CORS and preflights', async () => {
    const token = ot.generateToken(sessionId);
    const pre = await fetch(`${server.url}/anvil.opentok.com/session/${sessionId}?extended=true`, { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-opentok-auth,x-tb-connectionid' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toBe('x-opentok-auth,x-tb-connectionid');
    for (const path of [`/anvil.opentok.com/session/${sessionId}?extended=true`, `/session/${sessionId}?extended=true`]) {
      const res = await fetch(server.url + path, { headers: { 'X-OPENTOK-AUTH': token, 'X-TB-CONNECTIONID': 'c-1', Origin: 'http://app.example' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const [info] = (await res.json()) as Record<string, unknown>[];
      expect(info).toMatchObject({ session_id: sessionId, partner_id: apiKey, messaging_url: `ws://${hostOf()}/opentok-js/messaging/${encodeURIComponent(sessionId)}`, symphony_address: 'symphony.tokhost', properties: { p2p: { preference: { value: 'enabled' } }, reconnection: true, e2ee: false } });
    }
    const bad = await fetch(`${server.url}/anvil.opentok.com/session/${sessionId}`, { headers: { 'X-OPENTOK-AUTH': 'T1==nope' } });
    expect(bad.status).toBe(200);
    expect(await bad.json()).toEqual([{ error: { code: 403, errorMessage: { message: expect.any(String) } } }]);
  });

  it('answers config for a token of the project, 403 otherwise; logging locally with a bounded body', async () => {
    const ok = await fetch(`${server.url}/config.opentok.com/project/${apiKey}/config.json`, { headers: { 'X-TB-TOKEN-AUTH': ot.generateToken(sessionId) } });
    expect([ok.status, await ok.json()]).toEqual([200, {}]);
    expect((await fetch(`${server.url}/config.opentok.com/project/999/config.json`, { headers: { 'X-TB-TOKEN-AUTH': ot.generateToken(sessionId) } })).status).toBe(403);
    const logged = await fetch(`${server.url}/hlg.tokbox.com/prod/logging/ClientEvent`, { method: 'POST', body: JSON.stringify({ action: 'x' }), headers: { 'Content-Type': 'application/json' } });
    expect(logged.status).toBe(200);
    const big = await fetch(`${server.url}/hlg.tokbox.com/prod/logging/ClientQos`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
  });

  it('routed session: session info says p2p disabled, simulcast off; a stream create waits for the offer (generateoffer MANTIS); a refused offer fails the create, the offer and an early candidate', async () => {
    const routed = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const token = ot.generateToken(routed, { role: 'publisher' });
    const res = await fetch(`${server.url}/anvil.opentok.com/session/${routed}?extended=true`, { headers: { 'X-OPENTOK-AUTH': token } });
    const [info] = (await res.json()) as Record<string, unknown>[];
    expect(info).toMatchObject({ properties: { p2p: { preference: { value: 'disabled' } }, simulcast: false } });

    const ws = new WebSocket(`ws://${hostOf()}/${hostOf()}/opentok-js/messaging?socketId=s-routed`);
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const frames: ReturnType<typeof decodeRumor>[] = [];
    ws.on('message', (d) => frames.push(decodeRumor(d as Buffer)));
    const base = `/v2/partner/${apiKey}/session/${routed}`;
    const me = 'otjs-routed-1';
    const send = (tx: string, msg: object, headers: Record<string, string> = {}) =>
      ws.send(encodeRumor({ type: RUMOR_TYPE.message, addresses: ['symphony.tokhost'], headers: { 'TRANSACTION-ID': tx, 'Content-Type': 'application/x-raptor+v2', ...headers }, body: JSON.stringify(msg) }));
    const statusOf = (tx: string) => until(() => frames.find((f) => f.type === RUMOR_TYPE.status && f.headers['TRANSACTION-ID'] === tx), { timeoutMs: 10_000, what: `STATUS of ${tx}` });
    ws.send(encodeRumor({ type: RUMOR_TYPE.connect, addresses: [], headers: { uniqueId: me } }));
    send('t1', { method: 'create', uri: `${base}/connection/${me}`, content: {} }, { 'X-TB-TOKEN-AUTH': token });
    expect((await statusOf('t1')).headers['STATUS']).toBe('200');

    send('t2', { method: 'create', uri: `${base}/stream/st-routed`, content: { name: 'cam', channel: [{ id: 'audio1', type: 'audio', active: true }, { id: 'video1', type: 'video', active: true, width: 320, height: 240 }] } });
    const ask = await until(() => frames.find((f) => f.type === RUMOR_TYPE.message && JSON.parse(f.body).method === 'generateoffer'), { timeoutMs: 10_000, what: 'generateoffer' });
    expect(JSON.parse(ask.body)).toMatchObject({ method: 'generateoffer', uri: `${base}/stream/st-routed`, content: { peerId: expect.stringMatching(/^st-routed~/), sourceStreamId: 'MANTIS', simulcastEnabled: false } });
    expect(frames.some((f) => f.headers['TRANSACTION-ID'] === 't2')).toBe(false);
    send('t3', { method: 'candidate', uri: `${base}/stream/st-routed`, content: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
    send('t4', { method: 'offer', uri: `${base}/stream/st-routed`, content: { sdp: 'not an sdp' } });
    for (const tx of ['t2', 't4', 't3']) expect(Number((await statusOf(tx)).headers['STATUS'])).toBeGreaterThanOrEqual(400);
    expect(await call<{ id: string }[]>((cb) => ot.listStreams(routed, cb))).toEqual([]);
    ws.close();
  });

  it('a malformed frame closes that socket (4002) and disturbs no other', async () => {
    const url = `ws://${hostOf()}/${hostOf()}/opentok-js/messaging?socketId=s-`;
    const open = (suffix: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url + suffix);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const [bad, good] = [await open('bad'), await open('good')];
    const closed = new Promise<number>((r) => bad.once('close', (code) => r(code)));
    bad.send(Buffer.from([0, 0, 0, 9, 1, 2, 3]));
    expect(await closed).toBe(4002);
    const pong = new Promise<number>((r) => good.once('message', (data) => r(decodeRumor(data as Buffer).type)));
    good.send(encodeRumor({ type: RUMOR_TYPE.ping }));
    expect(await pong).toBe(RUMOR_TYPE.pong);
    const text = new Promise<number>((r) => good.once('close', (code) => r(code)));
    good.send('not binary');
    expect(await text).toBe(4002);
  });
});
