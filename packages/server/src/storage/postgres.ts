import { POSTGRES_APPLICATIONS_MIGRATION, postgresApplications } from './applications.js';
import { openSyncPg, PgQueryError } from './pg-sync.js';
import type { Statement, SyncPg } from './pg-sync.js';
import { compositionRecords, deliveryFromRow, projectFromRow, SESSION_COLUMNS, sessionFromRow, sessionValues } from './rows.js';
import type { DeliveryRowOf, JsonTable, ProjectRow, SessionRow } from './rows.js';
import { createSecretBox } from './secret-box.js';
import type { ListOptions, OutboxItem, ProjectRecord, SessionRecord, Store } from './store.js';
import { StoreError } from './store.js';

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** AES-256 key of the project secrets at rest, 64 hex characters; the same on every node. */
  masterKey: string;
  /** Longest wait for one database call, ms. Default 15000. */
  timeoutMs?: number;
}

/**
 * Versioned migrations, applied in order, each in its own transaction under an advisory lock (so
 * nodes starting together apply each once); `tokhost_schema.version` records the last one. Never
 * edit a shipped migration: append a new one.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE projects (
     seq         BIGSERIAL UNIQUE,
     api_key     TEXT PRIMARY KEY,
     secret_enc  TEXT NOT NULL,
     name        TEXT NOT NULL,
     created_at  BIGINT NOT NULL,
     webhook_url TEXT
   );
   CREATE TABLE sessions (
     seq                BIGSERIAL UNIQUE,
     session_id         TEXT PRIMARY KEY,
     api_key            TEXT NOT NULL REFERENCES projects(api_key),
     media_mode         TEXT NOT NULL,
     archive_mode       TEXT NOT NULL,
     archive_name       TEXT,
     archive_resolution TEXT,
     location           TEXT,
     e2ee               BOOLEAN NOT NULL,
     created_at         BIGINT NOT NULL
   );
   CREATE INDEX sessions_by_project ON sessions(api_key, created_at, seq);
   CREATE TABLE archives (
     seq        BIGSERIAL UNIQUE,
     id         TEXT PRIMARY KEY,
     api_key    TEXT NOT NULL REFERENCES projects(api_key),
     session_id TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     json       TEXT NOT NULL
   );
   CREATE INDEX archives_by_project ON archives(api_key, created_at, seq);
   CREATE TABLE broadcasts (
     seq        BIGSERIAL UNIQUE,
     id         TEXT PRIMARY KEY,
     api_key    TEXT NOT NULL REFERENCES projects(api_key),
     session_id TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     json       TEXT NOT NULL
   );
   CREATE INDEX broadcasts_by_project ON broadcasts(api_key, created_at, seq);
   CREATE TABLE outbox (
     id         BIGSERIAL PRIMARY KEY,
     url        TEXT NOT NULL,
     secret_enc TEXT NOT NULL,
     body       TEXT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE INDEX outbox_by_url ON outbox(url, id);
   CREATE TABLE outbox_leases (
     url   TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     until BIGINT NOT NULL
   );`,
  // The recovery sweep (every node, every 5 s) asks for the archives and broadcasts still
  // running: an indexed column, not a scan of every JSON object ever stored.
  `ALTER TABLE archives ADD COLUMN status TEXT GENERATED ALWAYS AS ((json::jsonb)->>'status') STORED;
   CREATE INDEX archives_by_status ON archives(status);
   ALTER TABLE broadcasts ADD COLUMN status TEXT GENERATED ALWAYS AS ((json::jsonb)->>'status') STORED;
   CREATE INDEX broadcasts_by_status ON broadcasts(status);`,
  // Server-wide values every node shares (the operator token's hash).
  `CREATE TABLE settings (
     name  TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // Vonage-style applications (storage/applications.ts).
  POSTGRES_APPLICATIONS_MIGRATION,
  // What became of each project callback (the admin API's webhook deliveries), bounded per project.
  `CREATE TABLE webhook_deliveries (
     id               BIGSERIAL PRIMARY KEY,
     api_key          TEXT NOT NULL,
     outbox_id        BIGINT NOT NULL,
     url              TEXT NOT NULL,
     event            TEXT NOT NULL,
     body             TEXT NOT NULL,
     status           TEXT NOT NULL,
     attempts         INTEGER NOT NULL,
     last_http_status INTEGER,
     last_error       TEXT,
     created_at       BIGINT NOT NULL,
     updated_at       BIGINT NOT NULL
   );
   CREATE INDEX webhook_deliveries_by_project ON webhook_deliveries(api_key, id);
   CREATE INDEX webhook_deliveries_by_outbox ON webhook_deliveries(outbox_id);`,
];

/** Schema version this build writes. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Channel on which project changes are announced, so every node drops its project cache. */
const PROJECTS_CHANNEL = 'tokhost_projects';
/** Advisory lock key of the migrations ("tokhost" in ASCII). */
const MIGRATION_LOCK = 0x746f6b686f7374;

