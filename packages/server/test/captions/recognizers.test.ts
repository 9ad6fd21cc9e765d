/**
 * The shared contract of the caption recognisers (src/captions/recognizer.ts): every
 * implementation transcribes a sentence spoken by espeak-ng, refuses a language it cannot do
 * (naming it), and stops at once on close(). The word error rate is printed per engine.
 *
 * Each engine has its own WER bar: Moonshine (the built-in default) 35 %, pocketsphinx (Debian's,
 * the fallback) 75 %, the WebSocket client the bar of the engine behind it (pocketsphinx).
 *
 * The WebSocket recogniser is run against a Vosk-protocol server on loopback whose recognition
 * is the built-in pocketsphinx engine: the client's protocol is what is tested there (config
 * message, binary PCM, partial and text results, eof), with a real recogniser behind it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createMoonshineRecognizer, moonshineAvailable } from '../../src/captions/moonshine.js';
import { createPocketsphinxRecognizer, pocketsphinxAvailable } from '../../src/captions/pocketsphinx.js';
import { wordErrorRate, type RecognitionResult, type SpeechRecognizer } from '../../src/captions/recognizer.js';
import { createVoskWebSocketRecognizer } from '../../src/captions/vosk-websocket.js';
import { hasCommands } from '../kit/index.js';

const SENTENCE = 'the weather is nice today and we will go to the park';

/** A Vosk-protocol server on loopback backed by `engine`. */
async function voskServer(engine: SpeechRecognizer): Promise<{ url: string; configs: unknown[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const configs: unknown[] = [];
  wss.on('connection', (socket) => {
    const rec = engine.start({
      languageCode: 'en-US',
      partials: false,
      onResult: (r) => socket.send(JSON.stringify({ text: r.text, result: [] })),
      onError: () => socket.close(1011),
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        rec.write(data as Buffer);
        socket.send(JSON.stringify({ partial: '' }));
        return;
      }
      const msg = JSON.parse(String(data)) as { config?: unknown; eof?: number };
      if (msg.config) configs.push(msg.config);
      if (msg.eof) void rec.end().then(() => socket.close(1000));
    });
    socket.on('close', () => rec.close());
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, configs, close: () => new Promise((r) => wss.close(() => r())) };
}

describe.skipIf(!moonshineAvailable() || !pocketsphinxAvailable() || !hasCommands('espeak-ng', 'ffmpeg'))('caption recognisers (shared contract)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-asr-'));
  let speech: Buffer;
  let vosk: Awaited<ReturnType<typeof voskServer>>;
  // One Moonshine recogniser (its worker thread) for every case, as a server has; closed after.
  const moonshine = createMoonshineRecognizer();
  const engines: [string, () => SpeechRecognizer, number][] = [
    ['moonshine (built in)', () => moonshine, 0.35],
    ['pocketsphinx (Debian)', () => createPocketsphinxRecognizer(), 0.75],
    ['vosk-websocket', () => createVoskWebSocketRecognizer({ url: vosk.url, endTimeoutMs: 80_000 }), 0.75],
  ];

  beforeAll(async () => {
    // espeak-ng's American voice, then 16 kHz mono PCM with half a second of silence after it.
    execFileSync('espeak-ng', ['-v', 'en-us+f2', '-s', '140', '-w', join(dir, 's.wav'), SENTENCE]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(dir, 's.wav'), '-af', 'apad=pad_dur=1', '-ar', '16000', '-ac', '1', '-f', 's16le', join(dir, 's.raw')]);
    speech = readFileSync(join(dir, 's.raw'));
    vosk = await voskServer(createPocketsphinxRecognizer());
  });
  afterAll(async () => {
    moonshine.close();
    await vosk?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(engines)('%s: transcribes an espeak-ng sentence (WER under its bar, printed)', async (name, make, bar) => {
    const engine = make();
    expect(engine.sampleRate).toBe(16000);
    expect(engine.languages).toContain('en-US');
    const results: RecognitionResult[] = [];
    const errors: Error[] = [];
    const t0 = Date.now();
    const rec = engine.start({ languageCode: 'en-US', partials: true, onResult: (r) => results.push(r), onError: (e) => errors.push(e) });
    // 20 ms chunks, as captions feed it.
    for (let i = 0; i < speech.length; i += 640) rec.write(speech.subarray(i, i + 640));
    await rec.end();
    const text = results.filter((r) => r.isFinal).map((r) => r.text).join(' ');
    const wer = wordErrorRate(SENTENCE, text);
    console.info(`[asr ${name}] "${text}" for "${SENTENCE}": WER ${(wer * 100).toFixed(0)} % in ${Date.now() - t0} ms`);
    expect(errors).toEqual([]);
    expect(results.length).toBeGreaterThan(0);
    expect(wer).toBeLessThanOrEqual(bar);
  }, 120_000);

  it.each(engines)('%s: refuses a language it cannot do, naming it; close() ends at once with no results', async (_name, make) => {
    const engine = make();
    expect(() => engine.start({ languageCode: 'xx-XX', partials: false, onResult: () => undefined, onError: () => undefined })).toThrow(/xx-XX/);
    const results: RecognitionResult[] = [];
    const rec = engine.start({ languageCode: 'en-US', partials: false, onResult: (r) => results.push(r), onError: () => undefined });
    rec.write(speech.subarray(0, speech.length / 2));
    rec.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(results).toEqual([]);
  }, 30_000);

  it('moonshine: partial results (isFinal false) while an utterance is spoken in real time, then its final', async () => {
    const results: (RecognitionResult & { at: number })[] = [];
    const errors: Error[] = [];
    const rec = moonshine.start({ languageCode: 'en-US', partials: true, onResult: (r) => results.push({ ...r, at: Date.now() }), onError: (e) => errors.push(e) });
    const t0 = Date.now();
    for (let i = 0; i < speech.length; i += 640) {
      rec.write(speech.subarray(i, i + 640));
      // Real time: 20 ms of audio every 20 ms (timers slip under load; that only slows it down).
      const ahead = (i / 32) - (Date.now() - t0);
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
    await rec.end();
    const partials = results.filter((r) => !r.isFinal);
    const final = results.find((r) => r.isFinal);
    console.info(`[asr moonshine] partials ${partials.map((p) => `+${p.at - t0} ms "${p.text}"`).join(', ')}; final +${final ? final.at - t0 : '-'} ms "${final?.text}"`);
    expect(errors).toEqual([]);
    expect(partials.length).toBeGreaterThan(0);
    expect(final).toBeDefined();
    expect(results.indexOf(partials.at(-1)!)).toBeLessThan(results.indexOf(final!));
    expect(wordErrorRate(SENTENCE, final!.text)).toBeLessThanOrEqual(0.35);
  }, 60_000);

  it('moonshine: a missing model is reported through onError, naming the file', async () => {
    const engine = createMoonshineRecognizer({ modelDir: join(dir, 'no-model') });
    const errors: Error[] = [];
    engine.start({ languageCode: 'en-US', partials: false, onResult: () => undefined, onError: (e) => errors.push(e) });
    await new Promise((r) => setTimeout(r, 10));
    expect(errors[0]?.message).toMatch(/model file\(s\) missing: .*no-model\/encoder_model\.onnx/);
    engine.close();
  });

  it('the WebSocket client speaks the Vosk protocol: a config message with the sample rate first', () => {
    expect(vosk.configs[0]).toEqual({ sample_rate: 16000 });
  });
});

describe('wordErrorRate', () => {
  it('counts substitutions, insertions and deletions per reference word, ignoring case and punctuation', () => {
    expect(wordErrorRate('the cat sat', 'The cat, sat.')).toBe(0);
    expect(wordErrorRate('the cat sat', 'the dog sat')).toBeCloseTo(1 / 3);
    expect(wordErrorRate('the cat sat', 'the cat sat down')).toBeCloseTo(1 / 3);
    expect(wordErrorRate('the cat sat', 'cat')).toBeCloseTo(2 / 3);
    expect(wordErrorRate('', '')).toBe(0);
  });
});
