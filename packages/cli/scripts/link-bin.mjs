// Runs after `tsc -b`: makes dist/bin.js executable and links it as node_modules/.bin/tokhost.
// Why: on a fresh clone `npm ci` runs before the build, when dist/bin.js does not exist yet, and
// npm then skips the workspace's bin link, so `npx tokhost` would not find the local command.
import { chmodSync, existsSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(pkg, 'dist', 'bin.js');
chmodSync(bin, 0o755);
const binDir = join(pkg, '..', '..', 'node_modules', '.bin');
const link = join(binDir, 'tokhost');
let present = false;
try {
  lstatSync(link);
  present = true;
} catch {
  present = false;
}
if (!present && existsSync(join(pkg, '..', '..', 'node_modules'))) {
  mkdirSync(binDir, { recursive: true });
  symlinkSync('../@tokhost/cli/dist/bin.js', link);
}
