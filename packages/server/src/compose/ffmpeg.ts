import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';

/** The last lines of a child's stderr, kept for error reasons (bounded). */
export class StderrTail {
  private text = '';
  constructor(child: ChildProcess, private readonly max = 4000) {
    child.stderr?.on('data', (d: Buffer) => {
      this.text = (this.text + d.toString()).slice(-this.max);
    });
  }
  /** The last non-empty line, e.g. for a `failed` reason. */
  lastLine(): string {
    const lines = this.text.trim().split('\n');
    return (lines[lines.length - 1] ?? '').trim();
  }
  toString(): string {
    return this.text;
  }
}

/** Spawn ffmpeg with the flags every pipeline uses. `-nostdin` matters: ffmpeg otherwise reads its
 * keyboard commands from stdin even when stdin is an input (`pipe:0`), and eats the frames. */
export function spawnFfmpeg(ffmpegPath: string, args: string[], stdio: StdioOptions): ChildProcess {
  return spawn(ffmpegPath, ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...args], { stdio });
}

/** Resolves when the child exits (with its code, or null when killed by a signal). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Ask a child to stop with `signal`, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await done;
  clearTimeout(timer);
  return code;
}
