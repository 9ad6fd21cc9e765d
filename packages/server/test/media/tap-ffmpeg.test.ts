/**
 * Recording tap: a real Chromium publisher, the router forwarding plain RTP + sender reports over
 * loopback UDP, real ffmpeg writing WebM, ffprobe checking the file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMediaRouter, type MediaRouter } from '../../src/media/index.js';
import { startBridge, type Bridge } from './fixtures/bridge.mjs';
import { hasChromium, hasCommands, launchChromium } from '../kit/index.js';
import { portFree, rtpPortPair } from '../../src/compose/tap-source.js';

const hasTools = hasChromium && hasCommands('ffmpeg', 'ffprobe');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));



describe.skipIf(!hasTools)('recording tap into ffmpeg', () => {
  let router: MediaRouter;
  let bridge: Bridge;
  let browser: Browser;
  let page: Page | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-tap-'));

  beforeAll(async () => {
    router = await createMediaRouter({ workers: 1, bindAddress: '127.0.0.1' });
    bridge = await startBridge(router);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await page?.evaluate(() => (window as unknown as { tk: { close(): void } }).tk.close()).catch(() => {});
    await browser?.close();
    await bridge?.close();
    await router?.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('records VP8 + Opus WebM with ffmpeg -c copy from a tap', async () => {
    page = await browser.newPage();
    await page.goto(`${bridge.url}?role=pub&session=rec&id=p1&kbps=500`);
    const sent = () => page!.evaluate(() => (window as unknown as { tk: { stats(): Promise<{ framesSent: number }> } }).tk.stats());
    for (let i = 0; (await sent()).framesSent < 20; i++) {
      if (i > 150) throw new Error('publisher did not start');
      await sleep(100);
    }
    const room = await router.room('rec');
    const audioPort = await rtpPortPair();
    const videoPort = await rtpPortPair([audioPort]);
    const tap = await room.tap('p1', { host: '127.0.0.1', audioPort, videoPort, paused: true });
    expect(tap.sdp).toContain(`m=video ${videoPort} RTP/AVP`);
    expect(tap.sdp).toMatch(/a=rtpmap:\d+ VP8\/90000/);
    expect(tap.sdp).toMatch(/a=rtpmap:\d+ opus\/48000\/2/);
    const sdpFile = join(dir, 'tap.sdp');
    const out = join(dir, 'out.webm');
    writeFileSync(sdpFile, tap.sdp);
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-localaddr', '127.0.0.1', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpFile, '-c', 'copy', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    ff.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => ff.once('exit', (code) => r(code)));
    try {
      // ffmpeg owns its RTP ports once it has read the SDP; only then start the tap.
      for (let i = 0; (await portFree(videoPort)) || (await portFree(audioPort)); i++) {
        if (i > 100) throw new Error(`ffmpeg did not open its ports: ${stderr}`);
        await sleep(50);
      }
      await tap.start();
      await sleep(5000);
      // Stop ffmpeg while packets still flow, or it waits for more and must be killed.
      ff.kill('SIGINT');
      const timer = setTimeout(() => ff.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      // ffmpeg exits 255 after SIGINT ("received signal 2") once the file is finalised; a kill would be null.
      expect([0, 255], stderr).toContain(code);
    } finally {
      if (ff.exitCode === null) ff.kill('SIGKILL');
      await tap.close();
    }
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', out], { encoding: 'utf8' });
    expect(probe.status, probe.stderr).toBe(0);
    const streams = (JSON.parse(probe.stdout) as { streams: { codec_type: string; codec_name: string; nb_read_frames?: string }[] }).streams;
    const video = streams.find((s) => s.codec_type === 'video');
    const audio = streams.find((s) => s.codec_type === 'audio');
    expect(video?.codec_name).toBe('vp8');
    expect(audio?.codec_name).toBe('opus');
    console.log(`[media tap] recorded ${video?.nb_read_frames} video frames, ${audio?.nb_read_frames} audio frames`);
    expect(Number(video?.nb_read_frames)).toBeGreaterThan(30);
    expect(Number(audio?.nb_read_frames)).toBeGreaterThan(50);
  }, 90_000);
});
