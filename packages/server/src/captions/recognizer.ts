/**
 * Speech recognition for live captions, behind one small interface: the built-in offline engine
 * (moonshine.ts: Moonshine tiny from npm, the default; pocketsphinx.ts: Debian's pocketsphinx,
 * the fallback; nothing downloaded at run time) and a client of an external recogniser over
 * WebSocket (vosk-websocket.ts: the Vosk server protocol, which Vosk and several Whisper servers
 * speak). All run the shared contract test (recognizers.test.ts).
 */

/** One caption: the words heard so far of an utterance (`isFinal: false`), or all of it. */
export interface RecognitionResult {
  text: string;
  isFinal: boolean;
}

/** One stream being transcribed. */
export interface Recognition {
  /** Mono 16-bit little-endian PCM at the recogniser's {@link SpeechRecognizer.sampleRate}. */
  write(pcm: Buffer): void;
  /** No more audio: resolves once the last results are out. */
  end(): Promise<void>;
  /** Stop now (results still pending are dropped). */
  close(): void;
}

export interface RecognitionOptions {
  /** A language of {@link SpeechRecognizer.languages} (BCP 47, `en-US`). */
  languageCode: string;
  /** Also deliver partial results. */
  partials: boolean;
  onResult(result: RecognitionResult): void;
  /** The engine failed (the recognition is over). */
  onError(err: Error): void;
}

export interface SpeechRecognizer {
  /** For logs and docs (`pocketsphinx`, `vosk-websocket`). */
  readonly name: string;
  /** The rate it takes PCM at. */
  readonly sampleRate: 8000 | 16000 | 24000;
  /** Languages it can transcribe (BCP 47). */
  readonly languages: readonly string[];
  start(options: RecognitionOptions): Recognition;
}

/** Word error rate of `hypothesis` against `reference` (word-level Levenshtein / reference words; case and punctuation ignored). */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const words = (s: string) => s.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').split(/\s+/).filter(Boolean);
  const r = words(reference);
  const h = words(hypothesis);
  if (r.length === 0) return h.length === 0 ? 0 : 1;
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[h.length]! / r.length;
}
