/**
 * HLS output of a broadcast: ffmpeg's `hls` muxer remuxing the composition's MPEG-TS into a live
 * playlist of short segments in a directory the server serves itself.
 *
 * - normal: 2 s segments (the encoder's keyframe interval), a window of 8 segments, older ones
 *   deleted;
 * - `lowLatency`: 1 s target (segments are cut at keyframes, so the encoder must make one per
 *   second for this to take effect), a window of 6;
 * - `dvr`: every segment kept and listed (`EXT-X-PLAYLIST-TYPE:EVENT`), so the whole broadcast
 *   stays seekable.
 * `program_date_time` stamps each segment with the wall clock (players and the latency bench use
 * it); `temp_file` makes ffmpeg write segment and playlist under a temporary name and rename, so
 * the server never serves half a file. At the end ffmpeg appends `#EXT-X-ENDLIST`.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemuxSink, type SinkLogger } from './remux.js';

export interface HlsSinkOptions {
  /** Directory for the playlist and segments (created). */
  dir: string;
  lowLatency?: boolean;
  dvr?: boolean;
  ffmpegPath?: string;
  logger: SinkLogger;
  /** Segment target in seconds. Default 2, or 1 with `lowLatency`. */
  segmentSeconds?: number;
  /** Bytes queued on ffmpeg above which the sink drops to the next keyframe. Default 8 MiB. */
  maxBufferedBytes?: number;
}

/** Playlist file name inside the directory. */
export const HLS_PLAYLIST = 'index.m3u8';

/** The ffmpeg output arguments of an HLS sink (exported for the docs and tests). */
export function hlsOutputArgs(options: Pick<HlsSinkOptions, 'dir' | 'lowLatency' | 'dvr' | 'segmentSeconds'>): string[] {
  const seconds = options.segmentSeconds ?? (options.lowLatency ? 1 : 2);
  const flags = ['independent_segments', 'program_date_time', 'temp_file'];
  const args = ['-f', 'hls', '-hls_time', String(seconds), '-hls_segment_type', 'mpegts', '-hls_segment_filename', join(options.dir, 'seg-%05d.ts')];
  if (options.dvr) {
    args.push('-hls_list_size', '0', '-hls_playlist_type', 'event');
  } else {
    flags.push('delete_segments');
    // Keep a few segments past the window for players that are a little behind.
    args.push('-hls_list_size', options.lowLatency ? '6' : '8', '-hls_delete_threshold', '4');
  }
  args.push('-hls_flags', flags.join('+'), join(options.dir, HLS_PLAYLIST));
  return args;
}

/**
 * The HLS sink. Its status is `live` only once the playlist lists a segment (so the URL is
 * playable when `hlsStatus` says `live`); `ended` is read from the playlist (`#EXT-X-ENDLIST`).
 */
export class HlsSink extends RemuxSink {
  readonly dir: string;
  #poll: NodeJS.Timeout | undefined;
  /** Wall-clock time the first segment appeared in the playlist (ms since the epoch). */
  firstSegmentAt: number | undefined;

  constructor(options: HlsSinkOptions) {
    mkdirSync(options.dir, { recursive: true });
    super({ ffmpegPath: options.ffmpegPath, logger: options.logger, name: 'hls', outputArgs: hlsOutputArgs(options), stopGraceMs: 5000, ...(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {}) });
    this.dir = options.dir;
    this.on('closed', () => clearInterval(this.#poll));
  }

  /** The current playlist text ('' before the first one is written). */
  playlist(): string {
    try {
      return readFileSync(join(this.dir, HLS_PLAYLIST), 'utf8');
    } catch {
      return '';
    }
  }

  /** Whether the playlist ends with `#EXT-X-ENDLIST`. */
  get ended(): boolean {
    return /#EXT-X-ENDLIST/.test(this.playlist());
  }

  protected override onProgressBlock(): void {
    // Output time advancing is not enough: wait until a player can load a segment.
    if (this.status !== 'starting' || this.#poll) return;
    const check = () => {
      if (this.status !== 'starting') return clearInterval(this.#poll);
      if (/#EXTINF:/.test(this.playlist())) {
        clearInterval(this.#poll);
        this.firstSegmentAt = Date.now();
        this.setStatus('live');
      }
    };
    this.#poll = setInterval(check, 100);
    check();
  }
}