function migrate(pg: SyncPg): void {
  pg.run([{ sql: 'CREATE TABLE IF NOT EXISTS tokhost_schema (version INTEGER NOT NULL)' }]);
  for (;;) {
    const [, rows] = pg.run([{ sql: 'SELECT pg_advisory_lock($1)', params: [MIGRATION_LOCK] }, { sql: 'SELECT version FROM tokhost_schema' }]);
    const current = rows!.length === 0 ? 0 : Number(rows![0]!['version']);
    try {
      if (current > MIGRATIONS.length) {
        throw new StoreError('ERR_STORE_SCHEMA', `The database schema is version ${current}, newer than this build understands (${MIGRATIONS.length}); upgrade tokhost`);
      }
      if (current === MIGRATIONS.length) return;
      pg.run(
        [
          // Without parameters pg uses the simple protocol, which runs several statements at once.
          { sql: MIGRATIONS[current]! },
          current === 0 ? { sql: 'INSERT INTO tokhost_schema (version) VALUES (1)' } : { sql: 'UPDATE tokhost_schema SET version = $1', params: [current + 1] },
        ],
        true,
      );
    } finally {
      pg.run([{ sql: 'SELECT pg_advisory_unlock($1)', params: [MIGRATION_LOCK] }]);
    }
  }
}

type Row = Record<string, unknown>;
const str = (v: unknown) => v as string;

function conflict(err: unknown): boolean {
  return err instanceof PgQueryError && err.sqlState === '23505';
}
function noProject(err: unknown): boolean {
  return err instanceof PgQueryError && err.sqlState === '23503';
}

