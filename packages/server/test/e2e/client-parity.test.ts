/**
 * `@tokhost/client` against OpenTok.js 2.35's behaviour (issue #24), in headless Chromium: one app
 * page (the shared `app.html` fixture, which loads /js/tokhost.js from a real Tokhost server)
 * connects two Session objects to one relayed session, publishes on the first and subscribes on
 * the second, and checks the defects fixed and the members added with real media.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, hasChromium, launchChromium, OpenTok, openApp, SDK_BUILT, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokSdk } from '../kit/index.js';

/** Runs `body` (the text of an async function body) in the page; `window.t` keeps state between calls. */
const run = <T>(page: Page, body: string, arg: unknown = null): Promise<T> => page.evaluate(`(async (arg) => { let t = window.t; ${body} })(${JSON.stringify(arg)})`) as Promise<T>;

describe.skipIf(!hasChromium || !SDK_BUILT)('@tokhost/client parity with OpenTok.js (Chromium)', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let browser: Browser;
  let ot: OpenTokSdk;
  let sessionId: string;
  let page: Page;
  const consoleLines: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    appOrigin = await startAppOrigin();
    browser = await launchChromium();
    sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    page = await openApp(browser, appOrigin.url(server.url));
    page.on('console', (m) => consoleLines.push(`${m.type()} ${m.text()}`));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Session 1 publishes, session 2 (same page, another connection) subscribes.
    await run(
      page,
      `
      window.t = { exceptions: [], s1Events: [], s2Events: [], calls: 0 };
      t = window.t;
      OT.on('exception', (e) => t.exceptions.push({ code: e.code, title: e.title, message: e.message }));
      t.s1 = OT.initSession(arg.apiKey, arg.sessionId);
      t.s2 = OT.initSession(arg.apiKey, arg.sessionId);
      t.s1.on('streamPropertyChanged', (e) => t.s1Events.push({ type: e.type, own: e.stream === t.pub.stream, changedProperty: e.changedProperty, oldValue: e.oldValue, newValue: e.newValue }));
      t.s1.on('muteForced', (e) => t.s1Events.push({ type: e.type, active: e.active }));
      t.s1.on('muteForcedDisabled', (e) => t.s1Events.push({ type: e.type }));
      t.s2.on('streamCreated', (e) => { t.stream = e.stream; });
      await t.s1.connect.promise(arg.t1);
      await new Promise((res, rej) => t.s2.connect(arg.t2, (err) => (err ? rej(err) : res())));
      t.pub = await OT.initPublisher.promise(undefined, { insertMode: 'append', width: 160, height: 120, resolution: '320x240', frameRate: 15 });
      await t.s1.publish(t.pub, () => { t.calls++; throw new Error('an app bug in the publish callback'); });
      `,
      { apiKey, sessionId, t1: ot.generateToken(sessionId, { role: 'moderator' }), t2: ot.generateToken(sessionId) },
    );
  });
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await server?.close();
  });

  it('a publish callback that throws is called once, the stream stays published, the error is the app\'s (uncaught), no exception event', async () => {
    await until(() => run<boolean>(page, 'return !!t.pub.stream && t.calls > 0;'), { timeoutMs: 10_000, what: 'published' });
    await until(() => pageErrors.some((e) => e.includes('an app bug in the publish callback')), { timeoutMs: 5000, what: 'the app error to surface as uncaught' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await run<{ calls: number; exceptions: unknown[]; session: boolean }>(page, 'return { calls: t.calls, exceptions: t.exceptions, session: t.pub.session === t.s1 };')).toEqual({ calls: 1, exceptions: [], session: true });
    expect((await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb))).length).toBe(1);
  });

  it('videoElementCreated fires after subscribe() returns (insertDefaultUI: false), with the element that plays the stream', async () => {
    await until(() => run<boolean>(page, 'return !!t.stream;'), { timeoutMs: 10_000, what: 'streamCreated on session 2' });
    await run(
      page,
      `
      t.sub = t.s2.subscribe(t.stream, undefined, { insertDefaultUI: false });
      t.sub.on('videoElementCreated', (e) => { t.element = e.element; document.body.appendChild(e.element); });
      `,
    );
    const size = await until(() => run<[number, number] | null>(page, 'return t.element && t.element.videoWidth > 0 ? [t.element.videoWidth, t.element.videoHeight] : null;'), { timeoutMs: 15_000, what: 'the app-rendered element to play' });
    expect(size).toEqual([320, 240]);
    expect(await run(page, 'return [t.sub.videoWidth(), t.sub.videoHeight(), t.pub.videoWidth(), t.pub.videoHeight()];')).toEqual([320, 240, 320, 240]);
    expect(await run(page, 'return t.element instanceof HTMLVideoElement && document.querySelectorAll(".OT_subscriber").length;')).toBe(0);
  });

  it('OT.publishers, OT.subscribers and OT.sessions hold the live objects (find, where, get, has, length); widgets have OpenTok.js\'s .OT_widget-container', async () => {
    const r = await run<Record<string, unknown>>(
      page,
      `
      const p = OT.initPublisher(undefined, { insertDefaultUI: false, videoSource: null });
      const out = {
        firstSubscriber: OT.subscribers.find() === t.sub,
        subscriberByStream: OT.subscribers.where({ stream: t.stream }).length === 1 && OT.subscribers.get(t.sub.id) === t.sub,
        publisherByQuery: OT.publishers.find({ id: t.pub.id }) === t.pub && OT.publishers.find((x) => x === p) === p,
        session: OT.sessions.has(t.s1.sessionId) && OT.sessions.find({ sessionId: t.s1.sessionId }) instanceof OT.Session,
        publishersBefore: OT.publishers.length(),
        widget: t.pub.element.classList.contains('OT_root') && t.pub.element.querySelector('.OT_widget-container > video') !== null,
      };
      p.destroy();
      out.publishersAfter = OT.publishers.length();
      out.destroyedGone = OT.publishers.find((x) => x === p) === undefined;
      return out;
      `,
    );
    expect(r).toEqual({ firstSubscriber: true, subscriberByStream: true, publisherByQuery: true, session: true, publishersBefore: expect.any(Number), widget: true, publishersAfter: (r['publishersBefore'] as number) - 1, destroyedGone: true });
  });

  it('OT.on("exception") gets exceptions with OpenTok.js codes (publish before connect: 1010)', async () => {
    const r = await run<{ err: { name: string; code: number }; ot: { code: number; title: string }[] }>(
      page,
      `
      const s = OT.initSession(${JSON.stringify(apiKey)}, ${JSON.stringify(sessionId)});
      const p = OT.initPublisher(undefined, { insertDefaultUI: false, videoSource: null });
      const before = t.exceptions.length;
      const err = await new Promise((res) => s.publish(p, (e) => res({ name: e.name, code: e.code })));
      await new Promise((r) => setTimeout(r, 50));
      p.destroy();
      return { err, ot: t.exceptions.slice(before) };
      `,
    );
    expect(r.err).toEqual({ name: 'OT_NOT_CONNECTED', code: 1010 });
    expect(r.ot).toEqual([expect.objectContaining({ code: 1010, title: 'OT_NOT_CONNECTED' })]);
  });

  it('streamPropertyChanged fires on the own session for the own stream (publishVideo, publishAudio)', async () => {
    await run(page, 't.pub.publishVideo(false); await t.pub.publishAudio.promise(false); t.pub.publishVideo(true); t.pub.publishAudio(true);');
    const own = await run<{ changedProperty: string; newValue: unknown; own: boolean }[]>(page, 'return t.s1Events.filter((e) => e.type === "streamPropertyChanged");');
    expect(own.map((e) => [e.changedProperty, e.newValue, e.own])).toEqual([
      ['hasVideo', false, true],
      ['hasAudio', false, true],
      ['hasVideo', true, true],
      ['hasAudio', true, true],
    ]);
  });

  it('forceMuteAll then disableForceMute: muteForced with active true, then muteForced with active false (no muteForcedDisabled)', async () => {
    await run(page, 'await t.s1.forceMuteAll(); await t.s1.disableForceMute();');
    const ev = await until(async () => { const e = await run<{ type: string; active?: boolean }[]>(page, 'return t.s1Events.filter((e) => e.type.startsWith("muteForced"));'); return e.some((x) => x.active === false) && e; }, { timeoutMs: 5000, what: 'muteForced active:false' });
    expect(ev.map((e) => e.type)).not.toContain('muteForcedDisabled');
    expect(ev.map((e) => e.active)).toContain(true);
    expect(ev.at(-1)).toEqual({ type: 'muteForced', active: false });
    await run(page, 't.pub.publishAudio(true);');
  });

  it('getStats: Promise and callback forms with OpenTok.js\'s shapes', async () => {
    await until(() => run<boolean>(page, 'const s = await t.sub.getStats(); return s.video.packetsReceived > 20 && s.audio.packetsReceived > 20;'), { timeoutMs: 10_000, what: 'packets' });
    const r = await run<{ pub: { subscriberId: string; connectionId: string; stats: Record<string, Record<string, number>> }[]; viaCb: number; sub: { video: Record<string, unknown>; audio: Record<string, number>; timestamp: number } }>(
      page,
      `
      const pub = await t.pub.getStats();
      const viaCb = await new Promise((res) => t.pub.getStats((err, s) => res(err ? -1 : s.length)));
      const sub = await t.sub.getStats();
      return { pub, viaCb, sub };
      `,
    );
    expect(r.pub).toHaveLength(1);
    expect(r.viaCb).toBe(1);
    expect(r.pub[0]!.subscriberId).toEqual(expect.any(String));
    expect(r.pub[0]!.connectionId).toEqual(expect.any(String));
    const ps = r.pub[0]!.stats;
    for (const k of ['bytesSent', 'packetsSent', 'packetsLost'] as const) {
      expect(ps['audio']![k], `audio.${k}`).toEqual(expect.any(Number));
      expect(ps['video']![k], `video.${k}`).toEqual(expect.any(Number));
    }
    expect(ps['video']!['bytesSent']).toBeGreaterThan(1000);
    expect(ps['video']!['frameRate']).toEqual(expect.any(Number));
    expect(ps['transportStats']!['connectionEstimatedBandwidth']).toEqual(expect.any(Number));
    expect(r.sub.video).toMatchObject({ width: 320, height: 240, codec: expect.stringMatching(/^(VP8|VP9|H264|AV1)$/i) });
    expect(r.sub.video['bytesReceived']).toBeGreaterThan(1000);
    expect(r.sub.audio['packetsReceived']).toBeGreaterThan(20);
    expect(r.sub.timestamp).toBeGreaterThan(Date.now() - 60_000);
  });

  it('OT.setLogLevel decides what OT.error/warn/info/log/debug print; an unknown level falls back to WARN', async () => {
    const lines = () => consoleLines.filter((l) => l.includes('parity-log-'));
    await run(page, 'OT.setLogLevel(OT.DEBUG); OT.debug("parity-log-debug"); OT.log("parity-log-log"); OT.setLogLevel(OT.ERROR); OT.warn("parity-log-warn-hidden"); OT.error("parity-log-error"); OT.setLogLevel(OT.NONE); OT.error("parity-log-none-hidden");');
    await until(() => lines().length >= 3, { timeoutMs: 2000, what: 'console lines' });
    expect(lines().map((l) => l.split(' ').at(-1))).toEqual(['parity-log-debug', 'parity-log-log', 'parity-log-error']);
    expect(await run(page, 'return [OT.NONE, OT.ERROR, OT.WARN, OT.INFO, OT.LOG, OT.DEBUG, OT.SPAM, OT.setLogLevel(99)];')).toEqual([0, 1, 2, 3, 4, 5, 6, 2]);
  });

  it('audioLevelUpdated on the publisher and the subscriber (the fake microphone beeps)', async () => {
    await run(
      page,
      `
      t.levels = { pub: [], sub: [], t0: Date.now() };
      t.onPubLevel = (e) => t.levels.pub.push(e.audioLevel);
      t.onSubLevel = (e) => t.levels.sub.push(e.audioLevel);
      t.pub.on('audioLevelUpdated', t.onPubLevel);
      t.sub.on('audioLevelUpdated', t.onSubLevel);
      `,
    );
    // Every 60 ms while listened to; wait for a beep to show on both ends.
    const levels = await until(async () => { const l = await run<{ pub: number[]; sub: number[]; t0: number }>(page, 'return t.levels;'); return l.pub.length > 10 && l.sub.length > 10 && Math.max(...l.pub) > 0.01 && Math.max(...l.sub) > 0.001 && l; }, { timeoutMs: 15_000, what: 'audio levels from both ends' });
    await run(page, "t.pub.off('audioLevelUpdated', t.onPubLevel); t.sub.off('audioLevelUpdated', t.onSubLevel);");
    console.info(`[audioLevelUpdated] publisher ${levels.pub.length} events (max ${Math.max(...levels.pub).toFixed(3)}), subscriber ${levels.sub.length} (max ${Math.max(...levels.sub).toFixed(3)}) in ${Date.now() - levels.t0} ms`);
    for (const l of [...levels.pub, ...levels.sub]) expect(l).toBeGreaterThanOrEqual(0), expect(l).toBeLessThanOrEqual(1);
    // No listener, no events.
    const after = await run<number>(page, 'const n = t.levels.pub.length; await new Promise((r) => setTimeout(r, 300)); return t.levels.pub.length - n;');
    expect(after).toBe(0);
  });

  /** Mean colour of the subscriber's current frame, read from `getImgData()`. */
  const subscriberColour = () =>
    run<[number, number, number] | null>(
      page,
      `
      const b64 = t.sub.getImgData();
      if (!b64) return null;
      const img = new Image();
      img.src = 'data:image/png;base64,' + b64;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width; c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const m = [0, 0, 0];
      for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
      const n = d.length / 4;
      return m.map((x) => Math.round(x / n));
      `,
    );
  const isColour = (want: [number, number, number]) => async () => {
    const c = await subscriberColour();
    return !!c && c.every((v, i) => Math.abs(v - want[i]!) < 40) && c;
  };

  it('setVideoSource(track) switches what the subscriber decodes without renegotiating; setVideoMediaProcessorConnector runs an Insertable Streams processor', async () => {
    await run(
      page,
      `
      const c = document.createElement('canvas'); c.width = 320; c.height = 240;
      const g = c.getContext('2d');
      t.paint = setInterval(() => { g.fillStyle = 'rgb(220,30,30)'; g.fillRect(0, 0, 320, 240); }, 30);
      t.canvasTrack = c.captureStream(15).getVideoTracks()[0];
      await t.pub.setVideoSource(t.canvasTrack);
      `,
    );
    await until(isColour([220, 30, 30]), { timeoutMs: 10_000, what: 'the subscriber to decode the red canvas' });
    expect(await run(page, 'return OT.hasMediaProcessorSupport() && await OT.hasMediaProcessorSupport.promise("video");')).toBe(true);
    // A connector as @vonage/media-processor builds them: MediaStreamTrackProcessor → transform → generator.
    await run(
      page,
      `
      t.connector = {
        destroyed: false,
        async setTrack(track) {
          const processor = new MediaStreamTrackProcessor({ track });
          const generator = new MediaStreamTrackGenerator({ kind: 'video' });
          const canvas = new OffscreenCanvas(320, 240);
          const g = canvas.getContext('2d');
          processor.readable.pipeThrough(new TransformStream({
            transform(frame, controller) {
              g.fillStyle = 'rgb(30,200,40)'; g.fillRect(0, 0, 320, 240);
              const out = new VideoFrame(canvas, { timestamp: frame.timestamp });
              frame.close();
              controller.enqueue(out);
            },
          })).pipeTo(generator.writable).catch(() => {});
          return generator;
        },
        async destroy() { this.destroyed = true; },
      };
      await t.pub.setVideoMediaProcessorConnector(t.connector);
      `,
    );
    await until(isColour([30, 200, 40]), { timeoutMs: 10_000, what: 'the processed (green) video at the subscriber' });
    await run(page, 'await t.pub.setVideoMediaProcessorConnector(null);');
    await until(isColour([220, 30, 30]), { timeoutMs: 10_000, what: 'the unprocessed video back' });
    expect(await run(page, 'return t.connector.destroyed;')).toBe(true);
    const bad = await run<{ name: string; code: number }>(page, 'try { await t.pub.setVideoMediaProcessorConnector({}); return null; } catch (e) { return { name: e.name, code: e.code }; }');
    expect(bad).toEqual({ name: 'OT_INVALID_PARAMETER', code: 1011 });
  }, 60_000);

  it('setVideoSource(deviceId) and cycleVideo() go back to a camera; bad sources are refused with OpenTok.js errors', async () => {
    const cam = await run<string>(page, 'const d = await OT.getDevices(); return d.find((x) => x.kind === "videoInput").deviceId;');
    await run(page, 'await t.pub.setVideoSource(arg); clearInterval(t.paint);', cam);
    expect(await run(page, 'return t.pub.getVideoSource().deviceId;')).toBe(cam);
    await until(async () => { const c = await subscriberColour(); return !!c && !(c[0] > 180 && c[1] < 70); }, { timeoutMs: 20_000, what: 'the camera picture back at the subscriber' });
    expect(await run(page, 'return (await t.pub.cycleVideo()).deviceId;')).toBe(cam);
    expect(await run(page, 'try { await t.pub.setVideoSource("no-such-camera"); } catch (e) { return [e.name, e.code]; }')).toEqual(['OT_INVALID_VIDEO_SOURCE', 1041]);
    expect(await run(page, 'try { await t.pub.setAudioSource(42); } catch (e) { return [e.name, e.code]; }')).toEqual(['OT_INVALID_PARAMETER', 1011]);
  }, 60_000);

  it('setAudioSource(track) replaces the microphone: the subscriber receives the new audio', async () => {
    const level = await run<number>(
      page,
      `
      const ctx = new AudioContext();
      const osc = ctx.createOscillator(); osc.frequency.value = 440;
      const dst = ctx.createMediaStreamDestination();
      osc.connect(dst); osc.start();
      t.osc = osc;
      await t.pub.setAudioSource(dst.stream.getAudioTracks()[0]);
      if (t.pub.getAudioSource() !== dst.stream.getAudioTracks()[0]) return -1;
      // A continuous tone: the level stays high between the fake microphone's beeps.
      await new Promise((r) => setTimeout(r, 1500));
      const levels = [];
      for (let i = 0; i < 10; i++) { levels.push(await t.sub.getRtcStatsReport()); await new Promise((r) => setTimeout(r, 100)); }
      let min = 1;
      for (const r of levels) r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') min = Math.min(min, s.audioLevel ?? 0); });
      return min;
      `,
    );
    expect(level).toBeGreaterThan(0.05);
  });

  it('OT.getUserMedia, audio output devices, reportIssue, Promise forms of subscribe/publish', async () => {
    const r = await run<Record<string, unknown>>(
      page,
      `
      const ms = await OT.getUserMedia({ resolution: '320x240', audioSource: null });
      const gum = [ms.getVideoTracks().length, ms.getAudioTracks().length];
      ms.getTracks().forEach((x) => x.stop());
      const outputs = await OT.getAudioOutputDevices();
      const active = await OT.getActiveAudioOutputDevice();
      let badOutput;
      try { await OT.setAudioOutputDevice('no-such-output'); } catch (e) { badOutput = [e.name]; }
      const id = await OT.reportIssue();
      const viaCb = await new Promise((res) => OT.reportIssue((err, x) => res(!err && typeof x === 'string')));
      const s3 = await OT.initSession(arg.apiKey, arg.sessionId).connect.promise(arg.token);
      const stream = [...s3.streams.values()][0];
      const sub2 = await s3.subscribe.promise(stream, undefined, { insertDefaultUI: false, subscribeToVideo: false });
      await s3.disconnect();
      const p2 = await t.s1.publish.promise(OT.initPublisher(undefined, { insertDefaultUI: false, videoSource: null }));
      const streamId = p2.stream.streamId;
      t.s1.unpublish(p2);
      return { gum, outputs: Array.isArray(outputs), active: 'deviceId' in active, badOutput, id: typeof id, viaCb, sub2: sub2 instanceof OT.Subscriber, streamId: typeof streamId };
      `,
      { apiKey, sessionId, token: ot.generateToken(sessionId) },
    );
    expect(r).toEqual({ gum: [1, 0], outputs: true, active: true, badOutput: [expect.stringMatching(/^OT_(INVALID_AUDIO_OUTPUT_SOURCE|UNSUPPORTED_BROWSER)$/)], id: 'string', viaCb: true, sub2: true, streamId: 'string' });
  });

  it('every member api-status.json calls supported or partial exists on the live OT, Session, Publisher, Subscriber, Stream and Connection', async () => {
    const file = join(dirname(createRequire(import.meta.url).resolve('@tokhost/client/tokhost.js')), '..', 'api-status.json');
    const members = (JSON.parse(readFileSync(file, 'utf8')) as { members: { area: string; name: string; kind: string; status: string }[] }).members;
    const wanted = members.filter((m) => m.status !== 'unsupported' && ['OT', 'Session', 'Publisher', 'Subscriber', 'Stream', 'Connection'].includes(m.area));
    expect(wanted.length).toBeGreaterThan(100);
    const missing = await run<string[]>(
      page,
      `
      const objects = { OT, Session: t.s1, Publisher: t.pub, Subscriber: t.sub, Stream: t.stream, Connection: t.s1.connection };
      return arg.filter((m) => {
        let v = objects[m.area];
        for (const part of m.name.split('.')) v = v == null ? undefined : v[part];
        return m.kind === 'method' || m.kind === 'function' ? typeof v !== 'function' : v === undefined && !(m.name in objects[m.area]);
      }).map((m) => m.area + '.' + m.name);
      `,
      wanted,
    );
    expect(missing).toEqual([]);
  });

  it('enableStereo: a stereo source reaches the subscriber as two different channels', async () => {
    const r = await run<{ left: number; right: number; channels: number; fmtp: boolean }>(
      page,
      `
      // Left: a 440 Hz tone; right: silence.
      const ctx = new AudioContext();
      const osc = ctx.createOscillator(); osc.frequency.value = 440;
      const merger = ctx.createChannelMerger(2);
      osc.connect(merger, 0, 0);
      const dst = ctx.createMediaStreamDestination();
      dst.channelCount = 2;
      merger.connect(dst); osc.start();
      const s3 = await OT.initSession(arg.apiKey, arg.sessionId).connect.promise(arg.token);
      const pub = await OT.initPublisher.promise(undefined, { insertDefaultUI: false, videoSource: null, audioSource: dst.stream.getAudioTracks()[0], enableStereo: true, audioBitrate: 128000 });
      await s3.publish.promise(pub);

      const sid = pub.stream.streamId;
      const stream = await new Promise((res) => { const f = () => { const x = t.s2.streams.get(sid); x ? res(x) : setTimeout(f, 50); }; f(); });
      const sub = await t.s2.subscribe.promise(stream, undefined, { insertDefaultUI: false });

      const reports = await pub.getRtcStatsReport();
      let fmtp = false;
      reports[0].rtcStatsReport.forEach((x) => { if (x.type === 'codec' && /opus/i.test(x.mimeType) && /stereo=1/.test(x.sdpFmtpLine || '')) fmtp = true; });
      const el = await new Promise((res) => { if (sub.element) res(sub.element.querySelector('video')); sub.on('videoElementCreated', (e) => res(e.element)); });
      // Chromium feeds a remote track to Web Audio only while a media element plays it.
      el.muted = true; document.body.appendChild(el); void el.play().catch(() => {});
      const rx = new AudioContext();
      const src = rx.createMediaStreamSource(el.srcObject);
      const split = rx.createChannelSplitter(2);
      src.connect(split);
      const an = [rx.createAnalyser(), rx.createAnalyser()];
      split.connect(an[0], 0); split.connect(an[1], 1);
      const sum = [0, 0];
      const buf = new Float32Array(2048);
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 100));
        for (const c of [0, 1]) { an[c].getFloatTimeDomainData(buf); let e = 0; for (const v of buf) e += v * v; sum[c] += e; }
      }
      const channels = src.channelCount;
      await s3.disconnect();
      osc.stop();
      return { left: sum[0], right: sum[1], channels, fmtp };
      `,
      { apiKey, sessionId, token: ot.generateToken(sessionId) },
    );
    console.info(`[stereo] received energy left ${r.left.toFixed(2)}, right ${r.right.toFixed(4)}; sender fmtp stereo=1: ${r.fmtp}`);
    expect(r.fmtp).toBe(true);
    expect(r.left).toBeGreaterThan(1);
    expect(r.right).toBeLessThan(r.left / 20);
  }, 60_000);
});
