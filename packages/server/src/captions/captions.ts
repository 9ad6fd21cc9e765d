/**
 * Live captions (`POST /captions`): one captioner per session, a server participant that hears
 * each stream that publishes captions (`hasCaptions`: OpenTok.js `publishCaptions`) on its own
 * (16 kHz, `streams: [id]`) and feeds it to a {@link SpeechRecognizer}; a stream's recognition
 * starts and stops as its publisher turns captions on and off. Every result is handed to
 * `onCaption` (delivery to the clients that asked for captions is the realtime layer's, see
 * docs/captions.md). Ends on stop, at `maxDuration`, when its connection is disconnected, with
 * the session, or when the engine fails; each status goes to `statusCallbackUrl`.
 */
import { randomUUID } from 'node:crypto';
import type { RtStream, VerifiedToken } from '@tokhost/protocol';
import { TokhostError } from '../errors.js';
import { toPcm16le } from '../participant/audio.js';
import type { AudioParticipant, AudioParticipants, Listener } from '../participant/audio-participant.js';
import type { ParticipantLogger } from '../participant/session-audio.js';
import type { Recognition, SpeechRecognizer } from './recognizer.js';

/** One caption as the recogniser produced it. */
export interface CaptionEvent {
  apiKey: string;
  sessionId: string;
  captionsId: string;
  streamId: string;
  text: string;
  isFinal: boolean;
}

/**
 * The body of a status callback (reference §4.5, Vonage's caption status): sent to the start's
 * `statusCallbackUrl` when the captions start, stop and fail.
 */
export interface CaptionsStatusEvent {
  captionId: string;
  projectId: string;
  sessionId: string;
  status: 'started' | 'stopped' | 'failed';
  /** ms since the epoch. */
  createdAt: number;
  updatedAt: number;
  /** Seconds since the start. */
  duration: number;
  languageCode: string;
  /** The speech engine (`pocketsphinx`, `vosk-websocket`; Vonage's is `aws-transcribe`). */
  provider: string;
  /** Why they stopped or failed: {@link CAPTIONS_REASONS}. */
  reason?: string;
}

/** The `reason` of a `stopped` or `failed` status. */
export const CAPTIONS_REASONS = {
  stopRequested: 'Stop Requested',
  maxDuration: 'Max duration exceeded',
  connectionEnded: 'Captions connection ended',
  serverShutdown: 'Server shutting down',
  engineFailed: 'Speech recognition failed',
} as const;

export interface CaptionsDeps {
  participants: AudioParticipants;
  /** The engine; null: captions are refused (501). */
  recognizer: SpeechRecognizer | null;
  logger: ParticipantLogger;
  onCaption(event: CaptionEvent): void;
  /** Deliver a status callback (through the server's callback sender and its outbound policy). */
  onStatus?(url: string, apiKey: string, event: CaptionsStatusEvent): void;
}

export interface StartCaptionsOptions {
  languageCode: string;
  /** Seconds. */
  maxDuration: number;
  partialCaptions: boolean;
  /** Where the status callbacks go. */
  statusCallbackUrl?: string;
}

interface Transcribed {
  listener: Listener;
  recognition: Recognition;
}

class Captioner {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  participant!: AudioParticipant;
  readonly streams = new Map<string, Transcribed>();
  timer: NodeJS.Timeout | undefined;
  ended = false;

  constructor(
    readonly apiKey: string,
    readonly sessionId: string,
    readonly options: StartCaptionsOptions,
  ) {}
}

/** The live captions of a server. */
export class CaptionsService {
  private readonly bySession = new Map<string, Captioner>();
  private readonly byId = new Map<string, Captioner>();

  constructor(private readonly deps: CaptionsDeps) {}

  /** Languages the installed engine transcribes. */
  get languages(): readonly string[] {
    return this.deps.recognizer?.languages ?? [];
  }

  /** Start captions for the token's session; throws 409 when the session already has them. */
  start(apiKey: string, token: VerifiedToken, options: StartCaptionsOptions): { captionsId: string } {
    const engine = this.deps.recognizer;
    if (!engine) throw new TokhostError('ERR_NOT_IMPLEMENTED', 'Live captions are not available on this server', { description: 'no speech recogniser is installed or configured (see docs/captions.md)' });
    if (!engine.languages.includes(options.languageCode)) throw new TokhostError('ERR_REQUEST_INVALID', `Invalid languageCode: ${options.languageCode} is not one the installed engine (${engine.name}) transcribes: ${engine.languages.join(', ')}`);
    if (this.bySession.has(token.sessionId)) throw new TokhostError('ERR_CONFLICT', 'Live captions have already started for this OpenTok Session', { description: `Session ${token.sessionId} already has live captions (${this.bySession.get(token.sessionId)!.id})` });
    const c = new Captioner(apiKey, token.sessionId, options);
    c.participant = this.deps.participants.join(token, {
      onMessage: (m) => this.onRealtime(c, m),
      onEnd: () => this.end(c, 'stopped', CAPTIONS_REASONS.connectionEnded),
    });
    this.bySession.set(c.sessionId, c);
    this.byId.set(c.id, c);
    c.timer = setTimeout(() => this.end(c, 'stopped', CAPTIONS_REASONS.maxDuration), options.maxDuration * 1000);
    c.timer.unref();
    this.deps.logger.info({ captionsId: c.id, sessionId: c.sessionId, engine: engine.name, languageCode: options.languageCode }, 'captions started');
    this.status(c, 'started');
    return { captionsId: c.id };
  }

