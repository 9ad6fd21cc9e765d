/**
 * Live captions (`POST /captions`): one captioner per session, a server participant that hears
 * each audio stream of the session on its own (16 kHz, `streams: [id]`) and feeds it to a
 * {@link SpeechRecognizer}; every result is handed to `onCaption` (delivery to the clients that
 * asked for captions is the realtime layer's, see docs/captions.md). Ends on stop, at
 * `maxDuration`, when its connection is disconnected, or with the session.
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

export interface CaptionsDeps {
  participants: AudioParticipants;
  /** The engine; null: captions are refused (501). */
  recognizer: SpeechRecognizer | null;
  logger: ParticipantLogger;
  onCaption(event: CaptionEvent): void;
}

export interface StartCaptionsOptions {
  languageCode: string;
  /** Seconds. */
  maxDuration: number;
  partialCaptions: boolean;
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
      onEnd: () => this.end(c, 'connection ended'),
    });
    this.bySession.set(c.sessionId, c);
    this.byId.set(c.id, c);
    c.timer = setTimeout(() => this.end(c, 'maximum duration'), options.maxDuration * 1000);
    c.timer.unref();
    this.deps.logger.info({ captionsId: c.id, sessionId: c.sessionId, engine: engine.name, languageCode: options.languageCode }, 'captions started');
    return { captionsId: c.id };
  }

  /** Stop captions; false when `captionsId` is unknown (or of another project). */
  stop(apiKey: string, captionsId: string): boolean {
    const c = this.byId.get(captionsId);
    if (!c || c.apiKey !== apiKey) return false;
    this.end(c, 'stop requested');
    return true;
  }

  private onRealtime(c: Captioner, m: Record<string, unknown>): void {
    const seen = (s: RtStream) => {
      if (s.hasAudio !== false) queueMicrotask(() => this.transcribe(c, s.streamId));
    };
    switch (m['type']) {
      case 'sessionConnected':
      case 'streamsCreated':
        for (const s of (m['streams'] as RtStream[] | undefined) ?? []) seen(s);
        break;
      case 'streamCreated':
        seen(m['stream'] as RtStream);
        break;
      case 'streamDestroyed':
        this.untranscribe(c, (m['stream'] as RtStream).streamId);
        break;
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
        onError: (err) => this.deps.logger.warn({ err: err.message, captionsId: c.id, streamId }, 'captions: recogniser failed'),
      });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, captionsId: c.id, streamId }, 'captions: recogniser did not start');
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

  private end(c: Captioner, why: string): void {
    if (c.ended) return;
    for (const id of [...c.streams.keys()]) this.untranscribe(c, id);
    c.ended = true;
    clearTimeout(c.timer);
    if (this.bySession.get(c.sessionId) === c) this.bySession.delete(c.sessionId);
    this.byId.delete(c.id);
    c.participant.leave('clientDisconnected');
    this.deps.logger.info({ captionsId: c.id, sessionId: c.sessionId, why }, 'captions stopped');
  }

  close(): void {
    for (const c of [...this.byId.values()]) this.end(c, 'server shutting down');
  }
}
