/**
 * Stream thumbnails for the console: JPEG pictures of a routed stream, decoded by ffmpeg from a
 * tap of the media router (the same plain-RTP tap recordings and compositions read).
 *
 * A stream someone is looking at keeps one decoder: ffmpeg writes a JPEG a second, and each
 * request gets the newest. Opening a tap per request would not do: a tap starts with a keyframe
 * request, the router throttles those per publisher, and a decoder then waits for the next
 * keyframe the browser sends on its own (rarely, with VP8). A decoder nobody asked for during
 * `idleMs` is closed.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { TokhostError } from '../errors.js';
import type { LiveSessions } from '../live/index.js';
import { spawnFfmpeg, StderrTail, stopChild } from './ffmpeg.js';
import { openTapSource } from './tap-source.js';

/** Options of {@link Thumbnailer}. */
export interface ThumbnailerOptions {
  live: LiveSessions;
  /** A directory for the taps' SDP files (made on first use). */
  dir: string;
  /** Default `ffmpeg`. */
  ffmpegPath?: string;
  /** Streams decoded at once, server-wide; a thumbnail of one more is refused with 429. Default 2. */
  maxConcurrent?: number;
  /** A decoder no request asked for during this long is closed, ms. Default 10 000. */
  idleMs?: number;
  /** Longest wait for the first picture (a keyframe must arrive), ms. Default 8000. */
  timeoutMs?: number;
  /** Width of the JPEG (never scaled up; height keeps the aspect). Default 320. */
  width?: number;
}

interface Watcher {
  latest: Buffer | undefined;
  waiters: { resolve(jpeg: Buffer): void; reject(err: Error): void }[];
  lastAsked: number;
  close(reason: string): Promise<void>;
}

const JPEG_END = Buffer.from([0xff, 0xd9]);

/**
 * Bounded thumbnail decoding: at most `maxConcurrent` decoders (one ffmpeg each, a JPEG a second),
 * each closed when idle, when its stream ends, or with the server.
 */
