// `npm start`: install, build, then run `tokhost serve` with embedded defaults (SQLite in ./data,
// 127.0.0.1:3000 unless flags, environment or a config file say otherwise). Extra arguments are
// passed through: `npm start -- --port 0 --demo`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { build, installDeps, root } from './setup.mjs';

installDeps();
build();
const child = spawn(process.execPath, [join(root, 'packages/cli/dist/bin.js'), 'serve', ...process.argv.slice(2)], {
  cwd: process.cwd(),
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
