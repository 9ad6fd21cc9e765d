#!/usr/bin/env node
import type { CliIo } from './cli.js';
import { REMOTE_COMMANDS, runRemoteCli } from './remote.js';

const isTTY = process.stdout.isTTY === true;
const io: CliIo = {
  env: process.env,
  cwd: process.cwd(),
  isTTY,
  // https://no-color.org: any non-empty NO_COLOR turns colours off.
  color: isTTY && !process.env['NO_COLOR'],
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
  progress: (text) => process.stderr.write(text),
};

/** Remote commands need only the SDK; the rest load the server package (slower to start). */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && REMOTE_COMMANDS.has(command)) {
    const code = await runRemoteCli(command, rest, io);
    if (code !== null) return code;
  }
  const { runCli } = await import('./cli.js');
  return runCli(argv, io);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // libdatachannel's threads keep the process alive once a load test's peers are closed, and
    // stopping them (cleanup) races callbacks still in flight: exit once the output is written.
    if (process.argv[2] === 'load-test') process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`tokhost: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
