/**
 * The file sink of a composed archive: the composition's MPEG-TS copied (`-c copy`) into a
 * fragmented MP4 that is readable up to its last complete fragment at any moment (a fragment at
 * each keyframe and at least every second), so a crash loses about the last second. When the
 * composition's output changes (the archive got an encoder of its own), a new part starts; the
 * parts are joined into one fast-start MP4 at stop (`finalizeComposed`). ADTS AAC from the TS needs
 * `aac_adtstoasc` for MP4 (ffmpeg 5.1 does not insert it when the input is a pipe), and
 * `-flush_packets 1` puts each fragment on disk at once (without it a low-rate picture sits in
 * ffmpeg's 32 KiB write buffer, and a crash loses all of it).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnFfmpeg, StderrTail } from '../compose/ffmpeg.js';
import type { CompositionLease } from '../compose/compositions.js';
import type { TsFanout } from '../compose/ts-fanout.js';
import { partPath } from './media-files.js';

export interface ComposedRecorderOptions {
  lease: CompositionLease;
  dir: string;
  ffmpegPath: string;
  hasVideo: boolean;
  hasAudio: boolean;
  /** Called with every part path as it starts (persisted for crash recovery). */
  onPart(path: string): void;
  onError(reason: string): void;
}

interface Part {
  child: ChildProcess;
  stderr: StderrTail;
  unsubscribe: () => void;
  done: Promise<void>;
}

export class ComposedRecorder {
  private part: Part | null = null;
  private n = 0;
  private stopped = false;
  readonly parts: string[] = [];

  constructor(private readonly options: ComposedRecorderOptions) {
    options.lease.on('outputChanged', (out) => void this.rotate(out));
    this.part = this.open(options.lease.output);
  }

  private open(output: TsFanout): Part {
    const path = partPath(this.options.dir, this.n++);
    this.parts.push(path);
    this.options.onPart(path);
    // A fragment at each keyframe and at least every second: a crash loses at most about 1 s.
    const frag = ['-movflags', `${this.options.hasVideo ? '+frag_keyframe' : ''}+empty_moov+default_base_moof`, '-frag_duration', '1000000'];
    const child = spawnFfmpeg(this.options.ffmpegPath, ['-analyzeduration', '1000000', '-f', 'mpegts', '-i', 'pipe:0', '-map', '0', '-c', 'copy', ...(this.options.hasAudio ? ['-bsf:a', 'aac_adtstoasc'] : []), ...frag, '-flush_packets', '1', '-f', 'mp4', '-y', path], ['pipe', 'ignore', 'pipe']);
    const stderr = new StderrTail(child);
    child.stdin!.on('error', () => undefined);
    const unsubscribe = output.subscribe(
      (chunk) => child.stdin!.write(chunk),
      () => child.stdin!.end(),
    );
    const done = new Promise<void>((resolve) =>
      child.once('exit', (code) => {
        if (code !== 0 && !this.stopped) this.options.onError(`archive writer exited (${code}): ${stderr.lastLine()}`);
        resolve();
      }),
    );
    return { child, stderr, unsubscribe, done };
  }

  private async close(part: Part): Promise<void> {
    part.unsubscribe();
    part.child.stdin!.end();
    const timer = setTimeout(() => part.child.kill('SIGKILL'), 15_000);
    await part.done;
    clearTimeout(timer);
  }

  private async rotate(output: TsFanout): Promise<void> {
    if (this.stopped) return;
    const old = this.part;
    this.part = this.open(output);
    if (old) await this.close(old);
  }

  /** Wait for the written bytes to be on disk; call after the lease was released (the encoder flushed). */
  async stop(): Promise<string[]> {
    this.stopped = true;
    if (this.part) await this.close(this.part);
    this.part = null;
    return this.parts;
  }
}
