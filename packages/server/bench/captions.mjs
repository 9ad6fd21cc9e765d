// `npm run bench:captions`: first-caption latency of live captions with the built-in engine
// (`--engine=moonshine`, the default, or `--engine=pocketsphinx`).
//
// A sentence spoken by espeak-ng enters a routed session as a stream through the Audio Connector
// (a bidirectional WebSocket on loopback sending 20 ms of PCM every 20 ms), live captions are
// started through the REST API, and the time from the end of the speech to the first final
// caption is measured, --runs times (default 3). Baseline in the same run: the same engine alone
// on the same PCM (the sentence then 1 s of silence, written at once), so the figure reads as
// engine time plus what the session path (router, tap, mixer, 20 ms pacing) adds. Moonshine
// loads its model once per server: the first run of each side is also printed on its own.
// Bounded to about 3 minutes.
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { benchArgs } from './args.mjs';

const args = benchArgs();
const RUNS = Number(args.runs ?? 3);
const ENGINE = args.engine || 'moonshine';
const SENTENCE = 'the weather is nice today and we will go to the park';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const require = createRequire(import.meta.url);
const OpenTok = require('opentok');
const { WebSocketServer } = require('ws');
const { createServer } = await import('@tokhost/server');
const { createPocketsphinxRecognizer, pocketsphinxAvailable } = await import('../dist/captions/pocketsphinx.js');
const { createMoonshineRecognizer, moonshineAvailable } = await import('../dist/captions/moonshine.js');
const { wordErrorRate } = await import('../dist/captions/recognizer.js');

const ENGINES = {
  moonshine: { available: moonshineAvailable, create: createMoonshineRecognizer, missing: 'the Moonshine model is not installed (npm ci installs @moonshine-ai/moonshine-js)' },
  pocketsphinx: { available: pocketsphinxAvailable, create: createPocketsphinxRecognizer, missing: 'pocketsphinx and pocketsphinx-en-us are not installed (apt-get install pocketsphinx pocketsphinx-en-us)' },
};
const kind = ENGINES[ENGINE];
if (!kind) {
  console.error(`--engine: one of ${Object.keys(ENGINES).join(', ')} (got ${ENGINE})`);
  process.exit(2);
}
if (!kind.available()) {
  console.error(kind.missing);
  process.exit(2);
}
const dir = mkdtempSync(join(os.tmpdir(), 'tokhost-bench-captions-'));
execFileSync('espeak-ng', ['-v', 'en-us+f2', '-s', '140', '-w', join(dir, 's.wav'), SENTENCE]);
execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(dir, 's.wav'), '-ar', '16000', '-ac', '1', '-f', 's16le', join(dir, 's.raw')]);
const speech = readFileSync(join(dir, 's.raw'));
const speechMs = speech.length / 32;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Baseline: the engine alone, the whole sentence written at once, then 1 s of silence.
const baseline = [];
// One recogniser for every baseline run, as a server has one (Moonshine: one worker, one model load).
const engine = kind.create();
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const first = new Promise((resolve) => {
    const rec = engine.start({ languageCode: 'en-US', partials: false, onResult: (r) => r.isFinal && resolve({ rec, text: r.text }), onError: (e) => resolve({ rec, text: `error ${e.message}` }) });
    rec.write(speech);
    rec.write(Buffer.alloc(32000));
    void rec.end();
  });
  const { text } = await first;
  baseline.push(performance.now() - t0);
  if (i === 0) console.log(`engine alone: "${text}" (WER ${(wordErrorRate(SENTENCE, text) * 100).toFixed(0)} %)`);
}
engine.close?.();

const apiKey = '4' + String(Date.now()).slice(-7);
const apiSecret = randomBytes(20).toString('hex');
const captions = [];
const server = await createServer({ port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey, apiSecret, logLevel: 'warn', mediaWorkers: 1, captionsEngine: ENGINE }, { onCaption: (e) => captions.push({ ...e, at: performance.now() }) });
const ot = new OpenTok(apiKey, apiSecret, server.url);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((r) => wss.once('listening', r));
let speaker;
wss.on('connection', (s) => (speaker = s));
const jwt = () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: apiKey, ist: 'project', iat: now, exp: now + 60, jti: randomBytes(8).toString('hex') })}`;
  return `${head}.${createHmac('sha256', apiSecret).update(head).digest('base64url')}`;
};
const post = async (path, body) => {
  const r = await fetch(`${server.url}/v2/project/${apiKey}${path}`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
};
const latencies = [];
const texts = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const sessionId = await new Promise((res, rej) => ot.createSession({ mediaMode: 'routed' }, (e, s) => (e ? rej(e) : res(s.sessionId))));
    speaker = undefined;
    await post('/connect', { sessionId, token: ot.generateToken(sessionId), websocket: { uri: `ws://127.0.0.1:${wss.address().port}/s`, bidirectional: true } });
    while (!speaker) await sleep(20);
    const { captionsId } = await post('/captions', { sessionId, token: ot.generateToken(sessionId) });
    await sleep(1500);
    for (let k = 0; k < speech.length; k += 640) {
      speaker.send(speech.subarray(k, k + 640));
      await sleep(20);
    }
    const endOfSpeech = performance.now();
    const deadline = endOfSpeech + 60_000;
    let first;
    while (!(first = captions.find((c) => c.captionsId === captionsId && c.isFinal)) && performance.now() < deadline) await sleep(50);
    if (first) {
      latencies.push(first.at - endOfSpeech);
      texts.push(first.text);
    }
    await post(`/captions/${captionsId}/stop`);
    speaker.close();
  }
} finally {
  wss.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nlive captions, built-in ${ENGINE}, ${os.availableParallelism()} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
console.log(`speech ${speechMs.toFixed(0)} ms; runs ${RUNS}; captions received in ${latencies.length}`);
console.log(`first final caption after the end of speech: median ${median(latencies)?.toFixed(0)} ms (all, in order, the first with the model load: ${latencies.map((x) => x.toFixed(0)).join(', ')} ms)`);
console.log(`baseline, the engine alone on the whole sentence: median ${median(baseline).toFixed(0)} ms (all: ${baseline.map((x) => x.toFixed(0)).join(', ')} ms; ratio ${(median(latencies) / median(baseline)).toFixed(2)})`);
console.log(`texts: ${texts.map((t) => `"${t}" (WER ${(wordErrorRate(SENTENCE, t) * 100).toFixed(0)} %)`).join('; ')}`);
