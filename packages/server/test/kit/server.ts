/** A Tokhost server for a test: loopback, any free port, in-memory store, quiet. */
import { createServer } from '../../src/create-server.js';
import type { CreateServerDeps, TokhostServer } from '../../src/create-server.js';
import type { ServerConfigInput } from '../../src/config.js';

/** The settings every test server starts from; a test's own settings override them. */
export const TEST_SERVER_DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  store: 'memory',
  // TEST_LOG=debug|info|warn shows the server's log while a test runs.
  logLevel: process.env['TEST_LOG'] ?? 'silent',
} as const satisfies ServerConfigInput;

/**
 * `createServer` with {@link TEST_SERVER_DEFAULTS} under `config`: pass what the test is about
 * (`apiKey`, `apiSecret`, `mediaWorkers`, `dataDir`, …) and nothing else. The test closes it.
 */
export function startServer(config: ServerConfigInput = {}, deps?: CreateServerDeps): Promise<TokhostServer> {
  return createServer({ ...TEST_SERVER_DEFAULTS, ...config }, deps);
}
