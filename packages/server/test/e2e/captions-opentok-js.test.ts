/**
 * Live captions with the official OpenTok.js (npm `@opentok/client`, unmodified) at both ends
 * (issue 23): an OpenTok.js publisher whose fake microphone plays a sentence spoken by espeak-ng,
 * captions started with the REST API, and an OpenTok.js subscriber with `subscribeToCaptions:
 * true`. While the publisher has not called `publishCaptions(true)` its stream is not
 * transcribed; once it does, the subscriber's Stream gets `hasCaptions` and `captionReceived`
 * events with text arrive (the wire: docs/opentok-js-protocol.md, Captions). One Chromium.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptionEvent } from '../../src/captions/captions.js';
import { moonshineAvailable } from '../../src/captions/moonshine.js';
import type { TokhostServer } from '../../src/create-server.js';
import { call, projectJwt, hasChromium, hasCommands, launchChromium, OpenTok, sleep, startOpenTokJsOrigin, startServer, until, type OpenTokJsOrigin, type OpenTokSdk } from '../kit/index.js';

const SENTENCE = 'the weather is nice today and we will go to the park';

interface Caption {
  streamId: string;
  caption: string;
  isFinal: boolean;
}
/** What the test keeps on the pages' windows (plain OpenTok.js objects, driven by evaluate). */
interface CaptionPage {
  OT: {
    initSession(apiKey: string, sessionId: string): OtSession;
    initPublisher(target: string | undefined, props: Record<string, unknown>, cb: (err?: Error) => void): { stream?: { streamId: string }; publishCaptions(on: boolean): Promise<void> };
  };
  pub?: { stream?: { streamId: string }; publishCaptions(on: boolean): Promise<void> };
  seen?: { captions: Caption[]; hasCaptions: boolean[]; subscribed: boolean; streamHasCaptions: boolean | null };
}
interface OtSession {
  connect(token: string, cb: (err?: Error) => void): void;
  publish(p: unknown, cb: (err?: Error) => void): void;
  subscribe(stream: unknown, el: HTMLElement, props: Record<string, unknown>, cb: (err?: Error) => void): { on(ev: string, fn: (e: Caption) => void): void };
  on(ev: string, fn: (e: { stream: { streamId: string; hasCaptions: boolean }; changedProperty?: string; newValue?: unknown }) => void): void;
}

