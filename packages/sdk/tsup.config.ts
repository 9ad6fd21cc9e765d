import { defineConfig } from 'tsup';

// ESM (dist/index.js) and CommonJS (dist/index.cjs) builds with types (.d.ts, .d.cts;
// scripts/require-types.mjs then adds require.d.cts, see there). @tokhost/protocol is bundled so the published package has no
// workspace dependency at run time.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  // composite (for tsc -b) trips the dts bundler's file-list check; it needs no project references.
  dts: { compilerOptions: { composite: false, declarationMap: false } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  noExternal: ['@tokhost/protocol'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
  // `require('@tokhost/sdk')` returns the OpenTok class itself, like `require('opentok')`, with every
  // named export also reachable as a property (`OpenTok.ArchiveError`, `OpenTok.verifyWebhookSignature`).
  footer: ({ format }) => (format === 'cjs' ? { js: 'module.exports = Object.assign(module.exports.default, module.exports);' } : {}),
});
