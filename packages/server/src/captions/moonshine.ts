/**
 * The built-in offline recogniser: Moonshine tiny (Useful Sensors / Moonshine AI, MIT code and
 * weights), the quantized ONNX encoder and merged decoder that ship inside the npm package
 * `@moonshine-ai/moonshine-js`, run by `onnxruntime-node` on the CPU and decoded with
 * `llama-tokenizer-js` (Moonshine's tokenizer). Nothing is downloaded at run time.
 *
 * Moonshine transcribes whole utterances, not a stream: each recognition cuts its PCM into
 * utterances with an energy voice-activity detector ({@link UtteranceSegmenter}) and each
 * utterance becomes one final result; with partials on, the audio of the utterance so far is
 * transcribed again about once a second of audio.
 *
 * Inference never runs on the server's main thread (the media router lives there): one
 * `worker_threads` worker per process, started by the first recognition (the model loads
 * while its first utterance is spoken), holds the two sessions (one
 * intra-op thread) and runs one job at a time; the queue of jobs waiting for it is bounded and
 * drops stale partials first.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Recognition, RecognitionOptions, SpeechRecognizer } from './recognizer.js';

const SAMPLE_RATE = 16000;
const MODEL_FILES = ['encoder_model.onnx', 'decoder_model_merged.onnx'] as const;

export interface MoonshineOptions {
  /** Folder with `encoder_model.onnx` and `decoder_model_merged.onnx`. Default the tiny quantized model of the installed `@moonshine-ai/moonshine-js`. */
  modelDir?: string;
  /** Jobs waiting for the worker, all recognitions together; beyond it partials, then the oldest finals, are dropped. Default 32. */
  maxQueue?: number;
  /** Silence that ends an utterance. Default 500 ms. */
  endSilenceMs?: number;
  /** Longest utterance before it is cut. Default 15000 ms. */
  maxUtteranceMs?: number;
  /** Audio between two partial results of one utterance. Default 1000 ms. */
  partialEveryMs?: number;
}

