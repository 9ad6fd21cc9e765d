/**
 * Base of every output of a composition: one `ffmpeg -f mpegts -i pipe:0 -c copy …` process fed
 * from a {@link TsFanout}. Remuxing costs little, so each output (archive file, HLS, RTMP) gets its
 * own process and can be added or removed while the encoder runs; one that fails never stalls
 * the encoder or the other outputs. What happens when ffmpeg is not reading (a slow RTMP server,
 * a stalled disk) is the sink's `whenBehind` choice; either way nothing is buffered without bound:
 *
 * - `drop` (live outputs: HLS, RTMP): stdin is written without waiting; when more than
 *   `maxBufferedBytes` are queued the sink unsubscribes and, once the pipe has drained,
 *   subscribes again, which restarts it at the next keyframe (the fan-out's join rule). The
 *   encoder and the other outputs never wait; what was dropped is counted in `droppedJoins`.
 * - `wait` (the archive file: never lose a byte): when more than `maxBufferedBytes` are queued
 *   the sink holds the fan-out ({@link TsFanout.hold}), so the producer stops reading the encoder
 *   until the pipe has drained; counted in `holds`. Every output of that composition waits too.
 * - `close()` ends stdin so ffmpeg writes its trailer, then sends SIGINT after `stopGraceMs`, then
 *   SIGKILL after `killAfterMs`.
 * - ffmpeg's stderr is kept (the last 8 KB) to give a reason when it exits on its own.
 * - `-progress` on fd 3 says when output time advances: that is status `live`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { TsFanout } from '../ts-fanout.js';
import { redact } from '../../net/redact.js';
import { TypedEmitter } from './events.js';
import { TokhostError, type SinkErrorCode } from '../../errors.js';

/** The logger methods the sinks use (pino-compatible). */
export interface SinkLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Error codes of the sinks. */
export type { SinkErrorCode };

/** A sink failure; `message` carries ffmpeg's last stderr line when there is one. */
export class SinkError extends TokhostError<SinkErrorCode> {
  override readonly name = 'SinkError';
}

/**
 * `starting`: ffmpeg spawned, no output yet; `live`: output time advances; `stopping`: `close()`
 * called or input ended, waiting for ffmpeg to finish; `closed`: the process is gone.
 */
export type RemuxSinkStatus = 'starting' | 'live' | 'stopping' | 'closed';

/** How a sink's process ended. */
export interface RemuxSinkExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the sink was asked to stop (`close()` or end of input) rather than failing on its own. */
  requested: boolean;
  /** The last line ffmpeg wrote to stderr ('' when none). */
  reason: string;
  /** Whether the output ever went live. */
  wasLive: boolean;
}

export interface RemuxSinkEvents extends Record<string, unknown[]> {
  status: [RemuxSinkStatus];
  /** ffmpeg could not be spawned or exited on its own with an error (then `closed` follows). */
  error: [SinkError];
  closed: [RemuxSinkExit];
}

/** Options of {@link RemuxSink}. */
export interface RemuxSinkOptions {
  /** ffmpeg binary. Default `ffmpeg` (from PATH). */
  ffmpegPath?: string;
  /** Everything after the input: e.g. `['-f', 'flv', 'rtmp://…']`. `-c copy` and `-map 0` are added before it. */
  outputArgs: string[];
  logger: SinkLogger;
  /** Arguments before `-i pipe:0` besides `-f mpegts` and the short probe (e.g. `-fflags +genpts`). Default none. */
  inputArgs?: string[];
  /** Bytes queued on ffmpeg's stdin above which the sink is behind. Default 8 MiB. */
  maxBufferedBytes?: number;
  /**
   * What a sink that is behind does: `drop` to the next keyframe (the producer never waits) or
   * `wait`, holding the producer until ffmpeg has read the queue (nothing is lost). Default `drop`.
   */
  whenBehind?: 'drop' | 'wait';
  /** After stdin is ended, how long before SIGINT. Default 5000 ms. */
  stopGraceMs?: number;
  /** After SIGINT, how long before SIGKILL. Default 3000 ms. */
  killAfterMs?: number;
  /** Name in log lines (e.g. `hls`, `rtmp:id`). Default `sink`. */
  name?: string;
  /** Strings never to appear in logs or reasons (an RTMP stream key): see `redact()`. Default none. */
  secrets?: readonly string[];
}

const STDERR_KEEP = 8192;
/**
 * The fan-out starts every subscriber at a keyframe with its SPS/PPS and the PSI tables, so the
 * codec parameters are known at once: ffmpeg's default 5 s of stream analysis would only delay
 * every output (measured: 5.4 s to the first output byte with the defaults, 0.7 s with these).
 */
