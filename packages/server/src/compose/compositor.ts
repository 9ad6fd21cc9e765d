/**
 * The live compositor: streams join and leave, layouts and class lists change while it runs,
 * without restarting its output. Design (measured in docs/archiving.md): one ffmpeg decoder per
 * stream → raw frames and PCM into Node → layout (compose/layout) and I420 blit, audio mix →
 * one ffmpeg encoder. The output runs on its own clock at a fixed frame rate: a stalled input
 * holds its last frame, a stream that leaves is out of the next frame, and while nobody
 * publishes the clock stops (`paused`) so the output has no dead time.
 */
import { EventEmitter } from 'node:events';
import { I420Canvas } from './canvas.js';
import { StreamDecoder } from './decoder.js';
import type { InputSource } from './decoder.js';
import { Encoder } from './encoder.js';
import { computeLayout } from './layout/index.js';
import type { Box, LayoutSpec, LayoutStream } from './layout/index.js';
import { AudioMixer, SAMPLE_RATE } from './mixer.js';

export interface CompositorOptions {
  width: number;
  height: number;
  /** Output frame rate. Default 25. */
  fps?: number;
  hasAudio: boolean;
  hasVideo: boolean;
  layout: LayoutSpec;
  maxBitrate?: number;
  quantizationParameter?: number;
  /** Seconds between keyframes. Default 2. */
  keyframeIntervalSeconds?: number;
  /** Default `ffmpeg`. */
  ffmpegPath?: string;
  /** Encoded MPEG-TS (H.264 + AAC) bytes. */
  onOutput(chunk: Buffer): void;
  logger?: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
}

/** What the compositor knows of one stream. */
export interface CompositorStream extends LayoutStream {
  /** Include the stream's audio / video (publisher state and the archive's per-stream choice). */
  audio: boolean;
  video: boolean;
}

export interface CompositorEvents {
  paused: [];
  resumed: [];
  /** The encoder died: the output has ended. */
  failed: [reason: string];
  /** A stream's decoder died (the stream stays in the layout with its last frame). */
  inputFailed: [streamId: string, reason: string];
}

interface Input {
  stream: CompositorStream;
  decoder: StreamDecoder | null;
  frame: Buffer | null;
  fw: number;
  fh: number;
}

const TICK_MS = 20;

export class Compositor extends EventEmitter<CompositorEvents> {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  private readonly inputs = new Map<string, Input>();
  private readonly canvas: I420Canvas;
  private readonly mixer = new AudioMixer();
  private readonly encoder: Encoder;
  private layout: LayoutSpec;
  private boxes: Box[] = [];
  private layoutDirty = true;
  private pictureDirty = true;
  private timer: NodeJS.Timeout | null = null;
  /** Output time (ms) already written, and the wall-clock ms at which output time 0 was. */
  private origin = 0;
  private pausedAt: number | null = null;
  private framesOut = 0;
  private samplesOut = 0;
  private closedState = false;
  private failedReason: string | null = null;
  private readonly options: CompositorOptions;

