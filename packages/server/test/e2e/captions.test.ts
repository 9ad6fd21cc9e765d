/**
 * Live captions end to end (issue 23, acceptance 3): a publisher page whose fake microphone plays
 * a sentence spoken by espeak-ng (`--use-file-for-fake-audio-capture`) and which publishes
 * captions (`publisher.publishCaptions(true)`), captions started with
 * the REST API, and a subscriber page (another Chromium) whose `@tokhost/client` subscriber
 * called `subscribeToCaptions(true)` gets `captionReceived` events; the word error rate of the
 * final text is printed. A second start is a 409; stop ends the events.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moonshineAvailable } from '../../src/captions/moonshine.js';
import { wordErrorRate } from '../../src/captions/recognizer.js';
import type { TokhostServer } from '../../src/create-server.js';
import { call, projectJwt, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, until, type AppOrigin, type OpenTokSdk } from '../kit/index.js';

const SENTENCE = 'the weather is nice today and we will go to the park';

interface Caption {
  streamId: string;
  caption: string;
  isFinal: boolean;
  t: number;
}
interface CaptionWindow {
  app: {
    publisher: { publishCaptions(on: boolean): Promise<void>; stream?: { hasCaptions: boolean } } | null; subscribers: { on(event: string, fn: (e: Omit<Caption, 't'>) => void): void; subscribeToCaptions(on: boolean): void }[] };
  captions?: Caption[];
}

describe.skipIf(!hasChromium || !SDK_BUILT || !moonshineAvailable() || !hasCommands('espeak-ng', 'ffmpeg'))('live captions to a @tokhost/client subscriber', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-captions-e2e-'));
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let appOrigin: AppOrigin;
  let speakerBrowser: Browser;
  let viewerBrowser: Browser;

  beforeAll(async () => {
    // The sentence, then 2 s of silence (Chromium loops the file).
    execFileSync('espeak-ng', ['-v', 'en-us+f2', '-s', '140', '-w', join(dir, 'raw.wav'), SENTENCE]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(dir, 'raw.wav'), '-af', 'apad=pad_dur=2', '-ar', '48000', '-ac', '1', join(dir, 'sentence.wav')]);
    server = await startServer({ apiKey, apiSecret, mediaWorkers: 1 });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    appOrigin = await startAppOrigin();
    speakerBrowser = await launchChromium({ audio: join(dir, 'sentence.wav') });
    viewerBrowser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await speakerBrowser?.close();
    await viewerBrowser?.close();
    await appOrigin?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const jwt = () => projectJwt(apiKey, apiSecret);
  const post = (path: string, body?: unknown) => fetch(`${server.url}/v2/project/${apiKey}${path}`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const captionsOf = (p: Page) => p.evaluate(() => (window as unknown as CaptionWindow).captions ?? []);

  it('the subscriber that asked gets captionReceived (best final caption under 50 % WER: most words of the sentence, printed); a second start is 409; stop ends the events', async () => {
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const speaker = await openApp(speakerBrowser, appOrigin.url(server.url));
    const viewer = await openApp(viewerBrowser, appOrigin.url(server.url));
    try {
      const { streamId } = await speaker.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId), name: 'speaker', subscribe: false });
      // Only publishers that publish captions are transcribed.
      expect(await speaker.evaluate(async () => { const p = (window as unknown as CaptionWindow).app.publisher!; await p.publishCaptions(true); return p.stream?.hasCaptions; })).toBe(true);
      await viewer.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId), name: 'viewer', publish: false });
      await until(async () => (await viewer.evaluate(() => window.app.subscribers.length)) > 0, { timeoutMs: 15_000, what: 'the viewer subscribes' });
      await viewer.evaluate(() => {
        const w = window as unknown as CaptionWindow;
        w.captions = [];
        const sub = w.app.subscribers[0]!;
        sub.on('captionReceived', (e) => w.captions!.push({ streamId: e.streamId, caption: e.caption, isFinal: e.isFinal, t: Date.now() }));
        sub.subscribeToCaptions(true);
      });
      const start = await post('/captions', { sessionId, token: ot.generateToken(sessionId), languageCode: 'en-US', partialCaptions: true });
      expect(start.status).toBe(202);
      const { captionsId } = (await start.json()) as { captionsId: string };
      const t0 = Date.now();
      expect((await post('/captions', { sessionId, token: ot.generateToken(sessionId) })).status).toBe(409);
      // The file loops: each turn gives a final caption; take the best of the first few.
      const finals = await until(async () => { const f = (await captionsOf(viewer)).filter((c) => c.isFinal); return f.length >= 3 && f; }, { timeoutMs: 120_000, intervalMs: 500, what: 'final captions at the viewer' });
      const wers = finals.map((c) => wordErrorRate(SENTENCE, c.caption));
      const best = Math.min(...wers);
      const partials = (await captionsOf(viewer)).filter((c) => !c.isFinal);
      console.info(`[captions e2e] ${finals.length} final captions at the subscriber, first after ${finals[0]!.t - t0} ms from start: ${finals.map((c, i) => `"${c.caption}" (WER ${(wers[i]! * 100).toFixed(0)} %)`).join('; ')}; best WER ${(best * 100).toFixed(0)} %; ${partials.length} partial caption(s)`);
      expect(finals.every((c) => c.streamId === streamId)).toBe(true);
      // The issue's "most words of the sentence": fewer than half of them wrong (the built-in
      // Moonshine engine; Debian's pocketsphinx measured 50–75 % here, docs/captions.md).
      expect(best).toBeLessThan(0.5);
      expect((await post(`/captions/${captionsId}/stop`)).status).toBe(202);
      await sleep(1000);
      const n = (await captionsOf(viewer)).length;
      await sleep(8000);
      expect((await captionsOf(viewer)).length).toBe(n);
    } finally {
      await speaker.close();
      await viewer.close();
    }
  }, 200_000);
});
