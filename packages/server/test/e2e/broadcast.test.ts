/**
 * Broadcasts end to end (issue 10, acceptance 1): two real Chromium publishers (fake cameras of
 * one colour each, tones), the server's router and compositor, HLS served by the server and played
 * by hls.js, RTMP into nginx-rtmp and into `ffmpeg -listen`, checked as a viewer would: codecs,
 * size, both publishers where bestFit puts them, both tones in the mix; then manual stream mode
 * and a layout change while live, seen in the pictures.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { ffmpegRtmpListener, hasNginxRtmp, probe, pullRtmp, startNginxRtmp, type NginxRtmp } from '../media/fixtures/rtmp-servers.js';
import { colourName, frameAt, meanColour, meanVolume, toneLevel } from '../recording/media-check.js';
import { call, fakeCamera, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, Cb, OpenTokSdk } from '../kit/index.js';

interface Broadcast {
  id: string;
  status: string;
  broadcastUrls: null | { hls?: string; hlsStatus?: string; rtmp?: { id?: string; status: string }[] };
}
type Ot = OpenTokSdk & {
  startBroadcast(sessionId: string, options: Record<string, unknown>, cb: Cb<Broadcast>): void;
  stopBroadcast(id: string, cb: Cb<Broadcast>): void;
  getBroadcast(id: string, cb: Cb<Broadcast>): void;
  setBroadcastLayout(id: string, type: string, stylesheet: string | null, screenshareType: string | null, cb: Cb<unknown>): void;
  addBroadcastStream(id: string, streamId: string, options: Record<string, unknown>, cb: Cb<unknown>): void;
};

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const hasTools = hasChromium && SDK_BUILT && hasNginxRtmp && hasCommands('ffmpeg', 'ffprobe');
const COLOURS = { red: 440, blue: 880 } as const;
type Colour = keyof typeof COLOURS;

describe.skipIf(!hasTools)('broadcasts: two real publishers to HLS and RTMP', () => {
  const apiKey = '8' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-broadcast-e2e-'));
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let appUrl: string;
  let nginx: NginxRtmp;
  const browsers = new Map<Colour, Browser>();
  const pages: Page[] = [];
  let ot: Ot;

  beforeAll(async () => {
    for (const [colour, hz] of Object.entries(COLOURS)) browsers.set(colour as Colour, await launchChromium(fakeCamera(dir, colour, { toneHz: hz })));
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], dataDir: join(dir, 'data'), apiKey, apiSecret, mediaWorkers: 1 });
    ot = new OpenTok(apiKey, apiSecret, server.url) as Ot;
    appOrigin = await startAppOrigin();
    appUrl = appOrigin.url(server.url);
    nginx = await startNginxRtmp();
  }, 120_000);

  // Each test's publishers end with it: pages left open keep encoding and starve the next tests
  // of CPU (11 publishers by the sixth archive test, load average 20 on two cores).
  afterEach(async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => undefined);
  });

  afterAll(async () => {
    for (const p of pages) await p.close().catch(() => undefined);
    for (const b of browsers.values()) await b.close();
    await appOrigin?.close();
    await server?.close();
    await nginx?.stop();
    nginx?.cleanup();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  async function publisher(colour: Colour, sessionId: string): Promise<{ page: Page; streamId: string }> {
    const page = await openApp(browsers.get(colour)!, appUrl);
    pages.push(page);
    const token = ot.generateToken(sessionId, { role: 'moderator', data: `colour=${colour}` });
    const ids = await page.evaluate((o) => window.app.start(o), { apiKey, sessionId, token, name: colour, subscribe: false, resolution: '640x480' });
    return { page, streamId: ids.streamId! };
  }
  const routedSession = async () => (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
  const get = (id: string) => call<Broadcast>((cb) => ot.getBroadcast(id, cb));
  /** Colours of the left and right halves (and the letterbox band) of the frame at `t`. */
  const halves = (file: string, t: number, w: number, h: number) => {
    const rgb = frameAt(file, t, w, h);
    return [
      colourName(meanColour(rgb, w, { x: Math.round(w * 0.06), y: Math.round(h * 0.35), w: Math.round(w * 0.38), h: Math.round(h * 0.3) })),
      colourName(meanColour(rgb, w, { x: Math.round(w * 0.56), y: Math.round(h * 0.35), w: Math.round(w * 0.38), h: Math.round(h * 0.3) })),
    ];
  };

  it('acceptance 1: HLS + RTMP (nginx and ffmpeg -listen) at 1280x720 with both publishers, both tones; hls.js plays it; stop ends it; a new one starts', async () => {
    const sessionId = await routedSession();
    await publisher('red', sessionId);
    await publisher('blue', sessionId);
    await sleep(1500);
    const listenerFile = join(dir, 'listener.flv');
    const listener = await ffmpegRtmpListener(listenerFile, 6);
    const t0 = Date.now();
    const b = await call<Broadcast>((cb) =>
      ot.startBroadcast(sessionId, { outputs: { hls: {}, rtmp: [{ id: 'nginx', serverUrl: nginx.serverUrl, streamName: 'two' }, { id: 'listener', serverUrl: listener.serverUrl, streamName: listener.streamName }] }, resolution: '1280x720' }, cb),
    );
    expect(b.status).toBe('started');
    const live = await until(async () => { const g = await get(b.id); return g.broadcastUrls?.hlsStatus === 'live' && !!g.broadcastUrls.rtmp?.every((r) => r.status === 'live') && g; }, { timeoutMs: 30_000, what: 'HLS and RTMP live' });
    console.info(`[broadcast] HLS and both RTMP outputs live ${Date.now() - t0} ms after startBroadcast`);
    const url = live.broadcastUrls!.hls!;

    const pulled = join(dir, 'pulled.flv');
    const pull = pullRtmp(`${nginx.serverUrl}/two`, pulled, 6);

    // hls.js in a page of the red publisher's browser: time advances, frames decode.
    const viewer = await browsers.get('red')!.newPage();
    pages.push(viewer);
    await viewer.setContent('<video id="v" muted playsinline></video>');
    await viewer.addScriptTag({ path: HLS_JS });
    await viewer.evaluate((src) => {
      const Hls = (window as unknown as { Hls: new () => { loadSource(u: string): void; attachMedia(v: HTMLMediaElement): void } }).Hls;
      const hls = new Hls();
      const v = document.getElementById('v') as HTMLVideoElement;
      hls.loadSource(src);
      hls.attachMedia(v);
      void v.play();
    }, url);
    const playback = () => viewer.evaluate(() => {
      const v = document.getElementById('v') as HTMLVideoElement;
      return { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth, height: v.videoHeight };
    });
    const first = await until(async () => { const s = await playback(); return s.time > 0.5 && s; }, { timeoutMs: 20_000, what: 'hls.js playback' });
    const later = await until(async () => { const s = await playback(); return s.time > first.time + 2 && s; }, { timeoutMs: 10_000, what: 'hls.js time advances' });
    expect([later.width, later.height]).toEqual([1280, 720]);
    expect(later.frames).toBeGreaterThan(30);

    expect(await pull.done).toBe(0);
    await listener.done;
    for (const file of [pulled, listenerFile]) {
      const info = await probe(file);
      expect(info.video).toEqual({ codec: 'h264', width: 1280, height: 720 });
      expect(info.audio?.codec).toBe('aac');
      // Chromium's audio processing sends the -21 dB test tones at about -40 dB; silence is -91 dB.
      expect(meanVolume(file)).toBeGreaterThan(-55);
      expect(toneLevel(file, 440)).toBeGreaterThan(-60);
      expect(toneLevel(file, 880)).toBeGreaterThan(-60);
      expect(halves(file, Math.max(1, info.duration - 1.5), 1280, 720)).toEqual(['red', 'blue']);
    }
    const hlsInfo = await probe(url);
    expect(hlsInfo.video).toEqual({ codec: 'h264', width: 1280, height: 720 });

    const stopped = await call<Broadcast>((cb) => ot.stopBroadcast(b.id, cb));
    expect(stopped.broadcastUrls).toBeNull();
    expect(await (await fetch(url)).text()).toMatch(/#EXT-X-ENDLIST\s*$/);
    const again = await call<Broadcast>((cb) => ot.startBroadcast(sessionId, { outputs: { hls: {} } }, cb));
    expect(again.status).toBe('started');
    await call<Broadcast>((cb) => ot.stopBroadcast(again.id, cb));
  }, 150_000);

  it('an archive and a broadcast of the same session share one encoder; a layout change moves the broadcast to its own, its RTMP stays live', async () => {
    const sessionId = await routedSession();
    await publisher('red', sessionId);
    await publisher('blue', sessionId);
    await sleep(1500);
    /** x264 encoders this test process runs (the compositions' encoders). */
    const encoders = () => {
      const r = spawnSync('ps', ['-eo', 'pid,ppid,args'], { encoding: 'utf8' });
      const rows = r.stdout.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length > 2);
      const kids = new Map<number, number[]>();
      for (const [pid, ppid] of rows) kids.set(Number(ppid), [...(kids.get(Number(ppid)) ?? []), Number(pid)]);
      const mine = new Set<number>();
      const walk = (p: number) => (kids.get(p) ?? []).forEach((k) => (mine.add(k), walk(k)));
      walk(process.pid);
      return rows.filter((f) => mine.has(Number(f[0])) && f.slice(2).join(' ').includes('libx264')).length;
    };
    const before = encoders();
    const archive = await call<{ id: string; status: string }>((cb) => (ot as unknown as { startArchive(s: string, o: object, cb: Cb<{ id: string; status: string }>): void }).startArchive(sessionId, { resolution: '640x480' }, cb));
    expect(archive.status).toBe('started');
    const b = await call<Broadcast>((cb) => ot.startBroadcast(sessionId, { outputs: { rtmp: [{ serverUrl: nginx.serverUrl, streamName: 'shared' }] }, resolution: '640x480' }, cb));
    await until(async () => (await get(b.id)).broadcastUrls?.rtmp?.[0]?.status === 'live', { timeoutMs: 20_000, what: 'RTMP live' });
    expect(encoders()).toBe(before + 1);
    const statuses: string[] = [];
    await call((cb) => ot.setBroadcastLayout(b.id, 'pip', null, null, cb));
    for (let i = 0; i < 20; i++) {
      statuses.push((await get(b.id)).broadcastUrls!.rtmp![0]!.status);
      await sleep(150);
    }
    expect(encoders()).toBe(before + 2);
    expect(statuses.every((s) => s === 'live')).toBe(true);
    await sleep(1500);
    const pip = join(dir, 'moved.flv');
    expect(await pullRtmp(`${nginx.serverUrl}/shared`, pip, 3).done).toBe(0);
    const rgb = frameAt(pip, 2, 640, 480);
    expect(colourName(meanColour(rgb, 640, { x: 40, y: 300, w: 200, h: 120 }))).toBe('red');
    expect(colourName(meanColour(rgb, 640, { x: 460, y: 60, w: 50, h: 40 }))).toBe('blue');
    await call<Broadcast>((cb) => ot.stopBroadcast(b.id, cb));
    await call((cb) => (ot as unknown as { stopArchive(id: string, cb: Cb<unknown>): void }).stopArchive(archive.id, cb));
  }, 150_000);

  it('manual stream mode and a layout change while live, seen in the RTMP picture', async () => {
    const sessionId = await routedSession();
    const red = await publisher('red', sessionId);
    const blue = await publisher('blue', sessionId);
    await sleep(1500);
    const b = await call<Broadcast>((cb) => ot.startBroadcast(sessionId, { outputs: { rtmp: [{ serverUrl: nginx.serverUrl, streamName: 'manual' }] }, streamMode: 'manual', resolution: '640x480' }, cb));
    // Nothing is composed before the first stream is added (the composition is paused).
    await sleep(1000);
    expect((await get(b.id)).broadcastUrls?.rtmp?.[0]?.status).toBe('connecting');
    await call((cb) => ot.addBroadcastStream(b.id, red.streamId, {}, cb));
    await until(async () => (await get(b.id)).broadcastUrls?.rtmp?.[0]?.status === 'live', { timeoutMs: 20_000, what: 'RTMP live' });
    expect((await get(b.id)) as unknown as { streams: unknown[] }).toMatchObject({ streams: [{ streamId: red.streamId, hasAudio: true, hasVideo: true }] });
    await sleep(2000);
    const onlyRed = join(dir, 'only-red.flv');
    expect(await pullRtmp(`${nginx.serverUrl}/manual`, onlyRed, 3).done).toBe(0);
    // One stream: it fills the frame.
    expect(halves(onlyRed, 2, 640, 480)).toEqual(['red', 'red']);

    await call((cb) => ot.addBroadcastStream(b.id, blue.streamId, {}, cb));
    await sleep(2000);
    const both = join(dir, 'both.flv');
    expect(await pullRtmp(`${nginx.serverUrl}/manual`, both, 3).done).toBe(0);
    expect(halves(both, 2, 640, 480)).toEqual(['red', 'blue']);

    // Layout change while live: pip puts the first stream full frame and the second small at the top right.
    await call((cb) => ot.setBroadcastLayout(b.id, 'pip', null, null, cb));
    await sleep(2000);
    const pip = join(dir, 'pip.flv');
    expect(await pullRtmp(`${nginx.serverUrl}/manual`, pip, 3).done).toBe(0);
    const rgb = frameAt(pip, 2, 640, 480);
    expect(colourName(meanColour(rgb, 640, { x: 40, y: 300, w: 200, h: 120 }))).toBe('red');
    expect(colourName(meanColour(rgb, 640, { x: 460, y: 60, w: 50, h: 40 }))).toBe('blue');
    await call<Broadcast>((cb) => ot.stopBroadcast(b.id, cb));
  }, 150_000);
});