/** The tiny quantized model of the installed `@moonshine-ai/moonshine-js`, found by walking up to a `node_modules` that holds it; null when none does. */
export function defaultMoonshineModelDir(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', '@moonshine-ai', 'moonshine-js', 'dist', 'model', 'tiny', 'quantized');
    if (existsSync(join(candidate, MODEL_FILES[0]))) return candidate;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The model files missing from `modelDir` (all of them when no model folder is found). */
function missingModelFiles(modelDir: string | null): string[] {
  if (modelDir === null) return MODEL_FILES.map((f) => `@moonshine-ai/moonshine-js/dist/model/tiny/quantized/${f}`);
  return MODEL_FILES.map((f) => join(modelDir, f)).filter((f) => !existsSync(f));
}

/** Whether the model files are installed here. */
export function moonshineAvailable(options: Pick<MoonshineOptions, 'modelDir'> = {}): boolean {
  return missingModelFiles(options.modelDir ?? defaultMoonshineModelDir()).length === 0;
}

/** A recogniser with work in a shared worker thread: close it with the server. */
export interface ClosableSpeechRecognizer extends SpeechRecognizer {
  /** Stop its recognitions as their close() does (no more results) and drop their queued jobs; later writes get onError. */
  close(): void;
}

// The worker: loads both sessions once, then answers `{ id, audio, maxTokens }` with
// `{ id, text }` (greedy decoding, at least one token, key/value cache: the encoder's from the first step, the
// decoder's updated every step) or `{ id, error }`. Plain JavaScript evaluated in the worker, so
// it runs the same from src/ under the test runner and from dist/.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
const ready = (async () => {
  const tokenizer = (await import(workerData.tokenizer)).default;
  const encoder = await ort.InferenceSession.create(workerData.encoder, opts);
  const decoder = await ort.InferenceSession.create(workerData.decoder, opts);
  const kv = decoder.inputNames.filter((n) => n.startsWith('past_key_values.'));
  return { tokenizer, encoder, decoder, kv };
})();
ready.catch(() => {});
async function transcribe(m, job) {
  const enc = await m.encoder.run({ input_values: new ort.Tensor('float32', job.audio, [1, job.audio.length]) });
  const hidden = enc.last_hidden_state;
  const past = {};
  for (const n of m.kv) past[n] = new ort.Tensor('float32', new Float32Array(0), [0, workerData.heads, 1, workerData.headDim]);
  const tokens = [];
  let next = 1;
  for (let step = 0; step < job.maxTokens; step++) {
    const out = await m.decoder.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(next)), [1, 1]),
      encoder_hidden_states: hidden,
      use_cache_branch: new ort.Tensor('bool', [step > 0]),
      ...past,
    });
    const logits = out.logits.data;
    const vocab = out.logits.dims[2];
    const off = logits.length - vocab;
    // No end of text as the first token: on audio with gaps (a stream's jitter, packet loss) the
    // model's first guess is often "nothing was said" while the sentence is its second one.
    let best = 0;
    for (let k = 1; k < vocab; k++) if ((step > 0 || k !== 2) && logits[off + k] > logits[off + best]) best = k;
    if (best === 2) break;
    tokens.push(best);
    next = best;
    for (const [name, value] of Object.entries(out)) {
      if (!name.startsWith('present.')) continue;
      const key = 'past_key_values.' + name.slice('present.'.length);
      if (step === 0 || key.includes('.decoder.')) past[key] = value;
    }
  }
  return tokens.length === 0 ? '' : m.tokenizer.decode(tokens);
}
let chain = Promise.resolve();
parentPort.on('message', (job) => {
  chain = chain
    .then(() => ready)
    .then((m) => transcribe(m, job))
    .then((text) => parentPort.postMessage({ id: job.id, text }), (err) => parentPort.postMessage({ id: job.id, error: String((err && err.message) || err) }));
});
`;

/** Moonshine tiny: 6 decoder layers, 8 heads of 36 dimensions. */
const TINY = { heads: 8, headDim: 36 };

interface Job {
  id: number;
  owner: object;
  /** Partial jobs of one recognition replace each other while they wait. */
  partial: boolean;
  audio: Float32Array;
  settle(text: string | null, err?: Error): void;
}

/**
 * The one worker of a recogniser and its queue: one job runs at a time, the rest wait here,
 * in order, at most `maxQueue` of them.
 */
class MoonshineWorker {
  private worker: Worker | null = null;
  private readonly queue: Job[] = [];
  private running: Job | null = null;
  private nextId = 1;

  constructor(
    private readonly modelDir: string,
    private readonly maxQueue: number,
  ) {}

  /** Transcribe `audio`; resolves null when the job was dropped (queue full, a newer partial, or cancelled). */
  transcribe(owner: object, audio: Float32Array, partial: boolean): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, owner, partial, audio, settle: (text, err) => (err ? reject(err) : resolve(text)) };
      if (partial) {
        const stale = this.queue.findIndex((j) => j.owner === owner && j.partial);
        if (stale >= 0) this.queue.splice(stale, 1)[0]!.settle(null);
      }
      if (this.queue.length >= this.maxQueue) {
        const victim = this.queue.findIndex((j) => j.partial);
        if (partial && victim < 0) return resolve(null);
        this.queue.splice(victim >= 0 ? victim : 0, 1)[0]!.settle(null);
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** Start the worker now, so that the model loads while the first utterance is spoken. */
  warm(): void {
    this.worker ??= this.start();
  }

  /** Drop the waiting jobs of `owner` (a closed recognition). */
  cancel(owner: object): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.owner === owner) this.queue.splice(i, 1)[0]!.settle(null);
  }

  private start(): Worker {
    const require = createRequire(import.meta.url);
    const w = new Worker(WORKER, {
      eval: true,
      workerData: {
        ort: require.resolve('onnxruntime-node'),
        tokenizer: pathToFileURL(require.resolve('llama-tokenizer-js')).href,
        encoder: join(this.modelDir, MODEL_FILES[0]),
        decoder: join(this.modelDir, MODEL_FILES[1]),
        ...TINY,
      },
    });
    // An idle worker must not keep the process alive (the server's close() terminates it too).
    w.unref();
    w.on('message', (m: { id: number; text?: string; error?: string }) => {
      const job = this.running;
      if (!job || job.id !== m.id) return;
      this.running = null;
      if (m.error !== undefined) job.settle(null, new Error(`moonshine: ${m.error}`));
      else job.settle(m.text ?? '');
      this.pump();
    });
    const fail = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = null;
      const job = this.running;
      this.running = null;
      job?.settle(null, new Error(`moonshine: the worker failed: ${err.message}`));
      // The next job starts a fresh worker.
      this.pump();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    return w;
  }

  private pump(): void {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) return;
    this.worker ??= this.start();
    this.running = job;
    this.worker.postMessage({ id: job.id, audio: job.audio, maxTokens: maxTokens(job.audio.length) }, [job.audio.buffer as ArrayBuffer]);
  }
}

// One worker per process and model, shared by every recogniser (every server) of the process and
// never terminated: onnxruntime-node's addon registers itself once per process, so a worker that
// loaded it and ended leaves the next one unable to load it ("Module did not self-register"), and
// terminating a worker that holds sessions crashed the process in the allocator. The worker is
// unref'd: idle, it neither keeps the process alive nor uses CPU (its memory, ~100 MB, stays).
const workers = new Map<string, MoonshineWorker>();
function sharedWorker(modelDir: string, maxQueue: number): MoonshineWorker {
  let w = workers.get(modelDir);
  if (!w) workers.set(modelDir, (w = new MoonshineWorker(modelDir, maxQueue)));
  return w;
}

/** Moonshine's own bound on the output: about six tokens per second of speech (greedy decoding can loop). */
function maxTokens(samples: number): number {
  return Math.max(8, Math.ceil((samples / SAMPLE_RATE) * 6.5));
}

export interface SegmenterOptions {
  endSilenceMs: number;
  maxUtteranceMs: number;
}

/**
 * An energy voice-activity detector over 20 ms frames of 16 kHz audio: a frame is speech when
 * its level is 12 dB over the tracked noise floor (and over -55 dBFS); an utterance starts at
 * the first speech frame (with 200 ms before it), ends after `endSilenceMs` without speech or at
 * `maxUtteranceMs`; utterances with less than 100 ms of speech are noise and dropped.
 */
export class UtteranceSegmenter {
  private static readonly FRAME = 320;
  private static readonly PREROLL_FRAMES = 10;
  private readonly pending: number[] = [];
  private readonly preroll: Float32Array[] = [];
  private frames: Float32Array[] = [];
  private speechFrames = 0;
  private silentFrames = 0;
  private floorDb = -70;

  constructor(private readonly options: SegmenterOptions) {}

  /** Whether an utterance is in progress. */
  get active(): boolean {
    return this.frames.length > 0;
  }

  /** Samples of the utterance in progress. */
  get length(): number {
    return this.frames.length * UtteranceSegmenter.FRAME;
  }

  /** The utterance so far, as Moonshine takes it. */
  current(): Float32Array {
    const out = new Float32Array(this.length);
    this.frames.forEach((f, i) => out.set(f, i * UtteranceSegmenter.FRAME));
    return out;
  }

  /** Feed 16-bit little-endian PCM; returns the utterances it completed. */
  push(pcm: Buffer): Float32Array[] {
    const done: Float32Array[] = [];
    for (let i = 0; i + 1 < pcm.length; i += 2) this.pending.push(pcm.readInt16LE(i) / 32768);
    const F = UtteranceSegmenter.FRAME;
    while (this.pending.length >= F) {
      const frame = Float32Array.from(this.pending.splice(0, F));
      const u = this.frame(frame);
      if (u) done.push(u);
    }
    return done;
  }

  /** The utterance in progress, if it holds speech, and a fresh start. */
  flush(): Float32Array | null {
    const u = this.speechFrames >= 5 ? this.current() : null;
    this.frames = [];
    this.speechFrames = 0;
    this.silentFrames = 0;
    return u;
  }

  private frame(frame: Float32Array): Float32Array | null {
    let sum = 0;
    for (const s of frame) sum += s * s;
    const db = 10 * Math.log10(sum / frame.length + 1e-12);
    // The floor follows quiet frames down at once and rises slowly (0.05 dB a frame) in noise.
    this.floorDb = db < this.floorDb ? db : Math.min(this.floorDb + 0.05, db);
    const speech = db > Math.max(-55, this.floorDb + 12);
    const ms = 1000 / (SAMPLE_RATE / UtteranceSegmenter.FRAME);
    if (!this.active) {
      this.preroll.push(frame);
      if (this.preroll.length > UtteranceSegmenter.PREROLL_FRAMES) this.preroll.shift();
      if (!speech) return null;
      this.frames = this.preroll.splice(0);
      this.speechFrames = 1;
      this.silentFrames = 0;
      return null;
    }
    this.frames.push(frame);
    if (speech) {
      this.speechFrames++;
      this.silentFrames = 0;
    } else this.silentFrames++;
    if (this.silentFrames * ms >= this.options.endSilenceMs || this.frames.length * ms >= this.options.maxUtteranceMs) return this.flush();
    return null;
  }
}

/**
 * The built-in recogniser (`captionsEngine: moonshine`). The worker starts with the first
 * recognition and is shared by every recogniser of the process (see `sharedWorker`).
 *
 * @example
 * const engine = createMoonshineRecognizer();
 * const rec = engine.start({ languageCode: 'en-US', partials: false, onResult: (r) => console.log(r.text), onError: console.error });
 * rec.write(pcm16k); await rec.end(); engine.close();
 */
export function createMoonshineRecognizer(options: MoonshineOptions = {}): ClosableSpeechRecognizer {
  const modelDir = options.modelDir ?? defaultMoonshineModelDir();
  const segmenter = { endSilenceMs: options.endSilenceMs ?? 500, maxUtteranceMs: options.maxUtteranceMs ?? 15_000 };
  const partialEvery = ((options.partialEveryMs ?? 1000) / 1000) * SAMPLE_RATE;
  let worker: MoonshineWorker | null = null;
  let shut = false;
  /** How to stop each recognition still running (close() of the recogniser stops them all). */
  const live = new Set<() => void>();
  const languages = ['en-US'] as const;
  return {
    name: 'moonshine',
    sampleRate: SAMPLE_RATE,
    languages,
    start(o: RecognitionOptions): Recognition {
      if (o.languageCode !== 'en-US') throw new RangeError(`moonshine transcribes ${languages.join(', ')} only (asked: ${o.languageCode})`);
      const missing = missingModelFiles(modelDir);
      const owner = {};
      let failed = missing.length > 0;
      let closed = false;
      if (failed) queueMicrotask(() => o.onError(new Error(`moonshine: model file(s) missing: ${missing.join(', ')} (install @moonshine-ai/moonshine-js, see docs/captions.md)`)));
      if (!failed && !shut) {
        worker ??= sharedWorker(modelDir!, options.maxQueue ?? 32);
        worker.warm();
      }
      const stop = () => {
        closed = true;
        live.delete(stop);
        worker?.cancel(owner);
      };
      live.add(stop);
      const seg = new UtteranceSegmenter(segmenter);
      /** Finals in order: each waits for the one before, so results come out as spoken. */
      let finals: Promise<void> = Promise.resolve();
      let utterance = 0;
      let partialAt = 0;
      let partialBusy = false;
      const fail = (err: Error) => {
        if (failed || closed) return;
        failed = true;
        o.onError(err);
      };
      const final = (audio: Float32Array) => {
        utterance++;
        partialAt = 0;
        const job = worker!.transcribe(owner, audio, false);
        finals = finals.then(() =>
          job.then(
            (text) => {
              const t = text?.trim();
              if (t && !closed && !failed) o.onResult({ text: t, isFinal: true });
            },
            (err: Error) => fail(err),
          ),
        );
      };
      const partial = () => {
        const of = utterance;
        partialBusy = true;
        worker!.transcribe(owner, seg.current(), true).then(
          (text) => {
            partialBusy = false;
            const t = text?.trim();
            // A partial that arrives after its utterance's final is stale.
            if (t && of === utterance && !closed && !failed) o.onResult({ text: t, isFinal: false });
          },
          (err: Error) => {
            partialBusy = false;
            fail(err);
          },
        );
      };
      return {
        write(pcm) {
          if (failed || closed) return;
          if (shut) return fail(new Error('moonshine: the recogniser is closed'));
          worker ??= sharedWorker(modelDir!, options.maxQueue ?? 32);
          for (const u of seg.push(pcm)) final(u);
          if (o.partials && seg.active && !partialBusy && seg.length - partialAt >= partialEvery) {
            partialAt = seg.length;
            partial();
          }
        },
        async end() {
          if (!failed && !closed && worker) {
            const u = seg.flush();
            if (u) final(u);
          }
          await finals;
        },
        close() {
          closed = true;
          live.delete(stop);
          worker?.cancel(owner);
        },
      };
    },
    close() {
      shut = true;
      for (const s of [...live]) s();
    },
  };
}
