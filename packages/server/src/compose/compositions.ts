/**
 * Compositions of live sessions, shared by archives and broadcasts: one compositor and one
 * encoder per distinct (session, canvas, layout, media, rate) in auto stream mode, whose
 * MPEG-TS output fans out to every sink that leased it. This is what makes "record and stream"
 * cost one encode instead of two (docs/archiving.md). Manual stream mode and any lease that
 * changes its layout or streams get a composition of their own.
 *
 * The composition follows the session through the realtime layer's live events: in auto mode
 * every published stream is in it; a stream that stops sending holds its last frame, one that
 * leaves is out of the next frame; while nobody is in it the compositor pauses.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LiveEvent, LiveSessions, LiveStreamInfo } from '../live/index.js';
import { Compositor } from './compositor.js';
import type { CompositorStream } from './compositor.js';
import type { LayoutSpec } from './layout/index.js';
import { openTapSource } from './tap-source.js';
import { TsFanout } from './ts-fanout.js';

export interface CompositionSpec {
  apiKey: string;
  sessionId: string;
  canvas: { width: number; height: number };
  layout: LayoutSpec;
  streamMode: 'auto' | 'manual';
  hasAudio: boolean;
  hasVideo: boolean;
  maxBitrate?: number;
  quantizationParameter?: number;
  /**
   * Seconds between keyframes. Default 2. HLS segments can only be cut at keyframes, so a
   * low-latency broadcast asks for 1.
   */
  keyframeIntervalSeconds?: number;
}

export interface CompositionLeaseEvents {
  paused: [];
  resumed: [];
  /** The encoder died; the output has ended. */
  failed: [reason: string];
  /**
   * The lease moved to a composition of its own (it changed a shared one): its sinks must
   * continue from this new output, which starts at its own time zero.
   */
  outputChanged: [output: TsFanout];
}

/**
 * One user's hold on a composition (an archive, a broadcast, a SIP video leg): the one interface
 * every composition output works with, whoever provides it ({@link Compositions} here, a test
 * encoder in the broadcast tests).
 */
export interface CompositionLease {
  readonly output: TsFanout;
  readonly paused: boolean;
  /** Seconds of output so far (pauses excluded). */
  readonly outputSeconds: number;
  /** The streams in the picture and mix now, with their per-stream choice. */
  readonly streams: { streamId: string; hasAudio: boolean; hasVideo: boolean }[];
  setLayout(layout: LayoutSpec): Promise<void>;
  /** Manual mode: add (or change the audio/video of) a live stream. */
  addStream(streamId: string, media: { hasAudio: boolean; hasVideo: boolean }): Promise<void>;
  removeStream(streamId: string): Promise<void>;
  /** Give the lease back; the last one stops the encoder (its last bytes reach `output` first). */
  release(): Promise<void>;
  on<K extends keyof CompositionLeaseEvents>(event: K, listener: (...args: CompositionLeaseEvents[K]) => void): unknown;
}

/** What hands out composition leases: {@link Compositions}, or a stand-in in tests. */
export interface CompositionSource {
  acquire(spec: CompositionSpec): Promise<CompositionLease>;
}

export interface CompositionsOptions {
  live: LiveSessions;
  ffmpegPath?: string;
  fps?: number;
  /** Scratch directory for SDP files. Default: the OS temp dir. */
  workDir?: string;
  logger: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

class Composition {
  readonly output = new TsFanout();
  readonly compositor: Compositor;
  readonly leases = new Set<Lease>();
  /** Manual mode: the chosen streams; auto: null (every stream of the session). */
  private readonly chosen: Map<string, { hasAudio: boolean; hasVideo: boolean }> | null;
  private readonly unsubscribe: () => void;
  private order = 0;
  private readonly dir: string;
  private closed = false;
  private readonly pendingAdds = new Map<string, Promise<void>>();

