import type { ArchiveJson, ArchiveMode, ArchiveStatus, BroadcastJson, MediaMode, Resolution } from '@tokhost/protocol';
import { TokhostError, type StoreErrorCode } from '../errors.js';

/**
 * Persistent state behind one interface. Implementations: memory (tests) and SQLite (default).
 * Both run the shared contract suite in `test/storage/store.contract.ts`.
 *
 * Secrets: `ProjectRecord.apiSecret` is the clear secret as callers need it for HMAC checks;
 * how it is kept at rest is the implementation's concern (SQLite encrypts it, see docs/config.md).
 */
export interface ProjectRecord {
  apiKey: string;
  apiSecret: string;
  name: string;
  createdAt: number;
  /** Session-monitoring webhook URL, or `null` when none is set. */
  webhookUrl: string | null;
}

export interface SessionRecord {
  sessionId: string;
  apiKey: string;
  mediaMode: MediaMode;
  archiveMode: ArchiveMode;
  archiveName: string | null;
  archiveResolution: Resolution | null;
  location: string | null;
  e2ee: boolean;
  createdAt: number;
}

/**
 * An archive as persisted: the wire object plus the owning project. Only a real recording
 * creates one (the REST layer never fabricates archives).
 */
export interface ArchiveRecord {
  apiKey: string;
  archive: ArchiveJson;
}

/**
 * A Vonage-style application (docs/applications.md): a UUID that stands for its project wherever
 * an API key is accepted, and the RSA public key (SPKI PEM, at least 2048 bits) that verifies the
 * RS256 JWTs signed with its private key. Tokhost never holds the private key.
 */
export interface ApplicationRecord {
  /** Lowercase UUID. */
  applicationId: string;
  /** The project it belongs to. */
  apiKey: string;
  /** SPKI PEM, as `node:crypto` exports it. */
  publicKey: string;
  name: string;
  createdAt: number;
}

/** A broadcast as persisted: the wire object plus the owning project. */
export interface BroadcastRecord {
  apiKey: string;
  broadcast: BroadcastJson;
}

/**
 * A webhook callback waiting to be delivered (the durable outbox). `secret` is the key it is
 * signed with, kept at rest as the project secrets are (encrypted in SQLite and PostgreSQL).
 */
export interface OutboxItem {
  /** Increasing in the order items were added (delivery order per URL). */
  id: number;
  url: string;
  secret: string;
  /** The JSON body, as sent. */
  body: string;
  createdAt: number;
}

