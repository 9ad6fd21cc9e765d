/** What the archive tests check in a media file, as a person would: ffprobe, decoded pixels, audio level. */
import { spawnSync } from 'node:child_process';

export interface ProbeStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
}

export function ffprobe(file: string): { streams: ProbeStream[]; duration: number } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { streams: ProbeStream[]; format: { duration: string } };
  return { streams: j.streams, duration: Number(j.format.duration) };
}

/** Presentation times (s) of every video frame. */
export function videoFrameTimes(file: string): number[] {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return r.stdout.split('\n').filter(Boolean).map(Number).filter(Number.isFinite);
}

/** Largest gap between consecutive video frames, s. */
export function maxVideoGap(file: string): number {
  const t = videoFrameTimes(file);
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i]! - t[i - 1]!);
  return gap;
}

/** Mean audio volume (dBFS) from ffmpeg's volumedetect. */
export function meanVolume(file: string, from = 0): number {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-ss', String(from), '-i', file, '-map', '0:a:0', '-af', 'volumedetect', '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /mean_volume: (-?[\d.]+) dB/.exec(r.stderr);
  if (!m) throw new Error(`no audio level: ${r.stderr.slice(-500)}`);
  return Number(m[1]);
}

/** Mean level (dBFS) of the audio around one frequency (a narrow band-pass): is that tone in the mix? */
export function toneLevel(file: string, hz: number, from = 1): number {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-ss', String(from), '-i', file, '-map', '0:a:0', '-af', `bandpass=f=${hz}:width_type=q:w=10,volumedetect`, '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /mean_volume: (-?[\d.]+) dB/.exec(r.stderr);
  if (!m) throw new Error(`no audio level: ${r.stderr.slice(-500)}`);
  return Number(m[1]);
}

/** One decoded frame at `t` seconds as RGB24 bytes. */
export function frameAt(file: string, t: number, width: number, height: number): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-ss', String(t), '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-'], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 || r.stdout.length !== width * height * 3) throw new Error(`could not decode a frame at ${t}s: ${r.stderr.toString()}`);
  return r.stdout;
}

/**
 * Frames of `file` every `step` seconds from `from` to a quarter second before `until`, decoded by
 * one ffmpeg run (one run per frame costs seconds each on a loaded machine): `[time, RGB24 frame]`.
 */
export function framesEvery(file: string, opts: { from: number; until: number; step: number; width: number; height: number }): Array<[number, Buffer]> {
  const { from, until, step, width, height } = opts;
  const span = until - 0.25 - from;
  if (span <= 0) return [];
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-ss', String(from), '-i', file, '-t', String(span), '-vf', `fps=1/${step},scale=${width}:${height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1024 * 1024 * 1024 });
  const size = width * height * 3;
  if (r.status !== 0 || r.stdout.length < size) throw new Error(`could not decode frames of ${file}: ${r.stderr.toString()}`);
  const out: Array<[number, Buffer]> = [];
  for (let i = 0; (i + 1) * size <= r.stdout.length; i++) out.push([from + i * step, r.stdout.subarray(i * size, (i + 1) * size)]);
  return out;
}

/** Mean colour of a rectangle of an RGB24 frame. */
export function meanColour(rgb: Buffer, width: number, rect: { x: number; y: number; w: number; h: number }): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  for (let y = rect.y; y < rect.y + rect.h; y++) {
    for (let x = rect.x; x < rect.x + rect.w; x++) {
      const i = (y * width + x) * 3;
      r += rgb[i]!;
      g += rgb[i + 1]!;
      b += rgb[i + 2]!;
      n++;
    }
  }
  return [r / n, g / n, b / n];
}

/** Which of red, green, blue, yellow, black a mean colour is closest to. */
export function colourName([r, g, b]: [number, number, number]): string {
  const named: [string, number, number, number][] = [
    ['red', 255, 0, 0],
    ['green', 0, 128, 0],
    ['blue', 0, 0, 255],
    ['yellow', 255, 255, 0],
    ['black', 0, 0, 0],
  ];
  let best = 'black';
  let d = Infinity;
  for (const [name, R, G, B] of named) {
    const e = (r - R) ** 2 + (g - G) ** 2 + (b - B) ** 2;
    if (e < d) {
      d = e;
      best = name;
    }
  }
  return best;
}
