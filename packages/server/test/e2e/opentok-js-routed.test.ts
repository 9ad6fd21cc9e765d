/**
 * The official OpenTok.js (npm `@opentok/client`, unmodified) in ROUTED sessions: its media goes
 * through Tokhost's media router (issue #21). One Chromium and one server for the file.
 *
 * Two OpenTok.js pages publish canvases (blue, green) and one `@tokhost/client` page publishes the
 * browser's fake camera (red, with a 440 Hz tone); every page must decode the other two pictures
 * and get their audio. Then force mute from the official `opentok` SDK: the muted OpenTok.js
 * publisher gets muteForced and its audio energy stops growing at a subscriber. Then, on the same
 * pages: an archive (events, frame colours); the audio fallback on a lossy path to one OpenTok.js
 * subscriber (the router's loss hook); a broadcast's HLS played by hls.js, with
 * `setStreamClassLists` moving the focus box between OpenTok.js streams. Last, in a session of its
 * own, `dial` to baresip: each end hears the other.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { colourName, ffprobe, frameAt, meanColour } from '../recording/media-check.js';
import { freePort } from './sip-peers.js';
import { call, fakeCamera, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startOpenTokJsOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokJsOrigin, OpenTokSdk, OtjsEvent, Rgb } from '../kit/index.js';

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const GREEN: Rgb = [0, 255, 0];
/** Whether a decoded mean colour is `want` within codec error. */
const near = (got: Rgb | null | undefined, want: Rgb) => !!got && got.every((c, i) => Math.abs(c - want[i]!) < 60);
/** Time for a test that opens pages: loading the 5 MB OpenTok.js on a busy 2-core machine takes seconds. */
const PAGES_MS = 150_000;