export class Thumbnailer {
  readonly #options: Required<Omit<ThumbnailerOptions, 'live' | 'dir'>> & Pick<ThumbnailerOptions, 'live' | 'dir'>;
  readonly #watchers = new Map<string, Watcher>();
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(options: ThumbnailerOptions) {
    this.#options = { ffmpegPath: 'ffmpeg', maxConcurrent: 2, idleMs: 10_000, timeoutMs: 8000, width: 320, ...options };
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const w of this.#watchers.values()) if (now - w.lastAsked > this.#options.idleMs) void w.close('idle');
    }, 1000);
    this.#sweep.unref();
  }

  /** Decoders running now. */
  get running(): number {
    return this.#watchers.size;
  }

  /**
   * The stream's newest picture as JPEG. Throws `ERR_STREAM_NOT_FOUND` (not live), `ERR_CONFLICT`
   * (a relayed session, or a stream without video), `ERR_RATE_LIMITED` (as many streams are being
   * decoded as allowed) or `ERR_THUMBNAIL_UNAVAILABLE` (no picture within the timeout).
   */
  async grab(sessionId: string, streamId: string): Promise<Buffer> {
    if (this.#closed) throw new TokhostError('ERR_THUMBNAIL_UNAVAILABLE', 'Server shutting down');
    const info = this.#options.live.streamInfos(sessionId).find((s) => s.streamId === streamId);
    if (!info) throw new TokhostError('ERR_STREAM_NOT_FOUND', 'Stream not found', { description: `Stream ${streamId} is not in the session` });
    if (!info.hasVideo) throw new TokhostError('ERR_CONFLICT', 'Stream has no video', { description: `Stream ${streamId} publishes no video` });
    const room = this.#options.live.mediaRoom(sessionId);
    if (!room) throw new TokhostError('ERR_CONFLICT', 'Session not routed', { description: 'Thumbnails come from the media router: only routed sessions have them' });
    const key = `${sessionId}\n${streamId}`;
    let watcher = this.#watchers.get(key);
    if (!watcher) {
      if (this.#watchers.size >= this.#options.maxConcurrent) {
        throw new TokhostError('ERR_RATE_LIMITED', 'Too many thumbnails at once', { description: `Thumbnails of at most ${this.#options.maxConcurrent} streams are decoded at once (thumbnailMaxConcurrent); retry in a few seconds` });
      }
      watcher = this.#watch(key, room, streamId);
    }
    watcher.lastAsked = Date.now();
    if (watcher.latest) return watcher.latest;
    const w = watcher;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        w.waiters = w.waiters.filter((x) => x.resolve !== done);
        // A decoder that never got a picture is stuck (its tap's first keyframe lost): the next
        // request opens a new tap, which asks the publisher for a keyframe again.
        if (!w.latest) void w.close('no picture in time');
        reject(new TokhostError('ERR_THUMBNAIL_UNAVAILABLE', 'No picture from the stream', { description: `No picture of stream ${streamId} within ${this.#options.timeoutMs} ms` }));
      }, this.#options.timeoutMs);
      const done = (jpeg: Buffer) => {
        clearTimeout(timer);
        resolve(jpeg);
      };
      w.waiters.push({ resolve: done, reject: (err) => (clearTimeout(timer), reject(err)) });
    });
  }

  #watch(key: string, roomPromise: NonNullable<ReturnType<LiveSessions['mediaRoom']>>, streamId: string): Watcher {
    const { dir, ffmpegPath, width } = this.#options;
    let child: ChildProcess | undefined;
    let source: Awaited<ReturnType<typeof openTapSource>> | undefined;
    let closing: Promise<void> | undefined;
    let stderr: StderrTail | undefined;
    const watcher: Watcher = {
      latest: undefined,
      waiters: [],
      lastAsked: Date.now(),
      close: (reason) =>
        (closing ??= (async () => {
          if (this.#watchers.get(key) === watcher) this.#watchers.delete(key);
          const err = new TokhostError('ERR_THUMBNAIL_UNAVAILABLE', 'No picture from the stream', { description: `The decoder of stream ${streamId} stopped: ${reason}${stderr?.lastLine() ? ` (${stderr.lastLine()})` : ''}` });
          for (const w of watcher.waiters.splice(0)) w.reject(err);
          if (child) await stopChild(child, 'SIGKILL', 500);
          await source?.close().catch(() => undefined);
        })()),
    };
    this.#watchers.set(key, watcher);
    void (async () => {
      await mkdir(dir, { recursive: true });
      source = await openTapSource({ room: await roomPromise, streamId, dir, audio: false, video: true });
      if (closing) return void source.close();
      const args = [...source.inputArgs, '-map', '0:v:0', '-vf', `fps=1,scale=w='min(iw,${width})':h=-2`, '-q:v', '5', '-f', 'image2pipe', '-c:v', 'mjpeg', 'pipe:1'];
      const proc = (child = spawnFfmpeg(ffmpegPath, args, ['ignore', 'pipe', 'pipe']));
      stderr = new StderrTail(proc, 2000);
      let pending: Buffer = Buffer.alloc(0);
      proc.stdout!.on('data', (d: Buffer) => {
        pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
        // In a JPEG's coded data every 0xFF is stuffed (FF 00): FF D9 is only ever the end marker.
        for (let end = pending.indexOf(JPEG_END); end !== -1; end = pending.indexOf(JPEG_END)) {
          const jpeg = pending.subarray(0, end + 2);
          pending = pending.subarray(end + 2);
          watcher.latest = Buffer.from(jpeg);
          for (const w of watcher.waiters.splice(0)) w.resolve(watcher.latest);
        }
      });
      proc.once('error', (err) => void watcher.close(`ffmpeg: ${err.message}`));
      proc.once('exit', (code) => void watcher.close(`ffmpeg exited (${code})`));
      await source.ready?.();
    })().catch((err: unknown) => void watcher.close((err as Error).message));
    return watcher;
  }

  /** Stops every decoder. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    await Promise.all([...this.#watchers.values()].map((w) => w.close('server closing')));
  }
}
