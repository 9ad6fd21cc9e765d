/**
 * Audio Connector end to end (issue 23, acceptance 2): `websocketConnect` through the official
 * `opentok` SDK (and the REST route with `audioRate`) against a `ws` server on loopback, with
 * Chromium publishers whose fake microphones play different tones.
 *
 * - one stream (`streams: [A]`): the PCM the socket gets carries A's 440 Hz and not B's 1000 Hz;
 * - all mixed (no `streams`): both tones; a publisher that joins later is heard too;
 * - bidirectional: a 700 Hz tone the socket sends is heard by a subscriber page;
 * - forceDisconnect of the connector's connection closes the socket.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TokhostServer } from '../../src/create-server.js';
import { call, projectJwt, fakeCamera, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, until, type AppOrigin, type Cb, type OpenTokSdk } from '../kit/index.js';

interface ConnectorSdk extends OpenTokSdk {
  websocketConnect(sessionId: string, token: string, uri: string, options: Record<string, unknown>, cb: Cb<{ id: string; connectionId: string }>): void;
}

/** What the WebSocket server saw on one socket. */
interface Received {
  socket: WebSocket;
  path: string;
  texts: string[];
  pcm: Buffer[];
  closed: boolean;
  closeCode?: number;
}

/** Share of the power of `samples` at `freq` (Goertzel), 0..1. */
function toneShare(samples: Int16Array, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  const k = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    total += x * x;
  }
  const p = s1 * s1 + s2 * s2 - k * s1 * s2;
  return total > 0 ? (2 * p) / (samples.length * total) : 0;
}

/** The band around `freq` (±15 Hz, Opus and the clocks move a tone a little): the best share. */
const bandShare = (s: Int16Array, rate: number, freq: number) => Math.max(...[-15, -10, -5, 0, 5, 10, 15].map((d) => toneShare(s, rate, freq + d)));

