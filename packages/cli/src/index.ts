export { CliUsageError, runCli, USAGE } from './cli.js';
export type { CliIo } from './cli.js';
