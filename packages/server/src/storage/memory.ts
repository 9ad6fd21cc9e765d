import type { ArchiveJson, BroadcastJson } from '@tokhost/protocol';
import type { ApplicationRecord, ArchiveRecord, BroadcastRecord, ListOptions, OutboxItem, Page, ProjectRecord, SessionRecord, Store, WebhookDeliveryRecord } from './store.js';
import { StoreError } from './store.js';

const clone = <T>(value: T): T => structuredClone(value);

/** Apply OpenTok paging to an already ordered list. */
export function page<T>(all: T[], options: ListOptions | undefined): Page<T> {
  const offset = options?.offset ?? 0;
  const count = options?.count ?? 50;
  return { total: all.length, items: all.slice(offset, offset + count) };
}

/**
 * In-memory store for tests and throw-away servers. Everything is copied in and out, so callers
 * cannot change stored state by mutating what they passed or received.
 */
export function createMemoryStore(): Store {
  const projects = new Map<string, ProjectRecord>();
  const sessions = new Map<string, SessionRecord>();
  const outbox = new Map<number, OutboxItem>();
  const leases = new Map<string, { owner: string; until: number }>();
  const settings = new Map<string, string>();
  const applications = new Map<string, ApplicationRecord>();
  const deliveries = new Map<number, WebhookDeliveryRecord>();
  let nextOutboxId = 1;
  let nextDeliveryId = 1;
  let closed = false;
  const open = () => {
    if (closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed');
  };
  const newestFirst = <R>(records: Iterable<R>, created: (r: R) => number) => [...records].reverse().sort((a, b) => created(b) - created(a));
  // Archives and broadcasts: one set of record rules, each over its own map.
  const outputRecords = <J extends { id: string; sessionId: string; createdAt: number; status: string }, R extends { apiKey: string }>(
    kind: string,
    of: (r: R) => J,
    wrap: (apiKey: string, json: J) => R,
  ) => {
    const map = new Map<string, R>();
    const owned = (apiKey: string, id: string): R | undefined => {
      const r = map.get(id);
      return r && r.apiKey === apiKey ? r : undefined;
    };
    return {
      create(record: R): void {
        open();
        const { id } = of(record);
        if (!projects.has(record.apiKey)) throw new StoreError('ERR_STORE_NO_PROJECT', `Project ${record.apiKey} does not exist`);
        if (map.has(id)) throw new StoreError('ERR_STORE_CONFLICT', `${kind} ${id} already exists`);
        map.set(id, clone(record));
      },
      get(apiKey: string, id: string): R | undefined {
        open();
        const r = owned(apiKey, id);
        return r && clone(r);
      },
      list(apiKey: string, options?: ListOptions): Page<R> {
        open();
        const all = [...map.values()].filter((r) => r.apiKey === apiKey && (!options?.sessionId || of(r).sessionId === options.sessionId));
        return page(newestFirst(all, (r) => of(r).createdAt).map(clone), options);
      },
      update(apiKey: string, json: J): R | undefined {
        open();
        if (!owned(apiKey, json.id)) return undefined;
        const next = wrap(apiKey, clone(json));
        map.set(json.id, next);
        return clone(next);
      },
      delete(apiKey: string, id: string): boolean {
        open();
        return owned(apiKey, id) ? map.delete(id) : false;
      },
      byStatus(statuses: readonly string[]): R[] {
        open();
        return [...map.values()].filter((r) => statuses.includes(of(r).status)).map(clone);
      },
    };
  };
  const archives = outputRecords('Archive', (r: ArchiveRecord) => r.archive, (apiKey, archive: ArchiveJson) => ({ apiKey, archive }));
  const broadcasts = outputRecords('Broadcast', (r: BroadcastRecord) => r.broadcast, (apiKey, broadcast: BroadcastJson) => ({ apiKey, broadcast }));

  return {
    kind: 'memory',
    createProject(project) {
      open();
      if (projects.has(project.apiKey)) throw new StoreError('ERR_STORE_CONFLICT', `Project ${project.apiKey} already exists`);
      projects.set(project.apiKey, clone(project));
    },
    getProject(apiKey) {
      open();
      const p = projects.get(apiKey);
      return p && clone(p);
    },
    listProjects() {
      open();
      return [...projects.values()].map(clone);
    },
    updateProject(apiKey, changes) {
      open();
      const p = projects.get(apiKey);
      if (!p) return undefined;
      const next: ProjectRecord = { ...p };
      if (changes.apiSecret !== undefined) next.apiSecret = changes.apiSecret;
      if (changes.name !== undefined) next.name = changes.name;
      if (changes.webhookUrl !== undefined) next.webhookUrl = changes.webhookUrl;
      projects.set(apiKey, next);
      return clone(next);
    },
    // --- applications ---
    createApplication(app) {
      open();
      if (!projects.has(app.apiKey)) throw new StoreError('ERR_STORE_NO_PROJECT', `Project ${app.apiKey} does not exist`);
      if (applications.has(app.applicationId)) throw new StoreError('ERR_STORE_CONFLICT', `Application ${app.applicationId} already exists`);
      applications.set(app.applicationId, clone(app));
    },
    getApplication(applicationId) {
      open();
      const a = applications.get(applicationId);
      return a && clone(a);
    },
    listApplications(apiKey) {
      open();
      return [...applications.values()].filter((a) => apiKey === undefined || a.apiKey === apiKey).map(clone);
    },
    updateApplication(applicationId, changes) {
      open();
      const a = applications.get(applicationId);
      if (!a) return undefined;
      const next: ApplicationRecord = { ...a, publicKey: changes.publicKey ?? a.publicKey, name: changes.name ?? a.name };
      applications.set(applicationId, next);
      return clone(next);
    },
    deleteApplication(applicationId) {
      open();
      return applications.delete(applicationId);
    },
    // --- end of applications ---
    createSession(session) {
      open();
      if (!projects.has(session.apiKey)) throw new StoreError('ERR_STORE_NO_PROJECT', `Project ${session.apiKey} does not exist`);
      if (sessions.has(session.sessionId)) throw new StoreError('ERR_STORE_CONFLICT', `Session ${session.sessionId} already exists`);
      sessions.set(session.sessionId, clone(session));
    },
    getSession(sessionId) {
      open();
      const s = sessions.get(sessionId);
      return s && clone(s);
    },
    listSessions(apiKey, options) {
      open();
      const all = [...sessions.values()].filter((s) => s.apiKey === apiKey);
      return page(all.map(clone), options);
    },
    createArchive: archives.create,
    getArchive: archives.get,
    listArchives: archives.list,
    updateArchive: archives.update,
    deleteArchive: archives.delete,
    listArchivesByStatus: archives.byStatus,
    createBroadcast: broadcasts.create,
    getBroadcast: broadcasts.get,
    listBroadcasts: broadcasts.list,
    listBroadcastsByStatus: broadcasts.byStatus,
    updateBroadcast: broadcasts.update,
    enqueueOutbox(item) {
      open();
      const id = nextOutboxId++;
      outbox.set(id, { ...item, id });
      return id;
    },
    claimOutboxUrls(owner, now, until) {
      open();
      const held: string[] = [];
      for (const url of new Set([...outbox.values()].map((i) => i.url))) {
        const lease = leases.get(url);
        if (lease && lease.owner !== owner && lease.until >= now) continue;
        leases.set(url, { owner, until });
        held.push(url);
      }
      return held;
    },
    listOutbox(url, limit) {
      open();
      return [...outbox.values()].filter((i) => i.url === url).slice(0, limit).map(clone);
    },
    deleteOutbox(id) {
      open();
      return outbox.delete(id);
    },
    trimOutbox(url, keep) {
      open();
      const ids = [...outbox.values()].filter((i) => i.url === url).map((i) => i.id);
      const drop = ids.slice(0, Math.max(0, ids.length - keep));
      for (const id of drop) outbox.delete(id);
      return drop.length;
    },
    releaseOutboxUrls(owner) {
      open();
      for (const [url, lease] of leases) if (owner === null || lease.owner === owner) leases.delete(url);
    },
    recordWebhookDelivery(record, keep) {
      open();
      const id = nextDeliveryId++;
      deliveries.set(id, { ...record, id, status: 'pending', attempts: 0, lastHttpStatus: null, lastError: null, updatedAt: record.createdAt });
      const mine = [...deliveries.values()].filter((d) => d.apiKey === record.apiKey);
      for (const d of mine.slice(0, Math.max(0, mine.length - keep))) deliveries.delete(d.id);
      return id;
    },
    updateWebhookDelivery(outboxId, u) {
      open();
      for (const d of deliveries.values()) {
        if (d.outboxId !== outboxId) continue;
        Object.assign(d, { status: u.status, attempts: d.attempts + (u.attempted ? 1 : 0), lastHttpStatus: u.httpStatus, lastError: u.error, updatedAt: u.at });
        return true;
      }
      return false;
    },
    listWebhookDeliveries(apiKey, options) {
      open();
      return page([...deliveries.values()].filter((d) => d.apiKey === apiKey).reverse().map(clone), options);
    },
    getWebhookDelivery(apiKey, id) {
      open();
      const d = deliveries.get(id);
      return d && d.apiKey === apiKey ? clone(d) : undefined;
    },
    requeueWebhookDelivery(apiKey, id, outboxId, at) {
      open();
      const d = deliveries.get(id);
      if (!d || d.apiKey !== apiKey) return false;
      Object.assign(d, { outboxId, status: 'pending', updatedAt: at });
      return true;
    },
    getSetting(name) {
      open();
      return settings.get(name);
    },
    putSetting(name, value) {
      open();
      settings.set(name, value);
    },
    putSettingIfAbsent(name, value) {
      open();
      if (!settings.has(name)) settings.set(name, value);
      return settings.get(name)!;
    },
    flush() {
      return Promise.resolve();
    },
    close() {
      closed = true;
    },
  };
}
