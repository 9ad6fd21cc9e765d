/**
 * The official OpenTok.js (npm `@opentok/client`, unmodified) against a real Tokhost server, in
 * headless Chromium: pages on an app origin of their own load it and add the one line
 * `OT.setProxyUrl(<server>)`; sessions and tokens come from the official `opentok` Node SDK.
 * Issue #19's acceptance items, numbered as there. One browser and one server for the file.
 *
 * Page A publishes the browser's fake camera (red, with a 440 Hz tone); page B publishes a blue
 * canvas, so each page is seen to decode the OTHER page's picture.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import {
  call,
  fakeCamera,
  foreignRequests,
  hasChromium,
  hasCommands,
  launchChromium,
  OpenTok,
  OPENTOK_JS_LATEST,
  OPENTOK_JS_RELEASES,
  openApp,
  recordRequests,
  SDK_BUILT,
  sleep,
  startAppOrigin,
  startOpenTokJsOrigin,
  startServer,
  startTcpProxy,
  until,
} from '../kit/index.js';
import type { AppOrigin, OpenTokJsOrigin, OpenTokJsRelease, OpenTokSdk, OtjsEvent, Rgb, TcpProxy } from '../kit/index.js';
import { signJwt } from '../realtime/harness.js';

const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
/** Whether a decoded mean colour is `want` within codec error. */
const near = (got: Rgb | null | undefined, want: Rgb) => !!got && got.every((c, i) => Math.abs(c - want[i]!) < 60);

/** Time for a test that opens pages: loading the 5 MB OpenTok.js on a busy 2-core machine takes seconds. */
const PAGES_MS = 120_000;

type Ids = { connectionId: string; streamId: string | null };

const events = (p: Page) => p.evaluate(() => window.otjs.events);
const signals = (p: Page) => p.evaluate(() => window.otjs.signals);
const look = (p: Page, streamId: string) => p.evaluate((id) => window.otjs.look(id), streamId);
const waitEvent = (p: Page, what: string, pred: (e: OtjsEvent) => boolean, timeoutMs = 8000) =>
  until(async () => (await events(p)).find(pred), { timeoutMs, what });

/** `p` decodes `streamId` as colour `want`, frames keep coming, and (unless `audio: false`) audio plays. */
async function decodes(p: Page, streamId: string, want: Rgb, audio = true): Promise<void> {
  const first = await until(async () => { const l = await look(p, streamId); return !!l && l.framesDecoded > 5 && near(l.rgb, want) && l; }, { timeoutMs: 25_000, what: `frames of ${streamId} in rgb(${want.join(',')})` });
  await until(async () => { const l = await look(p, streamId); return !!l && l.framesDecoded > first.framesDecoded + 10; }, { timeoutMs: 10_000, what: `frames of ${streamId} to keep coming` });
  if (!audio) return;
  const a0 = (await look(p, streamId))!;
  await until(async () => { const l = await look(p, streamId); return !!l && l.audioBytes > a0.audioBytes && (l.audioEnergy > a0.audioEnergy || l.audioLevel > 0.01) && l; }, { timeoutMs: 10_000, what: `audio of ${streamId} to play` });
}

