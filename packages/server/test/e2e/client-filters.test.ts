/**
 * `@tokhost/client` video and audio filters (issue #24) in headless Chromium: a publisher whose
 * fake camera shows a sharp black-and-white checkerboard, a subscriber on the same page (another
 * connection of a relayed session) whose decoded frames are measured. Background blur must wipe
 * out the checkerboard's edges, clearVideoFilter must bring them back, background replacement
 * must show the replacement image's colour; the segmentation model comes from the Tokhost server
 * and no request goes anywhere else.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokSdk } from '../kit/index.js';

/** Runs `body` (the text of an async function body) in the page; `window.t` keeps state between calls. */
const run = <T>(page: Page, body: string, arg: unknown = null): Promise<T> => page.evaluate(`(async (arg) => { let t = window.t; ${body} })(${JSON.stringify(arg)})`) as Promise<T>;

/**
 * In the page: the subscriber's current decoded frame, measured away from the border (a blur
 * softens the outermost pixels less): `edges` is the mean absolute luma step between neighbouring
 * pixels (0 to 255; a sharp checkerboard is high, a blurred one near 0), `rgb` the mean colour.
 */
const MEASURE = `
  const v = t.sub.element.querySelector('video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0);
  const m = Math.round(c.width * 0.15);
  const { data, width, height } = g.getImageData(m, m, c.width - 2 * m, c.height - 2 * m);
  const y = (i) => 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
  let edges = 0, n = 0, r = 0, gr = 0, b = 0;
  for (let row = 0; row < height - 1; row++) for (let col = 0; col < width - 1; col++) {
    const i = (row * width + col) * 4;
    edges += Math.abs(y(i) - y(i + 4)) + Math.abs(y(i) - y(i + width * 4));
    r += data[i]; gr += data[i + 1]; b += data[i + 2]; n++;
  }
  return { edges: edges / n, rgb: [r / n, gr / n, b / n].map(Math.round), size: [c.width, c.height] };
`;
type Measure = { edges: number; rgb: [number, number, number]; size: [number, number] };