interface ArchiveLike {
  id: string;
  status: string;
  url: string | null;
  reason: string;
}
interface BroadcastLike {
  id: string;
  status: string;
  broadcastUrls: null | { hls?: string; hlsStatus?: string };
}
type OtArchives = OpenTokSdk & {
  startBroadcast(sessionId: string, options: Record<string, unknown>, cb: (err: Error | null, b?: BroadcastLike) => void): void;
  getBroadcast(id: string, cb: (err: Error | null, b?: BroadcastLike) => void): void;
  stopBroadcast(id: string, cb: (err: Error | null, b?: BroadcastLike) => void): void;
  setStreamClassLists(sessionId: string, classLists: { id: string; layoutClassList: string[] }[], cb: (err: Error | null) => void): void;
  dial(sessionId: string, token: string, uri: string, options: Record<string, unknown>, cb: (err: Error | null, c?: { id: string; connectionId: string; streamId: string }) => void): void;
  startArchive(sessionId: string, options: Record<string, unknown>, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  stopArchive(id: string, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  getArchive(id: string, cb: (err: Error | null, a?: ArchiveLike) => void): void;
};

type Ids = { connectionId: string; streamId: string | null };

const events = (p: Page) => p.evaluate(() => window.otjs.events);
const look = (p: Page, streamId: string) => p.evaluate((id) => window.otjs.look(id), streamId);
const waitEvent = (p: Page, what: string, pred: (e: OtjsEvent) => boolean, timeoutMs = 10_000) => until(async () => (await events(p)).find(pred), { timeoutMs, what });

/** OpenTok.js page `p` decodes `streamId` as colour `want`, frames keep coming, and audio plays. */
async function decodes(p: Page, streamId: string, want: Rgb): Promise<void> {
  const first = await until(async () => { const l = await look(p, streamId); return !!l && l.framesDecoded > 5 && near(l.rgb, want) && l; }, { timeoutMs: 30_000, what: `frames of ${streamId} in rgb(${want.join(',')})` });
  await until(async () => { const l = await look(p, streamId); return !!l && l.framesDecoded > first.framesDecoded + 10; }, { timeoutMs: 10_000, what: `frames of ${streamId} to keep coming` });
  const a0 = (await look(p, streamId))!;
  await until(async () => { const l = await look(p, streamId); return !!l && l.audioBytes > a0.audioBytes && l.audioEnergy > a0.audioEnergy && l; }, { timeoutMs: 10_000, what: `audio of ${streamId} to play` });
}

/**
 * The audio energy `p` receives of `streamId` over 2.5 s once it has fallen below `before / 20`
 * (the mute travels through the server and the media router: bounded wait, 15 s).
 */
async function energyFalls(p: Page, streamId: string, before: number): Promise<number> {
  const got = await until(async () => { const e = await energyOver(p, streamId); return e < before / 20 && { e }; }, { timeoutMs: 15_000, what: `audio energy of ${streamId} below ${(before / 20).toExponential(2)} per 2.5 s` });
  return got.e;
}

/** The audio energy `p` receives of `streamId` over `ms` (OpenTok.js page). */
async function energyOver(p: Page, streamId: string, ms = 2500): Promise<number> {
  const a = (await look(p, streamId))!.audioEnergy;
  await sleep(ms);
  return (await look(p, streamId))!.audioEnergy - a;
}

/** What the `@tokhost/client` page decodes: each subscriber's mean picture colour and audio bytes. */
function tokhostLooks(p: Page): Promise<{ rgb: Rgb | null; frames: number; audioBytes: number }[]> {
  return p.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 160;
    canvas.height = 120;
    const g = canvas.getContext('2d', { willReadFrequently: true })!;
    const out: { rgb: [number, number, number] | null; frames: number; audioBytes: number }[] = [];
    for (const sub of window.app.subscribers) {
      const el = (sub as unknown as { element?: HTMLElement }).element;
      const v = el?.querySelector('video') ?? (el instanceof HTMLVideoElement ? el : null);
      let rgb: [number, number, number] | null = null;
      let frames = 0;
      if (v && v.videoWidth > 0) {
        frames = v.getVideoPlaybackQuality().totalVideoFrames;
        g.drawImage(v, 0, 0, 160, 120);
        const d = g.getImageData(40, 30, 80, 60).data;
        const m = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) { m[0]! += d[i]!; m[1]! += d[i + 1]!; m[2]! += d[i + 2]!; }
        rgb = m.map((x) => Math.round(x / (d.length / 4))) as [number, number, number];
      }
      let audioBytes = 0;
      const r = await sub.getRtcStatsReport().catch(() => null);
      r?.forEach((x: { type: string; kind?: string; bytesReceived?: number }) => { if (x.type === 'inbound-rtp' && x.kind === 'audio') audioBytes = x.bytesReceived ?? 0; });
      out.push({ rgb, frames, audioBytes });
    }
    return out;
  });
}

/**
 * The RMS level (0..1) of the 16-bit PCM a WAV file being written holds after byte `from`, and
 * where it ends: baresip's sndfile module records what the far end decodes as it goes.
 */
function wavLevel(file: string, from: number): { rms: number; end: number } {
  const buf = readFileSync(file);
  const data = buf.indexOf('data', 12, 'latin1');
  const start = Math.max(from, data + 8);
  const end = start + Math.floor((buf.length - start) / 2) * 2;
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (buf.readInt16LE(i) / 32768) ** 2;
  return { rms: Math.sqrt(sum / Math.max(1, (end - start) / 2)), end };
}

