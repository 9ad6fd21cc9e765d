/**
 * Live-streaming broadcasts (reference §3.3, §4.3, §6): a composition of the session (the
 * compose manager's lease, shared with an archive of the same session and look) whose MPEG-TS
 * output feeds one HLS sink served by this server and up to five RTMP sinks.
 *
 * Lifecycle: `started` (the outputs go `connecting` → `live`) → `stopped` on `stopBroadcast`, at
 * `maxDuration`, when the session has had no client for `broadcastIdleStopSeconds`, when the
 * composition fails, or when the server closes. Stopping ends the HLS playlist
 * (`#EXT-X-ENDLIST`), closes the RTMP connections, releases the composition and sets
 * `broadcastUrls` to null; the HLS files are deleted `hlsRetentionSeconds` later. Every change of
 * the broadcast or of one of its outputs' status is sent to the project's webhook as the
 * Broadcast object with `event: "broadcast"`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { LIMITS } from '@tokhost/protocol';
import type { BroadcastJson, LayoutJson, Resolution, RtmpOutputJson, StreamMode, StreamSelectionJson } from '@tokhost/protocol';
import type { CompositionLease, CompositionSource } from '../compose/compositions.js';
import { HlsSink, HLS_PLAYLIST } from '../compose/outputs/hls.js';
import type { SinkLogger } from '../compose/outputs/remux.js';
import { RtmpSink } from '../compose/outputs/rtmp.js';
import { LeaseOutputs } from '../compose/outputs/sink.js';
import type { OutboundPolicy } from '../net/outbound.js';
import { TokhostError } from '../errors.js';
import { LIMIT_DEFAULTS } from '../limits.js';
import type { LimitsConfig } from '../limits.js';
import type { LiveSessions } from '../live/index.js';
import { requireCompositionStart } from './composition-start.js';
import type { Store } from '../storage/store.js';

/** The validated start options (from `parseBroadcastOptions`). */
export interface StartBroadcastOptions {
  sessionId: string;
  hls?: { dvr: boolean; lowLatency: boolean };
  rtmp: Array<{ id?: string; serverUrl: string; streamName: string }>;
  maxDuration?: number;
  resolution?: Resolution;
  layout?: LayoutJson;
  streamMode: StreamMode;
  multiBroadcastTag?: string;
  maxBitrate?: number;
  hasAudio: boolean;
  hasVideo: boolean;
}

export interface BroadcastServiceOptions {
  store: Store;
  live: LiveSessions;
  /** The compose manager; null while this server has none (start then answers 501). */
  compositions: CompositionSource | null;
  /** Directory under which each broadcast's HLS files live (`<dir>/<broadcastId>/`). */
  hlsDir: string;
  /** Seconds the HLS files stay after the end. */
  hlsRetentionSeconds: number;
  /** Seconds without any connected client after which a broadcast stops. Default 60. */
  idleStopSeconds?: number;
  /** Length of a second, ms, for `maxDuration` and the idle stop. Default 1000 (tests shorten it). */
  secondMs?: number;
  /** Broadcast status callback (the Broadcast object with `event: "broadcast"`). */
  notify(apiKey: string, broadcast: BroadcastJson): void;
  logger: SinkLogger & { error(obj: object, msg?: string): void };
  ffmpegPath?: string;
  /** Concurrent broadcasts per session and per project. Default `LIMIT_DEFAULTS` (5 and 50). */
  limits?: Pick<LimitsConfig, 'maxBroadcastsPerSession' | 'maxBroadcastsPerProject'>;
  /** Which RTMP servers outputs may connect to, checked at every connection. Default none (tests of the service alone). */
  outbound?: OutboundPolicy;
  /** RTMP retry tuning (tests). */
  rtmp?: { connectAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number; connectTimeoutMs?: number; offlineGiveUpMs?: number };
}

