/**
 * The row mapping the SQL stores share (SQLite and PostgreSQL): which columns a project and a
 * session are kept in, and how a row read back becomes a record. The drivers differ in two
 * column types only, written here once: PostgreSQL returns BIGINT as a string and BOOLEAN as a
 * boolean, SQLite an INTEGER for both.
 */
import type { ArchiveJson, BroadcastJson } from '@tokhost/protocol';
import type { ListOptions, Page, ProjectRecord, SessionRecord, Store, WebhookDeliveryRecord, WebhookDeliveryStatus } from './store.js';

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

/** A `webhook_deliveries` row as a driver returns it (`N`: how it returns BIGINT). */
export interface DeliveryRowOf<N> {
  id: N;
  api_key: string;
  outbox_id: N;
  url: string;
  event: string;
  body: string;
  status: string;
  attempts: number;
  last_http_status: number | null;
  last_error: string | null;
  created_at: N;
  updated_at: N;
}

/** A webhook delivery record from its row. */
export function deliveryFromRow(r: DeliveryRowOf<number | string>): WebhookDeliveryRecord {
  return {
    id: Number(r.id),
    apiKey: r.api_key,
    outboxId: Number(r.outbox_id),
    url: r.url,
    event: r.event,
    body: r.body,
    status: r.status as WebhookDeliveryStatus,
    attempts: Number(r.attempts),
    lastHttpStatus: r.last_http_status === null ? null : Number(r.last_http_status),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
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

/**
 * An `archives` or `broadcasts` table in a driver's dialect: indexed columns plus the wire object
 * as JSON text. `insert` throws the store's conflict and missing-project errors.
 */
export interface JsonTable {
  insert(apiKey: string, id: string, sessionId: string, createdAt: number, json: string): void;
  get(apiKey: string, id: string): string | undefined;
  /** One page, newest first, and the count of all that match. */
  list(apiKey: string, options: ListOptions | undefined): { total: number; json: string[] };
  /** False when there is no such row. */
  update(apiKey: string, id: string, json: string): boolean;
  /** False when there was no such row. */
  delete(apiKey: string, id: string): boolean;
  byStatus(statuses: readonly string[]): { apiKey: string; json: string }[];
}

/** What a JSON record needs for its indexed columns. */
interface WireObject {
  id: string;
  sessionId: string;
  createdAt: number;
}

/**
 * The store methods of one kind of composition output (archives, broadcasts) over its table: the
 * wire object goes in as JSON and comes back with its project, as `wrap` shapes the record.
 */
function jsonRecords<J extends WireObject, R>(table: JsonTable, wrap: (apiKey: string, json: J) => R) {
  const parse = (apiKey: string, json: string): R => wrap(apiKey, JSON.parse(json) as J);
  return {
    create(apiKey: string, value: J): void {
      table.insert(apiKey, value.id, value.sessionId, value.createdAt, JSON.stringify(value));
    },
    get(apiKey: string, id: string): R | undefined {
      const json = table.get(apiKey, id);
      return json === undefined ? undefined : parse(apiKey, json);
    },
    list(apiKey: string, options?: ListOptions): Page<R> {
      const p = table.list(apiKey, options);
      return { total: p.total, items: p.json.map((json) => parse(apiKey, json)) };
    },
    update(apiKey: string, value: J): R | undefined {
      return table.update(apiKey, value.id, JSON.stringify(value)) ? wrap(apiKey, structuredClone(value)) : undefined;
    },
    delete: (apiKey: string, id: string): boolean => table.delete(apiKey, id),
    byStatus: (statuses: readonly string[]): R[] => table.byStatus(statuses).map((r) => parse(r.apiKey, r.json)),
  };
}

/** The archive and broadcast methods of a SQL store, over its two JSON tables. */
export function compositionRecords(
  archiveTable: JsonTable,
  broadcastTable: JsonTable,
): Pick<
  Store,
  'createArchive' | 'getArchive' | 'listArchives' | 'updateArchive' | 'deleteArchive' | 'listArchivesByStatus' | 'createBroadcast' | 'getBroadcast' | 'listBroadcasts' | 'updateBroadcast' | 'listBroadcastsByStatus'
> {
  const archives = jsonRecords(archiveTable, (apiKey, archive: ArchiveJson) => ({ apiKey, archive }));
  const broadcasts = jsonRecords(broadcastTable, (apiKey, broadcast: BroadcastJson) => ({ apiKey, broadcast }));
  return {
    createArchive: (r) => archives.create(r.apiKey, r.archive),
    getArchive: archives.get,
    listArchives: archives.list,
    updateArchive: archives.update,
    deleteArchive: archives.delete,
    listArchivesByStatus: archives.byStatus,
    createBroadcast: (r) => broadcasts.create(r.apiKey, r.broadcast),
    getBroadcast: broadcasts.get,
    listBroadcasts: broadcasts.list,
    updateBroadcast: broadcasts.update,
    listBroadcastsByStatus: broadcasts.byStatus,
  };
}