  constructor(
    readonly key: string | null,
    readonly spec: CompositionSpec,
    private readonly options: CompositionsOptions,
  ) {
    this.chosen = spec.streamMode === 'manual' ? new Map() : null;
    this.dir = mkdtempSync(join(options.workDir ?? tmpdir(), 'tokhost-compose-'));
    this.compositor = new Compositor({
      width: spec.canvas.width,
      height: spec.canvas.height,
      ...(options.fps !== undefined ? { fps: options.fps } : {}),
      hasAudio: spec.hasAudio,
      hasVideo: spec.hasVideo,
      layout: spec.layout,
      ...(spec.maxBitrate !== undefined ? { maxBitrate: spec.maxBitrate } : {}),
      ...(spec.quantizationParameter !== undefined ? { quantizationParameter: spec.quantizationParameter } : {}),
      ...(spec.keyframeIntervalSeconds !== undefined ? { keyframeIntervalSeconds: spec.keyframeIntervalSeconds } : {}),
      ...(options.ffmpegPath !== undefined ? { ffmpegPath: options.ffmpegPath } : {}),
      onOutput: (chunk) => this.output.write(chunk),
      logger: options.logger,
    });
    // A sink that never drops (the archive file) holds the fan-out when it falls behind.
    this.output.onHoldChange((held) => this.compositor.setOutputHeld(held));
    this.compositor.on('paused', () => this.leases.forEach((l) => l.emit('paused')));
    this.compositor.on('resumed', () => this.leases.forEach((l) => l.emit('resumed')));
    this.compositor.on('failed', (reason) => this.leases.forEach((l) => l.emit('failed', reason)));
    this.unsubscribe = options.live.onLiveEvent((e) => this.onLive(e));
  }

  /** Auto mode: every stream already live joins (in the layout at once; decoders start in the background). */
  init(): void {
    if (this.chosen) return;
    for (const s of this.options.live.streamInfos(this.spec.sessionId)) void this.include(s);
  }

  private onLive(e: LiveEvent): void {
    if (e.sessionId !== this.spec.sessionId || this.closed || !('stream' in e)) return;
    const id = e.stream.streamId;
    if (e.type === 'streamDestroyed') {
      this.chosen?.delete(id);
      void this.compositor.removeStream(id);
    } else if (e.type === 'streamCreated') {
      if (!this.chosen) void this.include(e.stream);
    } else if (this.compositor.streamIds.includes(id)) {
      const pick = this.chosen?.get(id) ?? { hasAudio: true, hasVideo: true };
      this.compositor.updateStream(id, {
        layoutClassList: e.stream.layoutClassList,
        videoType: e.stream.videoType ?? 'camera',
        audio: pick.hasAudio && e.stream.hasAudio,
        video: pick.hasVideo && e.stream.hasVideo,
      });
    }
  }

  /** Put a live stream into the compositor (tap → decoder). */
  include(info: LiveStreamInfo): Promise<void> {
    const running = this.pendingAdds.get(info.streamId);
    if (running) return running;
    const p = this.doInclude(info).finally(() => this.pendingAdds.delete(info.streamId));
    this.pendingAdds.set(info.streamId, p);
    return p;
  }

