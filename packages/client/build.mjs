// Bundles the browser builds the server serves: dist/tokhost.js (IIFE, global `OT`) and
// dist/tokhost.esm.js (ES module). `tsc -b` has already type-checked and emitted dist/*.js.
// Prints the size of each (as served, minified, and minified + gzipped): docs/client.md quotes it.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const common = { bundle: true, platform: 'browser', target: ['es2020'], sourcemap: true, conditions: ['source'], logLevel: 'warning', legalComments: 'none' };
const bundles = [
  { entry: 'src/global.ts', out: 'dist/tokhost.js', format: 'iife' },
  { entry: 'src/esm-entry.ts', out: 'dist/tokhost.esm.js', format: 'esm' },
];
const kB = (n) => `${(n / 1024).toFixed(1)} kB`;
for (const b of bundles) {
  await build({ ...common, entryPoints: [join(here, b.entry)], outfile: join(here, b.out), format: b.format });
  // The minified size is measured, not shipped: the served file stays readable (with its source map).
  const min = await build({ ...common, entryPoints: [join(here, b.entry)], write: false, minify: true, sourcemap: false, format: b.format });
  const code = min.outputFiles[0].contents;
  console.log(`${b.out}: ${kB(readFileSync(join(here, b.out)).length)} as served, ${kB(code.length)} minified, ${kB(gzipSync(code, { level: 9 }).length)} minified + gzipped (no segmentation model: video filters are not bundled)`);
}