const PROBE_ARGS = ['-analyzeduration', '300000', '-probesize', '1000000'];
/**
 * A timestamp jump of more than 1 s in the input is a discontinuity, and ffmpeg shifts what
 * follows to continue the output's clock: a sink that rejoined at a keyframe after falling
 * behind, or that moved to a new composition (whose output starts at its own zero), keeps
 * monotonic timestamps, so players and RTMP servers see one continuous stream.
 */
const DISCONTINUITY_ARGS = ['-dts_delta_threshold', '1'];

/**
 * One ffmpeg remux process fed from a fan-out. Subclasses add the output format and their own
 * notion of status; the archive file (`archive-file.ts`, one per part), the HLS and the RTMP sinks are built on it.
 *
 * @example
 * ```ts
 * const sink = new RemuxSink({ outputArgs: ['-f', 'flv', 'rtmp://127.0.0.1/live/x'], logger });
 * sink.on('status', (s) => console.log(s)).on('closed', (exit) => console.log(exit.reason));
 * sink.start(fanout);
 * await sink.close();
 * ```
 */
export class RemuxSink extends TypedEmitter<RemuxSinkEvents> {
  readonly options: Readonly<Required<Omit<RemuxSinkOptions, 'logger'>>> & { logger: SinkLogger };
  #child: ChildProcess | undefined;
  #stdin: Writable | undefined;
  #fanout: TsFanout | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Lifts this sink's hold on the fan-out (`wait` mode, while behind). */
  #releaseHold: (() => void) | undefined;
  #status: RemuxSinkStatus = 'starting';
  #requested = false;
  #wasLive = false;
  #stderr = '';
  #progress = '';
  #exited: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  /** Times the sink fell behind and rejoined at a keyframe. */
  droppedJoins = 0;
  /** Times the sink held the producer back (`wait` mode). */
  holds = 0;
  /** The most bytes ever queued on ffmpeg's stdin. */
  peakQueuedBytes = 0;
  /** Bytes handed to ffmpeg's stdin. */
  bytesIn = 0;
  /** ffmpeg's `out_time_us` of the last progress report (µs of output written). */
  outTimeUs = 0;
  /** ffmpeg's `total_size` of the last progress report (bytes written, -1/0 for some muxers). */
  outBytes = 0;

  constructor(options: RemuxSinkOptions) {
    super();
    this.options = {
      ffmpegPath: options.ffmpegPath ?? 'ffmpeg',
      outputArgs: options.outputArgs,
      logger: options.logger,
      inputArgs: options.inputArgs ?? [],
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      whenBehind: options.whenBehind ?? 'drop',
      stopGraceMs: options.stopGraceMs ?? 5000,
      killAfterMs: options.killAfterMs ?? 3000,
      name: options.name ?? 'sink',
      secrets: options.secrets ?? [],
    };
    this.onListenerError = (error) => this.options.logger.warn({ err: error, sink: this.options.name }, 'sink listener threw');
  }

  get status(): RemuxSinkStatus {
    return this.#status;
  }

  /** True once the process has exited (or never started). */
  get closed(): boolean {
    return this.#status === 'closed';
  }

