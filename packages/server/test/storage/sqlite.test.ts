import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteStore, SQLITE_SCHEMA_VERSION } from '../../src/storage/sqlite.js';
import { project, session, storeContract } from './store.contract.js';

let dir = '';
storeContract('sqlite', {
  open() {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-store-'));
    return createSqliteStore({ dataDir: dir });
  },
  reopen: () => createSqliteStore({ dataDir: dir }),
  cleanup: () => rmSync(dir, { recursive: true, force: true }),
});

describe('SQLite store specifics', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const d = mkdtempSync(join(tmpdir(), 'tokhost-sqlite-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('uses WAL and records the schema version', () => {
    const d = fresh();
    createSqliteStore({ dataDir: d }).close();
    const db = new Database(join(d, 'tokhost.db'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });

  it('keeps secrets encrypted in the database and the key in master.key (0600)', () => {
    const d = fresh();
    const store = createSqliteStore({ dataDir: d });
    const secret = '0123456789abcdef0123456789abcdef01234567';
    store.createProject(project('111', { apiSecret: secret }));
    store.close();
    expect(statSync(join(d, 'master.key')).mode & 0o777).toBe(0o600);
    const db = new Database(join(d, 'tokhost.db'), { readonly: true });
    const row = db.prepare('SELECT secret_enc FROM projects').get() as { secret_enc: string };
    db.close();
    expect(row.secret_enc).not.toContain(secret);
    expect(row.secret_enc.startsWith('v1:')).toBe(true);
    for (const f of ['tokhost.db', 'tokhost.db-wal']) {
      try {
        expect(readFileSync(join(d, f)).includes(Buffer.from(secret))).toBe(false);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    expect(createSqliteStore({ dataDir: d }).getProject('111')?.apiSecret).toBe(secret);
  });

  it('refuses to open projects without their master.key, or with another key', () => {
    const d = fresh();
    const store = createSqliteStore({ dataDir: d });
    store.createProject(project('111'));
    store.close();
    unlinkSync(join(d, 'master.key'));
    expect(() => createSqliteStore({ dataDir: d })).toThrow(expect.objectContaining({ code: 'ERR_STORE_MASTER_KEY' }));
    writeFileSync(join(d, 'master.key'), 'ab'.repeat(32), { mode: 0o600 });
    const other = createSqliteStore({ dataDir: d });
    expect(() => other.getProject('111')).toThrow(expect.objectContaining({ code: 'ERR_STORE_MASTER_KEY' }));
    other.close();
  });

  it('refuses a database from a newer schema version', () => {
    const d = fresh();
    createSqliteStore({ dataDir: d }).close();
    const db = new Database(join(d, 'tokhost.db'));
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => createSqliteStore({ dataDir: d })).toThrow(expect.objectContaining({ code: 'ERR_STORE_SCHEMA' }));
  });

  it('commits a turn of createSession writes as one group, visible to others only after flush', async () => {
    const d = fresh();
    const server = createSqliteStore({ dataDir: d });
    server.createProject(project('111'));
    const other = createSqliteStore({ dataDir: d, groupCommit: false, backgroundCheckpoint: false });
    for (let i = 0; i < 50; i++) server.createSession({ ...session(`1_S${i}`, '111') });
    expect(() => server.createSession(session('1_S0', '111'))).toThrow(expect.objectContaining({ code: 'ERR_STORE_CONFLICT' }));
    expect(server.getSession('1_S49')).toBeDefined();
    expect(other.getSession('1_S0')).toBeUndefined();
    await server.flush();
    expect(other.listSessions('111', { count: 100 }).total).toBe(50);
    // A write of another kind commits the pending group first.
    server.createSession(session('1_T', '111'));
    server.updateProject('111', { name: 'renamed' });
    expect(other.getSession('1_T')).toBeDefined();
    server.createSession(session('1_U', '111'));
    server.close();
    expect(other.getSession('1_U')).toBeDefined();
    other.close();
  });

  it('lets two handles (server and CLI) share the directory', () => {
    const d = fresh();
    const a = createSqliteStore({ dataDir: d });
    const b = createSqliteStore({ dataDir: d });
    a.createProject(project('111'));
    expect(b.updateProject('111', { apiSecret: 'c'.repeat(40) })?.apiSecret).toBe('c'.repeat(40));
    expect(a.getProject('111')?.apiSecret).toBe('c'.repeat(40));
    a.close();
    b.close();
  });
});