interface Running {
  apiKey: string;
  id: string;
  token: string;
  dir: string;
  lease: CompositionLease;
  outputs: LeaseOutputs;
  hls: HlsSink | undefined;
  rtmp: RtmpSink[];
  json: BroadcastJson;
  timers: NodeJS.Timeout[];
  idleSince: number | undefined;
  stopping: Promise<BroadcastJson> | undefined;
}

/** The `/hls/<token>/` path of a broadcast's playlist. */
export const HLS_PATH_PREFIX = '/hls/';

const RESOLUTION_DEFAULT: Resolution = '640x480';

function projectIdOf(apiKey: string): number | string {
  return /^\d{1,15}$/.test(apiKey) ? Number(apiKey) : apiKey;
}

/**
 * The broadcast service: one per server. Route handlers call it after validating the body.
 *
 * @example
 * ```ts
 * const broadcasts = new BroadcastService({ store, live, compositions, hlsDir, hlsRetentionSeconds: 600, notify, logger });
 * const json = await broadcasts.start(project.apiKey, options, 'http://127.0.0.1:3000');
 * await broadcasts.stop(project.apiKey, json.id);
 * ```
 */
export class BroadcastService {
  readonly #o: BroadcastServiceOptions;
  readonly #running = new Map<string, Running>();
  /** HLS token → directory, kept until the files are deleted. */
  readonly #hlsDirs = new Map<string, string>();
  readonly #cleanup = new Set<NodeJS.Timeout>();
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: BroadcastServiceOptions) {
    this.#o = options;
  }

  /** 429 when one more broadcast would pass `maxBroadcastsPerSession` or `maxBroadcastsPerProject` (this node's). */
  /** Number of broadcasts running now. */
  get runningCount(): number {
    return this.#running.size;
  }

  /**
   * Start a broadcast. Checks, in OpenTok's order: session exists (404), routed (409), no
   * running broadcast without a distinct `multiBroadcastTag` (409), clients connected (400).
   */
  async start(apiKey: string, options: StartBroadcastOptions, baseUrl: string): Promise<BroadcastJson> {
    if (this.#closed) throw new TokhostError('ERR_INTERNAL', 'Server is shutting down');
    const check = () =>
      requireCompositionStart({
        kind: 'broadcast',
        store: this.#o.store,
        apiKey,
        sessionId: options.sessionId,
        tag: options.multiBroadcastTag,
        running: (session) => {
          const mine = [...this.#running.values()].filter((r) => r.apiKey === apiKey);
          return { inSession: mine.filter((r) => r.json.sessionId === session.sessionId).map((r) => ({ tag: r.json.multiBroadcastTag })), inProject: mine.length };
        },
        limits: { ...LIMIT_DEFAULTS, ...this.#o.limits },
        connectionCount: (id) => this.#o.live.connectionCount(id),
      });
    check();
    const compositions = this.#o.compositions;
    if (!compositions) {
      throw new TokhostError('ERR_NOT_IMPLEMENTED', 'Live streaming is not available on this server', { description: 'This Tokhost server has no compositor (see docs/broadcasts.md)' });
    }
    const resolution = options.resolution ?? RESOLUTION_DEFAULT;
    const [width, height] = resolution.split('x').map(Number) as [number, number];
    const layout = options.layout ?? { type: 'bestFit' };
    const id = randomUUID();
    const token = randomBytes(24).toString('base64url');
    const dir = join(this.#o.hlsDir, id);
    let lease: CompositionLease;
    try {
      lease = await compositions.acquire({
        apiKey,
        sessionId: options.sessionId,
        canvas: { width, height },
        layout,
        streamMode: options.streamMode,
        hasAudio: options.hasAudio,
        hasVideo: options.hasVideo,
        ...(options.maxBitrate !== undefined ? { maxBitrate: options.maxBitrate } : {}),
        ...(options.hls?.lowLatency ? { keyframeIntervalSeconds: 1 } : {}),
      });
    } catch (cause) {
      this.#o.logger.error({ err: cause, sessionId: options.sessionId }, 'broadcast: composition failed to start');
      throw new TokhostError('ERR_INTERNAL', 'The broadcast could not be started', { description: `The compositor failed: ${(cause as Error).message}`, cause });
    }
    // A concurrent start of the same session may have won while the composition started: the rule again.
    try {
      if (this.#closed) throw new TokhostError('ERR_INTERNAL', 'Server is shutting down');
      check();
    } catch (err) {
      await lease.release();
      throw err;
    }
    const now = Date.now();
    const maxDuration = options.maxDuration ?? LIMITS.broadcastMaxDurationDefault;
    const hlsUrl = options.hls ? `${baseUrl.replace(/\/+$/, '')}${HLS_PATH_PREFIX}${token}/${HLS_PLAYLIST}${options.hls.dvr ? '?DVR' : ''}` : undefined;
    const json: BroadcastJson = {
      id,
      sessionId: options.sessionId,
      projectId: projectIdOf(apiKey),
      partnerId: projectIdOf(apiKey),
      createdAt: now,
      updatedAt: now,
      resolution,
      status: 'started',
      maxDuration,
      ...(options.maxBitrate !== undefined ? { maxBitrate: options.maxBitrate } : {}),
      streamMode: options.streamMode,
      hasAudio: options.hasAudio,
      hasVideo: options.hasVideo,
      ...(options.multiBroadcastTag !== undefined ? { multiBroadcastTag: options.multiBroadcastTag } : {}),
      event: 'broadcast',
      settings: { hls: { lowLatency: options.hls?.lowLatency ?? false, dvr: options.hls?.dvr ?? false } },
      ...(options.streamMode === 'manual' ? { streams: [] as StreamSelectionJson[] } : {}),
      broadcastUrls: {
        ...(hlsUrl ? { hls: hlsUrl, hlsStatus: 'connecting' } : {}),
        rtmp: options.rtmp.map((r) => ({ ...(r.id !== undefined ? { id: r.id } : {}), serverUrl: r.serverUrl, streamName: r.streamName, status: 'connecting' })),
      },
    };
    const running: Running = { apiKey, id, token, dir, lease, outputs: new LeaseOutputs(lease), hls: undefined, rtmp: [], json, timers: [], idleSince: undefined, stopping: undefined };
    this.#running.set(id, running);
    this.#o.store.createBroadcast({ apiKey, broadcast: json });
    lease.on('failed', (reason) => {
      this.#o.logger.warn({ broadcastId: id, reason }, 'broadcast: composition failed; stopping');
      void this.#stop(running);
    });
    if (options.hls) {
      this.#hlsDirs.set(token, dir);
      const hls = new HlsSink({ dir, lowLatency: options.hls.lowLatency, dvr: options.hls.dvr, logger: this.#o.logger, ...(this.#o.ffmpegPath ? { ffmpegPath: this.#o.ffmpegPath } : {}) });
      running.hls = hls;
      hls.on('status', (s) => {
        if (s === 'live') this.#update(running, (j) => (j.broadcastUrls!.hlsStatus = 'live'));
      });
      hls.on('error', (err) => {
        this.#o.logger.warn({ broadcastId: id, err: err.message }, 'broadcast: HLS output failed');
        if (!running.stopping) this.#update(running, (j) => (j.broadcastUrls!.hlsStatus = 'error'));
      });
      running.outputs.add(hls);
    }
    options.rtmp.forEach((r, i) => {
      const sink = new RtmpSink({ ...r, logger: this.#o.logger, ...(this.#o.outbound ? { outbound: this.#o.outbound } : {}), ...(this.#o.ffmpegPath ? { ffmpegPath: this.#o.ffmpegPath } : {}), ...this.#o.rtmp });
      running.rtmp.push(sink);
      sink.on('status', (status) => {
        if (running.stopping) return;
        this.#update(running, (j) => (j.broadcastUrls!.rtmp![i]!.status = status));
      });
      running.outputs.add(sink);
    });
    running.timers.push(setTimeout(() => void this.#stop(running), maxDuration * (this.#o.secondMs ?? 1000)));
    this.#ensureIdleWatch();
    this.#o.notify(apiKey, json);
    return structuredClone(json);
  }

  /** Stop a running broadcast (404 when unknown or already stopped). Resolves once the outputs are closed. */
  async stop(apiKey: string, broadcastId: string): Promise<BroadcastJson> {
    const running = this.#running.get(broadcastId);
    if (!running || running.apiKey !== apiKey) {
      // `started` in the store but not running here: left over from a server that stopped without
      // closing (crash). There is nothing to stop; record the end.
      const stale = this.#o.store.getBroadcast(apiKey, broadcastId)?.broadcast;
      if (stale?.status === 'started') {
        const json = { ...stale, status: 'stopped', broadcastUrls: null, updatedAt: Date.now() };
        this.#o.store.updateBroadcast(apiKey, json);
        return json;
      }
    }
    return this.#stop(this.#require(apiKey, broadcastId));
  }

  /** Change the layout of a running broadcast. */
  async setLayout(apiKey: string, broadcastId: string, layout: LayoutJson): Promise<void> {
    await this.#require(apiKey, broadcastId).lease.setLayout(layout);
  }

  /** Add or remove a stream of a running manual-mode broadcast (the route checked the mode and the stream). */
  async changeStreams(apiKey: string, broadcastId: string, change: { addStream?: string; removeStream?: string; hasAudio: boolean; hasVideo: boolean }): Promise<void> {
    const r = this.#require(apiKey, broadcastId);
    if (change.addStream) {
      await r.lease.addStream(change.addStream, { hasAudio: change.hasAudio, hasVideo: change.hasVideo });
      this.#update(r, (j) => {
        const streams = (j.streams ??= []);
        const entry = { streamId: change.addStream!, hasAudio: change.hasAudio, hasVideo: change.hasVideo };
        const i = streams.findIndex((s) => s.streamId === change.addStream);
        if (i >= 0) streams[i] = entry;
        else streams.push(entry);
      }, false);
    } else if (change.removeStream) {
      await r.lease.removeStream(change.removeStream);
      this.#update(r, (j) => (j.streams = (j.streams ?? []).filter((s) => s.streamId !== change.removeStream)), false);
    }
  }

  /** IDs of the broadcasts running here (the cluster heartbeat announces them). */
  runningIds(): string[] {
    return [...this.#running.keys()];
  }

  /** Sessions with a broadcast running here (their lease stays here while it runs). */
  runningSessions(): string[] {
    return [...new Set([...this.#running.values()].map((r) => r.json.sessionId))];
  }

  /** HLS URL tokens whose files this server serves now (running, or stopped within the retention). */
  hlsTokens(): string[] {
    return [...this.#hlsDirs.keys()];
  }

  /**
   * Broadcasts the store still has as `started` that no server runs (a crash, or in cluster mode
   * a node that died): each is marked `stopped` (`broadcastUrls` null) and its callback sent, so
   * nothing is left `started` forever and a new broadcast of the session can start. `skip`: those
   * another live node runs (cluster mode). Their outputs are not restarted: the RTMP and HLS
   * streams ended with the process that encoded them.
   */
  async recover(skip?: (broadcast: BroadcastJson) => boolean | Promise<boolean>): Promise<number> {
    let stopped = 0;
    for (const { apiKey, broadcast: b } of this.#o.store.listBroadcastsByStatus(['started'])) {
      if (this.#running.has(b.id) || (skip && (await skip(b)))) continue;
      // Still `started` (another node may have ended it meanwhile)?
      if (this.#o.store.getBroadcast(apiKey, b.id)?.broadcast.status !== 'started' || this.#running.has(b.id)) continue;
      const json: BroadcastJson = { ...b, status: 'stopped', broadcastUrls: null, updatedAt: Date.now() };
      this.#o.store.updateBroadcast(apiKey, json);
      this.#o.notify(apiKey, structuredClone(json));
      this.#o.logger.warn({ broadcastId: b.id, sessionId: b.sessionId }, 'broadcast: its server stopped without ending it; marked stopped');
      stopped++;
    }
    return stopped;
  }

  /** The directory of the HLS files for a URL token, while they exist. */
  hlsDirectory(token: string): string | undefined {
    return this.#hlsDirs.get(token);
  }

  /** The running HLS sink of a broadcast (tests and the bench). */
  hlsSinkForTesting(broadcastId: string): HlsSink | undefined {
    return this.#running.get(broadcastId)?.hls;
  }

  /** Stop every broadcast (server shutdown) and delete the HLS files now. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#idleTimer);
    await Promise.all([...this.#running.values()].map((r) => this.#stop(r)));
    for (const t of this.#cleanup) clearTimeout(t);
    this.#cleanup.clear();
    for (const dir of this.#hlsDirs.values()) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    this.#hlsDirs.clear();
  }

  #require(apiKey: string, broadcastId: string): Running {
    const r = this.#running.get(broadcastId);
    if (!r || r.apiKey !== apiKey || r.stopping) {
      throw new TokhostError('ERR_BROADCAST_NOT_FOUND', 'Broadcast not found', { description: `Broadcast ${broadcastId} is not running in project ${apiKey}` });
    }
    return r;
  }

  #update(r: Running, change: (json: BroadcastJson) => void, notify = true): void {
    change(r.json);
    r.json.updatedAt = Date.now();
    this.#o.store.updateBroadcast(r.apiKey, r.json);
    if (notify) this.#o.notify(r.apiKey, structuredClone(r.json));
  }

  #stop(r: Running): Promise<BroadcastJson> {
    r.stopping ??= (async () => {
      for (const t of r.timers) clearTimeout(t);
      await r.outputs.close();
      await r.lease.release().catch((err: unknown) => this.#o.logger.warn({ err, broadcastId: r.id }, 'broadcast: composition release failed'));
      this.#running.delete(r.id);
      if (this.#running.size === 0) clearInterval(this.#idleTimer), (this.#idleTimer = undefined);
      this.#update(r, (j) => {
        j.status = 'stopped';
        j.broadcastUrls = null;
      });
      if (r.hls) this.#scheduleCleanup(r.token, r.dir);
      this.#o.logger.info({ broadcastId: r.id, sessionId: r.json.sessionId }, 'broadcast stopped');
      return structuredClone(r.json);
    })();
    return r.stopping;
  }

  #scheduleCleanup(token: string, dir: string): void {
    const t = setTimeout(() => {
      this.#cleanup.delete(t);
      this.#hlsDirs.delete(token);
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }, this.#o.hlsRetentionSeconds * 1000);
    t.unref();
    this.#cleanup.add(t);
  }

  /** One timer for all broadcasts: stop those whose session has had no client for `idleStopSeconds`. */
  #ensureIdleWatch(): void {
    if (this.#idleTimer) return;
    const limitMs = (this.#o.idleStopSeconds ?? 60) * (this.#o.secondMs ?? 1000);
    this.#idleTimer = setInterval(
      () => {
        const now = Date.now();
        for (const r of this.#running.values()) {
          if (r.stopping) continue;
          if (this.#o.live.connectionCount(r.json.sessionId) > 0) r.idleSince = undefined;
          else if (r.idleSince === undefined) r.idleSince = now;
          else if (now - r.idleSince >= limitMs) void this.#stop(r);
        }
      },
      Math.min(5000, Math.max(250, limitMs / 4)),
    );
    this.#idleTimer.unref();
  }
}
