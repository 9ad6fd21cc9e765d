/**
 * A broadcast's HLS URL plays in headless Chromium with hls.js, as a viewer's page would: the
 * video element's time advances, frames decode (and are not blank), and after stopBroadcast the
 * player reaches the end of the stream (`#EXT-X-ENDLIST`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REALTIME_PATH } from '@tokhost/protocol';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { TestCompositions } from '../media/fixtures/test-compositions.js';
import { TestClient } from '../realtime/harness.js';
import { call, hasChromium, hasCommands, launchChromium, OpenTok, startServer, until, type Cb } from '../kit/index.js';

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const hasTools = hasChromium && hasCommands('ffmpeg');
const KEY = '4712';
const SECRET = 'hls-player-test-secret-0123456789abcdef';

interface Broadcast {
  id: string;
  status: string;
  broadcastUrls: null | { hls?: string; hlsStatus?: string };
}
type Sdk = InstanceType<typeof OpenTok> & {
  startBroadcast(sessionId: string, options: Record<string, unknown>, cb: Cb<Broadcast>): void;
  stopBroadcast(id: string, cb: Cb<Broadcast>): void;
  getBroadcast(id: string, cb: Cb<Broadcast>): void;
};

describe.skipIf(!hasTools)('HLS in Chromium with hls.js', () => {
  let dir: string;
  let server: TokhostServer;
  let browser: Browser;
  let client: TestClient;
  let ot: Sdk;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hls-player-'));
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey: KEY, apiSecret: SECRET, dataDir: dir }, { compositions: new TestCompositions() });
    ot = new OpenTok(KEY, SECRET, server.url) as Sdk;
    browser = await launchChromium();
  });

  afterAll(async () => {
    client?.close();
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  // Normal HLS plays in hls.js in the end-to-end test (test/e2e/broadcast.test.ts); here the test source and lowLatency.
  for (const lowLatency of [true]) {
    it(`plays ${lowLatency ? 'a low-latency' : 'a normal'} broadcast, frames decode, and ends after stop`, async () => {
      const { sessionId } = await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb));
      client?.close();
      ({ client } = await TestClient.connect({ wsUrl: server.url.replace('http', 'ws') + REALTIME_PATH, apiKey: KEY }, sessionId, ot.generateToken(sessionId)));
      const b = await call<Broadcast>((cb) => ot.startBroadcast(sessionId, { outputs: { hls: { lowLatency } }, resolution: '640x480' }, cb));
      const live = await until(async () => { const g = await call<Broadcast>((cb) => ot.getBroadcast(b.id, cb)); return g.broadcastUrls?.hlsStatus === 'live' && g; }, { timeoutMs: 15000, what: 'hls live' });
      const url = live.broadcastUrls!.hls!;

      const page = await browser.newPage();
      try {
        await page.setContent('<video id="v" muted playsinline width="640" height="480"></video><canvas id="c" width="64" height="48"></canvas>');
        await page.addScriptTag({ path: HLS_JS });
        await page.evaluate((src) => {
          const w = window as unknown as { Hls: { new (c?: object): { loadSource(u: string): void; attachMedia(v: HTMLVideoElement): void; on(e: string, f: (ev: string, d: { fatal?: boolean; details?: string }) => void): void }; isSupported(): boolean; Events: { ERROR: string } }; hlsErrors: string[]; ended: boolean };
          if (!w.Hls.isSupported()) throw new Error('hls.js: MSE not supported');
          const video = document.getElementById('v') as HTMLVideoElement;
          w.hlsErrors = [];
          w.ended = false;
          video.addEventListener('ended', () => (w.ended = true));
          const hls = new w.Hls({ lowLatencyMode: true });
          hls.on(w.Hls.Events.ERROR, (_e, data) => {
            if (data.fatal) w.hlsErrors.push(String(data.details));
          });
          hls.loadSource(src);
          hls.attachMedia(video);
          void video.play();
        }, url);
        const state = () =>
          page.evaluate(() => {
            const v = document.getElementById('v') as HTMLVideoElement;
            const q = v.getVideoPlaybackQuality();
            const c = document.getElementById('c') as HTMLCanvasElement;
            const ctx = c.getContext('2d')!;
            ctx.drawImage(v, 0, 0, 64, 48);
            const px = ctx.getImageData(0, 0, 64, 48).data;
            const colours = new Set<number>();
            for (let i = 0; i < px.length; i += 4) colours.add((px[i]! >> 5) * 64 + (px[i + 1]! >> 5) * 8 + (px[i + 2]! >> 5));
            const w = window as unknown as { hlsErrors: string[]; ended: boolean };
            return { time: v.currentTime, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, width: v.videoWidth, colours: colours.size, errors: w.hlsErrors, ended: w.ended };
          });
        const first = await until(async () => { const s = await state(); return (s.time > 0.5 || s.errors.length > 0) && s; }, { timeoutMs: 20000, what: 'playback starts' });
        expect(first.errors).toEqual([]);
        const later = await until(async () => { const s = await state(); return s.time > first.time + 2 && s; }, { timeoutMs: 10000, what: 'time advances' });
        expect(later.width).toBe(640);
        expect(later.frames).toBeGreaterThan(30);
        // testsrc2 is colourful: a decoded frame has many distinct colours, a blank one has one.
        expect(later.colours).toBeGreaterThan(8);

        await call<Broadcast>((cb) => ot.stopBroadcast(b.id, cb));
        const end = await until(async () => { const s = await state(); return (s.ended || s.errors.length > 0) && s; }, { timeoutMs: 30000, what: 'the player reaches the end' });
        expect(end.errors).toEqual([]);
        expect(end.ended).toBe(true);
      } finally {
        await page.close();
      }
    });
  }
});
