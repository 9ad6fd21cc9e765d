/**
 * One stream's decoder: an ffmpeg process that reads the stream (an RTP tap's SDP, or a file in
 * benchmarks) and writes raw video frames (YUV4MPEG2, scaled down to fit the canvas) on stdout
 * and 48 kHz mono s16le PCM on fd 3. The compositor holds the newest frame; when the stream
 * stalls, ffmpeg simply writes nothing and the last frame stays on screen.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { spawnFfmpeg, StderrTail, stopChild } from './ffmpeg.js';
import { Y4mParser } from './y4m.js';
import type { Y4mHeader } from './y4m.js';

/** Where a decoder reads a stream from. */
export interface InputSource {
  /** ffmpeg input arguments, ending with `-i <url or file>`. */
  readonly inputArgs: readonly string[];
  /** Called once ffmpeg runs (a tap starts sending once ffmpeg owns its ports). */
  ready?(): Promise<void>;
  close(): Promise<void>;
}

export interface DecoderOptions {
  ffmpegPath: string;
  source: InputSource;
  video: boolean;
  audio: boolean;
  /** Frames are scaled down (never up) to fit this size, aspect kept. */
  maxWidth: number;
  maxHeight: number;
  onFrame(frame: Buffer, header: Y4mHeader): void;
  onAudio(pcm: Buffer): void;
  onExit(reason: string): void;
}

export class StreamDecoder {
  private readonly child: ChildProcess;
  private readonly stderr: StderrTail;
  private closed = false;

  constructor(private readonly options: DecoderOptions) {
    const { video, audio } = options;
    // Probing and buffering flags belong to the source: what suits an RTP tap stalls a file input.
    const args = [...options.source.inputArgs];
    if (video) {
      args.push(
        '-map', '0:v:0?',
        '-vf', `scale=w='min(iw,${options.maxWidth})':h='min(ih,${options.maxHeight})':force_original_aspect_ratio=decrease:force_divisible_by=2`,
        '-pix_fmt', 'yuv420p', '-fps_mode', 'passthrough', '-f', 'yuv4mpegpipe', 'pipe:1',
      );
    }
    if (audio) args.push('-map', '0:a:0?', '-ac', '1', '-ar', '48000', '-f', 's16le', 'pipe:3');
    this.child = spawnFfmpeg(options.ffmpegPath, args, ['ignore', video ? 'pipe' : 'ignore', 'pipe', audio ? 'pipe' : 'ignore']);
    this.stderr = new StderrTail(this.child);
    if (video) {
      const parser = new Y4mParser(options.onFrame);
      this.child.stdout!.on('data', (d: Buffer) => {
        try {
          parser.push(d);
        } catch (err) {
          this.fail(`decoder output: ${(err as Error).message}`);
        }
      });
    }
    if (audio) (this.child.stdio[3] as Readable).on('data', (d: Buffer) => options.onAudio(d));
    this.child.once('error', (err) => this.fail(`ffmpeg: ${err.message}`));
    this.child.once('exit', (code) => {
      if (!this.closed) this.fail(`decoder exited (${code}): ${this.stderr.lastLine()}`);
    });
  }

  /** Resolves when the source is sending to ffmpeg. */
  async start(): Promise<void> {
    await this.options.source.ready?.();
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.child.kill('SIGKILL');
    void this.options.source.close().catch(() => undefined);
    this.options.onExit(reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Nothing of a decoder's output is worth waiting for.
    await Promise.all([stopChild(this.child, 'SIGKILL', 1000), this.options.source.close().catch(() => undefined)]);
  }
}
