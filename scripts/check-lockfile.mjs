// Checks that package-lock.json names every optional dependency of every locked package, for all
// platforms. `npm ci` refuses a lockfile that misses one ("Missing: @rollup/rollup-… from lock
// file"), and an `npm install` run over an existing node_modules drops the packages of the other
// platforms (npm/cli#4828). Fix: `rm -rf node_modules && npm install`, then commit the lockfile.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The optional dependencies the lockfile lacks, as `parent → name` strings. */
export function missingOptional(lock) {
  const packages = lock.packages ?? {};
  const missing = [];
  for (const [path, entry] of Object.entries(packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      // Node's resolution: the nearest node_modules up from the parent's folder.
      let dir = path;
      let found = false;
      for (;;) {
        const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
        if (packages[candidate]) {
          found = true;
          break;
        }
        if (dir === '') break;
        const cut = dir.lastIndexOf('/node_modules/');
        dir = cut === -1 ? '' : dir.slice(0, cut);
      }
      if (!found) missing.push(`${path || '(root)'} → ${name}`);
    }
  }
  return missing;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(fileURLToPath(import.meta.url), '..', '..');
  const missing = missingOptional(JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')));
  if (missing.length > 0) {
    console.error(`[lockfile] package-lock.json lacks ${missing.length} optional package(s), so \`npm ci\` would fail:\n  ${missing.join('\n  ')}`);
    console.error('[lockfile] regenerate it: rm -rf node_modules && npm install, then commit package-lock.json');
    process.exit(1);
  }
  console.log('[lockfile] every optional package of every platform is locked');
}