  private async doInclude(info: LiveStreamInfo): Promise<void> {
    const room = this.options.live.mediaRoom(this.spec.sessionId);
    if (!room || this.closed) return;
    const pick = this.chosen?.get(info.streamId) ?? { hasAudio: true, hasVideo: true };
    const stream: CompositorStream = {
      streamId: info.streamId,
      connectionId: info.connectionId,
      videoType: info.videoType ?? 'camera',
      layoutClassList: info.layoutClassList,
      order: info.creationTime * 1000 + (this.order++ % 1000),
      audio: pick.hasAudio && info.hasAudio,
      video: pick.hasVideo && info.hasVideo,
    };
    const source = room.then((r) => openTapSource({ room: r, streamId: info.streamId, dir: this.dir, audio: this.spec.hasAudio, video: this.spec.hasVideo }));
    try {
      await this.compositor.addStream(stream, source);
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message, streamId: info.streamId }, 'could not add the stream to the composition');
    }
    // It may have left while its source opened: the live event came before the compositor knew it.
    if (!this.options.live.getStream(this.spec.sessionId, info.streamId)) await this.compositor.removeStream(info.streamId);
  }

  async choose(streamId: string, media: { hasAudio: boolean; hasVideo: boolean }): Promise<void> {
    if (!this.chosen) throw new Error('addStream is for manual stream mode');
    media = { hasAudio: media.hasAudio, hasVideo: media.hasVideo };
    this.chosen.set(streamId, media);
    const info = this.options.live.streamInfos(this.spec.sessionId).find((s) => s.streamId === streamId);
    if (!info) return;
    if (this.compositor.streamIds.includes(streamId)) this.compositor.updateStream(streamId, { audio: media.hasAudio && info.hasAudio, video: media.hasVideo && info.hasVideo });
    else await this.include(info);
  }

  async unchoose(streamId: string): Promise<void> {
    this.chosen?.delete(streamId);
    await this.compositor.removeStream(streamId);
  }

  streams(): { streamId: string; hasAudio: boolean; hasVideo: boolean }[] {
    if (this.chosen) return [...this.chosen].map(([streamId, m]) => ({ streamId, ...m }));
    return this.compositor.streamIds.map((streamId) => ({ streamId, hasAudio: this.spec.hasAudio, hasVideo: this.spec.hasVideo }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    await Promise.allSettled([...this.pendingAdds.values()]);
    await this.compositor.close();
    this.output.end();
    await rm(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

class Lease extends EventEmitter<CompositionLeaseEvents> implements CompositionLease {
  private released = false;
  constructor(
    private readonly owner: Compositions,
    public composition: Composition,
  ) {
    super();
  }
  get output(): TsFanout {
    return this.composition.output;
  }
  get paused(): boolean {
    return this.composition.compositor.paused;
  }
  get outputSeconds(): number {
    return this.composition.compositor.outputSeconds;
  }
  get streams() {
    return this.composition.streams();
  }
  async setLayout(layout: LayoutSpec): Promise<void> {
    await this.owner.own(this);
    this.composition.compositor.setLayout(layout);
  }
  async addStream(streamId: string, media: { hasAudio: boolean; hasVideo: boolean }): Promise<void> {
    await this.composition.choose(streamId, media);
  }
  async removeStream(streamId: string): Promise<void> {
    await this.composition.unchoose(streamId);
  }
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.owner.drop(this);
  }
}

export class Compositions implements CompositionSource {
  private readonly shared = new Map<string, Composition>();
  private readonly all = new Set<Composition>();

  constructor(private readonly options: CompositionsOptions) {}

  /** A lease on the composition for `spec`: an existing equal one in auto mode, else a new one. */
  async acquire(spec: CompositionSpec): Promise<CompositionLease> {
    const key = spec.streamMode === 'auto' ? shareKey(spec) : null;
    let c = key ? this.shared.get(key) : undefined;
    if (!c) {
      c = new Composition(key, spec, this.options);
      this.all.add(c);
      if (key) this.shared.set(key, c);
      // Streams join on the next turn: the caller subscribes its sink to `output` first, so it
      // gets the encoder's very first keyframe (a later one would be up to 2 s into the picture).
      const fresh = c;
      setImmediate(() => fresh.init());
    }
    const lease = new Lease(this, c);
    c.leases.add(lease);
    return lease;
  }

  /** How many encoders run (tests, metrics). */
  get size(): number {
    return this.all.size;
  }

  /**
   * Give a lease its own composition before it changes it (a layout change on a shared one must
   * not change the other user's picture). Its sinks must re-subscribe to the new `output`.
   */
  async own(lease: Lease): Promise<void> {
    const c = lease.composition;
    if (c.leases.size === 1 && c.key === null) return;
    if (c.leases.size === 1) {
      // Sole user: keep the encoder, just stop offering it for sharing.
      if (c.key) this.shared.delete(c.key);
      (c as { key: string | null }).key = null;
      return;
    }
    const fresh = new Composition(null, c.spec, this.options);
    this.all.add(fresh);
    setImmediate(() => fresh.init());
    c.leases.delete(lease);
    fresh.leases.add(lease);
    lease.composition = fresh;
    lease.emit('outputChanged', fresh.output);
  }

  async drop(lease: Lease): Promise<void> {
    const c = lease.composition;
    c.leases.delete(lease);
    if (c.leases.size > 0) return;
    if (c.key) this.shared.delete(c.key);
    this.all.delete(c);
    await c.close();
  }

  async close(): Promise<void> {
    const all = [...this.all];
    this.all.clear();
    this.shared.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

function shareKey(s: CompositionSpec): string {
  return JSON.stringify([s.apiKey, s.sessionId, s.canvas.width, s.canvas.height, s.layout.type, s.layout.stylesheet ?? null, s.layout.screenshareType ?? null, s.hasAudio, s.hasVideo, s.maxBitrate ?? null, s.quantizationParameter ?? null, s.keyframeIntervalSeconds ?? 2]);
}
