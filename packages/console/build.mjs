// Bundles the console the server serves at /console: dist/assets/console-<hash>.js and .css
// (content-hashed, so the server can let browsers cache them for a year) and dist/index.html,
// which names them. `tsc -b` has already type-checked the sources.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist/assets');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const result = await build({
  entryPoints: { console: join(here, 'src/main.ts') },
  outdir: out,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  splitting: true,
  bundle: true,
  minify: true,
  platform: 'browser',
  target: ['es2020'],
  format: 'esm',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
});
const entries = Object.entries(result.metafile.outputs).filter(([, o]) => o.entryPoint !== undefined || o.cssBundle !== undefined);
const names = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = entries.map(([p]) => basename(p)).find((n) => n.endsWith('.js'));
const css = names.find((n) => n.endsWith('.css'));
if (!js || !css) throw new Error(`console build: expected one .js and one .css, got ${names.join(', ')}`);
const page = (await readFile(join(here, 'src/index.html'), 'utf8')).replace('%SCRIPT%', `/console/assets/${js}`).replace('%STYLE%', `/console/assets/${css}`);
await writeFile(join(here, 'dist/index.html'), page);
