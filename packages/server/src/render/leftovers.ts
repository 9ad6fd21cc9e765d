import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROFILE_PREFIX } from './browser.js';

/**
 * The record of running render browsers in the data directory (`render-pids/<pid>`, holding the
 * profile directory): a server that is SIGKILLed cannot kill its browsers, so the next start does.
 * A pid is only killed when its command line still names the recorded profile directory, so a pid
 * the system reused for something else is left alone.
 */
export class BrowserRecord {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'render-pids');
  }

  add(pid: number, profileDir: string): void {
    try {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(this.#dir, String(pid)), profileDir, { mode: 0o600 });
    } catch {
      // A read-only data directory: the browser is still killed by this run; only a crash leaks it.
    }
  }

  remove(pid: number): void {
    rmSync(join(this.#dir, String(pid)), { force: true });
  }

  /** Kill the process group of every recorded browser still running, remove its profile; returns the pids killed. */
  killLeftovers(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return [];
    }
    const killed: number[] = [];
    for (const name of names) {
      const pid = Number(name);
      const file = join(this.#dir, name);
      if (!Number.isInteger(pid) || pid <= 1) {
        rmSync(file, { force: true });
        continue;
      }
      let profileDir = '';
      try {
        profileDir = readFileSync(file, 'utf8').trim();
      } catch {
        // Unreadable record: only the pid check below decides.
      }
      if (profileDir.includes(PROFILE_PREFIX) && commandLine(pid).includes(profileDir)) {
        try {
          process.kill(-pid, 'SIGKILL');
          killed.push(pid);
        } catch {
          // Gone meanwhile.
        }
      }
      if (profileDir.includes(PROFILE_PREFIX)) rmSync(profileDir, { recursive: true, force: true });
      rmSync(file, { force: true });
    }
    return killed;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