function pcmOf(chunks: Buffer[]): Int16Array {
  const b = Buffer.concat(chunks);
  const out = new Int16Array(b.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(i * 2);
  return out;
}

const rms = (s: Int16Array) => Math.sqrt(s.reduce((a, v) => a + v * v, 0) / Math.max(1, s.length));

describe.skipIf(!hasChromium || !SDK_BUILT || !hasCommands('ffmpeg'))('Audio Connector against a WebSocket server on loopback', () => {
  const apiKey = '7' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-connector-e2e-'));
  let server: TokhostServer;
  let wss: WebSocketServer;
  let wsUrl: string;
  const sockets: Received[] = [];
  let appOrigin: AppOrigin;
  let appUrl: string;
  let browserA: Browser;
  let browserB: Browser;
  let ot: ConnectorSdk;

  beforeAll(async () => {
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret, mediaWorkers: 1 });
    ot = new OpenTok(apiKey, apiSecret, server.url) as ConnectorSdk;
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wsUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (socket, req) => {
      const r: Received = { socket, path: req.url ?? '', texts: [], pcm: [], closed: false };
      sockets.push(r);
      socket.on('message', (data, isBinary) => (isBinary ? r.pcm.push(data as Buffer) : r.texts.push(String(data))));
      socket.on('close', (code) => {
        r.closed = true;
        r.closeCode = code;
      });
    });
    appOrigin = await startAppOrigin();
    appUrl = appOrigin.url(server.url);
    browserA = await launchChromium(fakeCamera(dir, 'red', { toneHz: 440, size: '160x120' }));
    browserB = await launchChromium(fakeCamera(dir, 'blue', { toneHz: 1000, size: '160x120' }));
  }, 60_000);

  afterAll(async () => {
    await browserA?.close();
    await browserB?.close();
    await appOrigin?.close();
    for (const s of sockets) s.socket.terminate();
    await new Promise((r) => (wss ? wss.close(r) : r(undefined)));
    await server?.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  const routedSession = async () => (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
  const jwt = () => projectJwt(apiKey, apiSecret);
  const connect = (body: unknown) => fetch(`${server.url}/v2/project/${apiKey}/connect`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  async function publisher(browser: Browser, sessionId: string, name: string, o: { publish?: boolean } = {}): Promise<{ page: Page; connectionId: string; streamId: string | null }> {
    const page = await openApp(browser, appUrl);
    const ids = await page.evaluate((x) => window.app.start(x), { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'publisher', data: `n=${name}` }), name, publish: o.publish ?? true, subscribe: o.publish === false });
    return { page, ...ids };
  }
  /** The socket opened for path `tag` (each test connects to its own path). */
  const socketAt = (tag: string) => until(async () => sockets.find((s) => s.path === `/${tag}`), { timeoutMs: 8000, what: `socket ${tag}` });
  /** PCM the socket gets from now on for `ms`. */
  async function listen(r: Received, ms: number): Promise<Int16Array> {
    const from = r.pcm.length;
    await sleep(ms);
    return pcmOf(r.pcm.slice(from));
  }

  it('one stream at 16 kHz (the SDK): the header message, then 20 ms PCM frames with A’s 440 Hz and not B’s 1000 Hz', async () => {
    const sessionId = await routedSession();
    const a = await publisher(browserA, sessionId, 'A');
    const b = await publisher(browserB, sessionId, 'B');
    try {
      const conn = await call<{ id: string; connectionId: string }>((cb) => ot.websocketConnect(sessionId, ot.generateToken(sessionId), `${wsUrl}/one`, { streams: [a.streamId], headers: { 'X-Room': 'demo', callerId: '42' } }, cb));
      expect(conn).toEqual({ id: expect.any(String), connectionId: expect.any(String) });
      const r = await socketAt('one');
      await until(async () => r.texts.length > 0, { timeoutMs: 5000, what: 'the first message' });
      expect(JSON.parse(r.texts[0]!)).toEqual({ 'content-type': 'audio/l16;rate=16000', 'X-Room': 'demo', callerId: '42' });
      await until(async () => r.pcm.length > 50, { timeoutMs: 10_000, what: 'PCM frames' });
      expect(new Set(r.pcm.slice(0, 50).map((f) => f.length))).toEqual(new Set([640]));
      // A's tone has reached the mix once the level is up (the first packets may be silence).
      await until(async () => rms(pcmOf(r.pcm.slice(-10))) > 300, { timeoutMs: 10_000, what: 'tone level in the PCM' });
      const t0 = Date.now();
      const pcm = await listen(r, 2000);
      const frames = pcm.length / 320;
      const s440 = bandShare(pcm, 16000, 440);
      const s1000 = bandShare(pcm, 16000, 1000);
      console.info(`[connector one stream] ${frames} frames of 20 ms in ${Date.now() - t0} ms; rms ${rms(pcm).toFixed(0)}; power share at 440 Hz ${(s440 * 100).toFixed(1)} %, at 1000 Hz ${(s1000 * 100).toFixed(2)} %`);
      expect(frames).toBeGreaterThan(60);
      expect(s440).toBeGreaterThan(0.5);
      expect(s1000).toBeLessThan(0.02);
      const connections = await fetch(`${server.url}/v2/project/${apiKey}/session/${sessionId}/connection`, { headers: { 'X-OPENTOK-AUTH': jwt() } });
      expect(((await connections.json()) as { items: { connectionId: string }[] }).items.map((c) => c.connectionId)).toContain(conn.connectionId);
      await call<void>((cb) => ot.forceDisconnect(sessionId, conn.connectionId, cb));
      await until(async () => r.closed, { timeoutMs: 5000, what: 'forceDisconnect closes the socket' });
      expect(r.closeCode).toBe(1000);
    } finally {
      await a.page.close();
      await b.page.close();
    }
  }, 90_000);

  it('all streams mixed at 24 kHz (REST audioRate): both tones; a publisher joining later is heard too; closing the socket ends the connection', async () => {
    const sessionId = await routedSession();
    const a = await publisher(browserA, sessionId, 'A');
    let b: Awaited<ReturnType<typeof publisher>> | undefined;
    try {
      const res = await connect({ sessionId, token: ot.generateToken(sessionId), websocket: { uri: `${wsUrl}/mixed`, audioRate: 24000 } });
      expect(res.status).toBe(200);
      const conn = (await res.json()) as { id: string; connectionId: string };
      const r = await socketAt('mixed');
      await until(async () => r.texts.length > 0, { timeoutMs: 5000, what: 'the first message' });
      expect(JSON.parse(r.texts[0]!)).toEqual({ 'content-type': 'audio/l16;rate=24000' });
      await until(async () => rms(pcmOf(r.pcm.slice(-10))) > 300, { timeoutMs: 10_000, what: "A's tone in the mix" });
      // The first second of a stream can stutter on a loaded machine (jitter buffer filling).
      await sleep(1000);
      const before = await listen(r, 2000);
      expect(new Set(r.pcm.slice(-20).map((f) => f.length))).toEqual(new Set([960]));
      b = await publisher(browserB, sessionId, 'B');
      await until(async () => bandShare(pcmOf(r.pcm.slice(-25)), 24000, 1000) > 0.2, { timeoutMs: 15_000, what: "B's tone joins the mix" });
      const after = await listen(r, 2000);
      const shares = (s: Int16Array) => [bandShare(s, 24000, 440), bandShare(s, 24000, 1000)].map((x) => (x * 100).toFixed(1) + ' %');
      console.info(`[connector mixed] A alone: 440/1000 Hz ${shares(before).join(' / ')}; A+B: ${shares(after).join(' / ')}`);
      // A's tone dominates and B's is absent. On a machine loaded far over its cores the first
      // seconds stutter (jitter-buffer underruns spread power over the spectrum): 100 % idle, 19–41 % seen at load 40.
      expect(bandShare(before, 24000, 440)).toBeGreaterThan(0.15);
      expect(bandShare(before, 24000, 1000)).toBeLessThan(0.01);
      expect(bandShare(after, 24000, 440)).toBeGreaterThan(0.15);
      expect(bandShare(after, 24000, 1000)).toBeGreaterThan(0.15);
      // The WebSocket server hangs up: the connection leaves the session.
      r.socket.close(1000);
      await until(async () => {
        const list = await fetch(`${server.url}/v2/project/${apiKey}/session/${sessionId}/connection`, { headers: { 'X-OPENTOK-AUTH': jwt() } });
        return !((await list.json()) as { items: { connectionId: string }[] }).items.some((c) => c.connectionId === conn.connectionId);
      }, { timeoutMs: 5000, what: 'the connector connection leaves' });
    } finally {
      await a.page.close();
      await b?.page.close();
    }
  }, 90_000);

  it('bidirectional: a 700 Hz tone the WebSocket server sends is heard by a subscriber page, as a stream of the session', async () => {
    const sessionId = await routedSession();
    const viewer = await publisher(browserA, sessionId, 'viewer', { publish: false });
    let sender: NodeJS.Timeout | undefined;
    try {
      const conn = await call<{ id: string; connectionId: string }>((cb) => ot.websocketConnect(sessionId, ot.generateToken(sessionId), `${wsUrl}/bidi`, { bidirectional: true }, cb));
      const r = await socketAt('bidi');
      // 20 ms of a 700 Hz tone at 16 kHz per message, in real time.
      let n = 0;
      sender = setInterval(() => {
        const f = Buffer.alloc(640);
        for (let i = 0; i < 320; i++) f.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 700 * (n * 320 + i)) / 16000)), i * 2);
        n++;
        if (r.socket.readyState === r.socket.OPEN) r.socket.send(f);
      }, 20);
      const streams = await until(async () => {
        const list = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
        return list.length > 0 && list;
      }, { timeoutMs: 5000, what: 'the connector stream' });
      expect(streams.map((s) => s.name)).toEqual(['Audio Connector']);
      const stats = async () => (await viewer.page.evaluate(() => window.app.stats())) ?? { audioEnergy: 0, audioBytes: 0, audioLevel: 0, framesDecoded: 0 };
      const s0 = await until(async () => { const s = await stats(); return s.audioBytes > 2000 && s; }, { timeoutMs: 15_000, what: 'connector audio at the subscriber' });
      await sleep(2000);
      const s1 = await stats();
      const energy = s1.audioEnergy - s0.audioEnergy;
      // A full-scale sine has energy 0.5 per second; 8000/32768 amplitude: about 0.03 per second.
      console.info(`[connector bidirectional] subscriber got ${s1.audioBytes} audio bytes; totalAudioEnergy +${energy.toFixed(4)} over 2 s; level ${s1.audioLevel.toFixed(3)}`);
      expect(energy).toBeGreaterThan(0.01);
      await call<void>((cb) => ot.forceDisconnect(sessionId, conn.connectionId, cb));
      await until(async () => r.closed, { timeoutMs: 5000, what: 'forceDisconnect closes the socket' });
      await until(async () => (await call<unknown[]>((cb) => ot.listStreams(sessionId, cb))).length === 0, { timeoutMs: 5000, what: 'the connector stream ends' });
    } finally {
      clearInterval(sender);
      await viewer.page.close();
    }
  }, 90_000);

  it('refuses bad requests with 400 naming the field, a relayed session with 409, and an unreachable server with 400 — nothing joins', async () => {
    const sessionId = await routedSession();
    const token = ot.generateToken(sessionId);
    const cases: [unknown, string][] = [
      [{ sessionId, token }, 'websocket'],
      [{ sessionId, token, websocket: {} }, 'websocket.uri'],
      [{ sessionId, token, websocket: { uri: 'http://127.0.0.1:1/x' } }, 'websocket.uri'],
      [{ sessionId, token, websocket: { uri: wsUrl, audioRate: 44100 } }, 'websocket.audioRate'],
      [{ sessionId, token, websocket: { uri: wsUrl, streams: 'abc' } }, 'websocket.streams'],
      [{ sessionId, token, websocket: { uri: wsUrl, headers: { 'a b': 'x' } } }, 'websocket.headers'],
      [{ sessionId, token, websocket: { uri: wsUrl, headers: { ok: 5 } } }, 'websocket.headers.ok'],
      [{ sessionId, token, websocket: { uri: wsUrl, bidirectional: 'maybe' } }, 'websocket.bidirectional'],
      [{ sessionId, token: 'nonsense', websocket: { uri: wsUrl } }, 'token'],
    ];
    const before = sockets.length;
    for (const [body, field] of cases) {
      const res = await connect(body);
      const json = (await res.json()) as { message: string; description: string };
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(`${json.message} ${json.description}`).toContain(field);
    }
    const relayed = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    expect((await connect({ sessionId: relayed, token: ot.generateToken(relayed), websocket: { uri: wsUrl } })).status).toBe(409);
    // A port nothing listens on: the connection is refused at once.
    const closed = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => closed.once('listening', () => r()));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const t0 = Date.now();
    const dead = await connect({ sessionId, token, websocket: { uri: `ws://127.0.0.1:${deadPort}/x` } });
    expect(dead.status).toBe(400);
    expect(((await dead.json()) as { message: string }).message).toMatch(/websocket\.uri.*could not connect/);
    expect(Date.now() - t0).toBeLessThan(6500);
    expect(sockets.length).toBe(before);
    const list = await fetch(`${server.url}/v2/project/${apiKey}/session/${sessionId}/connection`, { headers: { 'X-OPENTOK-AUTH': jwt() } });
    expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);
  }, 60_000);
});

