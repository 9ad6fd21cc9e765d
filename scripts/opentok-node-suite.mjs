#!/usr/bin/env node
/**
 * Runs the official opentok-node test suite against `@tokhost/sdk`.
 *
 *   node scripts/opentok-node-suite.mjs <opentok-node checkout> [--min-passing N] [--timeout-seconds N]
 *
 * The checkout is opentok-node's repository at a known commit (docs/compat.md says which and how to
 * get it); it is not part of Tokhost and nothing of it is copied here. The script
 *   1. installs the suite's own dependencies there (`npm install --no-save`, its lockfile pins mocha,
 *      chai, nock …) unless they are present,
 *   2. replaces the package's modules the tests import — `lib/opentok.js` (the package's entry),
 *      `lib/session.js` and `lib/sipInterconnect.js` (the classes its results are instances of) —
 *      with shims that re-export them from the built `packages/sdk/dist/index.cjs`,
 *   3. runs mocha on `test/*-test.js` with the JSON reporter, bounded in time,
 *   4. puts the original modules back and prints `N passing, M failing` and the failing titles.
 * Exit status: 0 when at least `--min-passing` tests pass (default 0), 1 when fewer do, 2 on a usage
 * or setup error. Build the SDK first (`npm run build`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sdkEntry = join(root, 'packages/sdk/dist/index.cjs');

function usage(message) {
  process.stderr.write(`${message}\nusage: node scripts/opentok-node-suite.mjs <opentok-node dir> [--min-passing N] [--timeout-seconds N]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = { dir: undefined, minPassing: 0, timeoutSeconds: 300 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--min-passing' || a === '--timeout-seconds') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) usage(`${a} needs a non-negative integer`);
      if (a === '--min-passing') out.minPassing = n;
      else out.timeoutSeconds = n;
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else if (out.dir === undefined) {
      out.dir = resolve(a);
    } else {
      usage(`unexpected argument ${a}`);
    }
  }
  if (out.dir === undefined) usage('the opentok-node directory is required');
  return out;
}

/**
 * The shims: each replaced module of the package re-exports its counterpart of `@tokhost/sdk`, as
 * an app that swaps the package gets them. nock (13, as the suite pins it) intercepts only
 * node:http, so fetch goes through the suite's node-fetch.
 */
const SHIMS = {
  'lib/opentok.js': '',
  'lib/session.js': '.Session',
  'lib/sipInterconnect.js': '.SipInterconnect',
};
function shimSource(member) {
  return [
    '// Written by Tokhost scripts/opentok-node-suite.mjs; the original is put back after the run.',
    "// nock 13 sees only node:http requests, so the SDK's fetch is the suite's own node-fetch (what opentok-node uses).",
    "globalThis.fetch = require('node-fetch');",
    `module.exports = require(${JSON.stringify(sdkEntry)})${member};`,
    '',
  ].join('\n');
}

function installDependencies(dir) {
  const needed = ['mocha', 'chai', 'nock', 'node-fetch', 'jsonwebtoken', 'lodash'];
  if (needed.every((name) => existsSync(join(dir, 'node_modules', name, 'package.json')))) return;
  process.stderr.write(`installing the suite's dependencies in ${dir} (npm install --no-save, versions from its lockfile)\n`);
  const r = spawnSync('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 300_000,
  });
  if (r.status !== 0) usage(`npm install in ${dir} failed (status ${r.status ?? r.signal})`);
}

function runMocha(dir, reportFile, timeoutSeconds) {
  const tests = readdirSync(join(dir, 'test'))
    .filter((f) => f.endsWith('-test.js'))
    .sort()
    .map((f) => join('test', f));
  const mocha = join(dir, 'node_modules/mocha/bin/mocha.js');
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [mocha, '--reporter', 'json', '--reporter-option', `output=${reportFile}`, '--exit', ...tests], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutSeconds} s)`;
      child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stderr });
    });
  });
}

const args = parseArgs(process.argv.slice(2));
const { dir } = args;
const pkgPath = join(dir, 'package.json');
if (!existsSync(pkgPath) || JSON.parse(readFileSync(pkgPath, 'utf8')).name !== 'opentok') usage(`${dir} is not an opentok-node checkout (no package.json named "opentok")`);
if (!existsSync(join(dir, 'lib/opentok.js')) || !existsSync(join(dir, 'test'))) usage(`${dir} has no lib/opentok.js or test/`);
if (!existsSync(sdkEntry)) usage(`${sdkEntry} is missing: run npm run build first`);

installDependencies(dir);

const replaced = Object.keys(SHIMS).map((file) => ({ file, lib: join(dir, file), backup: join(dir, `${file}.tokhost-original`) }));
for (const { file, lib, backup } of replaced) {
  if (!existsSync(lib) && !existsSync(backup)) usage(`${dir} has no ${file}`);
}
const work = mkdtempSync(join(tmpdir(), 'opentok-node-suite-'));
const reportFile = join(work, 'report.json');
let run;
try {
  for (const { file, lib, backup } of replaced) {
    // A backup left by an interrupted run is the original; never overwrite it with a shim.
    if (!existsSync(backup)) renameSync(lib, backup);
    writeFileSync(lib, shimSource(SHIMS[file]));
  }
  run = await runMocha(dir, reportFile, args.timeoutSeconds);
} finally {
  for (const { lib, backup } of replaced) if (existsSync(backup)) renameSync(backup, lib);
}

if (!existsSync(reportFile)) {
  rmSync(work, { recursive: true, force: true });
  process.stderr.write(`mocha wrote no report (exit ${run.code ?? run.signal})\n${run.stderr.slice(-4000)}\n`);
  process.exit(2);
}
const report = JSON.parse(readFileSync(reportFile, 'utf8'));
rmSync(work, { recursive: true, force: true });

const { passes, failures, pending, tests } = report.stats;
let line = `${passes} passing, ${failures} failing`;
if (pending > 0) line += `, ${pending} pending`;
process.stdout.write(`${line} (${tests} tests run)\n`);
for (const f of report.failures) {
  const message = String(f.err?.message ?? '').split('\n')[0].slice(0, 200);
  process.stdout.write(`  ✗ ${f.fullTitle}\n      ${message}\n`);
}
process.exit(passes >= args.minPassing ? 0 : 1);
