/**
 * The published builds load: `require('@tokhost/sdk')` returns the OpenTok class itself (named
 * exports as its properties) and `import` gives the default and named exports; both make valid
 * tokens and real requests. Builds with tsup first when dist/ is missing or older than src/.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, SECRET, SID } from './fixtures.js';
import { verifyHs256 } from './helpers/decode.js';
import { startRecordingServer } from './helpers/recording-server.js';
import type { RecordingServer } from './helpers/recording-server.js';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(pkgDir, '..', '..');
const dist = join(pkgDir, 'dist');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let server: RecordingServer;
beforeAll(async () => {
  const outputs = ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'require.d.cts'].map((f) => join(dist, f));
  const stale = outputs.some((f) => !existsSync(f)) || Math.min(...outputs.map((f) => statSync(f).mtimeMs)) < newestMtime(join(pkgDir, 'src'));
  if (stale) execFileSync('npm', ['run', 'build'], { cwd: pkgDir, stdio: 'pipe', timeout: 150_000 });
  server = await startRecordingServer();
  server.reply({ status: 200, body: [{ session_id: SID }] });
}, 180_000);
afterAll(() => server.close());

/** Asynchronous on purpose: the recording server lives in this process and must keep answering. */
async function runNode(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, SDK_TEST_URL: server.url } });
  return stdout.trim();
}

const common = `
  const ot = new OpenTok(${JSON.stringify(KEY)}, ${JSON.stringify(SECRET)}, process.env.SDK_TEST_URL);
  const token = ot.generateToken(${JSON.stringify(SID)}, { role: 'moderator' });
  ot.createSession({ mediaMode: 'routed' }, (err, session) => {
    console.log(JSON.stringify({
      kind: typeof OpenTok, name: OpenTok.name, archiveError: typeof ArchiveError, isError: new ArchiveError('x') instanceof Error,
      verify: typeof verifyWebhookSignature, token, err: err && err.message, sessionId: session && session.sessionId, extra,
      calledWithoutNew: OpenTok(${JSON.stringify(KEY)}, ${JSON.stringify(SECRET)}) instanceof OpenTok,
    }));
  });
`;

describe('dist builds', () => {
  it('CommonJS: require() returns the OpenTok class with named exports as properties', async () => {
    const out = await runNode([
      '-e',
      `const OpenTok = require('@tokhost/sdk');
       const { ArchiveError, verifyWebhookSignature } = OpenTok;
       const extra = { resolved: require.resolve('@tokhost/sdk'), selfDefault: OpenTok.default === OpenTok, named: OpenTok.OpenTok === OpenTok };
       ${common}`,
    ]);
    const r = JSON.parse(out) as Record<string, unknown> & { extra: Record<string, unknown>; token: string };
    expect(r).toMatchObject({ kind: 'function', name: 'OpenTok', archiveError: 'function', isError: true, verify: 'function', err: null, sessionId: SID, calledWithoutNew: true });
    expect(r.extra).toEqual({ resolved: join(dist, 'index.cjs'), selfDefault: true, named: true });
    expect(verifyHs256(r.token, SECRET).claims['role']).toBe('moderator');
  });

  it('ESM: default and named exports', async () => {
    const out = await runNode([
      '--input-type=module',
      '-e',
      `import OpenTok, { OpenTok as Named, ArchiveError, verifyWebhookSignature } from '@tokhost/sdk';
       const extra = { resolved: import.meta.resolve('@tokhost/sdk'), same: Named === OpenTok };
       ${common}`,
    ]);
    const r = JSON.parse(out) as Record<string, unknown> & { extra: Record<string, unknown>; token: string };
    expect(r).toMatchObject({ kind: 'function', name: 'OpenTok', archiveError: 'function', isError: true, verify: 'function', err: null, sessionId: SID, calledWithoutNew: true });
    expect(r.extra).toEqual({ resolved: 'file://' + join(dist, 'index.js'), same: true });
    expect(verifyHs256(r.token, SECRET).claims['role']).toBe('moderator');
  });

  it('@tokhost/protocol is bundled, types ship for both formats', () => {
    for (const f of ['index.js', 'index.cjs']) {
      expect(readFileSync(join(dist, f), 'utf8')).not.toMatch(/(require\(|from )["']@tokhost\/protocol["']/);
    }
    expect(readFileSync(join(dist, 'index.d.ts'), 'utf8')).toMatch(/declare class OpenTok/);
    expect(readFileSync(join(dist, 'index.d.cts'), 'utf8')).toMatch(/declare class OpenTok/);
  });
});

describe('published types', () => {
  it('type-check a CommonJS consumer (require form) and an ESM consumer against dist', () => {
    // Inside the repository so `@tokhost/sdk` resolves through the workspace link to dist/.
    const dir = join(root, 'node_modules', '.cache', `sdk-types-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
      writeFileSync(
        join(dir, 'cjs.cts'),
        `import OpenTok = require('@tokhost/sdk');
         const ot: OpenTok = new OpenTok('1', 's', { timeout: 5 });
         const p: Promise<OpenTok.Session> = ot.createSession();
         const ok: boolean = OpenTok.verifyWebhookSignature('', '', '');
         const e: OpenTok.ArchiveError = new OpenTok.ArchiveError('x');
         const cb: OpenTok.ListCallback<OpenTok.Archive> = () => undefined;
         ot.listArchives(cb);
         const code: OpenTok.OpenTokErrorCode = e.code;
         void p; void ok; void code;
         // @ts-expect-error unknown option
         new OpenTok('1', 's', { apiURL: 'x' });
        `,
      );
      writeFileSync(
        join(dir, 'esm.mts'),
        `import OpenTok, { ArchiveError, verifyWebhookSignature, type Archive } from '@tokhost/sdk';
         const ot = new OpenTok('1', 's');
         const a: Promise<Archive> = ot.getArchive('x');
         ot.getArchive('x', (err, archive) => { const e: Error | null = err; const v: Archive | undefined = archive; void e; void v; });
         void a; void verifyWebhookSignature; void new ArchiveError('x');
        `,
      );
      const program = ts.createProgram([join(dir, 'cjs.cts'), join(dir, 'esm.mts')], {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      });
      const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(diagnostics).toEqual([]);
      // The consumer really resolved the shipped files, not the sources.
      const files = program.getSourceFiles().map((f) => f.fileName);
      expect(files).toContain(join(dist, 'require.d.cts'));
      expect(files).toContain(join(dist, 'index.d.ts'));
    } finally {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }, 180_000);
});
