/**
 * An RTMP/RTMPS output of a broadcast: `ffmpeg -c copy -f flv` to `serverUrl/streamName`, with
 * its own status and retries. A server that refuses or never answers ends `error` after
 * `connectAttempts` tries (the other outputs go on); one that drops a live stream makes the
 * output `offline`, and it is retried with exponential back-off until it is `live` again, or
 * until it has been offline for `offlineGiveUpMs` (then `error`).
 */
import type { OutboundPolicy } from '../../net/outbound.js';
import { redact, rtmpForLog } from '../../net/redact.js';
import type { TsFanout } from '../ts-fanout.js';
import { TypedEmitter } from './events.js';
import { RemuxSink, type RemuxSinkExit, type SinkLogger } from './remux.js';

/** OpenTok's RTMP output statuses. */
export type RtmpStatus = 'connecting' | 'live' | 'offline' | 'error';

export interface RtmpSinkOptions {
  serverUrl: string;
  streamName: string;
  /** The caller's id of the output (echoed in the Broadcast object). */
  id?: string;
  ffmpegPath?: string;
  logger: SinkLogger;
  /** Attempts before a never-reached server counts as `error`. Default 3. */
  connectAttempts?: number;
  /** An attempt that is not live after this long is given up. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** First retry delay; doubles per failure up to `maxBackoffMs`. Default 1000 ms. */
  initialBackoffMs?: number;
  /** Default 15000 ms. */
  maxBackoffMs?: number;
  /** A live output that stays offline this long ends `error`. Default 300000 ms (5 min). */
  offlineGiveUpMs?: number;
  /**
   * The server's outbound policy: each attempt resolves the host, checks every address and hands
   * ffmpeg the checked address (see {@link rtmpConnectArgs}); a refused target ends `error` at
   * once. Default none: ffmpeg connects to `serverUrl` as given (tests of the sink alone).
   */
  outbound?: OutboundPolicy;
}

export interface RtmpSinkEvents extends Record<string, unknown[]> {
  status: [RtmpStatus, string];
  closed: [];
}

/** `serverUrl` and `streamName` joined as OpenTok does (one slash between them). */
export function rtmpTarget(serverUrl: string, streamName: string): string {
  return `${serverUrl.replace(/\/+$/, '')}/${streamName.replace(/^\/+/, '')}`;
}

/**
 * ffmpeg's output arguments for `target` after its host resolved to the checked `address`.
 * Plain RTMP connects to the address itself, and `-rtmp_tcurl` keeps the name the caller gave
 * in the `connect` command's tcUrl (servers that host several applications by name read it).
 * RTMPS keeps the name: TLS needs it for SNI and the certificate check, so ffmpeg resolves it
 * once more; the window between our check and its lookup is the one residual rebinding risk
 * (docs/security.md, Outbound targets).
 */
export function rtmpConnectArgs(serverUrl: string, target: string, address: string | undefined): string[] {
  if (address === undefined) return [target];
  const u = new URL(target);
  if (u.protocol !== 'rtmp:') return [target];
  const tcUrl = serverUrl.replace(/\/+$/, '');
  const hostInUrl = address.includes(':') ? `[${address}]` : address;
  const direct = `rtmp://${u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''}${hostInUrl}${u.port ? `:${u.port}` : ''}${target.slice(target.indexOf('/', 'rtmp://'.length))}`;
  return ['-rtmp_tcurl', tcUrl, direct];
}

/** One RTMP output; start it with {@link RtmpSink.start}, stop it with {@link RtmpSink.close}. */
export class RtmpSink extends TypedEmitter<RtmpSinkEvents> {
  readonly serverUrl: string;
  readonly streamName: string;
  readonly id: string | undefined;
  #options: RtmpSinkOptions;
  #fanout: TsFanout | undefined;
  #current: RemuxSink | undefined;
  #status: RtmpStatus = 'connecting';
  /** Why the output is `error`/`offline` (ffmpeg's last stderr line). */
  reason = '';
  #failures = 0;
  #everLive = false;
  #offlineSince = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** ffmpeg runs so far (first connection and retries). */
  attempts = 0;

  constructor(options: RtmpSinkOptions) {
    super();
    this.#options = options;
    this.serverUrl = options.serverUrl;
    this.streamName = options.streamName;
    this.id = options.id;
    this.onListenerError = (error) => options.logger.warn({ err: error }, 'rtmp listener threw');
  }