  /** The ffmpeg process id while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** ffmpeg's stderr as kept (last 8 KB). */
  get stderr(): string {
    return redact(this.#stderr, this.options.secrets);
  }

  /** The full ffmpeg command line (for logs and tests). */
  get args(): string[] {
    return ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-progress', 'pipe:3', '-stats_period', '0.5', ...DISCONTINUITY_ARGS, ...PROBE_ARGS, ...this.options.inputArgs, '-f', 'mpegts', '-i', 'pipe:0', '-map', '0', '-c', 'copy', ...this.options.outputArgs];
  }

  /** Spawn ffmpeg and subscribe to `fanout` (once). */
  start(fanout: TsFanout): void {
    if (this.#child || this.#status === 'closed') throw new SinkError('ERR_SINK_STATE', `${this.options.name}: start() may be called once`);
    this.#fanout = fanout;
    const child = spawn(this.options.ffmpegPath, this.args, { stdio: ['pipe', 'ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#stdin = child.stdin!;
    // A broken pipe shows up as the process exit; keep write errors from throwing.
    this.#stdin.on('error', () => undefined);
    this.#stdin.on('drain', () => {
      this.#releaseHold?.();
      this.#releaseHold = undefined;
      if (!this.#unsubscribe && !this.#requested && this.#fanout && !this.#fanout.closed) this.#subscribe();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-STDERR_KEEP);
    });
    (child.stdio[3] as Readable).on('data', (d: Buffer) => this.#onProgress(d.toString()));
    this.#exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        // spawn failure (ENOENT…): no 'exit' follows.
        if (child.pid === undefined) {
          this.emit('error', new SinkError('ERR_SINK_SPAWN', `${this.options.name}: cannot run ${this.options.ffmpegPath}: ${err.message}`, { cause: err }));
          this.#finish(null, null);
          resolve();
        }
      });
      child.once('close', (code, signal) => {
        this.#finish(code, signal);
        resolve();
      });
    });
    this.#subscribe();
    this.options.logger.debug({ sink: this.options.name, pid: child.pid }, 'sink started');
  }

  /**
   * Continue from another fan-out (the composition was replaced): the sink joins it at its next
   * keyframe and ffmpeg goes on without a restart (timestamps are made continuous).
   */
  switchInput(fanout: TsFanout): void {
    if (this.#requested || this.#status === 'closed') return;
    this.#detach();
    this.#fanout = fanout;
    this.#subscribe();
  }

  /**
   * Stop: end stdin (ffmpeg flushes and writes its trailer), SIGINT after `stopGraceMs`, SIGKILL
   * `killAfterMs` later. Resolves once the process is gone. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#child) {
      if (this.#status !== 'closed') this.#finish(null, null);
      return;
    }
    this.#beginStop();
    await this.#exited;
  }

  /** Called on every progress block; subclasses may refine `live` (e.g. HLS waits for a segment). */
  protected onProgressBlock(fields: Map<string, string>): void {
    if (this.outTimeUs > 0 && this.#status === 'starting') this.setStatus('live');
    void fields;
  }

  /** Change the status and emit it (no-op when unchanged or closed). */
  protected setStatus(status: RemuxSinkStatus): void {
    if (this.#status === status || this.#status === 'closed') return;
    if (this.#status === 'stopping' && status !== 'closed') return;
    this.#status = status;
    if (status === 'live') this.#wasLive = true;
    this.emit('status', status);
  }

  #subscribe(): void {
    const fanout = this.#fanout!;
    this.#unsubscribe = fanout.subscribe(
      (chunk) => this.#write(chunk),
      () => this.#beginStop(),
    );
  }

  #write(chunk: Buffer): void {
    const stdin = this.#stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return;
    const { maxBufferedBytes, whenBehind } = this.options;
    if (whenBehind === 'drop' && stdin.writableLength > maxBufferedBytes) {
      // ffmpeg is not keeping up: drop until the pipe drains, then rejoin at a keyframe.
      this.#detach();
      this.droppedJoins++;
      this.options.logger.warn({ sink: this.options.name, queued: stdin.writableLength }, 'sink fell behind; dropping to the next keyframe');
      return;
    }
    this.bytesIn += chunk.length;
    stdin.write(chunk);
    this.peakQueuedBytes = Math.max(this.peakQueuedBytes, stdin.writableLength);
    if (whenBehind === 'wait' && stdin.writableLength > maxBufferedBytes && !this.#releaseHold) {
      // ffmpeg is not keeping up and nothing may be lost: the producer waits until the pipe drains.
      this.#releaseHold = this.#fanout!.hold();
      this.holds++;
      this.options.logger.warn({ sink: this.options.name, queued: stdin.writableLength }, 'sink fell behind; holding the producer until it catches up');
    }
  }

  /** Leave the current fan-out: unsubscribe and lift a hold. */
  #detach(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#releaseHold?.();
    this.#releaseHold = undefined;
  }

  #onProgress(text: string): void {
    this.#progress += text;
    let end: number;
    while ((end = this.#progress.search(/progress=\w+\n/)) >= 0) {
      const blockEnd = this.#progress.indexOf('\n', end) + 1;
      const block = this.#progress.slice(0, blockEnd);
      this.#progress = this.#progress.slice(blockEnd);
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) fields.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
      }
      const t = Number(fields.get('out_time_us') ?? fields.get('out_time_ms'));
      if (Number.isFinite(t) && t > 0) this.outTimeUs = t;
      const size = Number(fields.get('total_size'));
      if (Number.isFinite(size)) this.outBytes = size;
      this.onProgressBlock(fields);
    }
    if (this.#progress.length > 65536) this.#progress = this.#progress.slice(-4096);
  }

  #beginStop(): void {
    if (this.#requested || !this.#child) return;
    this.#requested = true;
    this.#detach();
    this.setStatus('stopping');
    this.#stdin?.end();
    const child = this.#child;
    this.#timers.push(
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
        this.#timers.push(
          setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          }, this.options.killAfterMs),
        );
      }, this.options.stopGraceMs),
    );
  }

  #finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#status === 'closed') return;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#detach();
    // ffmpeg names its output URL in errors: the stream key and URL credentials never leave here.
    const reason = redact(lastLine(this.#stderr), this.options.secrets);
    const requested = this.#requested;
    if (!requested && this.#child?.pid !== undefined) {
      this.emit('error', new SinkError('ERR_SINK_EXIT', `${this.options.name}: ffmpeg exited (${signal ?? code})${reason ? `: ${reason}` : ''}`));
    }
    this.#status = 'closed';
    this.emit('status', 'closed');
    this.options.logger.debug({ sink: this.options.name, code, signal, requested, reason }, 'sink closed');
    this.emit('closed', { code, signal, requested, reason, wasLive: this.#wasLive });
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}
