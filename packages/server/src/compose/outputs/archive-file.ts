/**
 * The file output of a composed archive: the composition's MPEG-TS copied (`-c copy`) into a
 * fragmented MP4 that is readable up to its last complete fragment at any moment (a fragment at
 * each keyframe and at least every second), so a crash loses about the last second. It is a
 * {@link RemuxSink} in `wait` mode: it never drops a byte; when its ffmpeg falls more than
 * `maxBufferedBytes` behind (a stalled disk) the encoder waits instead.
 *
 * When the composition's output changes (the archive got an encoder of its own), a new part
 * starts; the parts are joined into one fast-start MP4 at stop (`finalizeComposed` in
 * recording/). ADTS AAC from the TS needs `aac_adtstoasc` for MP4 (ffmpeg 5.1 does not insert it
 * when the input is a pipe), and `-flush_packets 1` puts each fragment on disk at once (without
 * it a low-rate picture sits in ffmpeg's 32 KiB write buffer, and a crash loses all of it).
 */
import { join } from 'node:path';
import type { TsFanout } from '../ts-fanout.js';
import { TypedEmitter } from './events.js';
import { RemuxSink, SinkError, type RemuxSinkStatus, type SinkLogger } from './remux.js';
import type { CompositionSink } from './sink.js';

export interface ArchiveFileSinkOptions {
  /** Directory of the parts (`part-0.mp4`, `part-1.mp4`, …); it must exist. */
  dir: string;
  hasVideo: boolean;
  hasAudio: boolean;
  /** ffmpeg binary. Default `ffmpeg` (from PATH). */
  ffmpegPath?: string;
  logger: SinkLogger;
  /** Called with every part path as it starts (the archiver persists it for crash recovery). */
  onPart?(path: string): void;
  /** Bytes queued on a part's ffmpeg above which the encoder is held back. Default 8 MiB (about 50 s at the default 640x480 bitrate). */
  maxBufferedBytes?: number;
}

export interface ArchiveFileSinkEvents extends Record<string, unknown[]> {
  /** The current part's status. */
  status: [RemuxSinkStatus];
  /** A part's ffmpeg exited on its own: the file ends there. */
  failed: [reason: string];
}

/** The path of part `n` of an archive. */
export const partPath = (dir: string, n: number): string => join(dir, `part-${n}.mp4`);

/** The ffmpeg output arguments of one part (exported for the docs and tests). */
export function archiveFileOutputArgs(options: { path: string; hasVideo: boolean; hasAudio: boolean }): string[] {
  // A fragment at each keyframe and at least every second: a crash loses at most about 1 s.
  const frag = ['-movflags', `${options.hasVideo ? '+frag_keyframe' : ''}+empty_moov+default_base_moof`, '-frag_duration', '1000000'];
  return [...(options.hasAudio ? ['-bsf:a', 'aac_adtstoasc'] : []), ...frag, '-flush_packets', '1', '-f', 'mp4', '-y', options.path];
}

/**
 * The archive file sink.
 *
 * @example
 * ```ts
 * const file = new ArchiveFileSink({ dir, hasVideo: true, hasAudio: true, logger, onPart: (p) => manifest.parts.push(p) });
 * file.on('failed', (reason) => console.error(reason));
 * file.start(lease.output);
 * await lease.release();
 * await file.close(); // every part complete: join file.parts
 * ```
 */
export class ArchiveFileSink extends TypedEmitter<ArchiveFileSinkEvents> implements CompositionSink {
  /** The part paths so far, in order. */
  readonly parts: string[] = [];
  readonly #options: ArchiveFileSinkOptions;
  #part: RemuxSink | undefined;
  /** Parts that were rotated out and are still writing their trailer. */
  readonly #finishing = new Set<Promise<void>>();
  #closing = false;

  constructor(options: ArchiveFileSinkOptions) {
    super();
    this.#options = options;
    this.onListenerError = (error) => options.logger.warn({ err: error }, 'archive file listener threw');
  }

  /** The current part's status (`closed` once the last part is complete). */
  get status(): RemuxSinkStatus {
    return this.#part?.status ?? (this.#closing ? 'closed' : 'starting');
  }

  get closed(): boolean {
    return this.status === 'closed';
  }

  /** The current part's ffmpeg process id while it runs. */
  get pid(): number | undefined {
    return this.#part?.pid;
  }

  /** Times the current part held the encoder back. */
  get holds(): number {
    return this.#part?.holds ?? 0;
  }

  /** The most bytes the current part ever had queued. */
  get peakQueuedBytes(): number {
    return this.#part?.peakQueuedBytes ?? 0;
  }

  start(input: TsFanout): void {
    if (this.#part || this.#closing) throw new SinkError('ERR_SINK_STATE', 'archive file: start() may be called once');
    this.#open(input);
  }

  /** A new part from the new output; the old one finishes its file in the background. */
  switchInput(input: TsFanout): void {
    const old = this.#part;
    if (!old || this.#closing) return;
    this.#open(input);
    const done = old.close();
    this.#finishing.add(done);
    void done.finally(() => this.#finishing.delete(done));
  }

  /** Wait until every part is complete on disk; call after the lease was released (the encoder flushed). */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([this.#part?.close(), ...this.#finishing]);
  }

  #open(input: TsFanout): void {
    const path = partPath(this.#options.dir, this.parts.length);
    this.parts.push(path);
    this.#options.onPart?.(path);
    const part = new RemuxSink({
      ffmpegPath: this.#options.ffmpegPath,
      logger: this.#options.logger,
      name: `archive:${path}`,
      inputArgs: ['-analyzeduration', '1000000'],
      outputArgs: archiveFileOutputArgs({ path, hasVideo: this.#options.hasVideo, hasAudio: this.#options.hasAudio }),
      whenBehind: 'wait',
      ...(this.#options.maxBufferedBytes !== undefined ? { maxBufferedBytes: this.#options.maxBufferedBytes } : {}),
      // Never cut a file short: what is queued is written before ffmpeg is asked to stop.
      stopGraceMs: 15_000,
    });
    this.#part = part;
    part.on('status', (s) => {
      if (part === this.#part) this.emit('status', s);
    });
    part.on('closed', (exit) => {
      if (!exit.requested && exit.code !== 0) this.emit('failed', `archive writer exited (${exit.code}): ${exit.reason}`);
    });
    part.start(input);
  }
}
