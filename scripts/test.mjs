// `npm test`: the whole suite on a fresh machine. Installs npm dependencies and the Debian
// packages the browser and media tests need, builds, type-checks the tests, runs vitest, and
// prints one closing line `N passed, N failed, N skipped`.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureSystemPackages, installDeps, root } from './setup.mjs';

ensureSystemPackages({ chromium: 'chromium', ffmpeg: 'ffmpeg', turnserver: 'coturn' });
installDeps();
build();

console.log('[test] type-checking tests…');
const tc = spawnSync('npx', ['tsc', '-p', 'tsconfig.tests.json'], { cwd: root, stdio: 'inherit' });
if (tc.status !== 0) {
  console.error('[test] type errors in tests');
  process.exit(1);
}

const report = join(root, 'node_modules', '.vitest-report.json');
rmSync(report, { force: true });
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const r = spawnSync('npx', args, { cwd: root, stdio: 'inherit', env: { ...process.env, TOKHOST_TEST: '1' } });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests;
  failed = json.numFailedTests;
  skipped = json.numPendingTests + (json.numTodoTests ?? 0);
} catch {
  failed = Math.max(failed, 1);
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
