/**
 * The one encoder of a composition: raw I420 frames on stdin and mixed PCM on fd 3, both written
 * by the compositor on its own clock, encoded to H.264 + AAC in a live MPEG-TS stream on stdout
 * that a `TsFanout` hands to the sinks (file, HLS, RTMP). Timestamps come from frame and sample
 * counts, so audio and video stay aligned as long as the compositor writes them in step.
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { spawnFfmpeg, StderrTail, stopChild } from './ffmpeg.js';

export interface EncoderOptions {
  ffmpegPath: string;
  width: number;
  height: number;
  fps: number;
  video: boolean;
  audio: boolean;
  /** Target bits per second (OpenTok `maxBitrate`): constrained VBR. */
  maxBitrate?: number;
  /** Constant QP (OpenTok `quantizationParameter`, 15–40). */
  quantizationParameter?: number;
  /** Seconds between keyframes (fixed GOP). */
  keyframeIntervalSeconds: number;
  /** Encoded MPEG-TS bytes. */
  onData(chunk: Buffer): void;
  onExit(reason: string | null): void;
}

/** The bitrate cap used when none is asked for: about what OpenTok's archives use per resolution. */
export function defaultMaxBitrate(width: number, height: number): number {
  const px = width * height;
  return px <= 640 * 480 ? 1_200_000 : px <= 1280 * 720 ? 2_500_000 : 4_500_000;
}

/**
 * x264 preset by canvas size: `veryfast` up to 640x480 (about 0.13 core at 25 fps on this
 * project's 2-core test machine), `superfast` above, where `veryfast` costs a third more CPU
 * (720p with four cameras: 15.6 vs 10.6 ms per frame) for 0.6 dB PSNR at the same bitrate cap;
 * see docs/archiving.md, Performance.
 */
export function x264Preset(width: number, height: number): 'veryfast' | 'superfast' {
  return width * height <= 640 * 480 ? 'veryfast' : 'superfast';
}

export class Encoder {
  private readonly child: ChildProcess;
  private readonly stderr: StderrTail;
  private stopping = false;
  readonly videoIn: Writable | null;
  readonly audioIn: Writable | null;

  constructor(options: EncoderOptions) {
    const { width, height, fps } = options;
    const args: string[] = [];
    if (options.video) args.push('-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${width}x${height}`, '-framerate', String(fps), '-thread_queue_size', '64', '-probesize', '32', '-analyzeduration', '0', '-i', 'pipe:0');
    if (options.audio) args.push('-f', 's16le', '-ar', '48000', '-ac', '1', '-thread_queue_size', '256', '-probesize', '32', '-analyzeduration', '0', '-i', 'pipe:3');
    if (options.video) {
      const gop = String(Math.max(1, Math.round(fps * options.keyframeIntervalSeconds)));
      args.push('-c:v', 'libx264', '-preset', x264Preset(width, height), '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-threads', '2');
      if (options.quantizationParameter !== undefined) args.push('-qp', String(options.quantizationParameter));
      else {
        const rate = options.maxBitrate ?? defaultMaxBitrate(width, height);
        if (options.maxBitrate !== undefined) args.push('-b:v', String(rate));
        else args.push('-crf', '23');
        args.push('-maxrate', String(rate), '-bufsize', String(rate * 2));
      }
    }
    if (options.audio) args.push('-c:a', 'aac', '-b:a', '96k');
    args.push('-muxdelay', '0', '-muxpreload', '0', '-flush_packets', '1', '-f', 'mpegts', 'pipe:1');
    this.child = spawnFfmpeg(options.ffmpegPath, args, [options.video ? 'pipe' : 'ignore', 'pipe', 'pipe', options.audio ? 'pipe' : 'ignore']);
    this.stderr = new StderrTail(this.child);
    this.videoIn = options.video ? this.child.stdin! : null;
    this.audioIn = options.audio ? (this.child.stdio[3] as Writable) : null;
    // A broken pipe surfaces as the exit below; keep the write errors from throwing.
    this.videoIn?.on('error', () => undefined);
    this.audioIn?.on('error', () => undefined);
    this.child.stdout!.on('data', (d: Buffer) => options.onData(d));
    this.child.once('error', (err) => options.onExit(`ffmpeg: ${err.message}`));
    this.child.once('exit', (code) => options.onExit(this.stopping && (code === 0 || code === 255) ? null : `encoder exited (${code}): ${this.stderr.lastLine()}`));
  }

  /**
   * Bytes queued in each pipe that ffmpeg has not read yet. Kept apart: ffmpeg reads the input
   * whose output lags, so starving one pipe because the other is full would deadlock it.
   */
  get videoBacklog(): number {
    return this.videoIn?.writableLength ?? 0;
  }
  get audioBacklog(): number {
    return this.audioIn?.writableLength ?? 0;
  }

  /**
   * Stop (or resume) reading the encoded output: a sink that must not drop bytes holds the
   * fan-out, and ffmpeg then blocks on its stdout; the compositor's backlog caps bound what
   * queues up on the inputs meanwhile.
   */
  setOutputHeld(held: boolean): void {
    if (held) this.child.stdout!.pause();
    else this.child.stdout!.resume();
  }

  /** End the inputs and let ffmpeg flush what it holds; SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.videoIn?.end();
    this.audioIn?.end();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    const timer = setTimeout(() => void stopChild(this.child, 'SIGKILL', 0), graceMs);
    await done;
    clearTimeout(timer);
  }
}