describe.skipIf(!hasChromium || !SDK_BUILT || !hasCommands('ffmpeg', 'ffprobe'))('OpenTok.js (unmodified, from npm) in routed sessions', () => {
  const apiKey = '4' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let dir: string;
  let server: TokhostServer;
  let ot: OtArchives;
  let otjsOrigin: OpenTokJsOrigin;
  let appOrigin: AppOrigin;
  let browser: Browser;
  let context: BrowserContext;

  async function openOtjs(): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error('[page error]', err.message));
    await page.goto(otjsOrigin.url(server.url));
    await page.waitForFunction(() => window.sdkLoaded === true, undefined, { timeout: 15_000 });
    return page;
  }
  const start = (p: Page, o: Parameters<Window['otjs']['start']>[0]) => p.evaluate((x) => window.otjs.start(x), o);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-otjs-routed-'));
    server = await startServer({ apiKey, apiSecret, outboundAllow: ['127.0.0.0/8'], mediaWorkers: 1, dataDir: join(dir, 'data'), sipPort: 0 });
    ot = new OpenTok(apiKey, apiSecret, server.url) as OtArchives;
    otjsOrigin = await startOpenTokJsOrigin();
    appOrigin = await startAppOrigin();
    browser = await launchChromium(fakeCamera(dir, 'red', { toneHz: 440, size: '320x240' }));
    context = await browser.newContext();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await otjsOrigin?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('(1) two OpenTok.js pages and one @tokhost/client page through the media router', () => {
    let sessionId: string;
    let a: Page;
    let b: Page;
    let c: Page;
    let ida: Ids;
    let idb: Ids;
    let idc: Ids;

    it('every page decodes the other two pictures and gets their audio; listStreams shows the three streams', async () => {
      sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
      a = await openOtjs();
      b = await openOtjs();
      c = await openApp(browser, appOrigin.url(server.url));
      ida = await start(a, { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'moderator', data: 'user=a' }), name: 'Alice', rgb: BLUE });
      idb = await start(b, { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'publisher', data: 'user=b' }), name: 'Bob', rgb: GREEN });
      idc = await c.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'publisher', data: 'user=c' }), name: 'Carol' });

      await decodes(a, idb.streamId!, GREEN);
      await decodes(a, idc.streamId!, RED);
      await decodes(b, ida.streamId!, BLUE);
      await decodes(b, idc.streamId!, RED);

      const seen = await until(
        async () => {
          const looks = await tokhostLooks(c);
          return looks.length === 2 && looks.some((l) => near(l.rgb, BLUE) && l.frames > 5) && looks.some((l) => near(l.rgb, GREEN) && l.frames > 5) && looks;
        },
        { timeoutMs: 30_000, what: 'the @tokhost/client page to decode blue and green' },
      );
      await until(async () => { const now = await tokhostLooks(c); return now.every((l, i) => l.audioBytes > seen[i]!.audioBytes); }, { timeoutMs: 10_000, what: 'audio of both OpenTok.js streams at the @tokhost/client page' });

      const streams = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
      expect(streams.map((s) => s.id).sort()).toEqual([ida.streamId, idb.streamId, idc.streamId].sort());
      expect(streams.map((s) => s.name).sort()).toEqual(['Alice', 'Bob', 'Carol']);
    }, PAGES_MS);

    it('(5) forceMuteStream (official SDK): the OpenTok.js publisher gets muteForced and its audio stops at its subscribers', async () => {
      const before = await energyOver(b, ida.streamId!);
      expect(before).toBeGreaterThan(1e-4);
      await call<void>((cb) => ot.forceMuteStream(sessionId, ida.streamId!, cb));
      await waitEvent(a, 'muteForced on A\'s publisher', (e) => e.type === 'publisher:muteForced');
      const after = await energyFalls(b, ida.streamId!, before);
      expect(after).toBeLessThan(before / 20);
      console.info(`[forceMuteStream] audio energy of A at B over 2.5 s: ${before.toExponential(2)} before, ${after.toExponential(2)} after`);
      expect((await events(b)).some((e) => e.type === 'publisher:muteForced')).toBe(false);
    }, 60_000);

    it('(5) forceMuteAll (official SDK): muteForced on every OpenTok.js page, B\'s audio stops; disableForceMute ends it', async () => {
      const before = await energyOver(a, idb.streamId!);
      expect(before).toBeGreaterThan(1e-4);
      await call<void>((cb) => ot.forceMuteAll(sessionId, { excludedStreamIds: [] }, cb));
      for (const p of [a, b]) await waitEvent(p, 'muteForced active', (e) => e.type === 'muteForced' && e['active'] === true);
      await waitEvent(b, 'B\'s publisher muted', (e) => e.type === 'publisher:muteForced');
      const after = await energyFalls(a, idb.streamId!, before);
      expect(after).toBeLessThan(before / 20);
      console.info(`[forceMuteAll] audio energy of B at A over 2.5 s: ${before.toExponential(2)} before, ${after.toExponential(2)} after`);
      await call<void>((cb) => ot.disableForceMute(sessionId, cb));
      for (const p of [a, b]) await waitEvent(p, 'muteForced inactive', (e) => e.type === 'muteForced' && e['active'] === false);
    }, 60_000);

    it('an archive of the routed session (official SDK): archiveStarted/archiveStopped on the OpenTok.js pages; its frames show the OpenTok.js publishers\' colours', async () => {
      const started = await call<ArchiveLike>((cb) => ot.startArchive(sessionId, { name: 'otjs-routed', resolution: '640x480' }, cb));
      expect(started.status).toBe('started');
      for (const p of [a, b]) await waitEvent(p, 'archiveStarted', (e) => e.type === 'archiveStarted' && e['id'] === started.id && e['name'] === 'otjs-routed');
      await sleep(8000);
      const stopped = await call<ArchiveLike>((cb) => ot.stopArchive(started.id, cb));
      expect(stopped.status).toBe('stopped');
      for (const p of [a, b]) await waitEvent(p, 'archiveStopped', (e) => e.type === 'archiveStopped' && e['id'] === started.id);
      const done = await until(async () => { const x = await call<ArchiveLike>((cb) => ot.getArchive(started.id, cb)); return (x.status === 'available' || x.status === 'failed') && x; }, { timeoutMs: 60_000, what: 'archive available' });
      expect(done.status, done.reason).toBe('available');
      const res = await fetch(done.url!);
      expect(res.status).toBe(200);
      const file = join(dir, 'otjs-routed.mp4');
      writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      const probe = ffprobe(file);
      expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 480 });
      // The colours of an 8x8 grid of tiles of a frame near the end: every publisher is in the layout.
      const video = probe.streams.find((s) => s.codec_type === 'video') as { duration?: string } | undefined;
      const videoSeconds = Number(video?.duration ?? probe.duration);
      console.info(`[archive] file ${probe.duration.toFixed(1)} s, video ${videoSeconds.toFixed(1)} s`);
      const rgb = frameAt(file, Math.max(0.5, videoSeconds - 2), 640, 480);
      const names = new Map<string, number>();
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) { const n = colourName(meanColour(rgb, 640, { x: x * 80 + 10, y: y * 60 + 10, w: 60, h: 40 })); names.set(n, (names.get(n) ?? 0) + 1); }
      console.info(`[archive] ${probe.duration.toFixed(1)} s; tiles of the last frames by colour: ${JSON.stringify(Object.fromEntries(names))}`);
      expect(names.get('blue') ?? 0).toBeGreaterThan(2);
      expect(names.get('green') ?? 0).toBeGreaterThan(2);
      expect(names.get('red') ?? 0).toBeGreaterThan(2);
    }, 120_000);

    it('(4) audio fallback on a lossy path to one OpenTok.js subscriber: OpenTok.js\'s own events, audio stays, video returns after', async () => {
      // B unmutes itself after the force mute (OpenTok allows it): the router forwards its audio
      // again, so "audio stays" can be heard.
      await b.evaluate(() => window.otjs.publisher!.publishAudio(true));
      const back = await until(async () => { const e = await energyOver(a, idb.streamId!); return e > 1e-4 && { e }; }, { timeoutMs: 15_000, what: 'B heard at A again after it unmuted itself' });
      console.info(`[otjs unmute after force mute] audio energy of B at A over 2.5 s: ${back.e.toExponential(2)}`);
      const room = await (await server.mediaRouterForTesting()!).room(sessionId);
      const subscriberId = await a.evaluate((id) => (window.otjs as unknown as { subs: Record<string, { sub: { widgetId: string } }> }).subs[id]!.sub.widgetId, idb.streamId!);
      const fallback = async () => (await events(a)).filter((e) => e.type.startsWith('subscriber:video'));
      expect(await fallback()).toEqual([]);
      // 30 % loss on A's subscriber to B only: the warning, then video stops there; audio keeps coming.
      const t0 = Date.now();
      await room.setSubscriberLoss(subscriberId, 0.3);
      const disabled = await waitEvent(a, 'videoDisabled', (e) => e.type === 'subscriber:videoDisabled', 25_000);
      const disabledMs = Date.now() - t0;
      const warnedMs = (await fallback())[0]!.t - t0;
      expect(disabled['reason']).toBe('quality');
      expect(disabled['streamId']).toBe(idb.streamId);
      expect((await fallback()).map((e) => e.type)).toEqual(['subscriber:videoDisableWarning', 'subscriber:videoDisabled']);
      await sleep(1500);
      const l0 = (await look(a, idb.streamId!))!;
      const o0 = (await look(b, ida.streamId!))!;
      await sleep(3000);
      const l1 = (await look(a, idb.streamId!))!;
      const o1 = (await look(b, ida.streamId!))!;
      console.info(`[otjs audio fallback] 30 % loss: videoDisableWarning after ${warnedMs} ms, videoDisabled (reason quality) after ${disabledMs} ms; in 3 s after: lossy subscriber +${l1.framesDecoded - l0.framesDecoded} frames, +${l1.audioBytes - l0.audioBytes} audio bytes, audio energy +${(l1.audioEnergy - l0.audioEnergy).toExponential(2)}; B's subscriber to A +${o1.framesDecoded - o0.framesDecoded} frames`);
      expect(l1.framesDecoded - l0.framesDecoded).toBeLessThan(3);
      expect(l1.audioBytes).toBeGreaterThan(l0.audioBytes);
      expect(l1.audioEnergy).toBeGreaterThan(l0.audioEnergy);
      expect(o1.framesDecoded - o0.framesDecoded).toBeGreaterThan(15);
      expect((await events(b)).some((e) => e.type.startsWith('subscriber:video'))).toBe(false);

      // The loss stops: video comes back with reason quality.
      const t1 = Date.now();
      await room.setSubscriberLoss(subscriberId, 0);
      const enabled = await waitEvent(a, 'videoEnabled after the loss stops', (e) => e.type === 'subscriber:videoEnabled', 30_000);
      expect(enabled['reason']).toBe('quality');
      const r0 = (await look(a, idb.streamId!))!;
      await until(async () => { const l = await look(a, idb.streamId!); return !!l && l.framesDecoded > r0.framesDecoded + 10 && near(l.rgb, GREEN); }, { timeoutMs: 10_000, what: 'B\'s video back at A' });
      console.info(`[otjs audio fallback] videoEnabled (reason quality) ${Date.now() - t1} ms after the loss stopped; frames flow again; events: ${(await fallback()).map((e) => e.type.slice(11)).join(', ')}`);
      // The warning is lifted as video returns (OpenTok.js keeps it on the stream until told).
      expect((await fallback()).map((e) => e.type)).toEqual(['subscriber:videoDisableWarning', 'subscriber:videoDisabled', 'subscriber:videoDisableWarningLifted', 'subscriber:videoEnabled']);
    }, 90_000);

    it('(2) a broadcast (official SDK) composing the OpenTok.js publishers: its HLS, played by hls.js in Chromium, shows their colours; setStreamClassLists on OpenTok.js streams moves the focus box', async () => {
      await call<void>((cb) => ot.setStreamClassLists(sessionId, [{ id: ida.streamId!, layoutClassList: ['focus'] }], cb));
      const listed = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
      expect((listed.find((x) => x.id === ida.streamId) as { layoutClassList?: string[] } | undefined)?.layoutClassList).toEqual(['focus']);
      const started = await call<BroadcastLike>((cb) => ot.startBroadcast(sessionId, { outputs: { hls: {} }, resolution: '640x480', layout: { type: 'horizontalPresentation' } }, cb));
      const viewer = await context.newPage();
      try {
        const live = await until(async () => { const g = await call<BroadcastLike>((cb) => ot.getBroadcast(started.id, cb)); return g.broadcastUrls?.hlsStatus === 'live' && g; }, { timeoutMs: 30_000, what: 'HLS live' });
        await viewer.setContent('<video id="v" muted playsinline width="640" height="480"></video><canvas id="c" width="64" height="48"></canvas>');
        await viewer.addScriptTag({ path: HLS_JS });
        // (Re)start the player at the live edge (a player that fell behind on a busy machine would show old pictures).
        const play = () =>
          viewer.evaluate((src) => {
            type Player = { loadSource(u: string): void; attachMedia(v: HTMLMediaElement): void; destroy(): void };
            const w = window as unknown as { Hls: new () => Player; player?: Player };
            w.player?.destroy();
            const v = document.getElementById('v') as HTMLVideoElement;
            const hls = new w.Hls();
            w.player = hls;
            hls.loadSource(src);
            hls.attachMedia(v);
            void v.play();
          }, live.broadcastUrls!.hls!);
        await play();
        // horizontalPresentation: the `focus` stream fills the top 80 %, the others are 20 % boxes in the bottom row.
        const picture = () =>
          viewer.evaluate(() => {
            const v = document.getElementById('v') as HTMLVideoElement;
            const g = (document.getElementById('c') as HTMLCanvasElement).getContext('2d', { willReadFrequently: true })!;
            if (v.videoWidth === 0) return null;
            g.drawImage(v, 0, 0, 64, 48);
            const mean = (x: number, y: number, w: number, h: number): [number, number, number] => {
              const d = g.getImageData(x, y, w, h).data;
              const m = [0, 0, 0];
              for (let i = 0; i < d.length; i += 4) { m[0]! += d[i]!; m[1]! += d[i + 1]!; m[2]! += d[i + 2]!; }
              return m.map((c) => Math.round(c / (d.length / 4))) as [number, number, number];
            };
            return { time: v.currentTime, focus: mean(16, 8, 32, 22), row: [0, 1, 2, 3, 4].map((i) => mean(Math.round(i * 12.8) + 3, 40, 7, 6)) };
          });
        // The composition's decoders start one by one (a publisher's first keyframe): watch until the
        // picture holds A in the focus box and both others in the bottom row, as a viewer would.
        let last = '';
        const seen = await until(
          async () => {
            const p = await picture();
            if (!p) return false;
            const r = p.row.map(colourName);
            last = `at ${p.time.toFixed(1)} s focus ${colourName(p.focus)}, bottom row ${r.join('/')}`;
            return p.time > 1 && colourName(p.focus) === 'blue' && r.includes('green') && r.includes('red') && p;
          },
          { timeoutMs: 60_000, what: 'the HLS picture with A (blue) in the focus box, B and C in the bottom row' },
        ).catch((e: Error) => {
          throw new Error(`${e.message}; last picture ${last}`);
        });
        const row = seen.row.map(colourName);
        console.info(`[otjs HLS] playing at ${seen.time.toFixed(1)} s: focus rgb(${seen.focus.join(',')}), bottom row ${row.join('/')}`);
        expect(row).toContain('green');
        expect(row).toContain('red');

        // The class list moves to B's stream: the broadcast's focus box turns green.
        const t0 = Date.now();
        await call<void>((cb) => ot.setStreamClassLists(sessionId, [{ id: ida.streamId!, layoutClassList: [] }, { id: idb.streamId!, layoutClassList: ['focus'] }], cb));
        await sleep(4000);
        await play();
        const moved = await until(async () => { const p = await picture(); return !!p && colourName(p.focus) === 'green' && p.row.map(colourName).includes('blue') && p; }, { timeoutMs: 60_000, what: 'the HLS picture with B (green) in the focus box and A (blue) in the bottom row' });
        console.info(`[otjs HLS] focus moved to B ${Date.now() - t0} ms after setStreamClassLists (HLS latency included): bottom row ${moved.row.map(colourName).join('/')}`);
        expect(moved.row.map(colourName)).toContain('blue');
        // OpenTok.js pages stay connected (their Stream has no class list; nothing reaches them).
        for (const p of [a, b]) expect((await events(p)).some((e) => e.type === 'sessionDisconnected')).toBe(false);
      } finally {
        await viewer.close();
        await call<BroadcastLike>((cb) => ot.stopBroadcast(started.id, cb)).catch(() => undefined);
      }
    }, 180_000);
  });

  it.skipIf(!hasCommands('baresip'))('(3) dial (official SDK) to baresip: the OpenTok.js subscriber hears the far end, the far end hears the OpenTok.js publisher', async () => {
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const p = await openOtjs();
    const bdir = mkdtempSync(join(tmpdir(), 'tokhost-otjs-baresip-'));
    let log = '';
    let proc: ReturnType<typeof spawn> | null = null;
    try {
      const me = await start(p, { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'moderator', data: 'user=p' }), name: 'Pat', rgb: BLUE });
      // baresip: plays a 1 kHz tone, records what it decodes (sndfile: dump-<time>-dec.wav).
      execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1000:duration=60', '-ar', '8000', '-ac', '1', join(bdir, 'tone.wav')]);
      const port = await freePort(true);
      writeFileSync(
        join(bdir, 'config'),
        [
          'poll_method epoll',
          `sip_listen 127.0.0.1:${port}`,
          'net_interface 127.0.0.1',
          `audio_source aufile,${join(bdir, 'tone.wav')}`,
          'audio_player aubridge,far',
          `snd_path ${bdir}`,
          'module_path /usr/lib/baresip/modules',
          'module g711.so',
          'module aufile.so',
          'module aubridge.so',
          'module sndfile.so',
          'module account.so',
          'module_app menu.so',
        ].join('\n') + '\n',
      );
      writeFileSync(join(bdir, 'accounts'), '<sip:uas@127.0.0.1>;regint=0;answermode=auto\n');
      const child = spawn('baresip', ['-f', bdir, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc = child;
      child.stdout.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      await until(async () => log.includes('baresip is ready'), { timeoutMs: 10_000, what: 'baresip ready' });
      const dialed = await call<{ id: string; connectionId: string; streamId: string }>((cb) => ot.dial(sessionId, ot.generateToken(sessionId, { data: 'sip=far' }), `sip:uas@127.0.0.1:${port}`, {}, cb));

      // The OpenTok.js page subscribes to the SIP stream and hears baresip's tone.
      await waitEvent(p, 'the SIP stream at the OpenTok.js page', (e) => e.type === 'streamCreated' && e['streamId'] === dialed.streamId);
      const e0 = await until(async () => { const l = await look(p, dialed.streamId); return !!l && l.audioBytes > 2000 && l; }, { timeoutMs: 20_000, what: 'SIP audio at the OpenTok.js subscriber' });
      await sleep(3000);
      const e1 = (await look(p, dialed.streamId))!;
      console.info(`[otjs sip] the OpenTok.js subscriber got ${e1.audioBytes} audio bytes of the SIP stream; audio energy +${(e1.audioEnergy - e0.audioEnergy).toExponential(2)} over 3 s`);
      expect(e1.audioEnergy - e0.audioEnergy).toBeGreaterThan(0.01);

      // baresip decodes the OpenTok.js publisher's tone; muting the publisher silences it.
      const wav = await until(async () => { const f = readdirSync(bdir).find((n) => /dec\.wav$/.test(n)); return f !== undefined && existsSync(join(bdir, f)) && join(bdir, f); }, { timeoutMs: 10_000, what: "baresip's recording of what it hears" });
      await sleep(1000);
      let at = wavLevel(wav, 0).end;
      await sleep(3000);
      const on = wavLevel(wav, at);
      await p.evaluate(() => window.otjs.publisher!.publishAudio(false));
      await sleep(1500);
      at = wavLevel(wav, on.end).end;
      await sleep(3000);
      const off = wavLevel(wav, at);
      console.info(`[otjs sip] baresip hears the OpenTok.js publisher at RMS ${on.rms.toFixed(4)} (8 kHz, 3 s windows), ${off.rms.toFixed(4)} after publishAudio(false)`);
      expect(on.rms).toBeGreaterThan(0.003);
      expect(off.rms).toBeLessThan(on.rms / 10);
      expect(me.streamId).toBeTruthy();
      await call<void>((cb) => ot.forceDisconnect(sessionId, dialed.connectionId, cb));
      await waitEvent(p, 'the SIP connection leaves', (e) => e.type === 'connectionDestroyed' && e['connectionId'] === dialed.connectionId);
    } catch (err) {
      console.error(log.slice(-3000));
      throw err;
    } finally {
      proc?.kill('SIGKILL');
      await p.close();
      rmSync(bdir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }, PAGES_MS);
});
