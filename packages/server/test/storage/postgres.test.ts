import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, POSTGRES_SCHEMA_VERSION } from '../../src/storage/postgres.js';
import { openSyncPg } from '../../src/storage/pg-sync.js';
import { seedProjects } from '../../src/services/projects.js';
import { startPostgres } from '../cluster/services.js';
import type { RunningPostgres } from '../cluster/services.js';
import { project, session, storeContract } from './store.contract.js';

const MASTER = randomBytes(32).toString('hex');
let pg: RunningPostgres;
let n = 0;
let url = '';
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

storeContract('postgres', {
  open() {
    url = pg.createDatabase(`contract_${++n}`);
    return createPostgresStore({ url, masterKey: MASTER });
  },
  reopen: () => createPostgresStore({ url, masterKey: MASTER }),
});

describe('PostgreSQL store specifics', () => {
  it('migrates once, records the version, and refuses a newer schema', () => {
    const db = pg.createDatabase('migrations');
    const a = createPostgresStore({ url: db, masterKey: MASTER });
    const b = createPostgresStore({ url: db, masterKey: MASTER });
    const raw = openSyncPg({ url: db });
    try {
      expect(raw.run([{ sql: 'SELECT version FROM tokhost_schema' }])[0]).toEqual([{ version: POSTGRES_SCHEMA_VERSION }]);
      raw.run([{ sql: 'UPDATE tokhost_schema SET version = 99' }]);
      expect(() => createPostgresStore({ url: db, masterKey: MASTER })).toThrow(expect.objectContaining({ code: 'ERR_STORE_SCHEMA' }));
    } finally {
      a.close();
      b.close();
      raw.close();
    }
  });

  it('keeps secrets encrypted at rest and refuses another master key', () => {
    const db = pg.createDatabase('secrets');
    const store = createPostgresStore({ url: db, masterKey: MASTER });
    const raw = openSyncPg({ url: db });
    try {
      store.createProject(project('111', { apiSecret: 'the-clear-secret-0123456789' }));
      store.enqueueOutbox({ url: 'https://h/x', secret: 'the-clear-secret-0123456789', body: '{}', createdAt: 1 });
      const dump = JSON.stringify(raw.run([{ sql: 'SELECT * FROM projects' }, { sql: 'SELECT * FROM outbox' }]));
      expect(dump).not.toContain('the-clear-secret');
      expect(dump).toContain('v1:');
      expect(() => createPostgresStore({ url: db, masterKey: randomBytes(32).toString('hex') })).toThrow(expect.objectContaining({ code: 'ERR_STORE_MASTER_KEY' }));
      expect(() => createPostgresStore({ url: db, masterKey: 'abc' })).toThrow(expect.objectContaining({ code: 'ERR_STORE_MASTER_KEY' }));
    } finally {
      store.close();
      raw.close();
    }
  });

  it('shows one node the writes of another at once, a rotated secret included', () => {
    const db = pg.createDatabase('two_nodes');
    const a = createPostgresStore({ url: db, masterKey: MASTER });
    const b = createPostgresStore({ url: db, masterKey: MASTER });
    try {
      a.createProject(project('111'));
      expect(b.getProject('111')?.apiSecret).toBe('a'.repeat(40));
      a.createSession(session('1_A', '111'));
      expect(b.getSession('1_A')?.apiKey).toBe('111');
      a.updateProject('111', { apiSecret: 'c'.repeat(40) });
      // The NOTIFY reaches b's listener asynchronously; within a few milliseconds.
      const end = Date.now() + 2000;
      while (b.getProject('111')?.apiSecret !== 'c'.repeat(40) && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      expect(b.getProject('111')?.apiSecret).toBe('c'.repeat(40));
    } finally {
      a.close();
      b.close();
    }
  });

  it('seeds the same project from several nodes started together without a conflict', () => {
    const db = pg.createDatabase('seeding');
    const nodes = [0, 1, 2].map(() => createPostgresStore({ url: db, masterKey: MASTER }));
    try {
      const results = nodes.map((s) => seedProjects(s, { apiKey: '424242', apiSecret: 's'.repeat(40) }));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      for (const s of nodes) expect(s.getProject('424242')?.apiSecret).toBe('s'.repeat(40));
      expect(nodes[0]!.listProjects()).toHaveLength(1);
    } finally {
      nodes.forEach((s) => s.close());
    }
  });
});
