/**
 * What every output of a composition is, and the one place that moves them when the
 * composition's output changes.
 *
 * A composition has two kinds of user, each with its own outputs:
 * - an archive: one `ArchiveFileSink` (`archive-file.ts`), which never drops a byte;
 * - a broadcast: an `HlsSink` (`hls.ts`) and up to five `RtmpSink`s (`rtmp.ts`),
 *   which drop to the next keyframe rather than hold the encoder.
 * All of them read the composition's MPEG-TS through a {@link TsFanout} and pass the behaviour
 * suite in `test/media/sink.contract.ts`.
 */
import type { CompositionLease } from '../compositions.js';
import type { TsFanout } from '../ts-fanout.js';

/** One output of a composition (an archive file, an HLS playlist, an RTMP stream). */
export interface CompositionSink {
  /** `live` while the output is being written; each sink names its other states itself. */
  readonly status: string;
  /** True once the output has ended for good. */
  readonly closed: boolean;
  /** Begin reading `input` (once). */
  start(input: TsFanout): void;
  /**
   * Continue from another output of the composition (which starts at its own time zero): a
   * remuxing sink goes on in the same process with continuous timestamps; the archive file
   * starts a new part.
   */
  switchInput(input: TsFanout): void;
  /** End the output: the file or stream is finalised (trailer, `#EXT-X-ENDLIST`). Idempotent. */
  close(): Promise<void>;
}

/**
 * The sinks of one lease: each starts on the lease's current output, and all of them follow it
 * when the lease moves to a composition of its own (`outputChanged`).
 *
 * @example
 * ```ts
 * const outputs = new LeaseOutputs(lease);
 * const hls = outputs.add(new HlsSink({ dir, logger }));
 * await outputs.close();
 * ```
 */
export class LeaseOutputs {
  readonly #lease: Pick<CompositionLease, 'output' | 'on'>;
  readonly #sinks: CompositionSink[] = [];
  #closed = false;

  constructor(lease: Pick<CompositionLease, 'output' | 'on'>) {
    this.#lease = lease;
    lease.on('outputChanged', (output) => {
      if (this.#closed) return;
      for (const sink of this.#sinks) sink.switchInput(output);
    });
  }

  /** Start `sink` on the lease's output and keep it following the lease. */
  add<S extends CompositionSink>(sink: S): S {
    this.#sinks.push(sink);
    sink.start(this.#lease.output);
    return sink;
  }

  /** Close every sink (they stop following the lease at once). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#sinks.map((s) => s.close()));
  }
}
