import type Database from 'better-sqlite3';
import type { Statement } from './pg-sync.js';
import { PgQueryError } from './pg-sync.js';
import type { ApplicationRecord, Store } from './store.js';
import { StoreError } from './store.js';

/**
 * The applications table of both SQL stores, kept apart from their project and session code.
 * Applications are read from the database on every lookup (a primary-key SELECT): `tokhost
 * application rotate-key` in another process must apply to the very next request, and a public
 * key is not a secret whose decryption would be worth caching. The key objects made from the PEM
 * text are cached by the verifier (auth/application-jwt.ts), keyed by the text itself, so they
 * cannot go stale.
 */
export type ApplicationMethods = Pick<Store, 'createApplication' | 'getApplication' | 'listApplications' | 'updateApplication' | 'deleteApplication'>;

/** SQLite migration that adds the table (appended to the store's list, never edited). */
export const SQLITE_APPLICATIONS_MIGRATION = `CREATE TABLE applications (
     application_id TEXT PRIMARY KEY,
     api_key        TEXT NOT NULL REFERENCES projects(api_key),
     public_key     TEXT NOT NULL,
     name           TEXT NOT NULL,
     created_at     INTEGER NOT NULL
   );
   CREATE INDEX applications_by_project ON applications(api_key, created_at);`;

/** PostgreSQL migration that adds the table (appended to the store's list, never edited). */
export const POSTGRES_APPLICATIONS_MIGRATION = `CREATE TABLE applications (
     seq            BIGSERIAL UNIQUE,
     application_id TEXT PRIMARY KEY,
     api_key        TEXT NOT NULL REFERENCES projects(api_key),
     public_key     TEXT NOT NULL,
     name           TEXT NOT NULL,
     created_at     BIGINT NOT NULL
   );
   CREATE INDEX applications_by_project ON applications(api_key, created_at, seq);`;

type Row = Record<string, unknown>;

function toApplication(r: Row): ApplicationRecord {
  return {
    applicationId: r['application_id'] as string,
    apiKey: r['api_key'] as string,
    publicKey: r['public_key'] as string,
    name: r['name'] as string,
    createdAt: Number(r['created_at']),
  };
}

const conflict = (id: string, cause: unknown) => new StoreError('ERR_STORE_CONFLICT', `Application ${id} already exists`, { cause });
const noProject = (apiKey: string, cause: unknown) => new StoreError('ERR_STORE_NO_PROJECT', `Project ${apiKey} does not exist`, { cause });

/** The application methods of the SQLite store. `beforeWrite` commits the store's pending group first. */
export function sqliteApplications(db: Database.Database, beforeWrite: () => void): ApplicationMethods {
  const q = {
    insert: db.prepare('INSERT INTO applications (application_id, api_key, public_key, name, created_at) VALUES (?, ?, ?, ?, ?)'),
    get: db.prepare<[string], Row>('SELECT * FROM applications WHERE application_id = ?'),
    listAll: db.prepare<[], Row>('SELECT * FROM applications ORDER BY created_at, rowid'),
    listOf: db.prepare<[string], Row>('SELECT * FROM applications WHERE api_key = ? ORDER BY created_at, rowid'),
    update: db.prepare('UPDATE applications SET public_key = ?, name = ? WHERE application_id = ?'),
    delete: db.prepare<[string]>('DELETE FROM applications WHERE application_id = ?'),
  };
  const code = (err: unknown) => (err instanceof Error ? (err as { code?: string }).code : undefined);
  return {
    createApplication(a) {
      beforeWrite();
      try {
        q.insert.run(a.applicationId, a.apiKey, a.publicKey, a.name, a.createdAt);
      } catch (err) {
        if (code(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw conflict(a.applicationId, err);
        if (code(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw noProject(a.apiKey, err);
        throw err;
      }
    },
    getApplication(applicationId) {
      const r = q.get.get(applicationId);
      return r && toApplication(r);
    },
    listApplications(apiKey) {
      return (apiKey === undefined ? q.listAll.all() : q.listOf.all(apiKey)).map(toApplication);
    },
    updateApplication(applicationId, changes) {
      beforeWrite();
      return db
        .transaction(() => {
          const r = q.get.get(applicationId);
          if (!r) return undefined;
          const cur = toApplication(r);
          const next: ApplicationRecord = { ...cur, publicKey: changes.publicKey ?? cur.publicKey, name: changes.name ?? cur.name };
          q.update.run(next.publicKey, next.name, applicationId);
          return next;
        })
        .immediate();
    },
    deleteApplication(applicationId) {
      beforeWrite();
      return q.delete.run(applicationId).changes > 0;
    },
  };
}

/** The application methods of the PostgreSQL store; `one` runs one statement, committed on return. */
export function postgresApplications(one: (s: Statement) => Row[]): ApplicationMethods {
  const sqlState = (err: unknown) => (err instanceof PgQueryError ? err.sqlState : undefined);
  return {
    createApplication(a) {
      try {
        one({ sql: 'INSERT INTO applications (application_id, api_key, public_key, name, created_at) VALUES ($1, $2, $3, $4, $5)', params: [a.applicationId, a.apiKey, a.publicKey, a.name, a.createdAt] });
      } catch (err) {
        if (sqlState(err) === '23505') throw conflict(a.applicationId, err);
        if (sqlState(err) === '23503') throw noProject(a.apiKey, err);
        throw err;
      }
    },
    getApplication(applicationId) {
      const r = one({ sql: 'SELECT * FROM applications WHERE application_id = $1', params: [applicationId] })[0];
      return r && toApplication(r);
    },
    listApplications(apiKey) {
      const rows =
        apiKey === undefined
          ? one({ sql: 'SELECT * FROM applications ORDER BY created_at, seq' })
          : one({ sql: 'SELECT * FROM applications WHERE api_key = $1 ORDER BY created_at, seq', params: [apiKey] });
      return rows.map(toApplication);
    },
    updateApplication(applicationId, changes) {
      // One statement: two concurrent rotations each apply whole.
      const r = one({
        sql: 'UPDATE applications SET public_key = COALESCE($2, public_key), name = COALESCE($3, name) WHERE application_id = $1 RETURNING *',
        params: [applicationId, changes.publicKey ?? null, changes.name ?? null],
      })[0];
      return r && toApplication(r);
    },
    deleteApplication(applicationId) {
      return one({ sql: 'DELETE FROM applications WHERE application_id = $1 RETURNING application_id', params: [applicationId] }).length > 0;
    },
  };
}