  /** Stop captions; false when `captionsId` is unknown (or of another project). */
  stop(apiKey: string, captionsId: string): boolean {
    const c = this.byId.get(captionsId);
    if (!c || c.apiKey !== apiKey) return false;
    this.end(c, 'stopped', CAPTIONS_REASONS.stopRequested);
    return true;
  }

  private onRealtime(c: Captioner, m: Record<string, unknown>): void {
    // Only streams that publish captions are transcribed (a muted one gives silence, no captions).
    const seen = (s: RtStream) => {
      if (s.hasCaptions === true) queueMicrotask(() => this.transcribe(c, s.streamId));
    };
    switch (m['type']) {
      case 'sessionConnected':
      case 'streamsCreated':
        for (const s of (m['streams'] as RtStream[] | undefined) ?? []) seen(s);
        break;
      case 'streamCreated':
        seen(m['stream'] as RtStream);
        break;
      case 'streamPropertyChanged':
        if (m['changedProperty'] !== 'hasCaptions') break;
        if (m['newValue'] === true) seen(m['stream'] as RtStream);
        else this.untranscribe(c, String(m['streamId']));
        break;
      case 'streamDestroyed':
        this.untranscribe(c, (m['stream'] as RtStream).streamId);
        break;
    }
  }

  /** The status callback, when the start named a URL. */
  private status(c: Captioner, status: CaptionsStatusEvent['status'], reason?: string): void {
    const url = c.options.statusCallbackUrl;
    if (url === undefined || !this.deps.onStatus) return;
    const now = Date.now();
    const event: CaptionsStatusEvent = {
      captionId: c.id,
      projectId: c.apiKey,
      sessionId: c.sessionId,
      status,
      createdAt: c.createdAt,
      updatedAt: now,
      duration: Math.round((now - c.createdAt) / 1000),
      languageCode: c.options.languageCode,
      provider: this.deps.recognizer?.name ?? 'none',
      ...(reason !== undefined ? { reason } : {}),
    };
    try {
      this.deps.onStatus(url, c.apiKey, event);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, captionsId: c.id }, 'captions: status callback not queued');
    }
  }

  private transcribe(c: Captioner, streamId: string): void {
    if (c.ended || c.streams.has(streamId)) return;
    const engine = this.deps.recognizer!;
    let recognition: Recognition;
    try {
      recognition = engine.start({
        languageCode: c.options.languageCode,
        partials: c.options.partialCaptions,
        onResult: (r) => {
          if (c.ended) return;
          try {
            this.deps.onCaption({ apiKey: c.apiKey, sessionId: c.sessionId, captionsId: c.id, streamId, text: r.text, isFinal: r.isFinal });
          } catch (err) {
            this.deps.logger.warn({ err: (err as Error).message }, 'captions: delivery failed');
          }
        },
        // The engine is broken (its process died, the external recogniser is unreachable): the
        // captions end as failed rather than go on silently without this stream.
        onError: (err) => {
          this.deps.logger.warn({ err: err.message, captionsId: c.id, streamId }, 'captions: recogniser failed');
          // After the stream's end (untranscribe) an error of its finished recognition is moot.
          if (c.streams.get(streamId)?.recognition !== recognition) return;
          this.end(c, 'failed', `${CAPTIONS_REASONS.engineFailed}: ${err.message}`);
        },
      });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, captionsId: c.id, streamId }, 'captions: recogniser did not start');
      this.end(c, 'failed', `${CAPTIONS_REASONS.engineFailed}: ${(err as Error).message}`);
      return;
    }
    const listener = c.participant.listen({ rate: engine.sampleRate, streams: [streamId], onFrame: (f) => recognition.write(toPcm16le(f)) });
    c.streams.set(streamId, { listener, recognition });
  }

  private untranscribe(c: Captioner, streamId: string): void {
    const t = c.streams.get(streamId);
    if (!t) return;
    c.streams.delete(streamId);
    t.listener.close();
    // The last utterance still comes out (the engine flushes at the end of its input).
    void t.recognition.end().catch(() => undefined);
  }

  private end(c: Captioner, status: 'stopped' | 'failed', why: string): void {
    if (c.ended) return;
    for (const id of [...c.streams.keys()]) this.untranscribe(c, id);
    c.ended = true;
    clearTimeout(c.timer);
    if (this.bySession.get(c.sessionId) === c) this.bySession.delete(c.sessionId);
    this.byId.delete(c.id);
    c.participant.leave('clientDisconnected');
    this.deps.logger.info({ captionsId: c.id, sessionId: c.sessionId, status, why }, 'captions stopped');
    this.status(c, status, why);
  }

  close(): void {
    for (const c of [...this.byId.values()]) this.end(c, 'stopped', CAPTIONS_REASONS.serverShutdown);
  }
}
