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

describe('on PostgreSQL: the operator token', () => {
  it('is one for every node of a database: the first generates it, the others read its hash', async () => {
    process.env['TOKHOST_TEST_DATABASE_URL'] = pg!.createDatabase('rest_operator');
    const { startServer } = await import('./harness.js');
    // Not loopback-only (0.0.0.0; the test connects through 127.0.0.1), so /metrics needs the token.
    const nodes = [await startServer({ host: '0.0.0.0', sip: false })];
    try {
      nodes.push(await startServer({ host: '0.0.0.0', sip: false }), await startServer({ host: '0.0.0.0', sip: false }));
      expect(nodes.map((n) => n.operator.source)).toEqual(['generated', 'store', 'store']);
      const token = nodes[0]!.operator.generated!;
      expect(nodes.slice(1).map((n) => n.operator.generated)).toEqual([null, null]);
      for (const n of nodes) {
        const base = `http://127.0.0.1:${n.port}/metrics`;
        expect((await fetch(base)).status).toBe(401);
        expect((await fetch(base, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});
