/**
 * The row mapping the SQL stores share (SQLite and PostgreSQL): which columns a project and a
 * session are kept in, and how a row read back becomes a record. The drivers differ in two
 * column types only, written here once: PostgreSQL returns BIGINT as a string and BOOLEAN as a
 * boolean, SQLite an INTEGER for both.
 */
import type { ProjectRecord, SessionRecord } from './store.js';

/** A `projects` row as a driver returns it. */
export interface ProjectRow {
  api_key: string;
  secret_enc: string;
  name: string;
  created_at: number | string;
  webhook_url: string | null;
}

/** A `sessions` row as a driver returns it. */
export interface SessionRow {
  session_id: string;
  api_key: string;
  media_mode: string;
  archive_mode: string;
  archive_name: string | null;
  archive_resolution: string | null;
  location: string | null;
  e2ee: number | boolean;
  created_at: number | string;
}

/** A project from its row; `apiSecret` is the row's secret, opened by the store (each caches it its own way). */
export function projectFromRow(r: ProjectRow, apiSecret: string): ProjectRecord {
  return { apiKey: r.api_key, apiSecret, name: r.name, createdAt: Number(r.created_at), webhookUrl: r.webhook_url ?? null };
}

/** A session from its row. */
export function sessionFromRow(r: SessionRow): SessionRecord {
  return {
    sessionId: r.session_id,
    apiKey: r.api_key,
    mediaMode: r.media_mode as SessionRecord['mediaMode'],
    archiveMode: r.archive_mode as SessionRecord['archiveMode'],
    archiveName: r.archive_name ?? null,
    archiveResolution: (r.archive_resolution ?? null) as SessionRecord['archiveResolution'],
    location: r.location ?? null,
    e2ee: r.e2ee === true || r.e2ee === 1,
    createdAt: Number(r.created_at),
  };
}

/** The columns of a session's INSERT, in the order of {@link sessionValues}. */
export const SESSION_COLUMNS = 'session_id, api_key, media_mode, archive_mode, archive_name, archive_resolution, location, e2ee, created_at';

/** A session's INSERT values; `e2ee` as the driver binds a boolean (SQLite: 1 or 0). */
export function sessionValues<B>(s: SessionRecord, bool: (v: boolean) => B): [string, string, string, string, string | null, string | null, string | null, B, number] {
  return [s.sessionId, s.apiKey, s.mediaMode, s.archiveMode, s.archiveName, s.archiveResolution, s.location, bool(s.e2ee), s.createdAt];
}