/**
 * PostgreSQL store for cluster mode. The Store interface is synchronous (better-sqlite3 is), so
 * each call is one blocking round trip to a `pg` connection in a worker thread
 * (`pg-sync.ts`): every write is committed before the call returns, so what a node answered is
 * durable and every other node reads it at once; there is no cache to keep coherent except the
 * projects, which every REST request looks up. Those are cached and dropped whenever a NOTIFY on
 * `tokhost_projects` arrives (sent in the transaction of every project write, by any node), the
 * way the SQLite store watches `data_version`. Project and outbox secrets are AES-256-GCM
 * encrypted with `masterKey`, which every node is given by configuration.
 */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  if (!/^[0-9a-fA-F]{64}$/.test(options.masterKey)) throw new StoreError('ERR_STORE_MASTER_KEY', 'The master key must be 64 hex characters');
  const box = createSecretBox(Buffer.from(options.masterKey, 'hex'));
  const pg = openSyncPg({ url: options.url, listen: [PROJECTS_CHANNEL], ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  let closed = false;
  const one = (s: Statement): Row[] => {
    if (closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed');
    return pg.run([s])[0]!;
  };
  try {
    migrate(pg);
    // A wrong master key would only show on the first REST call: check it now on one secret.
    const sample = one({ sql: 'SELECT api_key, secret_enc FROM projects LIMIT 1' })[0];
    if (sample) {
      try {
        box.open(str(sample['secret_enc']), str(sample['api_key']));
      } catch (cause) {
        throw new StoreError('ERR_STORE_MASTER_KEY', 'The master key does not decrypt the project secrets in this database (every node needs the same --master-key)', { cause });
      }
    }
  } catch (err) {
    pg.close();
    throw err;
  }

  const notify: Statement = { sql: `SELECT pg_notify('${PROJECTS_CHANNEL}', '')` };
  const toProject = (r: Row): ProjectRecord => projectFromRow(r as unknown as ProjectRow, box.open(str(r['secret_enc']), str(r['api_key'])));
  const toSession = (r: Row): SessionRecord => sessionFromRow(r as unknown as SessionRow);

  const projects = new Map<string, ProjectRecord>();
  let projectsVersion = -1;
  const cachedProject = (apiKey: string): ProjectRecord | undefined => {
    const version = pg.notifications();
    if (version !== projectsVersion) {
      projects.clear();
      projectsVersion = version;
    }
    let p = projects.get(apiKey);
    if (p === undefined) {
      const r = one({ sql: 'SELECT * FROM projects WHERE api_key = $1', params: [apiKey] })[0];
      if (!r) return undefined;
      p = toProject(r);
      if (projects.size >= 1024) projects.clear();
      projects.set(apiKey, p);
    }
    return p;
  };
  const forgetProjects = () => {
    projects.clear();
    projectsVersion = -1;
  };
  // Sessions never change once created.
  const sessions = new Map<string, SessionRecord>();

  const paging = (o: ListOptions | undefined) => [o?.count ?? 50, o?.offset ?? 0] as const;
  // Archives and broadcasts share one layout: indexed columns plus the wire object as JSON.
  const jsonTable = (table: 'archives' | 'broadcasts', kind: string): JsonTable => ({
    insert(apiKey, id, sessionId, createdAt, json) {
      try {
        one({ sql: `INSERT INTO ${table} (id, api_key, session_id, created_at, json) VALUES ($1, $2, $3, $4, $5)`, params: [id, apiKey, sessionId, createdAt, json] });
      } catch (err) {
        if (conflict(err)) throw new StoreError('ERR_STORE_CONFLICT', `${kind} ${id} already exists`, { cause: err });
        if (noProject(err)) throw new StoreError('ERR_STORE_NO_PROJECT', `Project ${apiKey} does not exist`, { cause: err });
        throw err;
      }
    },
    get(apiKey, id) {
      const r = one({ sql: `SELECT json FROM ${table} WHERE id = $1 AND api_key = $2`, params: [id, apiKey] })[0];
      return r && str(r['json']);
    },
    list(apiKey, o) {
      const [limit, offset] = paging(o);
      const where = o?.sessionId ? 'api_key = $1 AND session_id = $2' : 'api_key = $1';
      const params = o?.sessionId ? [apiKey, o.sessionId] : [apiKey];
      const n = params.length;
      const [rows, count] = pg.run([
        { sql: `SELECT json FROM ${table} WHERE ${where} ORDER BY created_at DESC, seq DESC LIMIT $${n + 1} OFFSET $${n + 2}`, params: [...params, limit, offset] },
        { sql: `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params },
      ]);
      return { total: Number(count![0]!['n']), json: rows!.map((r) => str(r['json'])) };
    },
    update(apiKey, id, json) {
      return one({ sql: `UPDATE ${table} SET json = $1 WHERE id = $2 AND api_key = $3 RETURNING id`, params: [json, id, apiKey] }).length > 0;
    },
    delete(apiKey, id) {
      return one({ sql: `DELETE FROM ${table} WHERE id = $1 AND api_key = $2 RETURNING id`, params: [id, apiKey] }).length > 0;
    },
    byStatus(statuses) {
      if (statuses.length === 0) return [];
      return one({ sql: `SELECT api_key, json FROM ${table} WHERE status = ANY($1::text[])`, params: [[...statuses]] }).map((r) => ({ apiKey: str(r['api_key']), json: str(r['json']) }));
    },
  });
  const compositions = compositionRecords(jsonTable('archives', 'Archive'), jsonTable('broadcasts', 'Broadcast'));
  const outboxContext = (url: string) => `outbox\u0000${url}`;

  // Group commit of createSession, as the SQLite store does: under load many sessions are created
  // in one event-loop turn, and one transaction (one fsync) for all of them instead of one each
  // is what lets a node create thousands per second. The REST layer awaits flush() before it
  // answers, so nothing is acknowledged before it is committed. Until then the rows are visible
  // to this node (getSession) and to nobody else, who cannot know their IDs yet.
  const insertSession = (x: SessionRecord): Statement => ({
    sql: `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    params: sessionValues(x, (b) => b),
  });
  const deferred = () => {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
  const pending = new Map<string, SessionRecord>();
  let batch: SessionRecord[] = [];
  let batchDone: ReturnType<typeof deferred> | null = null;
  let commitScheduled = false;
  let inFlight: Promise<void> | null = null;
  const mapped = (err: unknown) =>
    conflict(err) ? new StoreError('ERR_STORE_CONFLICT', 'A session ID of the group already exists', { cause: err }) : noProject(err) ? new StoreError('ERR_STORE_NO_PROJECT', 'A project of the group does not exist', { cause: err }) : err;
  const take = () => {
    const rows = batch;
    const done = batchDone;
    batch = [];
    batchDone = null;
    return { rows, done };
  };
  const settled = (rows: SessionRecord[]) => rows.forEach((x) => pending.delete(x.sessionId));
  function commitBatch(): void {
    commitScheduled = false;
    if (closed || batch.length === 0) return;
    const { rows, done } = take();
    const p = pg.runAsync(rows.map(insertSession), true).then(
      () => {
        settled(rows);
        done?.resolve();
      },
      (err: unknown) => {
        settled(rows);
        done?.reject(mapped(err));
      },
    );
    const tracked: Promise<void> = p.finally(() => {
      if (inFlight === tracked) inFlight = null;
    });
    inFlight = tracked;
  }
  /** Commit the group now, blocking (a read that must see it, or close). */
  function commitNow(): void {
    if (batch.length === 0) return;
    const { rows, done } = take();
    try {
      pg.run(rows.map(insertSession), true);
      settled(rows);
      done?.resolve();
    } catch (err) {
      settled(rows);
      done?.reject(mapped(err));
      throw mapped(err);
    }
  }

  return {
    kind: 'postgres',
    // Applications: their own module (storage/applications.ts).
    ...postgresApplications(one),
    createProject(p) {
      forgetProjects();
      try {
        pg.run([{ sql: 'INSERT INTO projects (api_key, secret_enc, name, created_at, webhook_url) VALUES ($1, $2, $3, $4, $5)', params: [p.apiKey, box.seal(p.apiSecret, p.apiKey), p.name, p.createdAt, p.webhookUrl] }, notify], true);
      } catch (err) {
        if (conflict(err)) throw new StoreError('ERR_STORE_CONFLICT', `Project ${p.apiKey} already exists`, { cause: err });
        throw err;
      }
    },
    getProject(apiKey) {
      const p = cachedProject(apiKey);
      return p && { ...p };
    },
    listProjects() {
      return one({ sql: 'SELECT * FROM projects ORDER BY created_at, seq' }).map(toProject);
    },
    updateProject(apiKey, changes) {
      forgetProjects();
      // One statement: concurrent updates from two nodes each apply whole.
      const sets: string[] = [];
      const params: unknown[] = [apiKey];
      if (changes.apiSecret !== undefined) {
        params.push(box.seal(changes.apiSecret, apiKey));
        sets.push(`secret_enc = $${params.length}`);
      }
      if (changes.name !== undefined) {
        params.push(changes.name);
        sets.push(`name = $${params.length}`);
      }
      if (changes.webhookUrl !== undefined) {
        params.push(changes.webhookUrl);
        sets.push(`webhook_url = $${params.length}`);
      }
      const sql = sets.length > 0 ? `UPDATE projects SET ${sets.join(', ')} WHERE api_key = $1 RETURNING *` : 'SELECT * FROM projects WHERE api_key = $1';
      const [rows] = pg.run([{ sql, params }, notify], true);
      const r = rows![0];
      return r && toProject(r);
    },
    createSession(s) {
      if (closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed');
      if (pending.has(s.sessionId) || sessions.has(s.sessionId)) throw new StoreError('ERR_STORE_CONFLICT', `Session ${s.sessionId} already exists`);
      if (!cachedProject(s.apiKey)) throw new StoreError('ERR_STORE_NO_PROJECT', `Project ${s.apiKey} does not exist`);
      pending.set(s.sessionId, structuredClone(s));
      batch.push(s);
      if (!commitScheduled) {
        commitScheduled = true;
        setImmediate(commitBatch);
      }
    },
    getSession(sessionId) {
      const queued = pending.get(sessionId);
      if (queued) return { ...queued };
      const hit = sessions.get(sessionId);
      if (hit) return { ...hit };
      const r = one({ sql: 'SELECT * FROM sessions WHERE session_id = $1', params: [sessionId] })[0];
      if (!r) return undefined;
      const s = toSession(r);
      if (sessions.size >= 10_000) sessions.delete(sessions.keys().next().value!);
      sessions.set(sessionId, s);
      return { ...s };
    },
    listSessions(apiKey, o) {
      commitNow();
      const [limit, offset] = paging(o);
      const [rows, count] = pg.run([
        { sql: 'SELECT * FROM sessions WHERE api_key = $1 ORDER BY created_at, seq LIMIT $2 OFFSET $3', params: [apiKey, limit, offset] },
        { sql: 'SELECT count(*)::int AS n FROM sessions WHERE api_key = $1', params: [apiKey] },
      ]);
      return { total: Number(count![0]!['n']), items: rows!.map(toSession) };
    },
    ...compositions,
    enqueueOutbox(item) {
      const r = one({ sql: 'INSERT INTO outbox (url, secret_enc, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id', params: [item.url, box.seal(item.secret, outboxContext(item.url)), item.body, item.createdAt] });
      return Number(r[0]!['id']);
    },
    claimOutboxUrls(owner, now, until) {
      // One statement: the row lock of ON CONFLICT makes two nodes claiming at once agree.
      const rows = one({
        sql: `INSERT INTO outbox_leases (url, owner, until) SELECT DISTINCT url, $1, $3::bigint FROM outbox
              ON CONFLICT (url) DO UPDATE SET owner = excluded.owner, until = excluded.until
              WHERE outbox_leases.owner = excluded.owner OR outbox_leases.until < $2
              RETURNING url`,
        params: [owner, now, until],
      });
      return rows.map((r) => str(r['url']));
    },
    listOutbox(url, limit) {
      return one({ sql: 'SELECT * FROM outbox WHERE url = $1 ORDER BY id LIMIT $2', params: [url, limit] }).map(
        (r): OutboxItem => ({ id: Number(r['id']), url: str(r['url']), secret: box.open(str(r['secret_enc']), outboxContext(str(r['url']))), body: str(r['body']), createdAt: Number(r['created_at']) }),
      );
    },
    deleteOutbox(id) {
      return one({ sql: 'DELETE FROM outbox WHERE id = $1 RETURNING id', params: [id] }).length > 0;
    },
    trimOutbox(url, keep) {
      return one({ sql: 'DELETE FROM outbox WHERE url = $1 AND id < (SELECT MIN(id) FROM (SELECT id FROM outbox WHERE url = $1 ORDER BY id DESC LIMIT $2) AS newest) RETURNING id', params: [url, keep] }).length;
    },
    releaseOutboxUrls(owner) {
      if (owner === null) one({ sql: 'DELETE FROM outbox_leases' });
      else one({ sql: 'DELETE FROM outbox_leases WHERE owner = $1', params: [owner] });
    },
    recordWebhookDelivery(r, keep) {
      const [rows] = pg.run(
        [
          {
            sql: "INSERT INTO webhook_deliveries (api_key, outbox_id, url, event, body, status, attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) RETURNING id",
            params: [r.apiKey, r.outboxId, r.url, r.event, r.body, r.createdAt],
          },
          {
            sql: 'DELETE FROM webhook_deliveries WHERE api_key = $1 AND id < (SELECT MIN(id) FROM (SELECT id FROM webhook_deliveries WHERE api_key = $1 ORDER BY id DESC LIMIT $2) AS newest)',
            params: [r.apiKey, keep],
          },
        ],
        true,
      );
      return Number(rows![0]!['id']);
    },
    updateWebhookDelivery(outboxId, u) {
      return (
        one({
          sql: 'UPDATE webhook_deliveries SET status = $1, attempts = attempts + $2, last_http_status = $3, last_error = $4, updated_at = $5 WHERE outbox_id = $6 RETURNING id',
          params: [u.status, u.attempted ? 1 : 0, u.httpStatus, u.error, u.at, outboxId],
        }).length > 0
      );
    },
    listWebhookDeliveries(apiKey, o) {
      const [limit, offset] = paging(o);
      const [rows, count] = pg.run([
        { sql: 'SELECT * FROM webhook_deliveries WHERE api_key = $1 ORDER BY id DESC LIMIT $2 OFFSET $3', params: [apiKey, limit, offset] },
        { sql: 'SELECT count(*)::int AS n FROM webhook_deliveries WHERE api_key = $1', params: [apiKey] },
      ]);
      return { total: Number(count![0]!['n']), items: rows!.map((r) => deliveryFromRow(r as unknown as DeliveryRowOf<string>)) };
    },
    getWebhookDelivery(apiKey, id) {
      const r = one({ sql: 'SELECT * FROM webhook_deliveries WHERE id = $1 AND api_key = $2', params: [id, apiKey] })[0];
      return r && deliveryFromRow(r as unknown as DeliveryRowOf<string>);
    },
    requeueWebhookDelivery(apiKey, id, outboxId, at) {
      return one({ sql: "UPDATE webhook_deliveries SET outbox_id = $1, status = 'pending', updated_at = $2 WHERE id = $3 AND api_key = $4 RETURNING id", params: [outboxId, at, id, apiKey] }).length > 0;
    },
    getSetting(name) {
      const r = one({ sql: 'SELECT value FROM settings WHERE name = $1', params: [name] })[0];
      return r ? str(r['value']) : undefined;
    },
    putSetting(name, value) {
      one({ sql: 'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', params: [name, value] });
    },
    putSettingIfAbsent(name, value) {
      // One statement: the insert, or (when another node was first) the value it stored.
      const r = one({
        sql: `WITH ins AS (INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value)
              SELECT value FROM ins UNION ALL SELECT value FROM settings WHERE name = $1 LIMIT 1`,
        params: [name, value],
      })[0];
      return str(r!['value']);
    },
    flush() {
      // Other writes commit before they return; sessions commit in groups (below).
      if (batch.length > 0) return (batchDone ??= deferred()).promise;
      return inFlight ?? Promise.resolve();
    },
    close() {
      if (closed) return;
      try {
        commitNow();
      } finally {
        closed = true;
        pg.close();
      }
    },
  };
}
