/**
 * The router as the server sees it: a pool of media worker processes (one per core by default),
 * rooms placed on the least loaded worker, and room handles that turn `MediaRoom` calls into IPC
 * requests. Candidates and events coming back from a worker are dispatched to the callbacks
 * given at publish/subscribe time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIPv4, isIPv6 } from 'node:net';
import { MediaError } from './errors.js';
import type { WorkerConfig, WorkerEvent, WorkerRequest, WorkerResponse } from './ndc/ipc.js';
import type {
  AudioFallbackOptions,
  IceCandidateInit,
  IceServerConfig,
  MediaLogger,
  MediaMetrics,
  MediaRoom,
  MediaRouter,
  MediaRouterOptions,
  MediaTap,
  PublisherMediaEvent,
  PublishOptions,
  RtpPublisher,
  RtpPublishOptions,
  SessionMetrics,
  SubscribeOptions,
  SubscriberMediaEvent,
  TapOptions,
  WorkerMetrics,
} from './types.js';

const DEFAULT_FALLBACK: AudioFallbackOptions = Object.freeze({
  enabled: true,
  warnLoss: 0.05,
  disableLoss: 0.12,
  disableAfterMs: 2000,
  recoverLoss: 0.02,
  recoverAfterMs: 3000,
  minBitrateBps: 0,
});

const silentLogger: MediaLogger = { info() {}, warn() {}, error() {}, debug() {} };

interface ResolvedOptions {
  workers: number;
  workerConfigs: WorkerConfig[];
  iceServers: IceServerConfig[];
  logger: MediaLogger;
}

function invalid(field: string, why: string): MediaError {
  return new MediaError('ERR_MEDIA_INVALID_OPTION', `${field} ${why}`);
}

function resolveOptions(o: MediaRouterOptions): ResolvedOptions {
  const workers = o.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw invalid('workers', 'must be an integer from 1 to 64');
  if (o.publicIp !== undefined && !isIPv4(o.publicIp) && !isIPv6(o.publicIp)) throw invalid('publicIp', 'must be an IP address');
  if (o.bindAddress !== undefined && !isIPv4(o.bindAddress) && !isIPv6(o.bindAddress)) throw invalid('bindAddress', 'must be an IP address');
  const min = o.rtcMinPort ?? 0;
  const max = o.rtcMaxPort ?? 0;
  for (const [name, v] of [
    ['rtcMinPort', min],
    ['rtcMaxPort', max],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw invalid(name, 'must be an integer port from 1 to 65535');
  }
  if ((min === 0) !== (max === 0)) throw invalid('rtcMinPort/rtcMaxPort', 'must be given together');
  if (min > max) throw invalid('rtcMinPort', 'must not be greater than rtcMaxPort');
  const udpMux = o.udpMux === true;
  if (udpMux && min === 0) throw invalid('udpMux', 'needs rtcMinPort/rtcMaxPort (worker i listens on rtcMinPort + i)');
  if (udpMux && max - min + 1 < workers) throw invalid('rtcMaxPort', `leaves fewer than 1 port per worker (${workers} workers) for udpMux`);
  if (!udpMux && min !== 0 && max - min + 1 < workers * 2) throw invalid('rtcMaxPort', `leaves fewer than 2 ports per worker (${workers} workers)`);
  const fallback: AudioFallbackOptions = { ...DEFAULT_FALLBACK, ...(o.audioFallback ?? {}) };
  for (const k of ['warnLoss', 'disableLoss', 'recoverLoss'] as const) {
    const v = fallback[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw invalid(`audioFallback.${k}`, 'must be a number from 0 to 1');
  }
  for (const k of ['disableAfterMs', 'recoverAfterMs', 'minBitrateBps'] as const) {
    const v = fallback[k];
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw invalid(`audioFallback.${k}`, 'must be a non-negative number');
  }
  if (fallback.recoverLoss > fallback.disableLoss) throw invalid('audioFallback.recoverLoss', 'must not exceed audioFallback.disableLoss');
  const rtcpTimeout = o.rtcpTimeoutSeconds ?? 15;
  if (typeof rtcpTimeout !== 'number' || !(rtcpTimeout > 0)) throw invalid('rtcpTimeoutSeconds', 'must be a positive number');
  const iceServers = o.iceServers ?? [];
  if (!Array.isArray(iceServers)) throw invalid('iceServers', 'must be an array');
  iceServers.forEach((s, i) => {
    const urls = Array.isArray(s?.urls) ? s.urls : [s?.urls];
    if (urls.length === 0 || !urls.every((u) => typeof u === 'string' && /^(stun|stuns|turn|turns):/.test(u))) {
      throw invalid(`iceServers[${i}].urls`, 'must be stun:/turn: URLs');
    }
  });
  const span = min === 0 ? 0 : Math.floor((max - min + 1) / workers);
  const workerConfigs = Array.from({ length: workers }, (_, i): WorkerConfig => {
    const c: WorkerConfig = { audioFallback: Object.freeze({ ...fallback }), rtcpTimeoutMs: rtcpTimeout * 1000 };
    if (o.bindAddress) c.bindAddress = o.bindAddress;
    if (o.publicIp) c.publicIp = o.publicIp;
    if (udpMux) {
      c.udpMux = true;
      c.portRangeBegin = min + i;
      c.portRangeEnd = min + i;
    } else if (span) {
      c.portRangeBegin = min + i * span;
      c.portRangeEnd = i === workers - 1 ? max : min + (i + 1) * span - 1;
    }
    return c;
  });
  return { workers, workerConfigs, iceServers: iceServers.map((s) => ({ ...s })), logger: o.logger ?? silentLogger };
}

let bundledWorker: Promise<string> | undefined;

/**
 * Path of the worker entry. From `dist/` it is the compiled `ndc/worker.js`. When this module runs
 * from TypeScript source (vitest resolves workspace packages to `src/`), the worker is bundled
 * once with esbuild (a dev dependency) next to node_modules so `node-datachannel` resolves.
 */
