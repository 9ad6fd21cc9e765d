/**
 * The unmodified official OpenTok.js (npm `@opentok/client`, pinned) in headless Chromium against
 * a real Tokhost server: `OT.setProxyUrl(<server>)`, a relayed session made with the official
 * `opentok` SDK, connect, signals, publish and subscribe peer to peer. The full acceptance suite
 * is test/e2e (docs/opentok-js.md); this file is the front end's own proof.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server as TcpServer, Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, hasChromium, launchChromium, OpenTok, openApp, SDK_BUILT, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin } from '../kit/index.js';
import type { OpenTokSdk } from '../kit/index.js';
import { WebSocket } from 'ws';
import { decodeRumor, encodeRumor, RUMOR_TYPE } from '../../src/opentok-js/rumor.js';
import { signJwt } from '../realtime/harness.js';
import { encodeSessionId } from '@tokhost/protocol';

/** A TCP relay to the server whose connections the test can cut (a dropped network). */
function startRelay(targetPort: number): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay: TcpServer = createTcpServer((down) => {
    const up = connect(targetPort, '127.0.0.1');
    for (const x of [down, up]) {
      sockets.add(x);
      x.on('error', () => undefined);
      x.on('close', () => {
        sockets.delete(x);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  return new Promise((resolve) =>
    relay.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
        cut: () => sockets.forEach((x) => x.destroy()),
        close: () => new Promise<void>((r) => (sockets.forEach((x) => x.destroy()), relay.close(() => r()))),
      }),
    ),
  );
}

const OPENTOK_JS = createRequire(import.meta.url).resolve('@opentok/client/dist/js/opentok.js');

/** The page: OpenTok.js plus a small driver that records what the session does. */
const PAGE = `<!doctype html><html><body><div id="pub"></div><div id="subs"></div>
<script src="/opentok.js"></script>
<script>
window.log = [];
window.requests = [];
window.drive = {
  connect(o) {
    OT.setLogLevel(OT.ERROR);
    OT.setProxyUrl(o.serverUrl);
    const session = OT.initSession(o.apiKey, o.sessionId);
    window.session = session;
    session.on('connectionCreated', (e) => log.push({ type: 'connectionCreated', id: e.connection.connectionId }));
    session.on('connectionDestroyed', (e) => log.push({ type: 'connectionDestroyed', id: e.connection.connectionId, reason: e.reason }));
    session.on('streamCreated', (e) => {
      log.push({ type: 'streamCreated', id: e.stream.streamId, name: e.stream.name, hasVideo: e.stream.hasVideo });
      if (o.subscribe) window.subscriber = session.subscribe(e.stream, 'subs', { insertMode: 'append', width: 160, height: 120 }, (err) => log.push({ type: 'subscribed', err: err ? err.code : null }));
    });
    session.on('streamDestroyed', (e) => log.push({ type: 'streamDestroyed', id: e.stream.streamId, reason: e.reason }));
    session.on('streamPropertyChanged', (e) => log.push({ type: 'streamPropertyChanged', property: e.changedProperty, value: e.newValue }));
    session.on('signal', (e) => log.push({ type: 'signal', signalType: e.type, data: e.data, from: e.from ? e.from.connectionId : null }));
    session.on('sessionDisconnected', (e) => log.push({ type: 'sessionDisconnected', reason: e.reason }));
    session.on('sessionReconnecting', () => log.push({ type: 'sessionReconnecting' }));
    session.on('sessionReconnected', () => log.push({ type: 'sessionReconnected', id: session.connection && session.connection.connectionId }));
    session.on('muteForced', () => log.push({ type: 'muteForced' }));
    return new Promise((resolve) => session.connect(o.token, (err) => resolve(err ? { error: err.code, message: err.message } : { connectionId: session.connection.connectionId })));
  },
  publish(name) {
    return new Promise((resolve) => {
      window.publisher = OT.initPublisher('pub', { name, insertMode: 'append', width: 160, height: 120, resolution: '320x240' }, (err) => { if (err) resolve({ error: err.code, message: err.message }); });
      publisher.on('muteForced', () => log.push({ type: 'publisherMuteForced' }));
      publisher.on('streamDestroyed', (e) => log.push({ type: 'publisherStreamDestroyed', id: e.stream.streamId, reason: e.reason }));
      session.publish(publisher, (err) => resolve(err ? { error: err.code, message: err.message } : { streamId: publisher.stream.streamId }));
    });
  },
  publishVideo(on) { publisher.publishVideo(on); return null; },
  forceUnpublish(streamId) {
    const stream = session.streams.get(streamId);
    return new Promise((resolve) => session.forceUnpublish(stream, (err) => resolve(err ? { error: err.code, message: err.message } : null)));
  },
  signal(s) {
    return new Promise((resolve) => session.signal(s, (err) => resolve(err ? { error: err.code, message: err.message } : null)));
  },
  async framesDecoded() {
    if (!window.subscriber) return 0;
    const video = document.querySelector('#subs video');
    return video && video.videoWidth > 0 ? video.videoWidth : 0;
  },
};
</script></body></html>`;

describe.skipIf(!hasChromium)('official OpenTok.js against Tokhost (proxy URL, relayed session)', () => {
  const apiKey = '4' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let app: ReturnType<typeof createServer>;
  let appUrl: string;
  let browser: Browser;
  let ot: OpenTokSdk;
  let sessionId: string;
  let a: Page;
  let b: Page;
  let ida: string;
  let idb: string;
  let streamA: string;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let nativeOrigin: AppOrigin | undefined;
  const hosts = new Set<string>();

  const open = async () => {
    const page = await browser.newPage();
    page.on('request', (r) => hosts.add(new URL(r.url()).host));
    page.on('pageerror', (err) => console.error('[page error]', err.message));
    if (process.env['TEST_LOG']) page.on('console', (m) => console.log('[page]', m.text().slice(0, 300)));
    await page.goto(appUrl);
    return page;
  };
  const log = (p: Page) => p.evaluate(() => (window as unknown as { log: { type: string; [k: string]: unknown }[] }).log);
  const drive = <T>(p: Page, fn: string, arg?: unknown) => p.evaluate(([f, x]) => (window as unknown as { drive: Record<string, (a: unknown) => Promise<unknown>> }).drive[f as string]!(x), [fn, arg] as const) as Promise<T>;

  beforeAll(async () => {
    server = await startServer({ apiKey, apiSecret, outboundAllow: ['127.0.0.0/8'] });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    const js = readFileSync(OPENTOK_JS);
    app = createServer((req, res) => {
      if (req.url === '/opentok.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(js);
      else res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
    browser = await launchChromium();
    sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    [a, b] = [await open(), await open()];
    relay = await startRelay(server.port);
  });
  afterAll(async () => {
    await browser?.close();
    await relay?.close();
    await nativeOrigin?.close();
    await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
    await server?.close();
  });

  it('connects both pages; each sees the other connection', async () => {
    const ca = await drive<{ connectionId?: string; error?: number }>(a, 'connect', { serverUrl: server.url, apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'moderator', data: 'name=a' }) });
    expect(ca.error).toBeUndefined();
    const cb = await drive<{ connectionId?: string; error?: number }>(b, 'connect', { serverUrl: server.url, apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'name=b' }), subscribe: true });
    expect(cb.error).toBeUndefined();
    ida = ca.connectionId!;
    idb = cb.connectionId!;
    await until(async () => (await log(a)).some((e) => e.type === 'connectionCreated' && e.id === idb), { timeoutMs: 10_000, what: 'a sees b' });
    expect((await log(b)).some((e) => e.type === 'connectionCreated' && e.id === ida)).toBe(true);
  });

  it('passes signals page to page and from REST', async () => {
    expect(await drive(a, 'signal', { type: 'chat', data: 'hello b' })).toBeNull();
    await until(async () => (await log(b)).find((e) => e.type === 'signal' && e.data === 'hello b'), { timeoutMs: 10_000, what: 'signal at b' }).then((e) => expect(e.from).toBe(ida));
    await call<void>((cb) => ot.signal(sessionId, null, { type: 'rest', data: 'from the server' }, cb));
    for (const p of [a, b]) {
      const e = await until(async () => (await log(p)).find((x) => x.type === 'signal' && x.signalType === 'signal:rest'), { timeoutMs: 10_000, what: 'REST signal' });
      expect(e).toMatchObject({ data: 'from the server', from: null });
    }
  });

  it('publishes from a; b subscribes peer to peer and decodes video; listStreams names the stream', async () => {
    const pa = await drive<{ streamId?: string; error?: number; message?: string }>(a, 'publish', 'camera-a');
    expect(pa.error, pa.message).toBeUndefined();
    streamA = pa.streamId!;
    await until(async () => (await log(b)).find((e) => e.type === 'streamCreated' && e.id === pa.streamId), { timeoutMs: 10_000, what: 'streamCreated at b' });
    const width = await until(() => drive<number>(b, 'framesDecoded'), { timeoutMs: 20_000, what: 'video decoded at b' });
    expect(width).toBeGreaterThan(0);
    const streams = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
    expect(streams).toEqual([expect.objectContaining({ id: pa.streamId, name: 'camera-a' })]);
    expect([...hosts].every((h) => h === new URL(server.url).host || h === new URL(appUrl).host)).toBe(true);
  });

  it('publishVideo(false) reaches the other page as streamPropertyChanged', async () => {
    await drive(a, 'publishVideo', false);
    const e = await until(async () => (await log(b)).find((x) => x.type === 'streamPropertyChanged' && x.property === 'hasVideo'), { timeoutMs: 10_000, what: 'streamPropertyChanged at b' });
    expect(e.value).toBe(false);
  });

  it('forceMuteStream from REST mutes the publisher and tells the other page', async () => {
    await call<void>((cb) => ot.forceMuteStream(sessionId, streamA, cb));
    await until(async () => (await log(b)).find((x) => x.type === 'streamPropertyChanged' && x.property === 'hasAudio' && x.value === false), { timeoutMs: 10_000, what: 'hasAudio false at b' });
    await until(async () => (await log(a)).find((x) => x.type === 'publisherMuteForced'), { timeoutMs: 10_000, what: 'muteForced on a\'s publisher' });
  });

  it('a dropped WebSocket: sessionReconnecting, sessionReconnected with the same connection ID, signals sent meanwhile arrive', async () => {
    const c = await open();
    const cc = await drive<{ connectionId?: string; error?: number }>(c, 'connect', { serverUrl: relay.url, apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'name=c' }) });
    expect(cc.error).toBeUndefined();
    relay.cut();
    await until(async () => (await log(c)).find((x) => x.type === 'sessionReconnecting'), { timeoutMs: 15_000, what: 'sessionReconnecting at c' });
    await call<void>((cb) => ot.signal(sessionId, cc.connectionId!, { type: 'missed', data: 'while away' }, cb));
    const back = await until(async () => (await log(c)).find((x) => x.type === 'sessionReconnected'), { timeoutMs: 20_000, what: 'sessionReconnected at c' });
    expect(back.id).toBe(cc.connectionId);
    await until(async () => (await log(c)).find((x) => x.type === 'signal' && x.data === 'while away'), { timeoutMs: 10_000, what: 'signal sent while away' });
    expect((await log(a)).some((x) => x.type === 'connectionDestroyed' && x.id === cc.connectionId)).toBe(false);
    await c.close();
  });

  it('forceUnpublish from a moderator page and forceDisconnect from REST', async () => {
    const pb = await drive<{ streamId?: string; error?: number }>(b, 'publish', 'camera-b');
    expect(pb.error).toBeUndefined();
    await until(async () => (await log(a)).find((x) => x.type === 'streamCreated' && x.id === pb.streamId), { timeoutMs: 10_000, what: 'b stream at a' });
    expect(await drive(a, 'forceUnpublish', pb.streamId)).toBeNull();
    const gone = await until(async () => (await log(b)).find((x) => x.type === 'publisherStreamDestroyed' && x.id === pb.streamId), { timeoutMs: 10_000, what: 'streamDestroyed on b\'s publisher' });
    expect(gone.reason).toBe('forceUnpublished');
    const seen = await until(async () => (await log(a)).find((x) => x.type === 'streamDestroyed' && x.id === pb.streamId), { timeoutMs: 10_000, what: 'streamDestroyed at a' });
    expect(seen.reason).toBe('forceUnpublished');
    await call<void>((cb) => ot.forceDisconnect(sessionId, idb, cb));
    const out = await until(async () => (await log(b)).find((x) => x.type === 'sessionDisconnected'), { timeoutMs: 10_000, what: 'sessionDisconnected at b' });
    expect(out.reason).toBe('forceDisconnected');
    await until(async () => (await log(a)).find((x) => x.type === 'connectionDestroyed' && x.id === idb), { timeoutMs: 10_000, what: 'connectionDestroyed at a' });
  });

  it.skipIf(!SDK_BUILT)('a @tokhost/client page and an OpenTok.js page in one session see, hear and signal each other', async () => {
    const sid = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    nativeOrigin = await startAppOrigin();
    const n = await openApp(browser, nativeOrigin.url(server.url));
    const d = await open();
    const cd = await drive<{ connectionId?: string; error?: number }>(d, 'connect', { serverUrl: server.url, apiKey, sessionId: sid, token: ot.generateToken(sid), subscribe: true });
    expect(cd.error).toBeUndefined();
    const pd = await drive<{ streamId?: string; error?: number }>(d, 'publish', 'otjs-cam');
    expect(pd.error).toBeUndefined();
    const idn = await n.evaluate((o) => window.app.start(o), { apiKey, sessionId: sid, token: ot.generateToken(sid), serverUrl: server.url, name: 'native-cam' });
    await until(async () => (await log(d)).find((x) => x.type === 'streamCreated' && x.id === idn.streamId), { timeoutMs: 10_000, what: 'native stream at the OpenTok.js page' });
    expect((await n.evaluate(() => window.app.events)).some((e) => e.type === 'streamCreated' && e['streamId'] === pd.streamId)).toBe(true);
    expect((await n.evaluate(() => window.app.events)).some((e) => e.type === 'connectionCreated' && e['connectionId'] === cd.connectionId)).toBe(true);
    await until(() => drive<number>(d, 'framesDecoded'), { timeoutMs: 20_000, what: 'native video decoded by OpenTok.js' }).catch(async (err) => {
      if (process.env['TEST_LOG']) console.log('DEBUG d', JSON.stringify(await log(d)), 'n', JSON.stringify(await n.evaluate(() => window.app.events)));
      throw err;
    });
    await until(async () => ((await n.evaluate(() => window.app.stats()))?.framesDecoded ?? 0) > 0, { timeoutMs: 20_000, what: 'OpenTok.js video decoded by @tokhost/client' });
    expect(await drive(d, 'signal', { type: 'chat', data: 'to native' })).toBeNull();
    await until(async () => (await n.evaluate(() => window.app.signals)).find((x) => x.data === 'to native' && x.from === cd.connectionId), { timeoutMs: 10_000, what: 'signal at the native page' });
    expect(await n.evaluate(() => window.app.signal({ type: 'chat', data: 'to otjs' }))).toBeNull();
    await until(async () => (await log(d)).find((x) => x.type === 'signal' && x.data === 'to otjs' && x.from === idn.connectionId), { timeoutMs: 10_000, what: 'signal at the OpenTok.js page' });
    await Promise.all([n.close(), d.close()]);
  }, 90_000);

  it('refuses bad, expired and other-session tokens and unknown sessions with OpenTok.js codes', async () => {
    const other = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    const c = await open();
    const tryToken = (token: string, sid = sessionId) => drive<{ error?: number }>(c, 'connect', { serverUrl: server.url, apiKey, sessionId: sid, token });
    expect((await tryToken('T1==garbage')).error).toBe(1004);
    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt({ iss: apiKey, ist: 'project', iat: now - 120, exp: now - 60, jti: 'expired', session_id: sessionId, role: 'publisher', scope: 'session.connect', nonce: 1 }, apiSecret);
    expect((await tryToken(expired)).error).toBe(1004);
    expect((await tryToken(ot.generateToken(other))).error).toBe(1004);
    expect((await tryToken(ot.generateToken(sessionId), 'not-a-session-id')).error).toBe(1005);
    const unknown = encodeSessionId({ apiKey, createdAt: Date.now(), random: 'never-created' });
    expect((await tryToken(ot.generateToken(unknown), unknown)).error).toBe(1005);
    await c.close();
  });
});

describe('OpenTok.js front end without a browser: discovery, CORS, logging, malformed frames', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let sessionId: string;
  const hostOf = () => new URL(server.url).host;

  beforeAll(async () => {
    server = await startServer({ apiKey, apiSecret });
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
      expect(info).toMatchObject({ session_id: sessionId, partner_id: apiKey, messaging_url: `ws://${hostOf()}/opentok-js/messaging`, symphony_address: 'symphony.tokhost', properties: { p2p: { preference: { value: 'enabled' } }, reconnection: true, e2ee: false } });
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