  constructor(options: CompositorOptions) {
    super();
    this.options = options;
    this.width = options.width;
    this.height = options.height;
    this.fps = options.fps ?? 25;
    this.layout = options.layout;
    this.canvas = new I420Canvas(this.width, this.height);
    this.encoder = new Encoder({
      ffmpegPath: options.ffmpegPath ?? 'ffmpeg',
      width: this.width,
      height: this.height,
      fps: this.fps,
      video: options.hasVideo,
      audio: options.hasAudio,
      ...(options.maxBitrate !== undefined ? { maxBitrate: options.maxBitrate } : {}),
      ...(options.quantizationParameter !== undefined ? { quantizationParameter: options.quantizationParameter } : {}),
      keyframeIntervalSeconds: options.keyframeIntervalSeconds ?? 2,
      onData: options.onOutput,
      onExit: (reason) => {
        if (reason && !this.closedState) {
          this.failedReason = reason;
          void this.close();
          this.emit('failed', reason);
        }
      },
    });
    // Starts paused: the clock runs once a stream is in.
    this.pausedAt = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  get closed(): boolean {
    return this.closedState;
  }

  get paused(): boolean {
    return this.pausedAt !== null;
  }

  /** Seconds of output written so far. */
  get outputSeconds(): number {
    return this.options.hasVideo ? this.framesOut / this.fps : this.samplesOut / SAMPLE_RATE;
  }

  get streamIds(): string[] {
    return [...this.inputs.keys()];
  }

  /**
   * Add a stream and start decoding it from `source` (its decoder is closed with it). The stream
   * takes its place in the layout at once (a black box until its first frame), while the source
   * may still be opening: the picture follows a join without waiting for the tap and decoder.
   */
  async addStream(stream: CompositorStream, source: InputSource | Promise<InputSource>): Promise<void> {
    if (this.closedState) {
      await (await source).close();
      return;
    }
    await this.removeStream(stream.streamId);
    const input: Input = { stream: { ...stream }, decoder: null, frame: null, fw: 0, fh: 0 };
    const added = performance.now();
    this.inputs.set(stream.streamId, input);
    this.layoutDirty = true;
    this.resumeIfNeeded();
    let src: InputSource;
    try {
      src = await source;
    } catch (err) {
      if (this.inputs.get(stream.streamId) === input) await this.removeStream(stream.streamId);
      throw err;
    }
    if (this.inputs.get(stream.streamId) !== input || this.closedState) {
      await src.close();
      return;
    }
    input.decoder = new StreamDecoder({
      ffmpegPath: this.options.ffmpegPath ?? 'ffmpeg',
      source: src,
      video: this.options.hasVideo,
      audio: this.options.hasAudio,
      maxWidth: this.width,
      maxHeight: this.height,
      onFrame: (frame, h) => {
        if (this.inputs.get(stream.streamId) !== input) return;
        if (!input.frame) this.options.logger?.debug({ streamId: stream.streamId, ms: Math.round(performance.now() - added), width: h.width, height: h.height }, 'first frame of a stream');
        input.frame = frame;
        input.fw = h.width;
        input.fh = h.height;
        if (input.stream.video) this.pictureDirty = true;
      },
      onAudio: (pcm) => {
        if (this.inputs.get(stream.streamId) === input) this.mixer.push(stream.streamId, pcm);
      },
      onExit: (reason) => {
        if (this.inputs.get(stream.streamId) !== input) return;
        input.decoder = null;
        this.options.logger?.warn({ streamId: stream.streamId, reason }, 'stream decoder ended');
        this.emit('inputFailed', stream.streamId, reason);
      },
    });
    await input.decoder.start();
  }

  /** Change what is known of a stream (class list, audio/video inclusion) while it runs. */
  updateStream(streamId: string, changes: Partial<Pick<CompositorStream, 'layoutClassList' | 'videoType' | 'audio' | 'video'>>): void {
    const input = this.inputs.get(streamId);
    if (!input) return;
    input.stream = { ...input.stream, ...changes };
    this.layoutDirty = true;
  }

  async removeStream(streamId: string): Promise<void> {
    const input = this.inputs.get(streamId);
    if (!input) return;
    this.inputs.delete(streamId);
    this.mixer.remove(streamId);
    this.layoutDirty = true;
    if (this.inputs.size === 0) this.pause();
    await input.decoder?.close();
  }

  setLayout(layout: LayoutSpec): void {
    this.layout = layout;
    this.layoutDirty = true;
  }

  /** The boxes of the current picture (tests, diagnostics). */
  currentBoxes(): readonly Box[] {
    this.relayout();
    return this.boxes;
  }

  private pause(): void {
    if (this.pausedAt !== null || this.closedState) return;
    this.tick();
    this.pausedAt = performance.now();
    this.emit('paused');
  }

  private resumeIfNeeded(): void {
    if (this.pausedAt === null || this.closedState) return;
    const first = this.framesOut === 0 && this.samplesOut === 0;
    this.origin += performance.now() - this.pausedAt;
    this.pausedAt = null;
    if (first) this.origin = performance.now();
    this.emit('resumed');
  }

  private relayout(): void {
    if (!this.layoutDirty) return;
    this.layoutDirty = false;
    this.pictureDirty = true;
    const shown = [...this.inputs.values()].filter((i) => i.stream.video).map((i) => i.stream);
    this.boxes = computeLayout(this.layout, shown, { width: this.width, height: this.height });
  }

  private paint(): void {
    this.relayout();
    if (!this.pictureDirty) return;
    this.pictureDirty = false;
    this.canvas.clear();
    for (const box of this.boxes) {
      const input = this.inputs.get(box.streamId);
      if (!input?.frame) continue;
      this.canvas.blit(input.frame, input.fw, input.fh, box, box.fit);
    }
  }

  private tick(): void {
    if (this.closedState || this.pausedAt !== null) return;
    // A stuck encoder must not grow our memory without bound: past the backlog caps (128 MiB of
    // frames, several seconds even at 1080p) output is dropped (time still runs), which only
    // happens when ffmpeg stops reading or the machine is far too busy for real time.
    const elapsed = performance.now() - this.origin;
    if (this.options.hasVideo) {
      const due = Math.floor((elapsed * this.fps) / 1000) - this.framesOut;
      if (due > 0) {
        this.paint();
        // The same buffer may be queued several times: ffmpeg copies it, we never write into a queued one.
        const frame = Buffer.from(this.canvas.data);
        if (this.encoder.videoBacklog < 128 * 1024 * 1024) for (let i = 0; i < due; i++) this.encoder.videoIn!.write(frame);
        this.framesOut += due;
      }
    }
    if (this.options.hasAudio) {
      const due = Math.floor((elapsed * SAMPLE_RATE) / 1000) - this.samplesOut;
      if (due > 0) {
        const ids = new Set<string>();
        for (const [id, i] of this.inputs) if (i.stream.audio) ids.add(id);
        const pcm = this.mixer.mix(due, ids);
        if (this.encoder.audioBacklog < 4 * 1024 * 1024) this.encoder.audioIn!.write(pcm);
        this.samplesOut += due;
      }
    }
  }

  /** Hold back (or let go) the encoded output: see {@link Encoder.setOutputHeld}. */
  setOutputHeld(held: boolean): void {
    this.encoder.setOutputHeld(held);
  }

  /** Stop: decoders closed, the encoder flushed (its last bytes reach `onOutput`). */
  async close(): Promise<void> {
    if (this.closedState) return;
    if (this.failedReason === null) this.tick();
    this.closedState = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const inputs = [...this.inputs.values()];
    this.inputs.clear();
    await Promise.all(inputs.map((i) => i.decoder?.close()));
    await this.encoder.stop();
  }
}
