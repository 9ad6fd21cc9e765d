// `npm run bench:<name>`: builds, then runs packages/*/bench/<name>.mjs. Benchmarks print their
// figures and a ratio against a baseline measured in the same run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureSystemPackages, installDeps, root } from './setup.mjs';

const BENCHES = {
  sdk: 'packages/sdk/bench/tokens.mjs',
  rest: 'packages/server/bench/rest.mjs',
  realtime: 'packages/server/bench/realtime.mjs',
  sfu: 'packages/server/bench/sfu.mjs',
  broadcast: 'packages/server/bench/broadcast.mjs',
  e2ee: 'packages/server/bench/e2ee.mjs',
  sip: 'packages/server/bench/sip.mjs',
  cluster: 'packages/server/bench/cluster.mjs',
  archive: 'packages/server/bench/archive.mjs',
  'opentok-js': 'packages/server/bench/opentok-js.mjs',
  captions: 'packages/server/bench/captions.mjs',
  render: 'packages/server/bench/render.mjs',
};
const name = process.argv[2] ?? 'sdk';
const file = BENCHES[name];
if (!file || !existsSync(join(root, file))) {
  console.error(`unknown or missing benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
// bench:rest drives load with wrk (C) so the load generator does not eat the server's core.
if (name === 'rest') ensureSystemPackages({ wrk: 'wrk' });
if (name === 'broadcast') ensureSystemPackages({ ffmpeg: 'ffmpeg', chromium: 'chromium', nginx: 'libnginx-mod-rtmp' });
if (name === 'sip') ensureSystemPackages({ sipp: 'sip-tester' });
if (name === 'cluster') ensureSystemPackages({ pg_ctlcluster: 'postgresql', psql: 'postgresql-client', 'redis-server': 'redis-server' });
if (name === 'opentok-js' || name === 'render') ensureSystemPackages({ chromium: 'chromium' });
if (name === 'captions') ensureSystemPackages({ 'espeak-ng': 'espeak-ng', ffmpeg: 'ffmpeg', ...(process.argv.includes('--engine=pocketsphinx') ? { pocketsphinx_continuous: 'pocketsphinx pocketsphinx-en-us' } : {}) });
if (name === 'archive') ensureSystemPackages({ ffmpeg: 'ffmpeg', ffprobe: 'ffmpeg', getconf: 'libc-bin' });
installDeps();
build();
const r = spawnSync(process.execPath, ['--expose-gc', join(root, file), ...process.argv.slice(3)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