describe.skipIf(!hasChromium || !moonshineAvailable() || !hasCommands('espeak-ng', 'ffmpeg'))('live captions with OpenTok.js (publishCaptions, subscribeToCaptions, captionReceived)', () => {
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-captions-otjs-'));
  const heard: CaptionEvent[] = [];
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let origin: OpenTokJsOrigin;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    // The sentence, then 2 s of silence (Chromium loops the file).
    execFileSync('espeak-ng', ['-v', 'en-us+f2', '-s', '140', '-w', join(dir, 'raw.wav'), SENTENCE]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(dir, 'raw.wav'), '-af', 'apad=pad_dur=2', '-ar', '48000', '-ac', '1', join(dir, 'sentence.wav')]);
    server = await startServer({ apiKey, apiSecret, mediaWorkers: 1 }, { onCaption: (e) => heard.push(e) });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    origin = await startOpenTokJsOrigin();
    browser = await launchChromium({ audio: join(dir, 'sentence.wav') });
    context = await browser.newContext();
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await origin?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const jwt = () => projectJwt(apiKey, apiSecret);
  const post = (path: string, body?: unknown) => fetch(`${server.url}/v2/project/${apiKey}${path}`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const open = async (): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(origin.url(server.url));
    await page.waitForFunction(() => window.sdkLoaded === true, undefined, { timeout: 30_000 });
    return page;
  };
  const seen = (p: Page) => p.evaluate(() => (window as unknown as CaptionPage).seen!);

  it('a stream is transcribed only once its publisher calls publishCaptions(true); the OpenTok.js subscriber gets hasCaptions and captionReceived with text; stop ends them', async () => {
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const speaker = await open();
    const viewer = await open();
    try {
      const streamId = await speaker.evaluate(
        (o) =>
          new Promise<string>((resolve, reject) => {
            const w = window as unknown as CaptionPage;
            const session = w.OT.initSession(o.apiKey, o.sessionId);
            session.connect(o.token, (err) => {
              if (err) return reject(err);
              // Audio only, captions off: the stream's caption1 channel is inactive.
              w.pub = w.OT.initPublisher(undefined, { insertDefaultUI: false, videoSource: null, publishCaptions: false }, (e) => e && reject(e));
              session.publish(w.pub, (e) => (e ? reject(e) : resolve(w.pub!.stream!.streamId)));
            });
          }),
        { apiKey, sessionId, token: ot.generateToken(sessionId) },
      );
      await viewer.evaluate(
        (o) =>
          new Promise<void>((resolve, reject) => {
            const w = window as unknown as CaptionPage;
            const seen = (w.seen = { captions: [] as Caption[], hasCaptions: [] as boolean[], subscribed: false as boolean, streamHasCaptions: null as boolean | null });
            const session = w.OT.initSession(o.apiKey, o.sessionId);
            session.on('streamCreated', (e) => {
              seen.streamHasCaptions = e.stream.hasCaptions;
              const sub = session.subscribe(e.stream, document.body.appendChild(document.createElement('div')), { subscribeToCaptions: true, subscribeToVideo: false }, (err) => {
                if (!err) seen.subscribed = true;
              });
              sub.on('captionReceived', (c) => seen.captions.push({ streamId: c.streamId, caption: c.caption, isFinal: c.isFinal }));
            });
            session.on('streamPropertyChanged', (e) => {
              if (e.changedProperty === 'hasCaptions') seen.hasCaptions.push(e.newValue === true);
            });
            session.connect(o.token, (err) => (err ? reject(err) : resolve()));
          }),
        { apiKey, sessionId, token: ot.generateToken(sessionId) },
      );
      await until(async () => (await seen(viewer)).subscribed, { timeoutMs: 20_000, what: 'the OpenTok.js subscriber' });
      expect((await seen(viewer)).streamHasCaptions).toBe(false);

      const start = await post('/captions', { sessionId, token: ot.generateToken(sessionId), languageCode: 'en-US' });
      expect(start.status).toBe(202);
      const { captionsId } = (await start.json()) as { captionsId: string };
      // The sentence loops on the publisher's microphone, but it did not ask for captions.
      await sleep(6000);
      expect(heard.filter((c) => c.captionsId === captionsId)).toEqual([]);

      await speaker.evaluate(() => (window as unknown as CaptionPage).pub!.publishCaptions(true));
      await until(async () => (await seen(viewer)).hasCaptions.includes(true), { timeoutMs: 10_000, what: 'streamPropertyChanged hasCaptions at the subscriber' });
      const t0 = Date.now();
      const got = await until(async () => (await seen(viewer)).captions.find((c) => c.isFinal && c.caption.trim() !== ''), { timeoutMs: 90_000, intervalMs: 500, what: 'a final captionReceived with text at the OpenTok.js subscriber' });
      console.info(`[captions otjs] "${got.caption}" at the OpenTok.js subscriber ${Date.now() - t0} ms after publishCaptions(true)`);
      expect(got.streamId).toBe(streamId);
      // What the subscriber got is what the captioner recognised for that stream.
      expect(heard.some((c) => c.captionsId === captionsId && c.streamId === streamId && c.text === got.caption)).toBe(true);

      expect((await post(`/captions/${captionsId}/stop`)).status).toBe(202);
      await sleep(1000);
      const n = (await seen(viewer)).captions.length;
      await sleep(6000);
      expect((await seen(viewer)).captions.length).toBe(n);
    } finally {
      await speaker.close();
      await viewer.close();
    }
  }, 180_000);
});
