// Bundles the browser builds the server serves: dist/tokhost.js (IIFE, global `OT`) and
// dist/tokhost.esm.js (ES module). `tsc -b` has already type-checked and emitted dist/*.js.
// Prints the size of each (as served, minified, and minified + gzipped): docs/client.md quotes it.
// Copies the segmentation model the video filters load on demand (@mediapipe/selfie_segmentation)
// into dist/segmentation/<version>/, which the server serves at /js/segmentation/<version>/.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
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

// The segmentation files, and the version the client asks the server for (src/filters/segmenter.ts).
const mpDir = dirname(createRequire(import.meta.url).resolve('@mediapipe/selfie_segmentation/package.json'));
const mpVersion = JSON.parse(readFileSync(join(mpDir, 'package.json'), 'utf8')).version;
const wanted = /SEGMENTATION_VERSION = '([^']+)'/.exec(readFileSync(join(here, 'src/filters/segmenter.ts'), 'utf8'))?.[1];
if (wanted !== mpVersion) throw new Error(`src/filters/segmenter.ts asks for segmentation ${wanted}, @mediapipe/selfie_segmentation is ${mpVersion}: update SEGMENTATION_VERSION`);
/** Every file MediaPipe's loader may ask for (it picks the SIMD wasm where the browser has SIMD). */
const SEGMENTATION_FILES = [
  'selfie_segmentation.js',
  'selfie_segmentation.binarypb',
  'selfie_segmentation.tflite',
  'selfie_segmentation_landscape.tflite',
  'selfie_segmentation_solution_simd_wasm_bin.js',
  'selfie_segmentation_solution_simd_wasm_bin.wasm',
  'selfie_segmentation_solution_simd_wasm_bin.data',
  'selfie_segmentation_solution_wasm_bin.js',
  'selfie_segmentation_solution_wasm_bin.wasm',
];
rmSync(join(here, 'dist/segmentation'), { recursive: true, force: true });
mkdirSync(join(here, 'dist/segmentation', mpVersion), { recursive: true });
let segRaw = 0;
let segGz = 0;
// What a SIMD browser downloads when a filter is first applied: the loader, the SIMD wasm and its glue, the graph and the landscape model.
let segUsedRaw = 0;
let segUsedGz = 0;
for (const f of SEGMENTATION_FILES) {
  const buf = readFileSync(join(mpDir, f));
  copyFileSync(join(mpDir, f), join(here, 'dist/segmentation', mpVersion, f));
  const gz = gzipSync(buf, { level: 9 }).length;
  segRaw += buf.length;
  segGz += gz;
  if (!/selfie_segmentation\.tflite|solution_wasm_bin/.test(f)) {
    segUsedRaw += buf.length;
    segUsedGz += gz;
  }
}

const mainSizes = [];
for (const b of bundles) {
  await build({ ...common, entryPoints: [join(here, b.entry)], outfile: join(here, b.out), format: b.format });
  // The minified size is measured, not shipped: the served file stays readable (with its source map).
  const min = await build({ ...common, entryPoints: [join(here, b.entry)], write: false, minify: true, sourcemap: false, format: b.format });
  const code = min.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  mainSizes.push({ out: b.out, min: code.length, gz });
  console.log(`${b.out}: ${kB(readFileSync(join(here, b.out)).length)} as served, ${kB(code.length)} minified, ${kB(gz)} minified + gzipped (without the segmentation model)`);
}
console.log(`dist/segmentation/${mpVersion}/: ${SEGMENTATION_FILES.length} files, ${kB(segRaw)}, ${kB(segGz)} gzipped; loaded on the first video filter (SIMD browser): ${kB(segUsedRaw)}, ${kB(segUsedGz)} gzipped`);
for (const m of mainSizes) console.log(`${m.out} with the segmentation model a filter loads: ${kB(m.min + segUsedRaw)} minified, ${kB(m.gz + segUsedGz)} minified + gzipped`);
