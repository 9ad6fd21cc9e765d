/**
 * End to end with headless Chromium: two "app" pages on their own origin load the browser SDK from
 * a real Tokhost server (`createServer`), join one relayed session, publish and subscribe to each
 * other peer to peer, and are driven from the official `opentok` SDK over REST.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { TokhostServer } from '../../src/create-server.js';
import { call, hasChromium, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, startTcpProxy, until } from '../kit/index.js';
import type { AppOrigin, OpenTokSdk, TcpProxy } from '../kit/index.js';
import { signJwt } from '../realtime/harness.js';

/** The fields of a server message the join-wave test reads. */
type ServerMessageLike = { type: string; connection?: { connectionId: string }; connections?: { connectionId: string }[]; destroyed?: { connection: { connectionId: string } }[] };

const stats = (p: Page) => p.evaluate(() => window.app.stats());
const events = (p: Page) => p.evaluate(() => window.app.events);

describe.skipIf(!hasChromium || !SDK_BUILT)('relayed video call in headless Chromium', () => {
  const apiKey = '4' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let appUrl: string;
  let proxy: TcpProxy;
  let browser: Browser;
  let ot: OpenTokSdk;
  let sessionId: string;
  let a: Page;
  let b: Page;
  let ida: { connectionId: string; streamId: string | null };
  let idb: { connectionId: string; streamId: string | null };

  beforeAll(async () => {
    // demo: the demo page test below (it is off unless enabled).
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret, demo: true });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    appOrigin = await startAppOrigin();
    appUrl = appOrigin.url(server.url);
    proxy = await startTcpProxy(server.port);
    browser = await launchChromium();
    sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await appOrigin?.close();
    await server?.close();
  });

  const openAppPage = () => openApp(browser, appUrl);

  it('two pages publish and subscribe to each other: video decodes, audio flows, signals both ways, REST signal, listStreams', async () => {
    a = await openAppPage();
    b = await openAppPage();
    // Page A talks to the server through a proxy we can cut later; page B uses the default
    // (the server the SDK was loaded from), on another origin than the app page.
    ida = await a.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'publisher', data: 'user=a' }), serverUrl: proxy.url, name: 'Alice' });
    idb = await b.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'publisher', data: 'user=b' }), name: 'Bob' });
    for (const p of [a, b]) {
      const first = await until(async () => { const s = await stats(p); return !!s && s.framesDecoded > 5 && s.audioBytes > 0 && s; }, { timeoutMs: 20_000, what: 'first frames' });
      const later = await until(async () => { const s = await stats(p); return !!s && s.framesDecoded > first!.framesDecoded + 10 && s; }, { timeoutMs: 10_000, what: 'frames to keep coming' });
      expect(later!.framesDecoded).toBeGreaterThan(first!.framesDecoded);
      await until(async () => { const s = await stats(p); return !!s && s.audioEnergy > 0 && s.audioBytes > later!.audioBytes; }, { timeoutMs: 10_000, what: 'audio to flow' });
    }

    expect(await a.evaluate(() => window.app.signal({ type: 'chat', data: 'hi from A' }))).toBeNull();
    expect(await b.evaluate((to) => window.app.signal({ type: 'chat', data: 'hi from B', to: { connectionId: to } }), ida.connectionId)).toBeNull();
    await until(async () => (await b.evaluate(() => window.app.signals)).some((x) => x.data === 'hi from A'), { timeoutMs: 5000, what: 'signal A→B' });
    await until(async () => (await a.evaluate(() => window.app.signals)).some((x) => x.data === 'hi from B' && x.type === 'signal:chat'), { timeoutMs: 5000, what: 'signal B→A' });
    expect((await b.evaluate(() => window.app.signals)).find((x) => x.data === 'hi from A')?.from).toBe(ida.connectionId);
    expect((await a.evaluate(() => window.app.events)).some((e) => e.type === 'signal:chat' && e['data'] === 'hi from B')).toBe(true);

    await call<void>((cb) => ot.signal(sessionId, null, { type: 'rest', data: 'from the official SDK' }, cb));
    for (const p of [a, b]) await until(async () => (await p.evaluate(() => window.app.signals)).some((x) => x.type === 'signal:rest' && x.data === 'from the official SDK' && x.from === null), { timeoutMs: 5000, what: 'REST signal' });

    // publishVideo(false/true) reaches the other page as streamPropertyChanged.
    await a.evaluate(() => window.app.publisher!.publishVideo(false));
    await until(async () => (await events(b)).some((e) => e.type === 'streamPropertyChanged' && e['changedProperty'] === 'hasVideo' && e['newValue'] === false), { timeoutMs: 5000, what: 'hasVideo=false' });
    await a.evaluate(() => window.app.publisher!.publishVideo(true));
    await until(async () => (await events(b)).some((e) => e.type === 'streamPropertyChanged' && e['changedProperty'] === 'hasVideo' && e['newValue'] === true), { timeoutMs: 5000, what: 'hasVideo=true' });

    // The ES module build loads cross-origin too (CORS) and defaults to the server it came from.
    // (A string, so the test runner does not rewrite the page's dynamic import.)
    const esm = (await a.evaluate(
      `import(${JSON.stringify(`${server.url}/js/tokhost.esm.js`)}).then((m) => ({ hasInit: typeof m.default.initSession === 'function', serverUrl: m.getServerUrl() }))`,
    )) as { hasInit: boolean; serverUrl: string };
    expect(esm).toEqual({ hasInit: true, serverUrl: `${server.url}/` });

    const streams = await call<{ id: string; name: string; videoType?: string }[]>((cb) => ot.listStreams(sessionId, cb));
    expect(streams.map((s) => [s.id, s.name, s.videoType]).sort()).toEqual(
      [
        [ida.streamId, 'Alice', 'camera'],
        [idb.streamId, 'Bob', 'camera'],
      ].sort(),
    );
  });

  it('connectionEventsSuppressed (OpenTok.js option): the page gets streams but no connection events; the others see it join', async () => {
    const c = await openAppPage();
    const idc = await c.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'user=c' }), name: 'Carol', publish: false, connectionEventsSuppressed: true });
    await until(async () => (await events(a)).some((x) => x.type === 'connectionCreated' && x['connectionId'] === idc.connectionId), { timeoutMs: 5000, what: 'A sees C join' });
    await until(async () => (await events(c)).filter((x) => x.type === 'streamCreated').length >= 2, { timeoutMs: 5000, what: 'C gets both streams' });
    expect((await events(c)).filter((x) => x.type === 'connectionCreated' || x.type === 'connectionDestroyed')).toEqual([]);
    await c.evaluate(() => (window.app as unknown as { session: { disconnect(): void } }).session.disconnect());
    await until(async () => (await events(a)).some((x) => x.type === 'connectionDestroyed' && x['connectionId'] === idc.connectionId), { timeoutMs: 5000, what: 'A sees C leave' });
    await c.close();
  });

  it('join and leave waves in a large session: the page gets one connectionCreated/Destroyed per client, also when the server folds them', async () => {
    const wsUrl = `${server.url.replace('http', 'ws')}/rtc/v1`;
    type Bot = { ws: WebSocket; id: string };
    // Open sockets first, then send every connect frame at once, so the joins land together.
    const joinWave = async (n: number, batchObserver = false): Promise<Bot[]> => {
      const open = await Promise.all(Array.from({ length: n }, () => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(wsUrl);
        ws.on('error', reject);
        ws.on('open', () => resolve(ws));
      })));
      const joined = open.map((ws) => new Promise<Bot>((resolve) => ws.once('message', (raw) => resolve({ ws, id: (JSON.parse(raw.toString()) as { connection: { connectionId: string } }).connection.connectionId }))));
      for (const ws of open) ws.send(JSON.stringify({ type: 'connect', version: 1, apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'bot' }), batch: true, connectionEventsSuppressed: !batchObserver }));
      return Promise.all(joined);
    };
    // A protocol client that sees the same frames as the page (batch, connection events on).
    const [observer] = await joinWave(1, true);
    const seen: { type: string; ids: string[] }[] = [];
    observer!.ws.on('message', (raw) => {
      const parsed = JSON.parse(raw.toString()) as ServerMessageLike | ServerMessageLike[];
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) seen.push({ type: m.type, ids: m.connections?.map((c) => c.connectionId) ?? m.destroyed?.map((d) => d.connection.connectionId) ?? (m.connection ? [m.connection.connectionId] : []) });
    });
    const bots = await joinWave(100); // now above the size where presence is batched
    let folded = false;
    for (let wave = 0; wave < 5 && !folded; wave++) {
      const more = await joinWave(20);
      bots.push(...more);
      const ids = new Set(more.map((b) => b.id));
      await until(() => seen.flatMap((m) => m.ids).filter((id) => ids.has(id)).length === ids.size, { timeoutMs: 10_000, what: 'observer sees the wave' });
      folded = seen.some((m) => m.type === 'connectionsCreated' && m.ids.filter((id) => ids.has(id)).length >= 2);
    }
    expect(folded).toBe(true);
    const ids = new Set(bots.map((b) => b.id));
    const created = await until(async () => { const e = await events(a); return new Set(e.filter((x) => x.type === 'connectionCreated' && ids.has(String(x['connectionId']))).map((x) => x['connectionId'])).size >= ids.size && e; }, { timeoutMs: 10_000, what: 'A sees every bot join' });
    expect(created.filter((x) => x.type === 'connectionCreated' && ids.has(String(x['connectionId']))).length).toBe(ids.size);
    // Leave in waves of 20 until the observer saw a folded connectionsDestroyed, then the rest.
    const leaving = [...bots];
    let foldedLeave = false;
    while (leaving.length > 0 && !foldedLeave) {
      const wave = leaving.splice(0, 20);
      const waveIds = new Set(wave.map((b) => b.id));
      for (const { ws } of wave) ws.send(JSON.stringify({ type: 'disconnect', id: 1 }));
      await until(() => seen.filter((m) => m.type === 'connectionsDestroyed' || m.type === 'connectionDestroyed').flatMap((m) => m.ids).filter((id) => waveIds.has(id)).length === waveIds.size, { timeoutMs: 10_000, what: 'observer sees the leave wave' });
      foldedLeave = seen.some((m) => m.type === 'connectionsDestroyed' && m.ids.filter((id) => waveIds.has(id)).length >= 2);
    }
    expect(foldedLeave).toBe(true);
    for (const { ws } of [...leaving, observer!]) ws.send(JSON.stringify({ type: 'disconnect', id: 1 }));
    await until(async () => (await events(a)).filter((x) => x.type === 'connectionDestroyed' && ids.has(String(x['connectionId'])) && x['reason'] === 'clientDisconnected').length >= ids.size, { timeoutMs: 10_000, what: 'A sees every bot leave' });
    for (const { ws } of [...bots, observer!]) ws.terminate();
  });

  it('negative cases: bad tokens refused, subscriber cannot publish, oversized signal refused, non-moderator cannot force-disconnect', async () => {
    const other = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    const nowS = Math.floor(Date.now() / 1000);
    const forged = new OpenTok(apiKey, 'f'.repeat(40)).generateToken(sessionId);
    // A well-formed token for this session, but issued under an API key this server does not have.
    const wrongKey = signJwt({ iss: '12345678', ist: 'project', iat: nowS, exp: nowS + 600, session_id: sessionId, role: 'publisher', scope: 'session.connect' }, apiSecret);
    const expired = ot.generateToken(sessionId, { expireTime: nowS + 2 });
    await sleep(2500);
    const tries = await b.evaluate(
      async ({ apiKey, sessionId, other, forged, wrongKey, expired, otherTok, subTok }) => ({
        expired: await window.app.tryToken({ apiKey, sessionId, token: expired }),
        forged: await window.app.tryToken({ apiKey, sessionId, token: forged }),
        wrongKey: await window.app.tryToken({ apiKey: '12345678', sessionId, token: wrongKey }),
        otherSession: await window.app.tryToken({ apiKey, sessionId, token: otherTok }),
        subscriberPublish: await window.app.tryToken({ apiKey, sessionId: other, token: subTok, publish: true }),
      }),
      { apiKey, sessionId, other, forged, wrongKey, expired, otherTok: ot.generateToken(other), subTok: ot.generateToken(other, { role: 'subscriber' }) },
    );
    for (const k of ['expired', 'forged', 'wrongKey', 'otherSession'] as const) expect(tries[k], k).toMatchObject({ stage: 'connect', name: 'OT_AUTHENTICATION_ERROR', code: 1004 });
    expect(tries.expired.message).toMatch(/expired/);
    expect(tries.subscriberPublish).toMatchObject({ stage: 'publish', name: 'OT_PERMISSION_DENIED', code: 1500 });
    expect(await a.evaluate(() => window.app.signal({ type: 'big', data: 'x'.repeat(9000) }))).toMatchObject({ code: 413 });
    expect(await a.evaluate((id) => window.app.forceDisconnect(id), idb.connectionId)).toMatchObject({ name: 'OT_PERMISSION_DENIED', code: 1520 });
    expect(await call<unknown[]>((cb) => ot.listStreams(sessionId, cb))).toHaveLength(2);
  });

  it('force-mute from the official SDK stops the audio the other page receives', async () => {
    // B receives A's audio; its energy rises while A speaks (the fake microphone beeps).
    const e0 = (await stats(b))!.audioEnergy;
    await sleep(2000);
    const e1 = (await stats(b))!.audioEnergy;
    expect(e1).toBeGreaterThan(e0);
    await call<void>((cb) => ot.forceMuteStream(sessionId, ida.streamId!, cb));
    await until(async () => (await events(a)).some((e) => e.type === 'muteForced'), { timeoutMs: 5000, what: 'muteForced on A' });
    await until(async () => (await events(b)).some((e) => e.type === 'streamPropertyChanged' && e['changedProperty'] === 'hasAudio' && e['newValue'] === false), { timeoutMs: 5000, what: 'hasAudio=false on B' });
    await sleep(1000);
    const m0 = (await stats(b))!.audioEnergy;
    await sleep(2500);
    const m1 = (await stats(b))!;
    // Silence is still sent (packets flow) but it carries no energy.
    console.info(`[force-mute] received audio energy: +${(e1 - e0).toFixed(4)} in 2 s before, +${(m1.audioEnergy - m0).toFixed(6)} in 2.5 s after`);
    expect(m1.audioEnergy - m0).toBeLessThan((e1 - e0) * 0.02);
    // A still hears B: the mute is A's outgoing audio only.
    const x0 = (await stats(a))!.audioEnergy;
    await sleep(1500);
    expect((await stats(a))!.audioEnergy).toBeGreaterThan(x0);
  });

  it('survives a WebSocket cut mid-call: same connection ID, signals sent meanwhile arrive, media keeps flowing', async () => {
    const f0 = (await stats(a))!.framesDecoded;
    proxy.cut();
    // Sent by B while A has no socket.
    await b.evaluate((to) => window.app.signal({ type: 'during', data: 'while you were away', to: { connectionId: to } }), ida.connectionId);
    const ev = await until(async () => { const e = await events(a); return e.some((x) => x.type === 'sessionReconnected') && e; }, { timeoutMs: 15_000, what: 'sessionReconnected' });
    expect(ev.findIndex((x) => x.type === 'sessionReconnecting')).toBeGreaterThanOrEqual(0);
    expect(ev.findIndex((x) => x.type === 'sessionReconnecting')).toBeLessThan(ev.findIndex((x) => x.type === 'sessionReconnected'));
    expect(ev.find((x) => x.type === 'sessionReconnected')!['connectionId']).toBe(ida.connectionId);
    await until(async () => (await a.evaluate(() => window.app.signals)).some((x) => x.data === 'while you were away'), { timeoutMs: 5000, what: 'signal sent during the cut' });
    expect((await events(b)).some((x) => x.type === 'connectionDestroyed' && x['connectionId'] === ida.connectionId)).toBe(false);
    await until(async () => { const s = await stats(a); return !!s && s.framesDecoded > f0 + 15; }, { timeoutMs: 10_000, what: 'media after reconnect' });
    // The connection still works for requests after the resume.
    expect(await a.evaluate(() => window.app.signal({ type: 'chat', data: 'back' }))).toBeNull();
    await until(async () => (await b.evaluate(() => window.app.signals)).some((x) => x.data === 'back'), { timeoutMs: 5000, what: 'signal after resume' });
  });

  it('forceDisconnect from the official SDK: B is disconnected with forceDisconnected, A sees connectionDestroyed', async () => {
    await call<void>((cb) => ot.forceDisconnect(sessionId, idb.connectionId, cb));
    await until(async () => (await events(b)).some((x) => x.type === 'sessionDisconnected' && x['reason'] === 'forceDisconnected'), { timeoutMs: 5000, what: 'B disconnected' });
    await until(async () => (await events(a)).some((x) => x.type === 'connectionDestroyed' && x['connectionId'] === idb.connectionId && x['reason'] === 'forceDisconnected'), { timeoutMs: 5000, what: 'A sees B leave' });
    await until(async () => (await events(a)).some((x) => x.type === 'streamDestroyed' && x['streamId'] === idb.streamId && x['reason'] === 'forceDisconnected'), { timeoutMs: 5000, what: 'A sees B stream end' });
    expect((await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb))).map((s) => s.id)).toEqual([ida.streamId]);
    await a.close();
    await b.close();
  });

  it('routed session: both pages publish to the media router and decode each other through it; force-mute stops forwarding', async () => {
    const routed = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const [p, q] = [await openAppPage(), await openAppPage()];
    const ip = await p.evaluate((o) => window.app.start(o), { apiKey, sessionId: routed, token: ot.generateToken(routed, { data: 'r=p' }), name: 'P' });
    await q.evaluate((o) => window.app.start(o), { apiKey, sessionId: routed, token: ot.generateToken(routed, { data: 'r=q' }), name: 'Q' });
    for (const page of [p, q]) {
      const first = await until(async () => { const x = await stats(page); return !!x && x.framesDecoded > 5 && x.audioBytes > 0 && x; }, { timeoutMs: 25_000, what: 'routed frames' });
      await until(async () => { const x = await stats(page); return !!x && x.framesDecoded > first!.framesDecoded + 10; }, { timeoutMs: 10_000, what: 'routed frames to keep coming' });
    }
    // Media really goes through the server: each publisher has one link (to the router), not one per subscriber.
    const links = await p.evaluate(async () => {
      const reports = await window.app.publisher!.getRtcStatsReport();
      let bytesSent = 0;
      reports[0]?.rtcStatsReport.forEach((r: { type: string; bytesSent?: number }) => {
        if (r.type === 'outbound-rtp') bytesSent += r.bytesSent ?? 0;
      });
      return { count: reports.length, subscriberId: reports[0]?.subscriberId, bytesSent };
    });
    expect(links).toMatchObject({ count: 1, subscriberId: '' });
    expect(links.bytesSent).toBeGreaterThan(0);
    const e0 = (await stats(q))!.audioEnergy;
    await sleep(1500);
    const e1 = (await stats(q))!.audioEnergy;
    expect(e1).toBeGreaterThan(e0);
    await call<void>((cb) => ot.forceMuteStream(routed, ip.streamId!, cb));
    await sleep(1000);
    const m0 = (await stats(q))!.audioEnergy;
    await sleep(2000);
    expect((await stats(q))!.audioEnergy - m0).toBeLessThan((e1 - e0) * 0.02);
    await p.close();
    await q.close();
    // Starts the media router's workers on first use; slow when the machine is busy.
  }, 60_000);

  it('the demo page: two tabs in one room see each other', async () => {
    const tabs = [await browser.newPage(), await browser.newPage()];
    for (const t of tabs) await t.goto(`${server.url}/demo?room=e2e`);
    const decoded = (t: Page) =>
      t.evaluate(async () => {
        const w = window as unknown as { demoSession?: { streams: Map<string, unknown>; getSubscribersForStream(s: unknown): { getRtcStatsReport(): Promise<RTCStatsReport> }[] } };
        if (!w.demoSession) return 0;
        let frames = 0;
        for (const s of w.demoSession.streams.values()) {
          for (const sub of w.demoSession.getSubscribersForStream(s)) {
            const report = await sub.getRtcStatsReport().catch(() => null);
            report?.forEach((r: { type: string; kind?: string; framesDecoded?: number }) => {
              if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded ?? 0;
            });
          }
        }
        return frames;
      });
    for (const t of tabs) await until(async () => (await decoded(t)) > 10, { timeoutMs: 20_000, what: 'demo tab to decode the other tab' });
    for (const t of tabs) expect(await t.locator('#videos video').count()).toBe(2);
    for (const t of tabs) await t.close();
  });
});