  /** The output as logs name it: the id, else the server URL with the stream key and credentials redacted. */
  get logName(): string {
    return this.id ?? rtmpForLog(this.serverUrl, this.streamName);
  }

  get status(): RtmpStatus {
    return this.#status;
  }

  get closed(): boolean {
    return this.#closed;
  }

  start(fanout: TsFanout): void {
    this.#fanout = fanout;
    this.#attempt();
  }

  /** Continue from another fan-out (the composition was replaced); retries use it too. */
  switchInput(fanout: TsFanout): void {
    this.#fanout = fanout;
    this.#current?.switchInput(fanout);
  }

  /** Stop the output (its status stays as it was: the broadcast reports `broadcastUrls: null`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    await this.#current?.close();
    this.emit('closed');
  }

  #set(status: RtmpStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#options.logger.info({ rtmp: this.logName, status, reason: redact(this.reason, [this.streamName]) || undefined }, 'rtmp output status');
    this.emit('status', status, this.reason);
  }

  #attempt(): void {
    if (this.#closed || !this.#fanout || this.#fanout.closed) return;
    this.attempts++;
    const url = rtmpTarget(this.serverUrl, this.streamName);
    const policy = this.#options.outbound;
    if (!policy) return this.#run(url, undefined);
    // Checked at every connection, not only when the broadcast started: DNS may have changed.
    let host: string;
    try {
      host = new URL(this.serverUrl).hostname;
    } catch {
      host = '';
    }
    policy.resolve(host).then(
      (t) => this.#run(url, t.address),
      (err: Error) => {
        if (this.#closed) return;
        // The policy's answer does not change on a retry: the output fails now.
        this.reason = err.message;
        this.#set('error');
        void this.close();
      },
    );
  }

  #run(url: string, address: string | undefined): void {
    if (this.#closed || !this.#fanout || this.#fanout.closed) return;
    const sink = new RemuxSink({
      ffmpegPath: this.#options.ffmpegPath,
      logger: this.#options.logger,
      name: `rtmp:${this.id ?? this.attempts}`,
      // `-rw_timeout` bounds a silent server (µs); flvflags avoid seeking back on a live stream.
      outputArgs: ['-rw_timeout', '10000000', '-f', 'flv', '-flvflags', 'no_duration_filesize', ...rtmpConnectArgs(this.serverUrl, url, address)],
      stopGraceMs: 2000,
      secrets: [this.streamName],
    });
    this.#current = sink;
    sink.on('status', (s) => {
      if (s !== 'live' || sink !== this.#current) return;
      clearTimeout(this.#connectTimer);
      this.#failures = 0;
      this.#everLive = true;
      this.reason = '';
      this.#set('live');
    });
    sink.on('closed', (exit) => this.#onExit(sink, exit));
    // The connection timeout counts only once input flows: a paused composition (nobody in it
    // yet, e.g. a manual-mode broadcast before its first stream) is not a failing server.
    const timeoutMs = this.#options.connectTimeoutMs ?? 10000;
    const watch = () => {
      this.#connectTimer = setTimeout(() => {
        if (sink !== this.#current || sink.status !== 'starting') return;
        if (sink.bytesIn === 0) return watch();
        this.reason = `no connection within ${timeoutMs} ms`;
        void sink.close();
      }, timeoutMs);
    };
    clearTimeout(this.#connectTimer);
    watch();
    sink.start(this.#fanout);
  }

  #onExit(sink: RemuxSink, exit: RemuxSinkExit): void {
    if (sink !== this.#current) return;
    clearTimeout(this.#connectTimer);
    this.#current = undefined;
    if (this.#closed) return;
    if (this.#fanout?.closed) return; // the composition ended: nothing to retry
    if (exit.reason) this.reason = exit.reason;
    this.#failures++;
    const now = Date.now();
    if (exit.wasLive || this.#status === 'live') this.#offlineSince = now;
    if (!this.#everLive) {
      if (this.#failures >= (this.#options.connectAttempts ?? 3)) {
        this.#set('error');
        void this.close();
        return;
      }
    } else {
      this.#set('offline');
      if (now - this.#offlineSince >= (this.#options.offlineGiveUpMs ?? 300_000)) {
        this.#set('error');
        void this.close();
        return;
      }
    }
    const delay = Math.min((this.#options.initialBackoffMs ?? 1000) * 2 ** (this.#failures - 1), this.#options.maxBackoffMs ?? 15_000);
    this.#retryTimer = setTimeout(() => this.#attempt(), delay);
  }
}
