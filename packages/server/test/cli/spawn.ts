import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const BIN = join(ROOT, 'packages/cli/dist/bin.js');

/** `npm test` builds first; when run alone, build the CLI (and the server it needs) once. */
export function ensureBuilt(): void {
  if (existsSync(BIN)) return;
  const r = spawnSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building packages/cli failed');
}

/** A `tokhost serve` child process and what it printed. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Run the real CLI; resolves once it printed `listening on http://…`. */
export function serve(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tokhost serve did not get ready:\n${out}\n${err}`));
    }, timeoutMs);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        // Let the rest of the banner arrive.
        setTimeout(() => resolve({ child, url: m[1]!, stdout: () => out, exited }), 100);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      if (!/listening on/.test(out)) reject(new Error(`tokhost serve exited with ${code}:\n${out}\n${err}`));
    });
  });
}

/** Stop a child for sure (the tests' afterEach). */
export async function stop(p: ServeProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(timer);
}
