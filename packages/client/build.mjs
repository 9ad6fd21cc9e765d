// Bundles the browser builds the server serves: dist/tokhost.js (IIFE, global `OT`) and
// dist/tokhost.esm.js (ES module). `tsc -b` has already type-checked and emitted dist/*.js.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const common = { bundle: true, platform: 'browser', target: ['es2020'], sourcemap: true, conditions: ['source'], logLevel: 'warning', legalComments: 'none' };
await build({ ...common, entryPoints: [join(here, 'src/global.ts')], outfile: join(here, 'dist/tokhost.js'), format: 'iife' });
await build({ ...common, entryPoints: [join(here, 'src/esm-entry.ts')], outfile: join(here, 'dist/tokhost.esm.js'), format: 'esm' });
