/**
 * ffmpeg/ffprobe steps on recorded files: probing, the fast-start MP4 of a composed archive
 * (from its crash-safe fragmented parts), the cue-indexed WebM files and ZIP of an individual one.
 * Used at stop and by crash recovery alike, so both produce the same files.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import yazl from 'yazl';

/** The failure when no recorded file holds media (written for tenants: it names no path). */
export const NO_READABLE_MEDIA = 'nothing was recorded (no readable media)';

export interface ToolPaths {
  ffmpeg: string;
  ffprobe: string;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Duration (s) of a media file, or null when ffprobe cannot read it. */
export async function probeDuration(tools: ToolPaths, file: string): Promise<number | null> {
  const r = await run(tools.ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', file], 60_000);
  const d = Number.parseFloat(r.stdout.trim());
  return r.code === 0 && Number.isFinite(d) ? d : null;
}

/** SHA-256 of a file, base64 (OpenTok's `sha256sum`). */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('base64')));
  });
}

/**
 * Joins the readable fragmented-MP4 parts into one fast-start MP4 (`-c copy`). Parts that cannot
 * be read (a crash before the first fragment) are skipped. Throws with ffmpeg's reason when
 * nothing is usable.
 */
export async function finalizeComposed(tools: ToolPaths, parts: readonly string[], out: string): Promise<void> {
  const usable: string[] = [];
  for (const p of parts) if (((await probeDuration(tools, p)) ?? 0) > 0) usable.push(p);
  if (usable.length === 0) throw new Error(NO_READABLE_MEDIA);
  let input: string[];
  if (usable.length === 1) input = ['-i', usable[0]!];
  else {
    const list = `${out}.parts.txt`;
    await writeFile(list, usable.map((p) => `file '${p.replaceAll("'", "'\\''")}'\n`).join(''));
    input = ['-f', 'concat', '-safe', '0', '-i', list];
  }
  const r = await run(tools.ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...input, '-map', '0', '-c', 'copy', '-movflags', '+faststart', out], 600_000);
  if (r.code !== 0) throw new Error(`could not finalise the MP4: ${r.stderr.trim().split('\n').pop() ?? r.code}`);
}

/** Rewrites a live-written WebM with cues (seekable), keeping what is readable. False when nothing is. */
export async function finalizeWebm(tools: ToolPaths, input: string, out: string): Promise<boolean> {
  if (((await probeDuration(tools, input)) ?? 0) <= 0) return false;
  const r = await run(tools.ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', input, '-map', '0', '-c', 'copy', out], 600_000);
  return r.code === 0 && (await stat(out).catch(() => null))?.size !== undefined;
}

/** A ZIP (stored, not deflated: WebM does not compress) of the files plus a JSON manifest. */
export async function writeZip(out: string, files: readonly string[], manifestName: string, manifest: unknown): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const f of files) zip.addFile(f, basename(f), { compress: false });
  zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2)), manifestName);
  zip.end();
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(createWriteStream(out)).on('close', () => resolve()).on('error', reject);
  });
}
