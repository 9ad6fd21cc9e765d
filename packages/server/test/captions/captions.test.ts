/**
 * Live captions through the REST API (issue 23, part 2), with real parts and no browser: a
 * sentence spoken by espeak-ng enters a routed session as a stream through the Audio Connector
 * (a bidirectional socket sending it in real time), the captioner hears that stream and the
 * built-in engine (Moonshine) transcribes it. Start → 202, a second start → 409, an unknown language → 400
 * naming the engine's languages, stop → 202 and no caption after it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CaptionEvent } from '../../src/captions/captions.js';
import { moonshineAvailable } from '../../src/captions/moonshine.js';
import { wordErrorRate } from '../../src/captions/recognizer.js';
import type { TokhostServer } from '../../src/create-server.js';
import { call, projectJwt, hasCommands, OpenTok, sleep, startServer, until, type OpenTokSdk } from '../kit/index.js';

const SENTENCE = 'the weather is nice today and we will go to the park';

describe.skipIf(!moonshineAvailable() || !hasCommands('espeak-ng', 'ffmpeg'))('live captions (REST, built-in engine: Moonshine)', () => {
  const apiKey = '9' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-captions-'));
  const captions: (CaptionEvent & { at: number })[] = [];
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let wss: WebSocketServer;
  let speaker: WebSocket | undefined;
  let speech: Buffer;

  beforeAll(async () => {
    execFileSync('espeak-ng', ['-v', 'en-us+f2', '-s', '140', '-w', join(dir, 's.wav'), SENTENCE]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(dir, 's.wav'), '-ar', '16000', '-ac', '1', '-f', 's16le', join(dir, 's.raw')]);
    speech = readFileSync(join(dir, 's.raw'));
    server = await startServer({ apiKey, apiSecret, mediaWorkers: 1, outboundAllow: ['127.0.0.0/8'] }, { onCaption: (e) => captions.push({ ...e, at: Date.now() }) });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (s) => (speaker = s));
  });
  afterAll(async () => {
    speaker?.terminate();
    await new Promise((r) => wss.close(r));
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const jwt = () => projectJwt(apiKey, apiSecret);
  const post = (path: string, body?: unknown) => fetch(`${server.url}/v2/project/${apiKey}${path}`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  /** The sentence into the session, in 20 ms messages at real-time pace (by the clock: a late timer is caught up, not added as a gap in the speech). */
  async function speak(): Promise<void> {
    const t0 = Date.now();
    for (let i = 0; i < speech.length; i += 640) {
      speaker!.send(speech.subarray(i, i + 640));
      const ahead = (i + 640) / 32 - (Date.now() - t0);
      if (ahead > 0) await sleep(ahead);
    }
  }

  it('start 202, second start 409, unknown language 400; the speaking stream is transcribed; stop ends the captions', async () => {
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const conn = await post('/connect', { sessionId, token: ot.generateToken(sessionId), websocket: { uri: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/speaker`, bidirectional: true } });
    expect(conn.status).toBe(200);
    await until(async () => speaker, { timeoutMs: 5000, what: 'the speaker socket' });
    const streamId = await until(async () => (await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb)))[0]?.id, { timeoutMs: 5000, what: 'the speaker stream' });

    const bad = await post('/captions', { sessionId, token: ot.generateToken(sessionId), languageCode: 'fr-FR' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/languageCode.*fr-FR.*moonshine.*en-US/);
    const started = await post('/captions', { sessionId, token: ot.generateToken(sessionId), languageCode: 'en-US', maxDuration: 300, partialCaptions: true });
    expect(started.status).toBe(202);
    const { captionsId } = (await started.json()) as { captionsId: string };
    expect(captionsId).toMatch(/^[0-9a-f-]{36}$/);
    const again = await post('/captions', { sessionId, token: ot.generateToken(sessionId) });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toBe('Live captions have already started for this OpenTok Session');

    await sleep(1000);
    const spokenAt = Date.now();
    await speak();
    const spokenUntil = Date.now();
    const first = await until(async () => captions.find((c) => c.captionsId === captionsId && c.isFinal), { timeoutMs: 90_000, intervalMs: 250, what: 'a final caption' });
    // The engine prints an utterance once it has heard the silence after it; wait for all of it.
    await sleep(3000);
    const text = captions.filter((c) => c.captionsId === captionsId && c.isFinal).map((c) => c.text).join(' ');
    const wer = wordErrorRate(SENTENCE, text);
    const partials = captions.filter((c) => c.captionsId === captionsId && !c.isFinal);
    console.info(`[captions] "${text}" for "${SENTENCE}": WER ${(wer * 100).toFixed(0)} %; first final caption ${first.at - spokenAt} ms after the speech began, ${first.at - spokenUntil} ms after it was all sent (${(speech.length / 32).toFixed(0)} ms of speech, sent in ${spokenUntil - spokenAt} ms); ${partials.length} partial(s) before it`);
    expect(first).toMatchObject({ sessionId, streamId, apiKey });
    // The "most words of the sentence": fewer than half of them wrong.
    expect(wer).toBeLessThan(0.5);

    const stop = await post(`/captions/${captionsId}/stop`);
    expect(stop.status).toBe(202);
    expect((await post(`/captions/${captionsId}/stop`)).status).toBe(404);
    const count = captions.length;
    await speak();
    await sleep(5000);
    expect(captions.length).toBe(count);
    // Captions can start again once stopped.
    const restarted = await post('/captions', { sessionId, token: ot.generateToken(sessionId) });
    expect(restarted.status).toBe(202);
    expect((await post(`/captions/${((await restarted.json()) as { captionsId: string }).captionsId}/stop`)).status).toBe(202);
  }, 180_000);
});