describe.skipIf(!hasChromium || !SDK_BUILT || !hasCommands('ffmpeg'))('@tokhost/client video and audio filters (Chromium)', () => {
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-filters-'));
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let browser: Browser;
  let ot: OpenTokSdk;
  let page: Page;
  let greenPng: string;
  const requests: string[] = [];

  beforeAll(async () => {
    // 320x240 checkerboard of 8-pixel squares, black and white: the sharpest picture a camera can send.
    const camera = join(dir, 'checker.y4m');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'nullsrc=s=320x240:r=15', '-vf', "geq=lum='if(mod(floor(X/8)+floor(Y/8),2),235,16)':cb=128:cr=128,format=yuv420p", '-t', '1', camera]);
    const png = join(dir, 'green.png');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x00c000:s=64x48', '-frames:v', '1', png]);
    greenPng = `data:image/png;base64,${readFileSync(png).toString('base64')}`;
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    appOrigin = await startAppOrigin();
    browser = await launchChromium({ video: camera });
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    page = await openApp(browser, appOrigin.url(server.url));
    page.on('request', (r) => requests.push(r.url()));
    await run(
      page,
      `
      window.t = {};
      t = window.t;
      t.s1 = OT.initSession(arg.apiKey, arg.sessionId);
      t.s2 = OT.initSession(arg.apiKey, arg.sessionId);
      t.s2.on('streamCreated', (e) => { t.sub = t.s2.subscribe(e.stream, undefined, { insertMode: 'append', width: 320, height: 240 }); });
      await t.s1.connect.promise(arg.t1);
      await t.s2.connect.promise(arg.t2);
      t.pub = await OT.initPublisher.promise(undefined, { insertMode: 'append', resolution: '320x240', frameRate: 15, mirror: false });
      await t.s1.publish.promise(t.pub);
      `,
      { apiKey, sessionId, t1: ot.generateToken(sessionId), t2: ot.generateToken(sessionId) },
    );
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until the subscriber's picture satisfies `ok`, returning the last measure (with what it was waiting for in the error). */
  const frameWhere = async (what: string, ok: (m: Measure) => boolean, timeoutMs = 30_000): Promise<Measure> => {
    let last: Measure | undefined;
    try {
      return (await until(async () => {
        last = await run<Measure>(page, `if (!t.sub?.element?.querySelector('video')?.videoWidth) return null; ${MEASURE}`);
        return last && ok(last) ? last : null;
      }, { timeoutMs, what }))!;
    } catch (err) {
      throw new Error(`${(err as Error).message}; last frame: ${JSON.stringify(last)}`);
    }
  };

  it('backgroundBlur wipes out the background detail the subscriber decodes; clearVideoFilter brings it back', async () => {
    const before = await frameWhere('a sharp checkerboard at the subscriber', (m) => m.edges > 20);
    await run(page, `await t.pub.applyVideoFilter({ type: 'backgroundBlur', blurStrength: 'high' });`);
    expect(await run(page, 'return t.pub.getVideoFilter();')).toEqual({ type: 'backgroundBlur', blurStrength: 'high' });
    // Chromium has Insertable Streams: the sent track is a MediaStreamTrackGenerator.
    expect(await run(page, 'return t.pub.getVideoSource().track.constructor.name;')).toBe('MediaStreamTrackGenerator');
    const blurred = await frameWhere('a blurred picture at the subscriber', (m) => m.edges < before.edges * 0.2);
    await run(page, `await t.pub.clearVideoFilter();`);
    expect(await run(page, 'return t.pub.getVideoFilter();')).toBeNull();
    const restored = await frameWhere('the sharp checkerboard again', (m) => m.edges > before.edges * 0.7);
    console.log(`edge energy (mean luma step, 0-255) at the subscriber: ${before.edges.toFixed(1)} before, ${blurred.edges.toFixed(1)} with backgroundBlur high, ${restored.edges.toFixed(1)} after clearVideoFilter`);
    expect(blurred.edges).toBeLessThan(before.edges * 0.2);
  }, 90_000);

  it('backgroundReplacement shows the image in the background region (the canvas path of browsers without Insertable Streams); applying blur over it switches filters', async () => {
    // Hidden while the filter starts, so it takes the video element + requestVideoFrameCallback + captureStream path.
    await run(
      page,
      `
      const saved = window.MediaStreamTrackProcessor;
      window.MediaStreamTrackProcessor = undefined;
      try {
        await t.pub.applyVideoFilter({ type: 'backgroundReplacement', backgroundImgUrl: arg });
      } finally {
        window.MediaStreamTrackProcessor = saved;
      }
      t.canvasTrack = t.pub.getVideoSource().track.constructor.name;
      `,
      greenPng,
    );
    expect(await run(page, 'return t.canvasTrack;')).toBe('CanvasCaptureMediaStreamTrack');
    expect(await run(page, 'return t.pub.getVideoFilter().type;')).toBe('backgroundReplacement');
    const green = await frameWhere('the green background at the subscriber', (m) => m.rgb[1] > 140 && m.rgb[0] < 80 && m.rgb[2] < 80);
    console.log(`backgroundReplacement (image rgb 0,192,0): subscriber's mean rgb ${green.rgb.join(',')}, edge energy ${green.edges.toFixed(1)}`);
    expect(green.edges).toBeLessThan(5);
    await run(page, `await t.pub.applyVideoFilter({ type: 'backgroundBlur', blurStrength: 'low' });`);
    await frameWhere('grey again (blur, not the green image)', (m) => Math.abs(m.rgb[1] - m.rgb[0]) < 30);
    await run(page, `await t.pub.clearVideoFilter();`);
  }, 90_000);

  it('bad filters reject with OpenTok.js\'s error names and change nothing', async () => {
    const errors = await run<Record<string, unknown>>(
      page,
      `
      const name = (p) => p.then(() => 'resolved', (e) => e.name + ': ' + e.message);
      await t.pub.applyVideoFilter({ type: 'backgroundBlur', blurStrength: 'low' });
      return {
        type: await name(t.pub.applyVideoFilter({ type: 'sepia' })),
        none: await name(t.pub.applyVideoFilter()),
        strength: await name(t.pub.applyVideoFilter({ type: 'backgroundBlur', blurStrength: 'medium' })),
        image: await name(t.pub.applyVideoFilter({ type: 'backgroundReplacement', backgroundImgUrl: 'background.txt' })),
        audio: await name(t.pub.applyAudioFilter({ type: 'echo' })),
        connector: await name(t.pub.setVideoMediaProcessorConnector({ setTrack: async (x) => x, destroy: async () => {} })),
        filter: t.pub.getVideoFilter(),
        audioFilter: t.pub.getAudioFilter(),
        cleared: await name(t.pub.clearVideoFilter()),
        after: t.pub.getVideoFilter(),
      };
      `,
    );
    expect(errors).toMatchObject({
      type: expect.stringMatching(/^OT_INVALID_PARAMETER: Video filter has invalid configuration: type/),
      none: expect.stringMatching(/^OT_INVALID_PARAMETER: .*videoFilter must be an object/),
      strength: expect.stringMatching(/^OT_INVALID_PARAMETER: .*blurStrength/),
      image: expect.stringMatching(/^OT_INVALID_PARAMETER: .*backgroundImgUrl/),
      audio: expect.stringMatching(/^OT_INVALID_PARAMETER: Audio filter has invalid configuration/),
      connector: expect.stringMatching(/^OT_NOT_SUPPORTED: .*clearVideoFilter first/),
      filter: { type: 'backgroundBlur', blurStrength: 'low' },
      audioFilter: null,
      cleared: 'resolved',
      after: null,
    });
  }, 60_000);

  it('initPublisher applies its videoFilter; an invalid one is logged and the publisher opens unfiltered (as OpenTok.js)', async () => {
    const r = await run<Record<string, unknown>>(
      page,
      `
      const good = await OT.initPublisher.promise(undefined, { insertMode: 'append', resolution: '320x240', audioSource: null, videoFilter: { type: 'backgroundBlur' } });
      const bad = await OT.initPublisher.promise(undefined, { insertMode: 'append', resolution: '320x240', audioSource: null, videoFilter: { type: 'backgroundBlur', blurStrength: 'extreme' } });
      const r = { good: good.getVideoFilter(), goodTrack: good.getVideoSource().track.constructor.name, bad: bad.getVideoFilter(), badTrack: bad.getVideoSource().track.constructor.name };
      good.destroy();
      bad.destroy();
      return r;
      `,
    );
    expect(r).toEqual({ good: { type: 'backgroundBlur' }, goodTrack: 'MediaStreamTrackGenerator', bad: null, badTrack: 'MediaStreamTrack' });
  }, 60_000);

  it('advancedNoiseSuppression turns on the browser\'s noise suppressor; clearAudioFilter restores the setting', async () => {
    const r = await run<Record<string, unknown>>(
      page,
      `
      // A second publisher whose microphone opens without noise suppression, published so the sender's track can be checked.
      const pub = await OT.initPublisher.promise(undefined, { insertMode: 'append', publishVideo: false, videoSource: null, noiseSuppression: false });
      await t.s1.publish.promise(pub);
      const ns = () => pub.getAudioSource().getSettings().noiseSuppression;
      const before = ns();
      await pub.applyAudioFilter({ type: 'advancedNoiseSuppression' });
      const on = ns();
      const filter = pub.getAudioFilter();
      await pub.clearAudioFilter();
      const r = { before, on, filter, after: ns(), cleared: pub.getAudioFilter() };
      await t.s1.unpublish(pub);
      return r;
      `,
    );
    expect(r).toEqual({ before: false, on: true, filter: { type: 'advancedNoiseSuppression' }, after: false, cleared: null });
  });

  it('the model came from the Tokhost server: every request the page made went to the app or the Tokhost server', () => {
    const origins = new Set(requests.filter((u) => !u.startsWith('data:')).map((u) => new URL(u).origin));
    const allowed = [appOrigin.origin, new URL(server.url).origin];
    expect([...origins].filter((o) => !allowed.includes(o))).toEqual([]);
    const model = requests.filter((u) => u.startsWith(`${new URL(server.url).origin}/js/segmentation/`));
    console.log(`segmentation files the page loaded: ${[...new Set(model.map((u) => u.split('/').pop()))].join(', ')}`);
    expect(model.some((u) => u.endsWith('.tflite'))).toBe(true);
    expect(model.some((u) => u.endsWith('.wasm'))).toBe(true);
  });
});
