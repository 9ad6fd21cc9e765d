// The REST fuzz and project-isolation suites again, against nodes on a real PostgreSQL store:
// every server the suites start (rest/harness.ts startServer) gets `databaseUrl` from the
// environment set here, before their own beforeAll hooks run.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../cluster/services.js';
import type { RunningPostgres } from '../cluster/services.js';

let pg: RunningPostgres | undefined;
beforeAll(async () => {
  pg = await startPostgres();
  process.env['TOKHOST_TEST_MASTER_KEY'] = randomBytes(32).toString('hex');
});
afterAll(async () => {
  delete process.env['TOKHOST_TEST_DATABASE_URL'];
  delete process.env['TOKHOST_TEST_MASTER_KEY'];
  await pg?.stop();
});

// One database per suite: each checks what the store holds afterwards.
describe('on PostgreSQL: fuzz', async () => {
  beforeAll(() => {
    process.env['TOKHOST_TEST_DATABASE_URL'] = pg!.createDatabase('rest_fuzz');
  });
  await import('./fuzz.test.js');
});
describe('on PostgreSQL: isolation', async () => {
  beforeAll(() => {
    process.env['TOKHOST_TEST_DATABASE_URL'] = pg!.createDatabase('rest_isolation');
  });
  await import('./isolation.test.js');
});

describe('on PostgreSQL: the harness', () => {
  it('really starts its servers on the PostgreSQL store', async () => {
    process.env['TOKHOST_TEST_DATABASE_URL'] = pg!.createDatabase('rest_kind');
    const { startServer } = await import('./harness.js');
    const server = await startServer();
    try {
      expect(server.store.kind).toBe('postgres');
    } finally {
      await server.close();
    }
  });
});
