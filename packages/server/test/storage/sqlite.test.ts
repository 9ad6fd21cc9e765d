import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteStore, SQLITE_SCHEMA_VERSION } from '../../src/storage/sqlite.js';
import { project, session, storeContract } from './store.contract.js';

const require = createRequire(import.meta.url);
let dir = '';
storeContract('sqlite', {
  open() {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-store-'));
    return createSqliteStore({ dataDir: dir });
  },
  reopen: () => createSqliteStore({ dataDir: dir }),
  cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }),
});

describe('SQLite store specifics', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const d = mkdtempSync(join(tmpdir(), 'tokhost-sqlite-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })));

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

  it('answers every waiter of a group only after its COMMIT, one group after another', async () => {
    const d = fresh();
    const server = createSqliteStore({ dataDir: d });
    server.createProject(project('111'));
    const other = createSqliteStore({ dataDir: d, groupCommit: false, backgroundCheckpoint: false });
    const seen: number[] = [];
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      server.createSession(session(`1_G${i}`, '111'));
      // Each waiter checks, when it is released, that the whole group is visible to another connection.
      waits.push(server.flush().then(() => void seen.push(other.listSessions('111', { count: 100 }).total)));
    }
    expect(other.listSessions('111').total).toBe(0);
    await Promise.all(waits);
    expect(seen).toEqual(Array(10).fill(10));
    // The next turn is a new group with its own commit.
    server.createSession(session('1_H', '111'));
    const next = server.flush();
    expect(other.getSession('1_H')).toBeUndefined();
    await next;
    expect(other.getSession('1_H')).toBeDefined();
    await server.flush(); // nothing pending: resolves at once
    server.close();
    other.close();
  });

  it('sees a project change committed by another connection on the very next lookup (cache keyed on data_version)', () => {
    const d = fresh();
    const server = createSqliteStore({ dataDir: d });
    const cli = createSqliteStore({ dataDir: d, groupCommit: false, backgroundCheckpoint: false });
    server.createProject(project('111'));
    // Warm the server's cache, then change every field from the other handle.
    expect(server.getProject('111')?.apiSecret).toBe('a'.repeat(40));
    expect(server.getProject('111')?.apiSecret).toBe('a'.repeat(40));
    cli.updateProject('111', { apiSecret: 'c'.repeat(40) });
    expect(server.getProject('111')?.apiSecret).toBe('c'.repeat(40));
    cli.updateProject('111', { name: 'renamed', webhookUrl: 'https://example.com/h' });
    expect(server.getProject('111')).toMatchObject({ name: 'renamed', webhookUrl: 'https://example.com/h', apiSecret: 'c'.repeat(40) });
    // A project another process creates is found at once, an unknown one is not remembered.
    expect(server.getProject('222')).toBeUndefined();
    cli.createProject(project('222'));
    expect(server.getProject('222')?.name).toBe('p222');
    // A foreign commit of another kind (a session) also counts as a change; nothing breaks.
    cli.createSession(session('1_X', '111'));
    expect(server.getProject('111')?.apiSecret).toBe('c'.repeat(40));
    // The server's own writes apply to its own lookups too, also while a session group is open.
    server.createSession(session('1_Y', '111'));
    server.updateProject('111', { apiSecret: 'e'.repeat(40) });
    expect(server.getProject('111')?.apiSecret).toBe('e'.repeat(40));
    expect(cli.getProject('111')?.apiSecret).toBe('e'.repeat(40));
    server.close();
    cli.close();
  });

  it('sees a rotation committed by another OS process at once', () => {
    const d = fresh();
    const server = createSqliteStore({ dataDir: d });
    server.createProject(project('111'));
    expect(server.getProject('111')?.apiSecret).toBe('a'.repeat(40));
    // A plain better-sqlite3 connection in a child process: renaming needs no master.key.
    const script = `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))}); const db = new D(${JSON.stringify(join(d, 'tokhost.db'))}); db.pragma('busy_timeout = 5000'); db.prepare("UPDATE projects SET name = 'from-child' WHERE api_key = '111'").run(); db.close();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(server.getProject('111')?.name).toBe('from-child');
    server.close();
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
