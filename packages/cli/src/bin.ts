#!/usr/bin/env node
import { runCli } from './cli.js';

const isTTY = process.stdout.isTTY === true;
runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  isTTY,
  // https://no-color.org: any non-empty NO_COLOR turns colours off.
  color: isTTY && !process.env['NO_COLOR'],
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
  progress: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tokhost: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
