// Shared set-up for `npm start`, `npm test` and `npm run bench:*`: installs npm dependencies when
// they are missing or older than the lockfile, then builds every package. Idempotent and quick
// when nothing changed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`[setup] ${cmd} ${args.join(' ')} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

export function installDeps() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (!existsSync(marker)) {
    // A fresh clone installs exactly what the lockfile holds, as deployments do. The lockfile must
    // list every platform's optional packages (esbuild's and rollup's native builds): an
    // `npm install` run over an existing node_modules can drop them (npm/cli#4828), and `npm ci`
    // then refuses the lockfile as out of sync. scripts/check-lockfile.mjs guards that.
    console.log('[setup] installing npm dependencies (npm ci from the lockfile)…');
    run('npm', ['ci', '--no-audit', '--no-fund']);
  } else if (statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
    // An existing checkout after a pull: bring node_modules up to the lockfile without wiping it.
    console.log('[setup] updating npm dependencies to the lockfile (npm install)…');
    run('npm', ['install', '--no-audit', '--no-fund']);
  }
}

export function build() {
  console.log('[setup] building packages…');
  run('npm', ['run', 'build', '--silent']);
}

/** Install Debian packages the tests need (chromium, ffmpeg) when missing and we are root. */
export function ensureSystemPackages(binaries) {
  const missing = Object.entries(binaries).filter(([bin]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  // A value may name several packages (a program and its data: `pocketsphinx pocketsphinx-en-us`).
  const pkgs = [...new Set(missing.flatMap(([, pkg]) => pkg.split(' ')))];
  if (process.getuid?.() !== 0) {
    console.error(`[setup] missing system packages: ${pkgs.join(' ')} — install them with apt-get (needs root)`);
    process.exit(1);
  }
  console.log(`[setup] apt-get install ${pkgs.join(' ')}…`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}
