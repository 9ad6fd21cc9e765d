/** A usage mistake: exit code 2 with the message and a hint. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
  readonly code = 'ERR_CLI_USAGE';
}
