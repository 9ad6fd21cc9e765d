import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { compositionRecords, deliveryFromRow, projectFromRow, SESSION_COLUMNS, sessionFromRow, sessionValues } from './rows.js';
import type { DeliveryRowOf, JsonTable, ProjectRow as SqlProjectRow, SessionRow as SqlSessionRow } from './rows.js';
import { SQLITE_APPLICATIONS_MIGRATION, sqliteApplications } from './applications.js';
import { createSecretBox, loadMasterKey } from './secret-box.js';
import type { ListOptions, ProjectRecord, SessionRecord, Store } from './store.js';
import { StoreError } from './store.js';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** Directory holding `tokhost.db` and `master.key`; created when missing. */
  dataDir: string;
  /**
   * Commit `createSession` writes in groups, once per event-loop turn (callers await
   * `flush()` before they report success). Default true; the CLI passes false.
   */
  groupCommit?: boolean;
  /**
   * Checkpoint the WAL from a worker thread instead of inside writes. Default true; short-lived
   * users (the CLI) pass false.
   */
  backgroundCheckpoint?: boolean;
}

/**
 * Versioned migrations, applied in order inside one transaction each; `PRAGMA user_version`
 * records the last one applied. Never edit a shipped migration: append a new one.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE projects (
     api_key     TEXT PRIMARY KEY,
     secret_enc  TEXT NOT NULL,
     name        TEXT NOT NULL,
     created_at  INTEGER NOT NULL,
     webhook_url TEXT
   );
   CREATE TABLE sessions (
     session_id         TEXT PRIMARY KEY,
     api_key            TEXT NOT NULL REFERENCES projects(api_key),
     media_mode         TEXT NOT NULL,
     archive_mode       TEXT NOT NULL,
     archive_name       TEXT,
     archive_resolution TEXT,
     location           TEXT,
     e2ee               INTEGER NOT NULL,
     created_at         INTEGER NOT NULL
   );
   CREATE INDEX sessions_by_project ON sessions(api_key, created_at);`,
  `CREATE TABLE archives (
     id         TEXT PRIMARY KEY,
     api_key    TEXT NOT NULL REFERENCES projects(api_key),
     session_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     json       TEXT NOT NULL
   );
   CREATE INDEX archives_by_project ON archives(api_key, created_at);
   CREATE TABLE broadcasts (
     id         TEXT PRIMARY KEY,
     api_key    TEXT NOT NULL REFERENCES projects(api_key),
     session_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     json       TEXT NOT NULL
   );
   CREATE INDEX broadcasts_by_project ON broadcasts(api_key, created_at);`,
  `CREATE TABLE outbox (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     url        TEXT NOT NULL,
     secret_enc TEXT NOT NULL,
     body       TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX outbox_by_url ON outbox(url, id);
   CREATE TABLE outbox_leases (
     url   TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     until INTEGER NOT NULL
   );`,
  // Server-wide values (the operator token's hash).
  `CREATE TABLE settings (
     name  TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // Vonage-style applications (storage/applications.ts).
  SQLITE_APPLICATIONS_MIGRATION,
  // What became of each project callback (the admin API's webhook deliveries), bounded per project.
  `CREATE TABLE webhook_deliveries (
     id               INTEGER PRIMARY KEY AUTOINCREMENT,
     api_key          TEXT NOT NULL,
     outbox_id        INTEGER NOT NULL,
     url              TEXT NOT NULL,
     event            TEXT NOT NULL,
     body             TEXT NOT NULL,
     status           TEXT NOT NULL,
     attempts         INTEGER NOT NULL,
     last_http_status INTEGER,
     last_error       TEXT,
     created_at       INTEGER NOT NULL,
     updated_at       INTEGER NOT NULL
   );
   CREATE INDEX webhook_deliveries_by_project ON webhook_deliveries(api_key, id);
   CREATE INDEX webhook_deliveries_by_outbox ON webhook_deliveries(outbox_id);`,
];

/** Schema version this build writes. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

// Rows as SQLite returns them: integers for the timestamps and the e2ee flag.
type ProjectRow = SqlProjectRow & { created_at: number };
type SessionRow = SqlSessionRow & { e2ee: number; created_at: number };

type DeliveryRow = DeliveryRowOf<number>;

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new StoreError('ERR_STORE_SCHEMA', `The database schema is version ${current}, newer than this build understands (${MIGRATIONS.length}); upgrade tokhost`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/**
 * The checkpointer: a worker thread with its own connection that copies the WAL into the
 * database every `intervalMs`. SQLite's automatic checkpoint runs inside a committing write and
 * fsyncs the database file, which stalls the event loop for tens of milliseconds every few
 * hundred writes; moving it to a thread keeps request latency flat. Commits themselves stay
 * durable against a process crash either way (they are in the WAL).
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next round */ }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'close') { clearInterval(timer); try { db.close(); } catch {} parentPort.close(); }
});
`;

function startCheckpointer(file: string, intervalMs: number): Worker | null {
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(CHECKPOINTER, { eval: true, workerData: { driver, file, intervalMs } });
    worker.unref();
    return worker;
  } catch {
    return null;
  }
}

function isConstraint(err: unknown, kind: string): boolean {
  return err instanceof Error && (err as { code?: string }).code === kind;
}

/**
 * SQLite store (better-sqlite3): WAL journal, `synchronous = NORMAL` — committed transactions
 * survive a crash or SIGKILL of the process (the WAL is in the OS page cache); only an OS crash or
 * power loss can lose the last transactions. Secrets are AES-256-GCM encrypted with `master.key`.
 * Several processes (the server and `tokhost project …`) may open the same directory at once.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const file = join(options.dataDir, 'tokhost.db');
  const db = new Database(file);
  let box: ReturnType<typeof createSecretBox>;
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    const hasProjects = db.prepare('SELECT 1 FROM projects LIMIT 1').get() !== undefined;
    box = createSecretBox(loadMasterKey(join(options.dataDir, 'master.key'), !hasProjects));
  } catch (err) {
    db.close();
    throw err;
  }
  let checkpointer: Worker | null = null;
  if (options.backgroundCheckpoint !== false) {
    checkpointer = startCheckpointer(file, 200);
    if (checkpointer) {
      db.pragma('wal_autocheckpoint = 0');
      // Should the thread die, fall back to SQLite's own checkpoints.
      checkpointer.once('error', () => {
        if (db.open) db.pragma('wal_autocheckpoint = 1000');
      });
    }
  }

  // Group commit: under load many sessions are created in the same event-loop turn; one
  // transaction for all of them writes each touched page to the WAL once instead of once per
  // session. Reads on this connection see the pending rows at once; `flush()` tells the caller
  // when they are committed, so nothing is acknowledged before it is durable.
  const groupCommit = options.groupCommit !== false;
  let batchOpen = false;
  let commitScheduled = false;
  // Everyone waiting on one group shares one promise (made on the first flush() of the group).
  let batchDone: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | null = null;
  const commitBatch = () => {
    commitScheduled = false;
    const done = batchDone;
    batchDone = null;
    if (batchOpen) {
      batchOpen = false;
      try {
        db.exec('COMMIT');
      } catch (err) {
        try {
          if (db.inTransaction) db.exec('ROLLBACK');
        } catch {
          // The connection is unusable; the callers learn it from the rejection.
        }
        done?.reject(err);
        return;
      }
    }
    done?.resolve();
  };
  /** Other writes commit on their own, after whatever the batch holds. */
  const commitPending = () => {
    if (batchOpen) commitBatch();
  };
  const inBatch = <T>(write: () => T): T => {
    if (!groupCommit) return write();
    if (!batchOpen) {
      db.exec('BEGIN IMMEDIATE');
      batchOpen = true;
      if (!commitScheduled) {
        commitScheduled = true;
        setImmediate(commitBatch);
      }
    }
    return write();
  };

  const settingsQ = {
    get: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE name = ?'),
    insert: db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
    upsert: db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
  };
  const q = {
    insertProject: db.prepare('INSERT INTO projects (api_key, secret_enc, name, created_at, webhook_url) VALUES (?, ?, ?, ?, ?)'),
    getProject: db.prepare<[string], ProjectRow>('SELECT * FROM projects WHERE api_key = ?'),
    listProjects: db.prepare<[], ProjectRow>('SELECT * FROM projects ORDER BY created_at, rowid'),
    updateProject: db.prepare('UPDATE projects SET secret_enc = ?, name = ?, webhook_url = ? WHERE api_key = ?'),
    insertSession: db.prepare(
      `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getSession: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE session_id = ?'),
    listSessions: db.prepare<[string, number, number], SessionRow>('SELECT * FROM sessions WHERE api_key = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?'),
    countSessions: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM sessions WHERE api_key = ?'),
  };
  // Archives and broadcasts share one layout: indexed columns plus the wire object as JSON.
  const table = (name: 'archives' | 'broadcasts') => ({
    insert: db.prepare(`INSERT INTO ${name} (id, api_key, session_id, created_at, json) VALUES (?, ?, ?, ?, ?)`),
    get: db.prepare<[string, string], { json: string }>(`SELECT json FROM ${name} WHERE id = ? AND api_key = ?`),
    list: db.prepare<[string, number, number], { json: string }>(`SELECT json FROM ${name} WHERE api_key = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`),
    count: db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM ${name} WHERE api_key = ?`),
    listBySession: db.prepare<[string, string, number, number], { json: string }>(
      `SELECT json FROM ${name} WHERE api_key = ? AND session_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`,
    ),
    countBySession: db.prepare<[string, string], { n: number }>(`SELECT count(*) AS n FROM ${name} WHERE api_key = ? AND session_id = ?`),
    update: db.prepare(`UPDATE ${name} SET json = ? WHERE id = ? AND api_key = ?`),
    delete: db.prepare(`DELETE FROM ${name} WHERE id = ? AND api_key = ?`),
    // Only at start (the crash recovery of a single node): a scan is fine here.
    byStatus: db.prepare<[string], { api_key: string; json: string }>(`SELECT api_key, json FROM ${name} WHERE json_extract(json, '$.status') IN (SELECT value FROM json_each(?))`),
  });
  const outbox = {
    insert: db.prepare<[string, string, string, number]>('INSERT INTO outbox (url, secret_enc, body, created_at) VALUES (?, ?, ?, ?)'),
    list: db.prepare<[string, number], { id: number; url: string; secret_enc: string; body: string; created_at: number }>('SELECT * FROM outbox WHERE url = ? ORDER BY id LIMIT ?'),
    delete: db.prepare<[number]>('DELETE FROM outbox WHERE id = ?'),
    // Everything of the URL older than its `keep` newest items (the index on (url, id) serves both parts).
    trim: db.prepare<[string, string, number]>('DELETE FROM outbox WHERE url = ? AND id < (SELECT MIN(id) FROM (SELECT id FROM outbox WHERE url = ? ORDER BY id DESC LIMIT ?))'),
    pendingUrls: db.prepare<[], string>('SELECT DISTINCT url FROM outbox').pluck(),
    claim: db.prepare<[string, string, number, string, number]>(
      'INSERT INTO outbox_leases (url, owner, until) VALUES (?, ?, ?) ON CONFLICT (url) DO UPDATE SET owner = excluded.owner, until = excluded.until WHERE outbox_leases.owner = ? OR outbox_leases.until < ?',
    ),
    release: db.prepare<[string]>('DELETE FROM outbox_leases WHERE owner = ?'),
    releaseAll: db.prepare('DELETE FROM outbox_leases'),
  };
  const deliveriesQ = {
    insert: db.prepare<[string, number, string, string, string, number, number]>(
      "INSERT INTO webhook_deliveries (api_key, outbox_id, url, event, body, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
    ),
    trim: db.prepare<[string, string, number]>(
      'DELETE FROM webhook_deliveries WHERE api_key = ? AND id < (SELECT MIN(id) FROM (SELECT id FROM webhook_deliveries WHERE api_key = ? ORDER BY id DESC LIMIT ?))',
    ),
    update: db.prepare<[string, number, number | null, string | null, number, number]>(
      'UPDATE webhook_deliveries SET status = ?, attempts = attempts + ?, last_http_status = ?, last_error = ?, updated_at = ? WHERE outbox_id = ?',
    ),
    list: db.prepare<[string, number, number], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE api_key = ? ORDER BY id DESC LIMIT ? OFFSET ?'),
    count: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE api_key = ?'),
    get: db.prepare<[number, string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ? AND api_key = ?'),
    requeue: db.prepare<[number, number, number, string]>("UPDATE webhook_deliveries SET outbox_id = ?, status = 'pending', updated_at = ? WHERE id = ? AND api_key = ?"),
  };
  // The outbox secret is bound to its URL as associated data, like a project secret to its key.
  const outboxContext = (url: string) => `outbox\u0000${url}`;

  // Decrypting costs more than the SELECT; keep clear secrets by ciphertext.
  const clear = new Map<string, string>();
  const openSecret = (r: ProjectRow): string => {
    const id = `${r.api_key}\u0000${r.secret_enc}`;
    let secret = clear.get(id);
    if (secret === undefined) {
      secret = box.open(r.secret_enc, r.api_key);
      if (clear.size >= 10_000) clear.clear();
      clear.set(id, secret);
    }
    return secret;
  };
  const toProject = (r: ProjectRow): ProjectRecord => projectFromRow(r, openSecret(r));
  const toSession = (r: SessionRow): SessionRecord => sessionFromRow(r);
  // Every REST request looks its project up. Projects are cached, but another process (`tokhost
  // project rotate-secret`) may change them at any time and that must apply to the very next
  // request. `PRAGMA data_version` changes whenever another connection has committed, so the
  // cache is dropped on any foreign commit (sessions included: coarse, but one cheap pragma per
  // lookup instead of a SELECT). This connection's own project writes drop it themselves, since
  // they do not move data_version.
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const projects = new Map<string, ProjectRecord>();
  let projectsVersion = -1;
  const forgetProjects = () => {
    projects.clear();
    projectsVersion = -1;
  };
  const cachedProject = (apiKey: string): ProjectRecord | undefined => {
    const version = dataVersion.get()!;
    if (version !== projectsVersion) {
      projects.clear();
      projectsVersion = version;
    }
    let p = projects.get(apiKey);
    if (p === undefined) {
      const r = q.getProject.get(apiKey);
      // Unknown keys are not remembered: a client guessing keys must not grow the map.
      if (!r) return undefined;
      p = toProject(r);
      if (projects.size >= 1024) projects.clear();
      projects.set(apiKey, p);
    }
    return p;
  };
  const paging = (options: ListOptions | undefined) => [options?.count ?? 50, options?.offset ?? 0] as const;
  // The statements of one JSON table in the shape both SQL stores fill.
  const jsonTable = (t: ReturnType<typeof table>, kind: string): JsonTable => ({
    insert(apiKey, id, sessionId, createdAt, json) {
      commitPending();
      try {
        t.insert.run(id, apiKey, sessionId, createdAt, json);
      } catch (err) {
        if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw new StoreError('ERR_STORE_CONFLICT', `${kind} ${id} already exists`, { cause: err });
        if (isConstraint(err, 'SQLITE_CONSTRAINT_FOREIGNKEY')) throw new StoreError('ERR_STORE_NO_PROJECT', `Project ${apiKey} does not exist`, { cause: err });
        throw err;
      }
    },
    get: (apiKey, id) => t.get.get(id, apiKey)?.json,
    list(apiKey, options) {
      const [limit, offset] = paging(options);
      const rows = options?.sessionId ? t.listBySession.all(apiKey, options.sessionId, limit, offset) : t.list.all(apiKey, limit, offset);
      const total = (options?.sessionId ? t.countBySession.get(apiKey, options.sessionId) : t.count.get(apiKey))?.n ?? 0;
      return { total, json: rows.map((r) => r.json) };
    },
    update(apiKey, id, json) {
      commitPending();
      return t.update.run(json, id, apiKey).changes > 0;
    },
    delete(apiKey, id) {
      commitPending();
      return t.delete.run(id, apiKey).changes > 0;
    },
    byStatus: (statuses) => t.byStatus.all(JSON.stringify(statuses)).map((r) => ({ apiKey: r.api_key, json: r.json })),
  });
  const compositions = compositionRecords(jsonTable(table('archives'), 'Archive'), jsonTable(table('broadcasts'), 'Broadcast'));


  return {
    kind: 'sqlite',
    // Applications: their own module (storage/applications.ts).
    ...sqliteApplications(db, commitPending),
    createProject(p) {
      commitPending();
      forgetProjects();
      try {
        q.insertProject.run(p.apiKey, box.seal(p.apiSecret, p.apiKey), p.name, p.createdAt, p.webhookUrl);
      } catch (err) {
        if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw new StoreError('ERR_STORE_CONFLICT', `Project ${p.apiKey} already exists`, { cause: err });
        throw err;
      }
    },
    getProject(apiKey) {
      const p = cachedProject(apiKey);
      // A copy: callers may change what they get.
      return p && { ...p };
    },
    listProjects() {
      return q.listProjects.all().map(toProject);
    },
    updateProject(apiKey, changes) {
      commitPending();
      forgetProjects();
      return db
        .transaction(() => {
          const r = q.getProject.get(apiKey);
          if (!r) return undefined;
          const cur = toProject(r);
          const next: ProjectRecord = {
            ...cur,
            apiSecret: changes.apiSecret ?? cur.apiSecret,
            name: changes.name ?? cur.name,
            webhookUrl: changes.webhookUrl !== undefined ? changes.webhookUrl : cur.webhookUrl,
          };
          q.updateProject.run(box.seal(next.apiSecret, apiKey), next.name, next.webhookUrl, apiKey);
          return next;
        })
        .immediate();
    },
    createSession(s) {
      try {
        inBatch(() => q.insertSession.run(...sessionValues(s, (b) => (b ? 1 : 0))));
      } catch (err) {
        if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw new StoreError('ERR_STORE_CONFLICT', `Session ${s.sessionId} already exists`, { cause: err });
        if (isConstraint(err, 'SQLITE_CONSTRAINT_FOREIGNKEY')) throw new StoreError('ERR_STORE_NO_PROJECT', `Project ${s.apiKey} does not exist`, { cause: err });
        throw err;
      }
    },
    getSession(sessionId) {
      const r = q.getSession.get(sessionId);
      return r && toSession(r);
    },
    listSessions(apiKey, options) {
      const [limit, offset] = paging(options);
      return { total: q.countSessions.get(apiKey)?.n ?? 0, items: q.listSessions.all(apiKey, limit, offset).map(toSession) };
    },
    ...compositions,
    enqueueOutbox(item) {
      commitPending();
      return Number(outbox.insert.run(item.url, box.seal(item.secret, outboxContext(item.url)), item.body, item.createdAt).lastInsertRowid);
    },
    claimOutboxUrls(owner, now, until) {
      commitPending();
      return db
        .transaction(() => outbox.pendingUrls.all().filter((url) => outbox.claim.run(url, owner, until, owner, now).changes > 0))
        .immediate();
    },
    listOutbox(url, limit) {
      return outbox.list.all(url, limit).map((r) => ({ id: r.id, url: r.url, secret: box.open(r.secret_enc, outboxContext(r.url)), body: r.body, createdAt: r.created_at }));
    },
    deleteOutbox(id) {
      commitPending();
      return outbox.delete.run(id).changes > 0;
    },
    trimOutbox(url, keep) {
      commitPending();
      return outbox.trim.run(url, url, keep).changes;
    },
    releaseOutboxUrls(owner) {
      commitPending();
      if (owner === null) outbox.releaseAll.run();
      else outbox.release.run(owner);
    },
    recordWebhookDelivery(r, keep) {
      commitPending();
      return db.transaction(() => {
        const id = Number(deliveriesQ.insert.run(r.apiKey, r.outboxId, r.url, r.event, r.body, r.createdAt, r.createdAt).lastInsertRowid);
        deliveriesQ.trim.run(r.apiKey, r.apiKey, keep);
        return id;
      })();
    },
    updateWebhookDelivery(outboxId, u) {
      commitPending();
      return deliveriesQ.update.run(u.status, u.attempted ? 1 : 0, u.httpStatus, u.error, u.at, outboxId).changes > 0;
    },
    listWebhookDeliveries(apiKey, options) {
      const [limit, offset] = paging(options);
      return { total: deliveriesQ.count.get(apiKey)?.n ?? 0, items: deliveriesQ.list.all(apiKey, limit, offset).map(deliveryFromRow) };
    },
    getWebhookDelivery(apiKey, id) {
      const r = deliveriesQ.get.get(id, apiKey);
      return r && deliveryFromRow(r);
    },
    requeueWebhookDelivery(apiKey, id, outboxId, at) {
      commitPending();
      return deliveriesQ.requeue.run(outboxId, at, id, apiKey).changes > 0;
    },
    getSetting(name) {
      return settingsQ.get.get(name)?.value;
    },
    putSetting(name, value) {
      commitPending();
      settingsQ.upsert.run(name, value);
    },
    putSettingIfAbsent(name, value) {
      commitPending();
      settingsQ.insert.run(name, value);
      return settingsQ.get.get(name)!.value;
    },
    flush() {
      if (!batchOpen) return Promise.resolve();
      if (!batchDone) {
        let resolve!: () => void;
        let reject!: (err: unknown) => void;
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        batchDone = { promise, resolve, reject };
      }
      return batchDone.promise;
    },
    close() {
      if (db.open) commitPending();
      checkpointer?.postMessage('close');
      checkpointer = null;
      if (db.open) db.close();
    },
  };
}