async function workerEntry(): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'ndc', 'worker.js');
  bundledWorker ??= (async () => {
    const req = createRequire(import.meta.url);
    const ndcMain = req.resolve('node-datachannel');
    const nm = ndcMain.slice(0, ndcMain.lastIndexOf('node_modules') + 'node_modules'.length);
    const dir = join(nm, '.cache', 'tokhost-media');
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    const esbuildName = 'esbuild';
    const esbuild = (await import(esbuildName)) as { build(o: object): Promise<{ outputFiles: { contents: Uint8Array }[] }> };
    const built = await esbuild.build({
      entryPoints: [join(dirname(here), 'ndc', 'worker.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['node-datachannel'],
      write: false,
      outfile: 'worker.mjs',
      logLevel: 'silent',
    });
    const code = built.outputFiles[0]!.contents;
    // Named by content: parallel test processes share one file and nothing piles up.
    const out = join(dir, `worker-${createHash('sha1').update(code).digest('hex').slice(0, 16)}.mjs`);
    if (!existsSync(out)) {
      const tmp = `${out}.${process.pid}.tmp`;
      writeFileSync(tmp, code);
      renameSync(tmp, out);
    }
    return out;
  })();
  return bundledWorker;
}

type RoomCallbacks = {
  pubCandidate: Map<string, (c: IceCandidateInit) => void>;
  subCandidate: Map<string, (c: IceCandidateInit) => void>;
  pubEvent: Map<string, (e: PublisherMediaEvent) => void>;
  subEvent: Map<string, (e: SubscriberMediaEvent) => void>;
};

class WorkerHandle {
  readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly rooms = new Map<string, RouterRoom>();
  /** Peers placed here, counted at once (stats lag by a second). */
  peers = 0;
  stats: Omit<WorkerMetrics, 'pid'> = {
    rooms: 0,
    publishers: 0,
    subscribers: 0,
    packetsPerSecond: 0,
    packetsInPerSecond: 0,
    bitrateBps: 0,
    lossRate: 0,
    keyframeRequestsPerSecond: 0,
    eventLoopP99Ms: 0,
    cpuSeconds: 0,
    rssBytes: 0,
  };
  sessionStats = new Map<string, SessionMetrics>();
  exited = false;

  constructor(
    entry: string,
    readonly index: number,
    private readonly router: NdcMediaRouter,
  ) {
    this.proc = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced', execArgv: [] });
    this.proc.on('message', (m: WorkerResponse | WorkerEvent) => this.onMessage(m));
    this.proc.on('exit', (code, signal) => this.onExit(code, signal));
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  get load(): number {
    return this.peers * 1000 + this.stats.packetsPerSecond / 10 + this.rooms.size;
  }

  request<T>(req: WorkerRequest): Promise<T> {
    if (this.exited) return Promise.reject(new MediaError('ERR_MEDIA_WORKER', `media worker ${this.index} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...req, id });
    });
  }

  private onMessage(m: WorkerResponse | WorkerEvent): void {
    if ('id' in m) {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(MediaError.fromWire(m.error));
      return;
    }
    switch (m.ev) {
      case 'stats':
        this.stats = m.worker;
        this.sessionStats = new Map(m.sessions.map((s) => [s.sessionId, s]));
        return;
      case 'log':
        this.router.logger[m.level]({ ...m.obj, worker: this.index }, m.msg);
        return;
      default: {
        const room = this.rooms.get(m.sessionId);
        room?.dispatch(m);
      }
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    const err = new MediaError('ERR_MEDIA_WORKER', `media worker ${this.index} exited (code ${code}, signal ${signal})`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (!this.router.closed) {
      this.router.logger.error({ worker: this.index, code, signal }, 'media worker exited');
      for (const room of [...this.rooms.values()]) room.workerLost();
      this.router.replaceWorker(this);
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.request({ op: 'shutdown' }).catch(() => {});
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}

/** Candidates raised before the creating call resolved wait here (see the contract in types.ts). */
class CandidateGate {
  private queue: IceCandidateInit[] | undefined = [];
  constructor(private readonly cb: (c: IceCandidateInit) => void) {}
  push(c: IceCandidateInit): void {
    if (this.queue) this.queue.push(c);
    else safeCall(this.cb, c);
  }
  open(): void {
    const q = this.queue ?? [];
    this.queue = undefined;
    for (const c of q) safeCall(this.cb, c);
  }
}

function safeCall<T>(fn: ((v: T) => void) | undefined, v: T): void {
  try {
    fn?.(v);
  } catch {
    // A throwing listener must not break the router.
  }
}

class RouterRoom implements MediaRoom {
  private closed_ = false;
  private readonly cb: RoomCallbacks = { pubCandidate: new Map(), subCandidate: new Map(), pubEvent: new Map(), subEvent: new Map() };
  private readonly publishers = new Set<string>();
  private readonly subscribers = new Set<string>();

  constructor(
    readonly sessionId: string,
    private readonly worker: WorkerHandle,
    private readonly router: NdcMediaRouter,
  ) {}

  get closed(): boolean {
    return this.closed_;
  }

  get workerPid(): number {
    return this.worker.pid;
  }

  private check(): void {
    if (this.closed_) throw new MediaError('ERR_MEDIA_CLOSED', `room ${this.sessionId} is closed`);
  }

  dispatch(m: Exclude<WorkerEvent, { ev: 'stats' } | { ev: 'log' }>): void {
    switch (m.ev) {
      case 'pubCandidate':
        return safeCall(this.cb.pubCandidate.get(m.publisherId), m.candidate);
      case 'subCandidate':
        return safeCall(this.cb.subCandidate.get(m.subscriberId), m.candidate);
      case 'pubEvent':
        safeCall(this.cb.pubEvent.get(m.publisherId), m.event);
        if (m.event.type === 'closed') this.forgetPublisher(m.publisherId);
        return;
      case 'subEvent':
        safeCall(this.cb.subEvent.get(m.subscriberId), m.event);
        if (m.event.type === 'closed') this.forgetSubscriber(m.subscriberId);
        return;
    }
  }

  private forgetPublisher(id: string): void {
    if (this.publishers.delete(id)) this.worker.peers--;
    this.cb.pubCandidate.delete(id);
    this.cb.pubEvent.delete(id);
  }

  private forgetSubscriber(id: string): void {
    if (this.subscribers.delete(id)) this.worker.peers--;
    this.cb.subCandidate.delete(id);
    this.cb.subEvent.delete(id);
  }

  private validId(field: string, v: unknown): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new MediaError('ERR_MEDIA_INVALID_OPTION', `${field} must be a non-empty string of at most 256 characters`);
    return v;
  }

  async publish(o: PublishOptions): Promise<{ answerSdp: string }> {
    this.check();
    const publisherId = this.validId('publisherId', o?.publisherId);
    if (typeof o.offerSdp !== 'string' || !o.offerSdp.startsWith('v=0')) throw new MediaError('ERR_MEDIA_INVALID_SDP', 'offerSdp must be an SDP offer (starting with "v=0")');
    if (typeof o.onCandidate !== 'function') throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'onCandidate must be a function');
    if (o.audioFallback !== undefined && typeof o.audioFallback !== 'boolean') throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'audioFallback must be a boolean');
    if (this.publishers.has(publisherId)) throw new MediaError('ERR_MEDIA_DUPLICATE_ID', `publisherId "${publisherId}" is already published`);
    const gate = new CandidateGate(o.onCandidate);
    this.publishers.add(publisherId);
    this.worker.peers++;
    this.cb.pubCandidate.set(publisherId, (c) => gate.push(c));
    if (o.onEvent) this.cb.pubEvent.set(publisherId, o.onEvent);
    try {
      const r = await this.worker.request<{ answerSdp: string }>({ op: 'publish', sessionId: this.sessionId, publisherId, offerSdp: o.offerSdp, audioFallback: o.audioFallback === true });
      setImmediate(() => gate.open());
      return r;
    } catch (e) {
      this.forgetPublisher(publisherId);
      throw e;
    }
  }

  async publishRtp(o: RtpPublishOptions): Promise<RtpPublisher> {
    this.check();
    const publisherId = this.validId('publisherId', o?.publisherId);
    const a = o.audio;
    if (!a || !Number.isInteger(a.payloadType) || a.payloadType < 0 || a.payloadType > 127) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'audio.payloadType must be an integer from 0 to 127');
    if (typeof a.rtpmap !== 'string' || !/^[A-Za-z0-9_.-]+\/\d+(\/\d+)?$/.test(a.rtpmap)) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'audio.rtpmap must look like "PCMU/8000" or "opus/48000/2"');
    const host = o.sourceHost ?? '127.0.0.1';
    if (!isIPv4(host) && !isIPv6(host)) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'sourceHost must be an IP address');
    if (this.publishers.has(publisherId)) throw new MediaError('ERR_MEDIA_DUPLICATE_ID', `publisherId "${publisherId}" is already published`);
    this.publishers.add(publisherId);
    this.worker.peers++;
    try {
      const codec: { pt: number; rtpmap: string; fmtp?: string } = { pt: a.payloadType, rtpmap: a.rtpmap };
      if (a.fmtp !== undefined) codec.fmtp = a.fmtp;
      return await this.worker.request<RtpPublisher>({ op: 'publishRtp', sessionId: this.sessionId, publisherId, codec, host });
    } catch (e) {
      this.forgetPublisher(publisherId);
      throw e;
    }
  }

  async addPublisherCandidate(publisherId: string, candidate: IceCandidateInit): Promise<void> {
    this.check();
    if (typeof candidate?.candidate !== 'string') throw new MediaError('ERR_MEDIA_INVALID_CANDIDATE', 'candidate.candidate must be a string');
    await this.worker.request({ op: 'pubCandidate', sessionId: this.sessionId, publisherId, candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null } });
  }

  async subscribe(o: SubscribeOptions): Promise<{ offerSdp: string }> {
    this.check();
    const subscriberId = this.validId('subscriberId', o?.subscriberId);
    const publisherId = this.validId('publisherId', o.publisherId);
    if (typeof o.onCandidate !== 'function') throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'onCandidate must be a function');
    if (this.subscribers.has(subscriberId)) throw new MediaError('ERR_MEDIA_DUPLICATE_ID', `subscriberId "${subscriberId}" is already subscribed`);
    const gate = new CandidateGate(o.onCandidate);
    this.subscribers.add(subscriberId);
    this.worker.peers++;
    this.cb.subCandidate.set(subscriberId, (c) => gate.push(c));
    if (o.onEvent) this.cb.subEvent.set(subscriberId, o.onEvent);
    try {
      const r = await this.worker.request<{ offerSdp: string }>({ op: 'subscribe', sessionId: this.sessionId, subscriberId, publisherId, audio: o.audio !== false, video: o.video !== false });
      setImmediate(() => gate.open());
      return r;
    } catch (e) {
      this.forgetSubscriber(subscriberId);
      throw e;
    }
  }

  async setSubscriberAnswer(subscriberId: string, answerSdp: string): Promise<void> {
    this.check();
    if (typeof answerSdp !== 'string' || !answerSdp.startsWith('v=0')) throw new MediaError('ERR_MEDIA_INVALID_SDP', 'answerSdp must be an SDP answer (starting with "v=0")');
    await this.worker.request({ op: 'subAnswer', sessionId: this.sessionId, subscriberId, answerSdp });
  }

  async addSubscriberCandidate(subscriberId: string, candidate: IceCandidateInit): Promise<void> {
    this.check();
    if (typeof candidate?.candidate !== 'string') throw new MediaError('ERR_MEDIA_INVALID_CANDIDATE', 'candidate.candidate must be a string');
    await this.worker.request({ op: 'subCandidate', sessionId: this.sessionId, subscriberId, candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null } });
  }

  async setSubscriberMedia(subscriberId: string, media: { audio?: boolean; video?: boolean }): Promise<void> {
    this.check();
    for (const k of ['audio', 'video'] as const) {
      if (media?.[k] !== undefined && typeof media[k] !== 'boolean') throw new MediaError('ERR_MEDIA_INVALID_OPTION', `media.${k} must be a boolean`);
    }
    const req: Extract<WorkerRequest, { op: 'subMedia' }> = { op: 'subMedia', sessionId: this.sessionId, subscriberId };
    if (media.audio !== undefined) req.audio = media.audio;
    if (media.video !== undefined) req.video = media.video;
    await this.worker.request(req);
  }

  async setPublisherAudioMuted(publisherId: string, muted: boolean): Promise<void> {
    this.check();
    if (typeof muted !== 'boolean') throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'muted must be a boolean');
    await this.worker.request({ op: 'pubMute', sessionId: this.sessionId, publisherId, muted });
  }

  async setPublisherLoss(publisherId: string, fraction: number): Promise<void> {
    this.check();
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'fraction must be a number from 0 to 1');
    await this.worker.request({ op: 'pubLoss', sessionId: this.sessionId, publisherId, fraction });
  }

  async setSubscriberLoss(subscriberId: string, fraction: number): Promise<void> {
    this.check();
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'fraction must be a number from 0 to 1');
    await this.worker.request({ op: 'subLoss', sessionId: this.sessionId, subscriberId, fraction });
  }

  async tap(publisherId: string, options: TapOptions): Promise<MediaTap> {
    this.check();
    if (typeof options?.host !== 'string' || !isIPv4(options.host)) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'host must be an IPv4 address');
    for (const k of ['audioPort', 'videoPort'] as const) {
      const v = options[k];
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 65534)) throw new MediaError('ERR_MEDIA_INVALID_OPTION', `${k} must be an integer port from 1 to 65534 (port+1 carries RTCP)`);
    }
    if (options.audioPort === undefined && options.videoPort === undefined) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'audioPort or videoPort is required');
    const tapId = randomUUID();
    const req: Extract<WorkerRequest, { op: 'tap' }> = { op: 'tap', sessionId: this.sessionId, publisherId, tapId, host: options.host, paused: options.paused === true };
    if (options.audioPort !== undefined) req.audioPort = options.audioPort;
    if (options.videoPort !== undefined) req.videoPort = options.videoPort;
    const r = await this.worker.request<{ sdp: string }>(req);
    let closed = false;
    return {
      id: tapId,
      sdp: r.sdp,
      start: async () => {
        this.check();
        await this.worker.request({ op: 'tapStart', sessionId: this.sessionId, tapId });
      },
      close: async () => {
        if (closed || this.closed_) return;
        closed = true;
        await this.worker.request({ op: 'untap', sessionId: this.sessionId, tapId });
      },
    };
  }

  async unpublish(publisherId: string): Promise<void> {
    this.check();
    await this.worker.request({ op: 'unpublish', sessionId: this.sessionId, publisherId });
    this.forgetPublisher(publisherId);
  }

  async unsubscribe(subscriberId: string): Promise<void> {
    this.check();
    await this.worker.request({ op: 'unsubscribe', sessionId: this.sessionId, subscriberId });
    this.forgetSubscriber(subscriberId);
  }

  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    this.router.forgetRoom(this);
    try {
      await this.worker.request({ op: 'closeRoom', sessionId: this.sessionId });
    } catch {
      // worker already gone
    }
    this.worker.peers -= this.publishers.size + this.subscribers.size;
    this.publishers.clear();
    this.subscribers.clear();
  }

  /** The worker died: every peer of this room is gone. */
  workerLost(): void {
    if (this.closed_) return;
    for (const id of [...this.subscribers]) {
      safeCall(this.cb.subEvent.get(id), { type: 'closed', reason: 'failed' } as SubscriberMediaEvent);
    }
    for (const id of [...this.publishers]) safeCall(this.cb.pubEvent.get(id), { type: 'closed', reason: 'failed' } as PublisherMediaEvent);
    this.closed_ = true;
    this.router.forgetRoom(this);
  }
}

/** The node-datachannel media router: worker processes, placement, room handles. */
export class NdcMediaRouter implements MediaRouter {
  private closed_ = false;
  private readonly workers: WorkerHandle[] = [];
  private readonly rooms = new Map<string, RouterRoom>();
  readonly logger: MediaLogger;
  readonly iceServers: readonly IceServerConfig[];

  private constructor(
    private readonly opts: ResolvedOptions,
    private readonly entry: string,
  ) {
    this.logger = opts.logger;
    this.iceServers = Object.freeze(opts.iceServers);
  }

  /** Starts the workers; resolves when every worker has answered its init. */
  static async start(options: MediaRouterOptions): Promise<NdcMediaRouter> {
    const opts = resolveOptions(options ?? {});
    const router = new NdcMediaRouter(opts, await workerEntry());
    try {
      await Promise.all(opts.workerConfigs.map((_, i) => router.spawn(i)));
    } catch (e) {
      await router.close();
      throw e;
    }
    router.logger.info({ workers: opts.workers }, 'media router started');
    return router;
  }

  private async spawn(index: number): Promise<WorkerHandle> {
    const w = new WorkerHandle(this.entry, index, this);
    this.workers[index] = w;
    await w.request({ op: 'init', config: this.opts.workerConfigs[index]! });
    return w;
  }

  replaceWorker(dead: WorkerHandle): void {
    if (this.closed_ || this.workers[dead.index] !== dead) return;
    this.spawn(dead.index).catch((e: unknown) => this.logger.error({ err: e }, 'media worker restart failed'));
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** PIDs of the worker processes (for CPU accounting in benchmarks). */
  get workerPids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  async room(sessionId: string): Promise<MediaRoom> {
    if (this.closed_) throw new MediaError('ERR_MEDIA_CLOSED', 'media router is closed');
    if (typeof sessionId !== 'string' || sessionId.length === 0) throw new MediaError('ERR_MEDIA_INVALID_OPTION', 'sessionId must be a non-empty string');
    const existing = this.rooms.get(sessionId);
    if (existing) return existing;
    const live = this.workers.filter((w) => !w.exited);
    if (live.length === 0) throw new MediaError('ERR_MEDIA_WORKER', 'no media worker is running');
    const w = live.reduce((a, b) => (b.load < a.load ? b : a));
    const room = new RouterRoom(sessionId, w, this);
    this.rooms.set(sessionId, room);
    w.rooms.set(sessionId, room);
    return room;
  }

  forgetRoom(room: RouterRoom): void {
    if (this.rooms.get(room.sessionId) === room) this.rooms.delete(room.sessionId);
    for (const w of this.workers) if (w.rooms.get(room.sessionId) === room) w.rooms.delete(room.sessionId);
  }

  metrics(): MediaMetrics {
    const workers: WorkerMetrics[] = this.workers.map((w) => ({ pid: w.pid, ...w.stats }));
    const sessions: SessionMetrics[] = [];
    for (const w of this.workers) {
      for (const id of w.rooms.keys()) {
        sessions.push(w.sessionStats.get(id) ?? { sessionId: id, publishers: 0, subscribers: 0, packetsPerSecond: 0, bitrateBps: 0, lossRate: 0 });
      }
    }
    return { workers, sessions };
  }

  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    for (const r of [...this.rooms.values()]) await r.close().catch(() => {});
    await Promise.all(this.workers.filter(Boolean).map((w) => w.stop()));
  }
}
