import type Database from 'better-sqlite3';
import type { RenderJson, RenderStatus } from '@tokhost/protocol';
import type { Statement } from './pg-sync.js';
import { PgQueryError } from './pg-sync.js';
import type { ListOptions, Page, RenderRecord, Store } from './store.js';
import { StoreError } from './store.js';

/**
 * The renders table of both SQL stores (Experience Composer, docs/render.md), kept apart from the
 * rest of their code as the applications are: indexed columns plus the wire object as JSON, the
 * layout archives and broadcasts use.
 */
export type RenderMethods = Pick<Store, 'createRender' | 'getRender' | 'listRenders' | 'updateRender' | 'listRendersByStatus'>;

/** SQLite migration that adds the table (appended to the store's list, never edited). */
export const SQLITE_RENDERS_MIGRATION = `CREATE TABLE renders (
     id         TEXT PRIMARY KEY,
     api_key    TEXT NOT NULL REFERENCES projects(api_key),
     session_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     status     TEXT NOT NULL,
     json       TEXT NOT NULL
   );
   CREATE INDEX renders_by_project ON renders(api_key, created_at);
   CREATE INDEX renders_by_status ON renders(status);`;

/** PostgreSQL migration that adds the table (appended to the store's list, never edited). */
export const POSTGRES_RENDERS_MIGRATION = `CREATE TABLE renders (
     seq        BIGSERIAL UNIQUE,
     id         TEXT PRIMARY KEY,
     api_key    TEXT NOT NULL REFERENCES projects(api_key),
     session_id TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     status     TEXT NOT NULL,
     json       TEXT NOT NULL
   );
   CREATE INDEX renders_by_project ON renders(api_key, created_at, seq);
   CREATE INDEX renders_by_status ON renders(status);`;

type Row = Record<string, unknown>;

const toRecord = (r: Row): RenderRecord => ({ apiKey: r['api_key'] as string, render: JSON.parse(r['json'] as string) as RenderJson });
const conflict = (id: string, cause: unknown) => new StoreError('ERR_STORE_CONFLICT', `Render ${id} already exists`, { cause });
const noProject = (apiKey: string, cause: unknown) => new StoreError('ERR_STORE_NO_PROJECT', `Project ${apiKey} does not exist`, { cause });
const paging = (o: ListOptions | undefined) => [o?.count ?? 50, o?.offset ?? 0] as const;

/** The render methods of the SQLite store. `beforeWrite` commits the store's pending group first. */
export function sqliteRenders(db: Database.Database, beforeWrite: () => void): RenderMethods {
  const q = {
    insert: db.prepare('INSERT INTO renders (id, api_key, session_id, created_at, status, json) VALUES (?, ?, ?, ?, ?, ?)'),
    get: db.prepare<[string, string], Row>('SELECT api_key, json FROM renders WHERE id = ? AND api_key = ?'),
    list: db.prepare<[string, number, number], Row>('SELECT api_key, json FROM renders WHERE api_key = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?'),
    count: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM renders WHERE api_key = ?'),
    update: db.prepare('UPDATE renders SET status = ?, json = ? WHERE id = ? AND api_key = ?'),
    byStatus: db.prepare<[string], Row>('SELECT api_key, json FROM renders WHERE status IN (SELECT value FROM json_each(?))'),
  };
  const code = (err: unknown) => (err instanceof Error ? (err as { code?: string }).code : undefined);
  return {
    createRender(r) {
      beforeWrite();
      try {
        q.insert.run(r.render.id, r.apiKey, r.render.sessionId, r.render.createdAt, r.render.status, JSON.stringify(r.render));
      } catch (err) {
        if (code(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw conflict(r.render.id, err);
        if (code(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw noProject(r.apiKey, err);
        throw err;
      }
    },
    getRender(apiKey, id) {
      const r = q.get.get(id, apiKey);
      return r && toRecord(r);
    },
    listRenders(apiKey, options) {
      const [limit, offset] = paging(options);
      return { total: q.count.get(apiKey)?.n ?? 0, items: q.list.all(apiKey, limit, offset).map(toRecord) };
    },
    updateRender(apiKey, render) {
      beforeWrite();
      return q.update.run(render.status, JSON.stringify(render), render.id, apiKey).changes > 0 ? { apiKey, render: structuredClone(render) } : undefined;
    },
    listRendersByStatus(statuses) {
      return q.byStatus.all(JSON.stringify(statuses)).map(toRecord);
    },
  };
}

/** The render methods of the PostgreSQL store; `one` runs one statement, committed on return. */
export function postgresRenders(one: (s: Statement) => Row[]): RenderMethods {
  const sqlState = (err: unknown) => (err instanceof PgQueryError ? err.sqlState : undefined);
  return {
    createRender(r) {
      try {
        one({
          sql: 'INSERT INTO renders (id, api_key, session_id, created_at, status, json) VALUES ($1, $2, $3, $4, $5, $6)',
          params: [r.render.id, r.apiKey, r.render.sessionId, r.render.createdAt, r.render.status, JSON.stringify(r.render)],
        });
      } catch (err) {
        if (sqlState(err) === '23505') throw conflict(r.render.id, err);
        if (sqlState(err) === '23503') throw noProject(r.apiKey, err);
        throw err;
      }
    },
    getRender(apiKey, id) {
      const r = one({ sql: 'SELECT api_key, json FROM renders WHERE id = $1 AND api_key = $2', params: [id, apiKey] })[0];
      return r && toRecord(r);
    },
    listRenders(apiKey, options): Page<RenderRecord> {
      const [limit, offset] = paging(options);
      const rows = one({ sql: 'SELECT api_key, json, count(*) OVER () AS n FROM renders WHERE api_key = $1 ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3', params: [apiKey, limit, offset] });
      // Past the last page the window count is gone with the rows: count on its own then.
      const total = rows.length > 0 ? Number(rows[0]!['n']) : Number(one({ sql: 'SELECT count(*)::int AS n FROM renders WHERE api_key = $1', params: [apiKey] })[0]!['n']);
      return { total, items: rows.map(toRecord) };
    },
    updateRender(apiKey, render) {
      const rows = one({ sql: 'UPDATE renders SET status = $1, json = $2 WHERE id = $3 AND api_key = $4 RETURNING id', params: [render.status, JSON.stringify(render), render.id, apiKey] });
      return rows.length > 0 ? { apiKey, render: structuredClone(render) } : undefined;
    },
    listRendersByStatus(statuses: readonly RenderStatus[]) {
      if (statuses.length === 0) return [];
      return one({ sql: 'SELECT api_key, json FROM renders WHERE status = ANY($1::text[])', params: [[...statuses]] }).map(toRecord);
    },
  };
}