describe('Audio Connector and the outbound policy', () => {
  it('refuses a loopback or private websocket.uri with 400 when the operator allows none, and a server that does not open in 6 s', async () => {
    const apiKey = '8' + String(Date.now()).slice(-7);
    const apiSecret = randomBytes(20).toString('hex');
    const strict = await startServer({ apiKey, apiSecret });
    // A TCP server that accepts and never answers the upgrade.
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const open = await startServer({ apiKey, apiSecret, outboundAllow: ['127.0.0.0/8'] });
    try {
      for (const [srv, uri, status, text] of [
        [strict, 'ws://127.0.0.1:9/x', 400, 'loopback'],
        [strict, 'wss://10.1.2.3/x', 400, 'private'],
        [strict, 'ws://[::1]:9/x', 400, 'loopback'],
        [open, `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/x`, 400, 'could not connect'],
      ] as const) {
        const ot = new OpenTok(apiKey, apiSecret, srv.url);
        const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
        const jwt = projectJwt(apiKey, apiSecret);
        const t0 = Date.now();
        const res = await fetch(`${srv.url}/v2/project/${apiKey}/connect`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt, 'Content-Type': 'application/json' }, body: JSON.stringify({ sessionId, token: ot.generateToken(sessionId), websocket: { uri } }) });
        const body = (await res.json()) as { message: string };
        const ms = Date.now() - t0;
        expect(res.status, uri).toBe(status);
        expect(body.message).toContain('websocket.uri');
        expect(body.message).toContain(text);
        if (text === 'could not connect') {
          console.info(`[connector] a server that never answers the upgrade: 400 after ${ms} ms`);
          expect(ms).toBeGreaterThanOrEqual(5900);
          expect(ms).toBeLessThan(8000);
        }
      }
    } finally {
      silent.close();
      await strict.close();
      await open.close();
    }
  }, 30_000);
});
