/**
 * The official OpenTok.js (npm `@opentok/client`, unmodified) in ROUTED sessions: its media goes
 * through Tokhost's media router (issue #21). One Chromium and one server for the file.
 *
 * Two OpenTok.js pages publish canvases (blue, green) and one `@tokhost/client` page publishes the
 * browser's fake camera (red, with a 440 Hz tone); every page must decode the other two pictures
 * and get their audio. Then force mute from the official `opentok` SDK: the muted OpenTok.js
 * publisher gets muteForced and its audio energy stops growing at a subscriber.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { colourName, ffprobe, frameAt, meanColour } from '../recording/media-check.js';
import { call, fakeCamera, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startOpenTokJsOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokJsOrigin, OpenTokSdk, OtjsEvent, Rgb } from '../kit/index.js';

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
type OtArchives = OpenTokSdk & {
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
    server = await startServer({ apiKey, apiSecret, outboundAllow: ['127.0.0.0/8'], mediaWorkers: 1, dataDir: join(dir, 'data') });
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
  });
});
