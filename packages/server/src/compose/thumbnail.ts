/**
 * Stream thumbnails for the console: one JPEG frame of a routed stream, decoded by ffmpeg from a
 * short-lived tap of the media router (the same plain-RTP tap recordings and compositions read).
 */
import { mkdir } from 'node:fs/promises';
import { TokhostError } from '../errors.js';
import type { LiveSessions } from '../live/index.js';
import { exited, spawnFfmpeg, StderrTail, stopChild } from './ffmpeg.js';
import { openTapSource } from './tap-source.js';

/** Options of {@link Thumbnailer}. */
export interface ThumbnailerOptions {
  live: LiveSessions;
  /** A directory for the taps' SDP files (made on first use). */
  dir: string;
  /** Default `ffmpeg`. */
  ffmpegPath?: string;
  /** Thumbnails decoded at once, server-wide; one more is refused with 429. Default 2. */
  maxConcurrent?: number;
  /** How long a thumbnail is served again instead of decoding a new one, ms. Default 2000. */
  freshMs?: number;
  /** Longest wait for a frame (a keyframe must arrive), ms. Default 8000. */
  timeoutMs?: number;
  /** Width of the JPEG (never scaled up; height keeps the aspect). Default 320. */
  width?: number;
}

interface Entry {
  at: number;
  jpeg: Promise<Buffer>;
}

/**
 * Decodes thumbnails, bounded: at most `maxConcurrent` ffmpeg processes, each stopped after
 * `timeoutMs`; requests for the same stream within `freshMs` share one decode (a page polling
 * every few seconds, or many pages, cost one tap per stream per `freshMs`).
 */
export class Thumbnailer {
  readonly #options: Required<Omit<ThumbnailerOptions, 'live' | 'dir'>> & Pick<ThumbnailerOptions, 'live' | 'dir'>;
  readonly #cache = new Map<string, Entry>();
  readonly #stops = new Set<() => Promise<unknown>>();
  #running = 0;
  #closed = false;

  constructor(options: ThumbnailerOptions) {
    this.#options = { ffmpegPath: 'ffmpeg', maxConcurrent: 2, freshMs: 2000, timeoutMs: 8000, width: 320, ...options };
  }

  /**
   * A JPEG of the stream's current picture. Throws `ERR_STREAM_NOT_FOUND` (not live),
   * `ERR_CONFLICT` (a relayed session, or a stream without video), `ERR_RATE_LIMITED` (too many
   * decodes at once) or `ERR_THUMBNAIL_UNAVAILABLE` (no frame within the timeout).
   */
  grab(sessionId: string, streamId: string): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new TokhostError('ERR_THUMBNAIL_UNAVAILABLE', 'Server shutting down'));
    const key = `${sessionId}\n${streamId}`;
    const now = Date.now();
    for (const [k, e] of this.#cache) if (now - e.at > this.#options.freshMs) this.#cache.delete(k);
    const hit = this.#cache.get(key);
    if (hit) return hit.jpeg;
    const info = this.#options.live.streamInfos(sessionId).find((s) => s.streamId === streamId);
    if (!info) return Promise.reject(new TokhostError('ERR_STREAM_NOT_FOUND', 'Stream not found', { description: `Stream ${streamId} is not in the session` }));
    if (!info.hasVideo) return Promise.reject(new TokhostError('ERR_CONFLICT', 'Stream has no video', { description: `Stream ${streamId} publishes no video` }));
    const room = this.#options.live.mediaRoom(sessionId);
    if (!room) return Promise.reject(new TokhostError('ERR_CONFLICT', 'Session not routed', { description: 'Thumbnails come from the media router: only routed sessions have them' }));
    if (this.#running >= this.#options.maxConcurrent) {
      return Promise.reject(new TokhostError('ERR_RATE_LIMITED', 'Too many thumbnails at once', { description: `At most ${this.#options.maxConcurrent} thumbnails are decoded at once; retry in a second` }));
    }
    this.#running++;
    const jpeg = this.#decode(room, streamId).finally(() => this.#running--);
    const entry = { at: now, jpeg };
    this.#cache.set(key, entry);
    // A failure is not kept: the next request tries again.
    jpeg.catch(() => this.#cache.get(key) === entry && this.#cache.delete(key));
    return jpeg;
  }

  async #decode(roomPromise: NonNullable<ReturnType<LiveSessions['mediaRoom']>>, streamId: string): Promise<Buffer> {
    const { dir, ffmpegPath, width, timeoutMs } = this.#options;
    await mkdir(dir, { recursive: true });
    const source = await openTapSource({ room: await roomPromise, streamId, dir, audio: false, video: true });
    const args = [
      ...source.inputArgs,
      '-map', '0:v:0', '-frames:v', '1',
      '-vf', `scale=w='min(iw,${width})':h=-2`,
      '-q:v', '5', '-f', 'image2pipe', '-c:v', 'mjpeg', 'pipe:1',
    ];
    const child = spawnFfmpeg(ffmpegPath, args, ['ignore', 'pipe', 'pipe']);
    const stderr = new StderrTail(child, 2000);
    const stop = () => stopChild(child, 'SIGKILL', 500);
    this.#stops.add(stop);
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => chunks.push(d));
    const timer = setTimeout(() => void stop(), timeoutMs);
    try {
      const done = exited(child);
      await Promise.race([source.ready?.(), done]);
      const code = await done;
      const jpeg = Buffer.concat(chunks);
      if (code !== 0 || jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) {
        throw new TokhostError('ERR_THUMBNAIL_UNAVAILABLE', 'No frame from the stream', { description: `No picture of stream ${streamId} within ${timeoutMs} ms${stderr.lastLine() ? `: ${stderr.lastLine()}` : ''}` });
      }
      return jpeg;
    } finally {
      clearTimeout(timer);
      this.#stops.delete(stop);
      await stop();
      await source.close();
    }
  }

  /** Stops the decodes under way. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#stops].map((s) => s()));
  }
}
