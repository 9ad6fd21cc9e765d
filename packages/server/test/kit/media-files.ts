/** Media inputs the browser tests feed Chromium, made with ffmpeg, and the tools' presence. */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { FakeCapture } from './chromium.mjs';

/** Whether every command is on the PATH (`ffmpeg`, `ffprobe`, `sipp` …): tests skip without them. */
export function hasCommands(...names: string[]): boolean {
  return names.every((n) => spawnSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' }).status === 0);
}

/** How {@link fakeCamera} draws the picture and makes the sound. */
export interface FakeCameraOptions {
  /** A sine tone of this frequency becomes the microphone (5 s, 48 kHz, looped by Chromium); none without it. */
  toneHz?: number;
  /** Picture size. Default `640x480`. */
  size?: string;
  /** Frame rate. Default 15. */
  fps?: number;
}

/**
 * A fake camera that shows one flat colour (any ffmpeg colour name: `red`, `blue`, `0x00ff00`),
 * written as a 1 s y4m clip into `dir` (Chromium loops it), and optionally a tone as microphone.
 * Pass the result to `launchChromium`.
 */
export function fakeCamera(dir: string, colour: string, options: FakeCameraOptions = {}): FakeCapture {
  const { toneHz, size = '640x480', fps = 15 } = options;
  const video = join(dir, `${colour}.y4m`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${colour}:s=${size}:r=${fps}`, '-t', '1', '-pix_fmt', 'yuv420p', video]);
  if (toneHz === undefined) return { video };
  const audio = join(dir, `${colour}-${toneHz}.wav`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`, '-t', '5', audio]);
  return { video, audio };
}
