/**
 * Routed media end to end through `createServer` and the browser SDK (`@tokhost/client` served at
 * /js/tokhost.js), in headless Chromium with the fixture app page (`fixtures/app.html`):
 *
 * - acceptance 3: the same moderation/signalling body in a relayed and a routed session
 *   (official `opentok` SDK: listStreams, signal, forceMuteStream, forceDisconnect);
 * - acceptance 1 and 2: one publisher, three subscribers through the router (one upstream, a late
 *   subscriber's first frame), /metrics during the call, and the audio fallback on one
 *   subscriber driven by the router's loss hook (`server.mediaRouterForTesting()`).
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, hasChromium, launchChromium, OpenTok, openApp as openAppPage, SDK_BUILT, sleep, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, AppStats, OpenTokSdk } from '../kit/index.js';

const stats = async (p: Page): Promise<AppStats> => (await p.evaluate(() => window.app.stats())) ?? { framesDecoded: 0, audioEnergy: 0, audioBytes: 0, audioLevel: 0 };
const events = (p: Page) => p.evaluate(() => window.app.events);

describe.skipIf(!hasChromium || !SDK_BUILT)('routed media through createServer and the browser SDK', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let appUrl: string;
  let browser: Browser;
  let ot: OpenTokSdk;

  beforeAll(async () => {
    // metricsSessionLabels: the /metrics check below reads this call's per-session figures.
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret, mediaWorkers: 1, metricsSessionLabels: true });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    appOrigin = await startAppOrigin();
    appUrl = appOrigin.url(server.url);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await server?.close();
  });

  const openApp = () => openAppPage(browser, appUrl);
  const start = (p: Page, sessionId: string, name: string, publish = true) =>
    p.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'moderator', data: `n=${name}` }), name, publish });

  describe.each(['relayed', 'routed'] as const)('acceptance 3 (%s): the official SDK drives the session the same way', (mode) => {
    it('listStreams names, signal to the pages, forceMuteStream stops received audio, forceDisconnect', async () => {
      const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: mode }, cb))).sessionId;
      const [a, b] = [await openApp(), await openApp()];
      try {
        const ida = await start(a, sessionId, 'Alice');
        const idb = await start(b, sessionId, 'Bob');
        for (const p of [a, b]) await until(async () => { const s = await stats(p); return s.framesDecoded > 5 && s.audioBytes > 0; }, { timeoutMs: 25_000, what: `${mode}: first frames` });

        const streams = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
        expect(streams.map((s) => s.name).sort()).toEqual(['Alice', 'Bob']);
        expect(streams.map((s) => s.id).sort()).toEqual([ida.streamId, idb.streamId].sort());

        await call<void>((cb) => ot.signal(sessionId, null, { type: 'all', data: `to everyone (${mode})` }, cb));
        await call<void>((cb) => ot.signal(sessionId, idb.connectionId, { type: 'one', data: 'to Bob only' }, cb));
        for (const p of [a, b]) {
          await until(async () => (await p.evaluate(() => window.app.signals)).some((x) => x.type === 'signal:all' && x.data === `to everyone (${mode})` && x.from === null), { timeoutMs: 5000, what: 'REST signal' });
        }
        await until(async () => (await b.evaluate(() => window.app.signals)).some((x) => x.type === 'signal:one' && x.data === 'to Bob only'), { timeoutMs: 5000, what: 'REST signal to one' });
        expect((await a.evaluate(() => window.app.signals)).some((x) => x.type === 'signal:one')).toBe(false);

        // Force-mute Alice: the audio energy Bob receives stops rising (relayed: Alice's SDK
        // mutes its track; routed: the router also stops forwarding her audio).
        const e0 = (await stats(b)).audioEnergy;
        await sleep(2000);
        const e1 = (await stats(b)).audioEnergy;
        expect(e1).toBeGreaterThan(e0);
        await call<void>((cb) => ot.forceMuteStream(sessionId, ida.streamId!, cb));
        await until(async () => (await events(a)).some((e) => e.type === 'muteForced'), { timeoutMs: 5000, what: 'muteForced on Alice' });
        await sleep(1000);
        const m0 = (await stats(b)).audioEnergy;
        await sleep(2500);
        const m1 = (await stats(b)).audioEnergy;
        console.info(`[acceptance 3, ${mode}] Bob's received audio energy: +${(e1 - e0).toFixed(4)} in 2 s before force-mute, +${(m1 - m0).toFixed(6)} in 2.5 s after`);
        expect(m1 - m0).toBeLessThan((e1 - e0) * 0.02);
        // Alice still hears Bob.
        const x0 = (await stats(a)).audioEnergy;
        await sleep(1500);
        expect((await stats(a)).audioEnergy).toBeGreaterThan(x0);

        await call<void>((cb) => ot.forceDisconnect(sessionId, idb.connectionId, cb));
        await until(async () => (await events(b)).some((x) => x.type === 'sessionDisconnected' && x['reason'] === 'forceDisconnected'), { timeoutMs: 5000, what: 'Bob disconnected' });
        await until(async () => (await events(a)).some((x) => x.type === 'connectionDestroyed' && x['connectionId'] === idb.connectionId && x['reason'] === 'forceDisconnected'), { timeoutMs: 5000, what: 'Alice sees Bob leave' });
        expect((await call<{ name: string }[]>((cb) => ot.listStreams(sessionId, cb))).map((s) => s.name)).toEqual(['Alice']);
      } finally {
        await a.close();
        await b.close();
      }
    }, 60_000);
  });

  it('acceptance 1+2: one publisher, three subscribers through the router; /metrics; audio fallback on one subscriber', async () => {
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const pub = await openApp();
    const subs: Page[] = [];
    const videoOut = () =>
      pub.evaluate(async () => {
        const reports = await window.app.publisher!.getRtcStatsReport();
        let count = 0;
        let bytes = 0;
        for (const r of reports)
          r.rtcStatsReport.forEach((s: { type: string; kind?: string; bytesSent?: number }) => {
            if (s.type === 'outbound-rtp' && s.kind === 'video') {
              count++;
              bytes += s.bytesSent ?? 0;
            }
          });
        return { links: reports.length, count, bytes, t: performance.now() };
      });
    const bitrate = async (ms: number) => {
      const x = await videoOut();
      await sleep(ms);
      const y = await videoOut();
      return { ...y, kbps: ((y.bytes - x.bytes) * 8) / (y.t - x.t) };
    };
    try {
      const ip = await start(pub, sessionId, 'Pub');
      let with1 = { kbps: 0 };
      for (let i = 0; i < 2; i++) {
        if (i === 1) with1 = await bitrate(3000);
        const p = await openApp();
        subs.push(p);
        await start(p, sessionId, `Sub${i + 1}`, false);
        await until(async () => { const s = await stats(p); return s.framesDecoded > 10 && s.audioBytes > 0; }, { timeoutMs: 25_000, what: 'subscriber frames' });
      }

      // The late (third) subscriber: time from subscribe() to its first decoded frame.
      const late = await openApp();
      subs.push(late);
      await start(late, sessionId, 'Sub3', false);
      const first = await until(async () => { const ev = await events(late); return ev.some((e) => e.type === 'firstFrame') && ev; }, { timeoutMs: 15_000, what: 'late subscriber first frame' });
      const firstFrameMs = Number(first.find((e) => e.type === 'firstFrame')!['ms']);
      for (const p of subs) {
        const s0 = await stats(p);
        const s1 = await until(async () => { const s = await stats(p); return s.framesDecoded > s0.framesDecoded + 10 && s.audioBytes > s0.audioBytes && s.audioEnergy > s0.audioEnergy && s; }, { timeoutMs: 10_000, what: 'video and audio on every subscriber' });
        expect(s1.framesDecoded).toBeGreaterThan(s0.framesDecoded);
      }
      await sleep(1000);
      const with3 = await bitrate(3000);
      console.info(`[acceptance 1] publisher video upstream: ${with1.kbps.toFixed(0)} kbit/s with 1 subscriber, ${with3.kbps.toFixed(0)} kbit/s with 3; outbound-rtp video entries ${with3.count}; late subscriber's first frame ${firstFrameMs} ms after subscribe()`);
      expect(with3).toMatchObject({ links: 1, count: 1 });
      expect(with3.kbps).toBeGreaterThan(0);
      // One upstream whatever the fan-out: 3 subscribers must not cost ~3x one subscriber's upload.
      expect(with3.kbps).toBeLessThan(with1.kbps * 2);
      expect(firstFrameMs).toBeLessThan(1500);

      // /metrics: the realtime and router counters of this call.
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const value = (name: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name}{session="${sessionId}"`));
        return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      const m = {
        streams: value('tokhost_realtime_session_streams'),
        connections: value('tokhost_realtime_session_connections'),
        publishers: value('tokhost_media_session_publishers'),
        subscribers: value('tokhost_media_session_subscribers'),
        pps: value('tokhost_media_session_forwarded_packets_per_second'),
        bps: value('tokhost_media_session_forwarded_bits_per_second'),
      };
      console.info(`[/metrics] session: ${m.connections} connections, ${m.streams} stream, ${m.publishers} publisher, ${m.subscribers} subscribers, ${m.pps} packets/s, ${m.bps} bit/s forwarded`);
      expect(m).toMatchObject({ streams: 1, connections: 4, publishers: 1, subscribers: 3 });
      expect(m.pps).toBeGreaterThan(0);
      expect(m.bps).toBeGreaterThan(0);
      expect(text).toMatch(/^tokhost_media_worker_forwarded_packets_per_second\{worker="0",pid="\d+"\} [1-9]/m);

      // Audio fallback: 30 % loss on the first subscriber's leg only.
      const [lossy, ...others] = subs as [Page, Page, Page];
      const subscriberId = await lossy.evaluate(() => window.app.subscribers[0]!.subscriberId!);
      const room = await (await server.mediaRouterForTesting()!).room(sessionId);
      // A short burst: the warning comes, the loss stops before video would stop, the warning is lifted.
      const w0 = Date.now();
      await room.setSubscriberLoss(subscriberId, 0.3);
      await until(async () => (await events(lossy)).some((x) => x.type === 'subscriber:videoDisableWarning'), { timeoutMs: 15_000, what: 'videoDisableWarning on the lossy subscriber' });
      const warnedMs = Date.now() - w0;
      await room.setSubscriberLoss(subscriberId, 0);
      const evw = await until(async () => { const e = await events(lossy); return e.some((x) => x.type === 'subscriber:videoDisableWarningLifted') && e; }, { timeoutMs: 15_000, what: 'videoDisableWarningLifted' });
      console.info(`[audio fallback] videoDisableWarning ${warnedMs} ms after 30 % loss; loss stopped at once: videoDisableWarningLifted ${Date.now() - w0} ms after the burst began`);
      expect(evw.some((x) => x.type === 'subscriber:videoDisabled')).toBe(false);
      await sleep(1000);
      // Sustained loss: video stops for this subscriber only.
      const t0 = Date.now();
      await room.setSubscriberLoss(subscriberId, 0.3);
      const ev = await until(async () => { const e = await events(lossy); return e.some((x) => x.type === 'subscriber:videoDisabled') && e; }, { timeoutMs: 25_000, what: 'videoDisabled on the lossy subscriber' });
      const disabledMs = Date.now() - t0;
      expect(ev.find((x) => x.type === 'subscriber:videoDisabled')!['reason']).toBe('quality');
      // The second warning (after the lifted one) comes before videoDisabled.
      expect(ev.filter((x) => x.type === 'subscriber:videoDisableWarning')).toHaveLength(2);
      expect(ev.findLastIndex((x) => x.type === 'subscriber:videoDisableWarning')).toBeLessThan(ev.findIndex((x) => x.type === 'subscriber:videoDisabled'));
      await sleep(1500);
      const l0 = await stats(lossy);
      const o0 = await Promise.all(others.map(stats));
      await sleep(3000);
      const l1 = await stats(lossy);
      const o1 = await Promise.all(others.map(stats));
      console.info(`[audio fallback] videoDisabled ${disabledMs} ms after 30 % loss; in 3 s after: lossy subscriber +${l1.framesDecoded - l0.framesDecoded} frames, +${l1.audioBytes - l0.audioBytes} audio bytes; others +${o1.map((s, i) => s.framesDecoded - o0[i]!.framesDecoded).join('/')} frames`);
      expect(l1.framesDecoded - l0.framesDecoded).toBeLessThan(3);
      expect(l1.audioBytes).toBeGreaterThan(l0.audioBytes);
      for (let i = 0; i < others.length; i++) expect(o1[i]!.framesDecoded - o0[i]!.framesDecoded).toBeGreaterThan(15);
      for (const p of others) expect((await events(p)).some((x) => x.type === 'subscriber:videoDisabled')).toBe(false);

      const t1 = Date.now();
      await room.setSubscriberLoss(subscriberId, 0);
      const ev2 = await until(async () => { const e = await events(lossy); return e.some((x) => x.type === 'subscriber:videoEnabled') && e; }, { timeoutMs: 30_000, what: 'videoEnabled after the loss stops' });
      const enabledMs = Date.now() - t1;
      expect(ev2.find((x) => x.type === 'subscriber:videoEnabled')!['reason']).toBe('quality');
      const r0 = await stats(lossy);
      await until(async () => (await stats(lossy)).framesDecoded > r0.framesDecoded + 10, { timeoutMs: 10_000, what: 'video back on the lossy subscriber' });
      console.info(`[audio fallback] videoEnabled (reason quality) ${enabledMs} ms after the loss stopped; frames flow again`);
      expect(ip.streamId).toBeTruthy();
    } finally {
      await pub.close();
      for (const p of subs) await p.close();
    }
  }, 120_000);
});