describe.skipIf(!hasChromium || !SDK_BUILT || !hasCommands('ffmpeg'))('OpenTok.js (unmodified, from npm) against Tokhost', () => {
  const apiKey = '4' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let dir: string;
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let otjsOrigin: OpenTokJsOrigin;
  let appOrigin: AppOrigin;
  let proxy: TcpProxy;
  let browser: Browser;
  /** One context for the OpenTok.js pages: they share the cached 5 MB script. */
  let context: BrowserContext;
  /** Session-monitoring callbacks the server sent (the project's webhook URL is a sink on loopback). */
  const hooks: { event: string; sessionId: string; reason?: string; connection?: { id: string; data: string }; stream?: { id: string; name: string; connection: { id: string } } }[] = [];
  let hookSink: HttpServer;
  /** Every URL each page asked for, to prove nothing left loopback's two origins. */
  const requests = new Map<Page, string[]>();
  const relayed = async () => (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;

  /** A new OpenTok.js page talking to `serverUrl` (default the server). */
  async function openOtjs(release: OpenTokJsRelease = OPENTOK_JS_LATEST, serverUrl = server.url): Promise<Page> {
    const page = await context.newPage();
    requests.set(page, recordRequests(page));
    page.on('pageerror', (err) => console.error('[page error]', err.message));
    await page.goto(otjsOrigin.url(serverUrl, release));
    await page.waitForFunction(() => window.sdkLoaded === true, undefined, { timeout: 15_000 });
    return page;
  }
  const start = (p: Page, o: Parameters<Window['otjs']['start']>[0]) => p.evaluate((x) => window.otjs.start(x), o);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-otjs-'));
    hookSink = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        hooks.push(JSON.parse(body) as (typeof hooks)[number]);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hookSink.listen(0, '127.0.0.1', r));
    // outboundAllow: the webhook sink is on loopback.
    server = await startServer({ apiKey, apiSecret, outboundAllow: ['127.0.0.0/8'] });
    server.store.updateProject(apiKey, { webhookUrl: `http://127.0.0.1:${(hookSink.address() as AddressInfo).port}/hook` });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    otjsOrigin = await startOpenTokJsOrigin();
    appOrigin = await startAppOrigin();
    proxy = await startTcpProxy(server.port);
    browser = await launchChromium(fakeCamera(dir, 'red', { toneHz: 440, size: '320x240' }));
    context = await browser.newContext();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await appOrigin?.close();
    await otjsOrigin?.close();
    await server?.close();
    hookSink?.closeAllConnections();
    await new Promise((r) => hookSink?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('(1) two OpenTok.js pages in a relayed session', () => {
    let sessionId: string;
    let a: Page;
    let b: Page;
    let ida: Ids;
    let idb: Ids;

    it('connect, publish, subscribe: each decodes the other page\'s picture and hears its audio; connection and stream events', async () => {
      sessionId = await relayed();
      a = await openOtjs();
      b = await openOtjs();
      ida = await start(a, { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'moderator', data: 'user=a' }), name: 'Alice' });
      idb = await start(b, { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'publisher', data: 'user=b' }), name: 'Bob', rgb: BLUE });
      expect(ida.connectionId).not.toBe(idb.connectionId);
      await decodes(a, idb.streamId!, BLUE);
      await decodes(b, ida.streamId!, RED);

      const created = await waitEvent(a, 'A sees B connect', (e) => e.type === 'connectionCreated' && e['connectionId'] === idb.connectionId);
      expect(created['data']).toBe('user=b');
      await waitEvent(b, 'B sees A (already there)', (e) => e.type === 'connectionCreated' && e['connectionId'] === ida.connectionId);
      const streamOfB = await waitEvent(a, 'A sees B stream', (e) => e.type === 'streamCreated' && e['streamId'] === idb.streamId);
      expect(streamOfB).toMatchObject({ name: 'Bob', connectionId: idb.connectionId, hasAudio: true, hasVideo: true });
      await waitEvent(b, 'B sees A stream', (e) => e.type === 'streamCreated' && e['streamId'] === ida.streamId && e['name'] === 'Alice');
    }, PAGES_MS);

    it('publishVideo(false/true) reaches the other page as streamPropertyChanged hasVideo', async () => {
      await a.evaluate(() => window.otjs.publisher!.publishVideo(false));
      await waitEvent(b, 'hasVideo=false', (e) => e.type === 'streamPropertyChanged' && e['streamId'] === ida.streamId && e['changedProperty'] === 'hasVideo' && e['newValue'] === false);
      await a.evaluate(() => window.otjs.publisher!.publishVideo(true));
      await waitEvent(b, 'hasVideo=true', (e) => e.type === 'streamPropertyChanged' && e['streamId'] === ida.streamId && e['changedProperty'] === 'hasVideo' && e['newValue'] === true);
    });

    it('signals page to page (to all, to one connection) with event.from, and from REST with from null', async () => {
      expect(await a.evaluate(() => window.otjs.signal({ type: 'chat', data: 'hi from A' }))).toBeNull();
      expect(await b.evaluate((to) => window.otjs.signal({ type: 'chat', data: 'hi from B', to: { connectionId: to } }), ida.connectionId)).toBeNull();
      const fromA = await until(async () => (await signals(b)).find((s) => s.data === 'hi from A'), { timeoutMs: 5000, what: 'signal A→B' });
      expect(fromA).toEqual({ type: 'signal:chat', data: 'hi from A', from: ida.connectionId });
      const fromB = await until(async () => (await signals(a)).find((s) => s.data === 'hi from B'), { timeoutMs: 5000, what: 'signal B→A' });
      expect(fromB).toEqual({ type: 'signal:chat', data: 'hi from B', from: idb.connectionId });
      // A signal to all reaches the sender too (as in OpenTok); one to a connection only that connection.
      await until(async () => (await signals(a)).some((s) => s.data === 'hi from A'), { timeoutMs: 5000, what: 'A gets its own broadcast' });
      expect((await signals(b)).some((s) => s.data === 'hi from B')).toBe(false);

      await call<void>((cb) => ot.signal(sessionId, null, { type: 'rest', data: 'from the official SDK' }, cb));
      await call<void>((cb) => ot.signal(sessionId, idb.connectionId, { type: 'rest1', data: 'only for B' }, cb));
      for (const p of [a, b]) {
        const got = await until(async () => (await signals(p)).find((s) => s.type === 'signal:rest'), { timeoutMs: 5000, what: 'REST signal' });
        expect(got).toEqual({ type: 'signal:rest', data: 'from the official SDK', from: null });
      }
      await until(async () => (await signals(b)).some((s) => s.type === 'signal:rest1' && s.data === 'only for B' && s.from === null), { timeoutMs: 5000, what: 'REST signal to B' });
      expect((await signals(a)).some((s) => s.type === 'signal:rest1')).toBe(false);
    });

    it('listStreams (official SDK) shows both streams with their names', async () => {
      const streams = await call<{ id: string; name: string; videoType?: string }[]>((cb) => ot.listStreams(sessionId, cb));
      expect(streams.map((s) => [s.id, s.name]).sort()).toEqual([[ida.streamId, 'Alice'], [idb.streamId, 'Bob']].sort());
    });

    // A suppressed client's join answer still lists the publishers' connections (OpenTok.js
    // builds each stream with session.connections.get(ownerId)); it gets no connection events.
    it('connectionEventsSuppressed: a third page gets the streams but no connection events; the others see it come and go', async () => {
      const c = await openOtjs();
      const idc = await start(c, { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'user=c' }), publish: false, subscribe: false, connectionEventsSuppressed: true });
      await waitEvent(a, 'A sees C join', (e) => e.type === 'connectionCreated' && e['connectionId'] === idc.connectionId);
      const streams = await until(async () => { const e = (await events(c)).filter((x) => x.type === 'streamCreated'); return e.length >= 2 && e; }, { timeoutMs: 8000, what: 'C gets both streams' });
      // Each stream knows its publisher's connection (OpenTok.js takes it from the session state).
      expect(streams.map((e) => [e['streamId'], e['connectionId']]).sort()).toEqual([[ida.streamId, ida.connectionId], [idb.streamId, idb.connectionId]].sort());
      expect((await events(c)).filter((e) => e.type === 'connectionCreated' || e.type === 'connectionDestroyed')).toEqual([]);
      await c.evaluate(() => window.otjs.session.disconnect());
      await waitEvent(a, 'A sees C leave', (e) => e.type === 'connectionDestroyed' && e['connectionId'] === idc.connectionId && e['reason'] === 'clientDisconnected');
      await c.close();
    }, PAGES_MS);

    it('forceMuteStream (official SDK): B\'s publisher gets muteForced, its stream loses audio on A', async () => {
      await call<void>((cb) => ot.forceMuteStream(sessionId, idb.streamId!, cb));
      await waitEvent(b, 'muteForced on B\'s publisher', (e) => e.type === 'publisher:muteForced');
      await waitEvent(a, 'hasAudio=false on A', (e) => e.type === 'streamPropertyChanged' && e['streamId'] === idb.streamId && e['changedProperty'] === 'hasAudio' && e['newValue'] === false);
      expect((await events(a)).some((e) => e.type === 'publisher:muteForced')).toBe(false);
    });

    it('forceMuteAll and disableForceMute (official SDK): the session muteForced event with active true, then false, on every page', async () => {
      await call<void>((cb) => ot.forceMuteAll(sessionId, { excludedStreamIds: [] }, cb));
      for (const p of [a, b]) await waitEvent(p, 'muteForced active', (e) => e.type === 'muteForced' && e['active'] === true);
      await waitEvent(a, 'A\'s publisher muted', (e) => e.type === 'publisher:muteForced');
      await waitEvent(b, 'hasAudio=false of A on B', (e) => e.type === 'streamPropertyChanged' && e['streamId'] === ida.streamId && e['changedProperty'] === 'hasAudio' && e['newValue'] === false);
      await call<void>((cb) => ot.disableForceMute(sessionId, cb));
      for (const p of [a, b]) await waitEvent(p, 'muteForced inactive', (e) => e.type === 'muteForced' && e['active'] === false);
    });

    it('forceUnpublish by a moderator page: B\'s publisher ends with forceUnpublished, A sees streamDestroyed, B stays connected', async () => {
      expect(await a.evaluate((id) => window.otjs.forceUnpublish(id), idb.streamId!)).toBeNull();
      await waitEvent(b, 'B publisher destroyed', (e) => e.type === 'publisher:streamDestroyed' && e['reason'] === 'forceUnpublished');
      await waitEvent(a, 'A sees B stream end', (e) => e.type === 'streamDestroyed' && e['streamId'] === idb.streamId && e['reason'] === 'forceUnpublished');
      const streams = await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb));
      expect(streams.map((s) => s.id)).toEqual([ida.streamId]);
      expect((await events(b)).some((e) => e.type === 'sessionDisconnected')).toBe(false);
      expect(await b.evaluate(() => window.otjs.signal({ type: 'chat', data: 'still here' }))).toBeNull();
    });

    it('forceDisconnect (official SDK): B is disconnected with forceDisconnected; A sees connectionDestroyed', async () => {
      await call<void>((cb) => ot.forceDisconnect(sessionId, idb.connectionId, cb));
      await waitEvent(b, 'B disconnected', (e) => e.type === 'sessionDisconnected' && e['reason'] === 'forceDisconnected');
      await waitEvent(a, 'A sees B leave', (e) => e.type === 'connectionDestroyed' && e['connectionId'] === idb.connectionId && e['reason'] === 'forceDisconnected');
      // A page that leaves by itself: clientDisconnected, its stream destroyed with it.
      await a.evaluate(() => window.otjs.session.disconnect());
      await waitEvent(a, 'A disconnected', (e) => e.type === 'sessionDisconnected' && e['reason'] === 'clientDisconnected');
      await until(async () => (await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb))).length === 0, { timeoutMs: 5000, what: 'no streams left' });
      for (const p of [a, b]) expect(foreignRequests(requests.get(p)!, [server.url, otjsOrigin.origin])).toEqual([]);
      await a.close();
      await b.close();
    });
  });

  it('(2) a cut WebSocket: sessionReconnecting, then sessionReconnected with the same connection ID; signals sent meanwhile arrive; media goes on', async () => {
    const sessionId = await relayed();
    // Page A reaches the server through a TCP proxy the test cuts; B goes straight to the server.
    const a = await openOtjs(OPENTOK_JS_LATEST, proxy.url);
    const b = await openOtjs();
    const ida = await start(a, { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'user=a' }), name: 'A' });
    const idb = await start(b, { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'user=b' }), name: 'B', rgb: BLUE });
    await decodes(a, idb.streamId!, BLUE, false);
    await decodes(b, ida.streamId!, RED, false);

    proxy.cut();
    await waitEvent(a, 'sessionReconnecting', (e) => e.type === 'sessionReconnecting', 10_000);
    expect(await b.evaluate((to) => window.otjs.signal({ type: 'during', data: 'while you were away', to: { connectionId: to } }), ida.connectionId)).toBeNull();
    const back = await waitEvent(a, 'sessionReconnected', (e) => e.type === 'sessionReconnected', 20_000);
    expect(back['connectionId']).toBe(ida.connectionId);
    await until(async () => (await signals(a)).some((s) => s.data === 'while you were away' && s.from === idb.connectionId), { timeoutMs: 5000, what: 'signal sent during the cut' });
    expect((await events(b)).some((e) => e.type === 'connectionDestroyed' && e['connectionId'] === ida.connectionId)).toBe(false);
    expect((await events(a)).some((e) => e.type === 'sessionDisconnected')).toBe(false);
    // Media resumes (relayed media never went through the server, and the session keeps it).
    const f0 = (await look(a, idb.streamId!))!.framesDecoded;
    await until(async () => (await look(a, idb.streamId!))!.framesDecoded > f0 + 15, { timeoutMs: 10_000, what: 'frames after the reconnect' });
    await decodes(b, ida.streamId!, RED, false);
    // The resumed connection carries requests again.
    expect(await a.evaluate(() => window.otjs.signal({ type: 'chat', data: 'back' }))).toBeNull();
    await until(async () => (await signals(b)).some((s) => s.data === 'back' && s.from === ida.connectionId), { timeoutMs: 5000, what: 'signal after the reconnect' });
    expect(foreignRequests(requests.get(a)!, [proxy.url, otjsOrigin.origin])).toEqual([]);
    await a.close();
    await b.close();
  }, PAGES_MS);

  it('(3) a @tokhost/client page and an OpenTok.js page in one session: connections, streams, signals both ways, each decodes the other', async () => {
    const sessionId = await relayed();
    const t = await openApp(browser, appOrigin.url(server.url));
    requests.set(t, recordRequests(t));
    const o = await openOtjs();
    // The Tokhost page publishes the fake camera (red); the OpenTok.js page a blue canvas.
    const idt = await t.evaluate((x) => window.app.start(x), { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'kind=tokhost' }), name: 'Tokhost page' });
    const ido = await start(o, { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'kind=otjs' }), name: 'OpenTok.js page', rgb: BLUE });

    await waitEvent(o, 'OpenTok.js sees the Tokhost connection', (e) => e.type === 'connectionCreated' && e['connectionId'] === idt.connectionId && e['data'] === 'kind=tokhost');
    await waitEvent(o, 'OpenTok.js sees the Tokhost stream', (e) => e.type === 'streamCreated' && e['streamId'] === idt.streamId && e['name'] === 'Tokhost page');
    await until(async () => (await t.evaluate(() => window.app.events)).some((e) => e.type === 'connectionCreated' && e['connectionId'] === ido.connectionId), { timeoutMs: 8000, what: 'Tokhost sees the OpenTok.js connection' });
    await until(async () => (await t.evaluate(() => window.app.events)).some((e) => e.type === 'streamCreated' && e['streamId'] === ido.streamId && e['name'] === 'OpenTok.js page'), { timeoutMs: 8000, what: 'Tokhost sees the OpenTok.js stream' });

    expect(await t.evaluate((to) => window.app.signal({ type: 'chat', data: 'from tokhost', to: { connectionId: to } }), ido.connectionId)).toBeNull();
    expect(await o.evaluate(() => window.otjs.signal({ type: 'chat', data: 'from otjs' }))).toBeNull();
    expect(await until(async () => (await signals(o)).find((s) => s.data === 'from tokhost'), { timeoutMs: 5000, what: 'signal Tokhost→OpenTok.js' })).toEqual({ type: 'signal:chat', data: 'from tokhost', from: idt.connectionId });
    expect(await until(async () => (await t.evaluate(() => window.app.signals)).find((s) => s.data === 'from otjs'), { timeoutMs: 5000, what: 'signal OpenTok.js→Tokhost' })).toEqual({ type: 'signal:chat', data: 'from otjs', from: ido.connectionId });

    await decodes(o, idt.streamId!, RED);
    // The Tokhost page decodes the OpenTok.js page's blue canvas.
    const seen = await until(
      async () => {
        const r = await t.evaluate(() => {
          const v = document.querySelector<HTMLVideoElement>('#others video');
          if (!v || v.videoWidth === 0) return null;
          const c = document.createElement('canvas');
          c.width = 160;
          c.height = 120;
          const g = c.getContext('2d')!;
          g.drawImage(v, 0, 0, 160, 120);
          const d = g.getImageData(40, 30, 80, 60).data;
          const m = [0, 0, 0];
          for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) m[k]! += d[i + k]!;
          return { rgb: m.map((x) => Math.round(x / (d.length / 4))) as Rgb, frames: v.getVideoPlaybackQuality().totalVideoFrames };
        });
        return r && r.frames > 5 && near(r.rgb, BLUE) && r;
      },
      { timeoutMs: 25_000, what: 'the Tokhost page decodes the blue canvas' },
    );
    expect(seen.frames).toBeGreaterThan(5);
    await until(async () => { const s = await t.evaluate(() => window.app.stats()); return !!s && s.audioBytes > 0 && s.audioEnergy > 0; }, { timeoutMs: 10_000, what: 'the Tokhost page hears the OpenTok.js page' });

    // REST reaches both kinds of client.
    await call<void>((cb) => ot.signal(sessionId, null, { type: 'rest', data: 'to both' }, cb));
    await until(async () => (await signals(o)).some((s) => s.type === 'signal:rest' && s.from === null), { timeoutMs: 5000, what: 'REST signal on OpenTok.js' });
    await until(async () => (await t.evaluate(() => window.app.signals)).some((s) => s.type === 'signal:rest' && s.from === null), { timeoutMs: 5000, what: 'REST signal on Tokhost' });
    const names = (await call<{ name: string }[]>((cb) => ot.listStreams(sessionId, cb))).map((s) => s.name).sort();
    expect(names).toEqual(['OpenTok.js page', 'Tokhost page']);

    await o.evaluate(() => window.otjs.session.disconnect());
    await until(async () => (await t.evaluate(() => window.app.events)).some((e) => e.type === 'connectionDestroyed' && e['connectionId'] === ido.connectionId && e['reason'] === 'clientDisconnected'), { timeoutMs: 8000, what: 'Tokhost sees OpenTok.js leave' });
    for (const p of [t, o]) expect(foreignRequests(requests.get(p)!, [server.url, otjsOrigin.origin, appOrigin.origin])).toEqual([]);
    await t.close();
    await o.close();
  }, PAGES_MS);

  it('(4) bad, expired and other-session tokens fail connect with OpenTok.js\'s codes; no request leaves the two origins', async () => {
    const sessionId = await relayed();
    const other = await relayed();
    const nowS = Math.floor(Date.now() / 1000);
    const unknown = `1_${Buffer.from(`1~${apiKey}~~${Date.now()}~${randomBytes(12).toString('base64')}~P~`).toString('base64url')}`;
    const p = await openOtjs();
    const tryConnect = (token: string, sid = sessionId) => p.evaluate((o) => window.otjs.tryConnect(o), { apiKey, sessionId: sid, token });

    // The control: a good token connects.
    expect(await tryConnect(ot.generateToken(sessionId))).toBeNull();
    const cases: [string, string, string, number][] = [
      ['garbage', 'not-a-token', sessionId, 1004],
      ['signed with another secret', new OpenTok(apiKey, 'f'.repeat(40)).generateToken(sessionId), sessionId, 1004],
      ['expired', signJwt({ iss: apiKey, ist: 'project', iat: nowS - 7200, exp: nowS - 3600, jti: randomBytes(8).toString('hex'), session_id: sessionId, role: 'publisher', scope: 'session.connect' }, apiSecret), sessionId, 1004],
      ['for another session', ot.generateToken(other), sessionId, 1004],
      // A session ID of the right form that this server never created (another server's, say), and a token for it.
      ['for a session this server does not have', ot.generateToken(unknown), unknown, 1005],
      // A session ID that is none at all (a typo in the app), with a good token: the session is named first.
      ['good token, a session ID that does not decode', ot.generateToken(sessionId), 'not-a-session-id', 1005],
    ];
    for (const [what, token, sid, code] of cases) {
      const err = await tryConnect(token, sid);
      expect({ what, code: err?.code, name: err?.name }).toEqual({ what, code, name: code === 1004 ? 'OT_AUTHENTICATION_ERROR' : 'OT_INVALID_SESSION_ID' });
    }
    expect(foreignRequests(requests.get(p)!, [server.url, otjsOrigin.origin])).toEqual([]);
    // The client did reach the server (config, session info, messaging), all through the proxy path.
    expect(requests.get(p)!.some((u) => u.startsWith(`${server.url}/`) && /\/session\//.test(u))).toBe(true);
    await p.close();
  }, PAGES_MS);

  it('session-monitoring webhooks for an OpenTok.js client, as for other clients: connection and stream created and destroyed', async () => {
    const sessionId = await relayed();
    const p = await openOtjs();
    const id = await start(p, { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'hooked' }), name: 'Hooked', subscribe: false });
    await p.evaluate(() => window.otjs.session.disconnect());
    const mine = await until(() => { const h = hooks.filter((x) => x.sessionId === sessionId); return h.some((x) => x.event === 'connectionDestroyed') && h; }, { timeoutMs: 10_000, what: 'the webhooks of the OpenTok.js connection' });
    expect(mine.map((h) => h.event).filter((e) => e !== 'sessionCreated' && e !== 'sessionDestroyed')).toEqual(['connectionCreated', 'streamCreated', 'streamDestroyed', 'connectionDestroyed']);
    expect(mine.find((h) => h.event === 'connectionCreated')!.connection).toMatchObject({ id: id.connectionId, data: 'hooked' });
    expect(mine.find((h) => h.event === 'streamCreated')!.stream).toMatchObject({ id: id.streamId, name: 'Hooked', connection: { id: id.connectionId } });
    expect(mine.find((h) => h.event === 'connectionDestroyed')!.reason).toBe('clientDisconnected');
    await p.close();
  }, PAGES_MS);

  // The core (connect, signal, relayed video both ways) on every other installed release: the
  // oldest one whose protocol Tokhost speaks is pinned beside the latest (docs/opentok-js.md).
  describe.each(OPENTOK_JS_RELEASES.slice(1).map((r) => [r.version, r] as const))('OpenTok.js %s', (_version, release) => {
    it('connects, signals both ways and decodes the other page\'s video, with a latest-release page', async () => {
      const sessionId = await relayed();
      const old = await openOtjs(release);
      const cur = await openOtjs();
      // OT.version since 2.1x; OT.properties.version before (both like `v2.20.1`).
      expect(await old.evaluate(() => { const OT = (window as unknown as { OT: { version?: string; properties: { version: string } } }).OT; return String(OT.version ?? OT.properties.version); })).toContain(release.version);
      const ido = await start(old, { apiKey, sessionId, token: ot.generateToken(sessionId), name: `v${release.version}` });
      const idc = await start(cur, { apiKey, sessionId, token: ot.generateToken(sessionId), name: 'latest', rgb: BLUE });
      expect(await old.evaluate((to) => window.otjs.signal({ type: 'v', data: 'from old', to: { connectionId: to } }), idc.connectionId)).toBeNull();
      expect(await cur.evaluate((to) => window.otjs.signal({ type: 'v', data: 'from latest', to: { connectionId: to } }), ido.connectionId)).toBeNull();
      await until(async () => (await signals(cur)).some((s) => s.data === 'from old' && s.from === ido.connectionId), { timeoutMs: 5000, what: 'signal old→latest' });
      await until(async () => (await signals(old)).some((s) => s.data === 'from latest' && s.from === idc.connectionId), { timeoutMs: 5000, what: 'signal latest→old' });
      await decodes(old, idc.streamId!, BLUE, false);
      await decodes(cur, ido.streamId!, RED, false);
      for (const p of [old, cur]) await p.evaluate(() => window.otjs.session.disconnect());
      await sleep(200);
      expect(foreignRequests(requests.get(old)!, [server.url, otjsOrigin.origin])).toEqual([]);
      await old.close();
      await cur.close();
    }, PAGES_MS);
  });
});