/** Where a webhook delivery stands: waiting or retrying, answered 2xx, or given up. */
export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * The record of one webhook callback of a project (the admin API's delivery list): kept after the
 * outbox item is gone, bounded per project (the oldest go). `body` is kept for a retry.
 */
export interface WebhookDeliveryRecord {
  /** Increasing in the order deliveries were recorded. */
  id: number;
  apiKey: string;
  /** The outbox item delivering it now (a retry queues a new one). */
  outboxId: number;
  url: string;
  /** `connectionCreated`, `streamCreated`, `archive:available`, … (from the body). */
  event: string;
  body: string;
  status: WebhookDeliveryStatus;
  /** HTTP attempts made so far. */
  attempts: number;
  /** Status code of the last answer, or null (no answer: refused, timed out, connection failed). */
  lastHttpStatus: number | null;
  /** Why the last attempt failed, or null. */
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What a delivery attempt (or giving up) changes in a {@link WebhookDeliveryRecord}. */
export interface WebhookDeliveryUpdate {
  status: WebhookDeliveryStatus;
  /** An HTTP attempt was made (attempts + 1). */
  attempted: boolean;
  httpStatus: number | null;
  error: string | null;
  at: number;
}

/** Paging and filter options of the list methods. Defaults: offset 0, count 50. */
export interface ListOptions {
  offset?: number;
  count?: number;
  /** Only items of this session. */
  sessionId?: string;
}

/** One page of a list plus the total number of matching items (OpenTok's `count`). */
export interface Page<T> {
  total: number;
  items: T[];
}

/** The store. Methods are synchronous because better-sqlite3 is; keep them short. */
export interface Store {
  /** Which implementation this is, for logs. */
  readonly kind: 'memory' | 'sqlite' | 'postgres';

  /** Throws `StoreError('ERR_STORE_CONFLICT')` when the key exists. */
  createProject(project: ProjectRecord): void;
  getProject(apiKey: string): ProjectRecord | undefined;
  /** Every project, oldest first. */
  listProjects(): ProjectRecord[];
  updateProject(apiKey: string, changes: Partial<Pick<ProjectRecord, 'apiSecret' | 'name' | 'webhookUrl'>>): ProjectRecord | undefined;

  // --- applications (storage/applications.ts holds the SQL both databases share) ---
  /** Throws `StoreError('ERR_STORE_CONFLICT')` when the ID exists and `ERR_STORE_NO_PROJECT` for an unknown project. */
  createApplication(application: ApplicationRecord): void;
  /**
   * The application, read from the database on every call (another process, `tokhost
   * application rotate-key`, may change it at any time and the next request must see that).
   */
  getApplication(applicationId: string): ApplicationRecord | undefined;
  /** The applications of one project (every project's with no key), oldest first. */
  listApplications(apiKey?: string): ApplicationRecord[];
  /** Replace the public key or the name; `undefined` when there is no such application. */
  updateApplication(applicationId: string, changes: Partial<Pick<ApplicationRecord, 'publicKey' | 'name'>>): ApplicationRecord | undefined;
  /** Remove the application; false when there was none. */
  deleteApplication(applicationId: string): boolean;
  // --- end of applications ---

  /** Throws `StoreError('ERR_STORE_CONFLICT')` when the ID exists and `ERR_STORE_NO_PROJECT` for an unknown project. */
  createSession(session: SessionRecord): void;
  getSession(sessionId: string): SessionRecord | undefined;
  /** Sessions of a project, oldest first. */
  listSessions(apiKey: string, options?: ListOptions): Page<SessionRecord>;

  /** Throws `StoreError('ERR_STORE_CONFLICT')` when the ID exists. */
  createArchive(record: ArchiveRecord): void;
  /** The archive when it exists and belongs to `apiKey`. */
  getArchive(apiKey: string, archiveId: string): ArchiveRecord | undefined;
  /** Archives of a project, newest first (as OpenTok lists them). */
  listArchives(apiKey: string, options?: ListOptions): Page<ArchiveRecord>;
  /** Replace the stored archive object; `undefined` when there is no such archive. */
  updateArchive(apiKey: string, archive: ArchiveJson): ArchiveRecord | undefined;
  /** Remove the record; false when there was none. */
  deleteArchive(apiKey: string, archiveId: string): boolean;
  /**
   * Archives of every project whose status is one of `statuses` (the recovery sweeps look for
   * recordings nobody finished), in no particular order. One query, not a walk of the history.
   */
  listArchivesByStatus(statuses: readonly ArchiveStatus[]): ArchiveRecord[];

  createBroadcast(record: BroadcastRecord): void;
  getBroadcast(apiKey: string, broadcastId: string): BroadcastRecord | undefined;
  /** Broadcasts of a project, newest first. */
  listBroadcasts(apiKey: string, options?: ListOptions): Page<BroadcastRecord>;
  updateBroadcast(apiKey: string, broadcast: BroadcastJson): BroadcastRecord | undefined;
  /** Broadcasts of every project whose status is one of `statuses` (see {@link listArchivesByStatus}). */
  listBroadcastsByStatus(statuses: readonly BroadcastJson['status'][]): BroadcastRecord[];

  /** Add a callback to the outbox (committed at once: it must survive a restart); returns its id. */
  enqueueOutbox(item: Omit<OutboxItem, 'id'>): number;
  /**
   * Take or renew the delivery lease of every URL with pending items whose lease is free, expired
   * (`until` before `now`) or already `owner`'s, up to `until`. Returns the URLs `owner` holds
   * now. One holder per URL is what keeps delivery in order when several nodes drain one outbox.
   */
  claimOutboxUrls(owner: string, now: number, until: number): string[];
  /** The oldest pending items of one URL, in order. */
  listOutbox(url: string, limit: number): OutboxItem[];
  /** Remove a delivered (or abandoned) item; false when it was not there. */
  deleteOutbox(id: number): boolean;
  /** Keep only the `keep` newest items of `url` (the outbox bound); returns how many older ones were removed. */
  trimOutbox(url: string, keep: number): number;
  /** Give up `owner`'s leases, or every lease when `owner` is null (a single server starting up). */
  releaseOutboxUrls(owner: string | null): void;

  /**
   * Record a callback just queued in the outbox (status `pending`) and keep only the `keep`
   * newest records of its project; returns the record's id.
   */
  recordWebhookDelivery(record: Pick<WebhookDeliveryRecord, 'apiKey' | 'outboxId' | 'url' | 'event' | 'body' | 'createdAt'>, keep: number): number;
  /** An attempt's outcome for the delivery whose outbox item is `outboxId`; false when there is none (trimmed, or not recorded). */
  updateWebhookDelivery(outboxId: number, update: WebhookDeliveryUpdate): boolean;
  /** A project's delivery records, newest first. */
  listWebhookDeliveries(apiKey: string, options?: ListOptions): Page<WebhookDeliveryRecord>;
  /** The record when it exists and belongs to `apiKey`. */
  getWebhookDelivery(apiKey: string, id: number): WebhookDeliveryRecord | undefined;
  /** A retry: the delivery is `pending` again, delivered by the outbox item `outboxId`. */
  requeueWebhookDelivery(apiKey: string, id: number, outboxId: number, at: number): boolean;

  /**
   * A server-wide value every node must agree on (the operator token's hash, docs/security.md),
   * or `undefined` when none is stored.
   */
  getSetting(name: string): string | undefined;
  /**
   * Store `value` under `name` unless a value is there, and return the stored one: of nodes that
   * start together, the first write wins and every node reads it. Committed at once.
   */
  putSettingIfAbsent(name: string, value: string): string;
  /** Store `value` under `name`, replacing what is there (`tokhost operator-token --reset`). Committed at once. */
  putSetting(name: string, value: string): void;

  /**
   * Resolves once every write made so far is committed (durable against a crash of the process).
   * The SQLite store commits `createSession` writes in groups, once per event-loop turn, so the
   * REST layer awaits this before it answers; other writes commit at once.
   */
  flush(): Promise<void>;

  /** Release resources (close the database), committing pending writes. Further calls throw. */
  close(): void;
}

/** Archive statuses in which a recording is still running. */
export const ACTIVE_ARCHIVE_STATUSES: readonly ArchiveStatus[] = ['started', 'paused'];

export type { StoreErrorCode };

/** Errors raised by store implementations. */
export class StoreError extends TokhostError<Exclude<StoreErrorCode, 'ERR_STORE_QUERY'>> {
  override readonly name = 'StoreError';
}
