#!/usr/bin/env node
import { runCli } from './cli.js';

runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tokhost: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
