import { randomUUID } from 'node:crypto';
import type { ArchiveJson, BroadcastJson } from '@tokhost/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApplicationRecord, ProjectRecord, SessionRecord, Store } from '../../src/storage/store.js';
import { StoreError } from '../../src/storage/store.js';

/** Builds a fresh store per test; `reopen` (when the store persists) opens the same data again. */
export interface StoreHarness {
  open(): Store;
  reopen?(): Store;
  cleanup?(): void;
}

export const project = (apiKey: string, over: Partial<ProjectRecord> = {}): ProjectRecord => ({
  apiKey,
  apiSecret: 'a'.repeat(40),
  name: `p${apiKey}`,
  createdAt: 1_700_000_000_000,
  webhookUrl: null,
  ...over,
});

export const session = (sessionId: string, apiKey: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
  sessionId,
  apiKey,
  mediaMode: 'routed',
  archiveMode: 'manual',
  archiveName: null,
  archiveResolution: null,
  location: null,
  e2ee: false,
  createdAt: 1_700_000_000_000,
  ...over,
});

export const archive = (apiKey: string, sessionId: string, createdAt: number, over: Partial<ArchiveJson> = {}): ArchiveJson => ({
  id: randomUUID(),
  status: 'available',
  name: 'a',
  reason: '',
  sessionId,
  projectId: Number(apiKey),
  partnerId: Number(apiKey),
  createdAt,
  updatedAt: createdAt,
  size: 10,
  duration: 1,
  outputMode: 'composed',
  hasAudio: true,
  hasVideo: true,
  resolution: '640x480',
  streamMode: 'auto',
  url: null,
  sha256sum: '',
  password: '',
  ...over,
});

export const broadcast = (apiKey: string, sessionId: string, createdAt: number): BroadcastJson => ({
  id: randomUUID(),
  sessionId,
  projectId: Number(apiKey),
  createdAt,
  updatedAt: createdAt,
  resolution: '640x480',
  status: 'started',
  maxDuration: 14400,
  streamMode: 'auto',
  broadcastUrls: { hls: 'http://x/y.m3u8' },
});

export const application = (apiKey: string, createdAt: number): ApplicationRecord => ({
  applicationId: randomUUID(),
  apiKey,
  publicKey: `-----BEGIN PUBLIC KEY-----\n${randomUUID()}\n-----END PUBLIC KEY-----\n`,
  name: `app of ${apiKey}`,
  createdAt,
});

/** The behaviour every `Store` implementation must have (hono-style shared suite). */
export function storeContract(name: string, harness: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(() => {
      store = harness.open();
    });
    afterEach(() => {
      store.close();
      harness.cleanup?.();
    });

    it('creates, reads, lists and updates projects with the clear secret', () => {
      store.createProject(project('111'));
      store.createProject(project('222', { createdAt: 1_700_000_000_001, webhookUrl: 'https://h/x' }));
      expect(store.getProject('111')).toEqual(project('111'));
      expect(store.getProject('999')).toBeUndefined();
      expect(store.listProjects().map((p) => p.apiKey)).toEqual(['111', '222']);
      const updated = store.updateProject('111', { apiSecret: 'b'.repeat(40), webhookUrl: 'https://w/h' });
      expect(updated).toEqual({ ...project('111'), apiSecret: 'b'.repeat(40), webhookUrl: 'https://w/h' });
      expect(store.getProject('111')?.apiSecret).toBe('b'.repeat(40));
      expect(store.updateProject('111', { webhookUrl: null })?.webhookUrl).toBeNull();
      expect(store.updateProject('999', { name: 'x' })).toBeUndefined();
    });

    it('refuses a duplicate project key', () => {
      store.createProject(project('111'));
      expect(() => store.createProject(project('111'))).toThrow(StoreError);
      try {
        store.createProject(project('111'));
      } catch (err) {
        expect((err as StoreError).code).toBe('ERR_STORE_CONFLICT');
      }
    });

    it('does not share mutable state with callers', () => {
      const p = project('111');
      store.createProject(p);
      p.name = 'changed';
      const got = store.getProject('111')!;
      got.apiSecret = 'zzz';
      expect(store.getProject('111')?.name).toBe('p111');
      expect(store.getProject('111')?.apiSecret).toBe('a'.repeat(40));
    });

    it('stores every session field and lists sessions per project', () => {
      store.createProject(project('111'));
      store.createProject(project('222'));
      const s1 = session('1_A', '111', { mediaMode: 'relayed', location: '10.0.0.1' });
      const s2 = session('1_B', '111', { archiveMode: 'always', archiveName: 'n', archiveResolution: '1280x720', e2ee: false, createdAt: 1_700_000_000_005 });
      const s3 = session('1_C', '222', { e2ee: true });
      [s1, s2, s3].forEach((s) => store.createSession(s));
      expect(store.getSession('1_A')).toEqual(s1);
      expect(store.getSession('1_B')).toEqual(s2);
      expect(store.getSession('1_C')).toEqual(s3);
      expect(store.getSession('1_X')).toBeUndefined();
      const page = store.listSessions('111');
      expect(page.total).toBe(2);
      expect(page.items.map((s) => s.sessionId)).toEqual(['1_A', '1_B']);
      expect(store.listSessions('111', { offset: 1, count: 1 }).items.map((s) => s.sessionId)).toEqual(['1_B']);
    });

    it('refuses duplicate sessions and sessions of unknown projects', () => {
      store.createProject(project('111'));
      store.createSession(session('1_A', '111'));
      expect(() => store.createSession(session('1_A', '111'))).toThrow(expect.objectContaining({ code: 'ERR_STORE_CONFLICT' }));
      expect(() => store.createSession(session('1_B', '999'))).toThrow(expect.objectContaining({ code: 'ERR_STORE_NO_PROJECT' }));
    });

    it('keeps archives per project, newest first, with paging, session filter, update and delete', () => {
      store.createProject(project('111'));
      store.createProject(project('222'));
      const a1 = archive('111', '1_A', 1000);
      const a2 = archive('111', '1_B', 2000);
      const a3 = archive('111', '1_A', 3000, { status: 'started' });
      const other = archive('222', '1_C', 1500);
      [a1, a2, a3].forEach((a) => store.createArchive({ apiKey: '111', archive: a }));
      store.createArchive({ apiKey: '222', archive: other });
      expect(() => store.createArchive({ apiKey: '111', archive: a1 })).toThrow(expect.objectContaining({ code: 'ERR_STORE_CONFLICT' }));
      expect(store.getArchive('111', a1.id)?.archive).toEqual(a1);
      expect(store.getArchive('222', a1.id)).toBeUndefined();
      const all = store.listArchives('111');
      expect(all.total).toBe(3);
      expect(all.items.map((r) => r.archive.id)).toEqual([a3.id, a2.id, a1.id]);
      expect(store.listArchives('111', { offset: 1, count: 1 })).toEqual({ total: 3, items: [{ apiKey: '111', archive: a2 }] });
      expect(store.listArchives('111', { sessionId: '1_A' }).items.map((r) => r.archive.id)).toEqual([a3.id, a1.id]);
      expect(store.listArchives('111', { sessionId: '1_A' }).total).toBe(2);
      const stopped = { ...a3, status: 'stopped' as const, updatedAt: 4000 };
      expect(store.updateArchive('111', stopped)?.archive).toEqual(stopped);
      expect(store.updateArchive('222', stopped)).toBeUndefined();
      expect(store.getArchive('111', a3.id)?.archive.status).toBe('stopped');
      expect(store.deleteArchive('222', a1.id)).toBe(false);
      expect(store.deleteArchive('111', a1.id)).toBe(true);
      expect(store.getArchive('111', a1.id)).toBeUndefined();
      expect(store.listArchives('222').items.map((r) => r.archive.id)).toEqual([other.id]);
    });

    it('keeps broadcasts per project with update', () => {
      store.createProject(project('111'));
      store.createProject(project('222'));
      const b1 = broadcast('111', '1_A', 1000);
      const b2 = broadcast('111', '1_A', 2000);
      store.createBroadcast({ apiKey: '111', broadcast: b1 });
      store.createBroadcast({ apiKey: '111', broadcast: b2 });
      expect(store.getBroadcast('111', b1.id)?.broadcast).toEqual(b1);
      expect(store.getBroadcast('222', b1.id)).toBeUndefined();
      expect(store.listBroadcasts('111').items.map((r) => r.broadcast.id)).toEqual([b2.id, b1.id]);
      expect(store.listBroadcasts('222')).toEqual({ total: 0, items: [] });
      const stopped = { ...b1, status: 'stopped', broadcastUrls: null };
      expect(store.updateBroadcast('111', stopped)?.broadcast).toEqual(stopped);
      expect(store.updateBroadcast('222', stopped)).toBeUndefined();
    });

    it('lists archives and broadcasts by status across projects, following updates', () => {
      store.createProject(project('111'));
      store.createProject(project('222'));
      const started = archive('111', '1_A', 1000, { status: 'started' });
      const paused = archive('222', '1_B', 2000, { status: 'paused' });
      const done = archive('111', '1_A', 3000);
      [started, done].forEach((a) => store.createArchive({ apiKey: '111', archive: a }));
      store.createArchive({ apiKey: '222', archive: paused });
      const ids = (rs: { archive: ArchiveJson }[]) => rs.map((r) => r.archive.id).sort();
      expect(ids(store.listArchivesByStatus(['started', 'paused']))).toEqual([started.id, paused.id].sort());
      expect(store.listArchivesByStatus(['paused'])).toEqual([{ apiKey: '222', archive: paused }]);
      expect(store.listArchivesByStatus([])).toEqual([]);
      store.updateArchive('111', { ...started, status: 'stopped' });
      expect(ids(store.listArchivesByStatus(['started', 'paused']))).toEqual([paused.id]);
      const live = broadcast('111', '1_A', 1000);
      const ended = { ...broadcast('222', '1_B', 2000), status: 'stopped', broadcastUrls: null };
      store.createBroadcast({ apiKey: '111', broadcast: live });
      store.createBroadcast({ apiKey: '222', broadcast: ended });
      expect(store.listBroadcastsByStatus(['started'])).toEqual([{ apiKey: '111', broadcast: live }]);
      store.updateBroadcast('111', { ...live, status: 'stopped', broadcastUrls: null });
      expect(store.listBroadcastsByStatus(['started'])).toEqual([]);
      expect(store.listBroadcastsByStatus(['stopped']).map((r) => r.broadcast.id).sort()).toEqual([live.id, ended.id].sort());
    });

    it('flush resolves once writes are committed, also with nothing pending', async () => {
      await store.flush();
      store.createProject(project('111'));
      store.createSession(session('1_A', '111'));
      expect(store.getSession('1_A')?.sessionId).toBe('1_A');
      await store.flush();
      expect(store.getSession('1_A')?.sessionId).toBe('1_A');
    });

    it('keeps outbox items in order per URL until deleted, with the clear secret', () => {
      const a1 = store.enqueueOutbox({ url: 'https://a/h', secret: 's'.repeat(40), body: '{"n":1}', createdAt: 1000 });
      const b1 = store.enqueueOutbox({ url: 'https://b/h', secret: 't'.repeat(40), body: '{"n":2}', createdAt: 1001 });
      const a2 = store.enqueueOutbox({ url: 'https://a/h', secret: 's'.repeat(40), body: '{"n":3}', createdAt: 1002 });
      expect(a1).toBeLessThan(b1);
      expect(b1).toBeLessThan(a2);
      expect(store.listOutbox('https://a/h', 10)).toEqual([
        { id: a1, url: 'https://a/h', secret: 's'.repeat(40), body: '{"n":1}', createdAt: 1000 },
        { id: a2, url: 'https://a/h', secret: 's'.repeat(40), body: '{"n":3}', createdAt: 1002 },
      ]);
      expect(store.listOutbox('https://a/h', 1).map((i) => i.id)).toEqual([a1]);
      expect(store.deleteOutbox(a1)).toBe(true);
      expect(store.deleteOutbox(a1)).toBe(false);
      expect(store.listOutbox('https://a/h', 10).map((i) => i.id)).toEqual([a2]);
      expect(store.listOutbox('https://none/h', 10)).toEqual([]);
    });

    it('trims the outbox of a URL to its newest items (the outbox bound), leaving other URLs alone', () => {
      const ids = Array.from({ length: 6 }, (_, n) => store.enqueueOutbox({ url: 'https://a/h', secret: 's'.repeat(40), body: `{"n":${n}}`, createdAt: n }));
      const other = store.enqueueOutbox({ url: 'https://b/h', secret: 's'.repeat(40), body: '{}', createdAt: 9 });
      expect(store.trimOutbox('https://a/h', 4)).toBe(2);
      expect(store.listOutbox('https://a/h', 10).map((i) => i.id)).toEqual(ids.slice(2));
      expect(store.trimOutbox('https://a/h', 4)).toBe(0);
      expect(store.trimOutbox('https://a/h', 1)).toBe(3);
      expect(store.listOutbox('https://a/h', 10).map((i) => i.id)).toEqual([ids[5]]);
      expect(store.listOutbox('https://b/h', 10).map((i) => i.id)).toEqual([other]);
      expect(store.trimOutbox('https://none/h', 1)).toBe(0);
    });

    it('keeps webhook delivery records per project, newest first, bounded, with updates and requeue', () => {
      store.createProject(project('111'));
      store.createProject(project('222'));
      const rec = (apiKey: string, outboxId: number, n: number) =>
        store.recordWebhookDelivery({ apiKey, outboxId, url: 'https://a/h', event: `e${n}`, body: `{"n":${n}}`, createdAt: 1000 + n }, 3);
      const ids = [1, 2, 3, 4].map((n) => rec('111', 100 + n, n));
      const other = rec('222', 200, 9);
      const page = store.listWebhookDeliveries('111');
      expect(page.total).toBe(3);
      expect(page.items.map((d) => d.id)).toEqual([ids[3], ids[2], ids[1]]);
      expect(page.items[0]).toEqual({ id: ids[3], apiKey: '111', outboxId: 104, url: 'https://a/h', event: 'e4', body: '{"n":4}', status: 'pending', attempts: 0, lastHttpStatus: null, lastError: null, createdAt: 1004, updatedAt: 1004 });
      expect(store.listWebhookDeliveries('111', { offset: 1, count: 1 }).items.map((d) => d.id)).toEqual([ids[2]]);
      expect(store.getWebhookDelivery('111', ids[0]!)).toBeUndefined();
      expect(store.getWebhookDelivery('111', other)).toBeUndefined();
      expect(store.getWebhookDelivery('222', other)?.event).toBe('e9');

      expect(store.updateWebhookDelivery(104, { status: 'pending', attempted: true, httpStatus: 500, error: 'HTTP 500', at: 2000 })).toBe(true);
      expect(store.updateWebhookDelivery(104, { status: 'failed', attempted: true, httpStatus: null, error: 'timeout', at: 3000 })).toBe(true);
      expect(store.updateWebhookDelivery(999, { status: 'failed', attempted: true, httpStatus: null, error: 'x', at: 3000 })).toBe(false);
      expect(store.getWebhookDelivery('111', ids[3]!)).toMatchObject({ status: 'failed', attempts: 2, lastHttpStatus: null, lastError: 'timeout', updatedAt: 3000 });
      expect(store.requeueWebhookDelivery('222', ids[3]!, 105, 4000)).toBe(false);
      expect(store.requeueWebhookDelivery('111', ids[3]!, 105, 4000)).toBe(true);
      expect(store.getWebhookDelivery('111', ids[3]!)).toMatchObject({ status: 'pending', outboxId: 105, attempts: 2, updatedAt: 4000 });
      expect(store.updateWebhookDelivery(105, { status: 'delivered', attempted: true, httpStatus: 204, error: null, at: 5000 })).toBe(true);
      expect(store.getWebhookDelivery('111', ids[3]!)).toMatchObject({ status: 'delivered', attempts: 3, lastHttpStatus: 204, lastError: null });
      expect(store.listWebhookDeliveries('222').items.map((d) => d.status)).toEqual(['pending']);
    });

    it('leases outbox URLs to one owner at a time until the lease expires or is released', () => {
      store.enqueueOutbox({ url: 'https://a/h', secret: 'x'.repeat(40), body: '{}', createdAt: 1 });
      store.enqueueOutbox({ url: 'https://b/h', secret: 'x'.repeat(40), body: '{}', createdAt: 2 });
      expect(store.claimOutboxUrls('n1', 1000, 2000).sort()).toEqual(['https://a/h', 'https://b/h']);
      // Held by n1 until 2000: n2 gets nothing, n1 renews.
      expect(store.claimOutboxUrls('n2', 1500, 2500)).toEqual([]);
      expect(store.claimOutboxUrls('n1', 1500, 3000).sort()).toEqual(['https://a/h', 'https://b/h']);
      // A new URL is free for whoever claims first.
      store.enqueueOutbox({ url: 'https://c/h', secret: 'x'.repeat(40), body: '{}', createdAt: 3 });
      expect(store.claimOutboxUrls('n2', 1600, 2600)).toEqual(['https://c/h']);
      // Expired leases move.
      expect(store.claimOutboxUrls('n2', 3001, 4000).sort()).toEqual(['https://a/h', 'https://b/h', 'https://c/h']);
      store.releaseOutboxUrls('n2');
      expect(store.claimOutboxUrls('n1', 3002, 5000).sort()).toEqual(['https://a/h', 'https://b/h', 'https://c/h']);
      store.releaseOutboxUrls(null);
      expect(store.claimOutboxUrls('n3', 3003, 5000).sort()).toEqual(['https://a/h', 'https://b/h', 'https://c/h']);
    });

    it('keeps a server-wide setting: the first value stored wins', () => {
      expect(store.getSetting('operatorTokenHash')).toBeUndefined();
      expect(store.putSettingIfAbsent('operatorTokenHash', 'first')).toBe('first');
      expect(store.putSettingIfAbsent('operatorTokenHash', 'second')).toBe('first');
      expect(store.getSetting('operatorTokenHash')).toBe('first');
      expect(store.getSetting('other')).toBeUndefined();
      store.putSetting('operatorTokenHash', 'replaced');
      expect(store.getSetting('operatorTokenHash')).toBe('replaced');
      store.putSetting('other', 'new');
      expect(store.getSetting('other')).toBe('new');
    });

    it('keeps applications per project: create, read, list, re-key, delete; refuses duplicates and unknown projects', () => {
      store.createProject(project('111'));
      store.createProject(project('222'));
      const a1 = application('111', 1_700_000_000_000);
      const a2 = application('111', 1_700_000_000_001);
      const b1 = application('222', 1_700_000_000_002);
      for (const a of [a1, a2, b1]) store.createApplication(a);
      expect(store.getApplication(a1.applicationId)).toEqual(a1);
      expect(store.getApplication(randomUUID())).toBeUndefined();
      expect(store.listApplications('111').map((a) => a.applicationId)).toEqual([a1.applicationId, a2.applicationId]);
      expect(store.listApplications().map((a) => a.applicationId)).toEqual([a1.applicationId, a2.applicationId, b1.applicationId]);
      expect(store.listApplications('999')).toEqual([]);
      expect(() => store.createApplication(a1)).toThrow(expect.objectContaining({ code: 'ERR_STORE_CONFLICT' }));
      expect(() => store.createApplication(application('999', 1))).toThrow(expect.objectContaining({ code: 'ERR_STORE_NO_PROJECT' }));
      const rekeyed = store.updateApplication(a1.applicationId, { publicKey: 'PEM-2' });
      expect(rekeyed).toEqual({ ...a1, publicKey: 'PEM-2' });
      expect(store.getApplication(a1.applicationId)?.publicKey).toBe('PEM-2');
      expect(store.updateApplication(a1.applicationId, { name: 'renamed' })).toEqual({ ...a1, publicKey: 'PEM-2', name: 'renamed' });
      expect(store.updateApplication(randomUUID(), { name: 'x' })).toBeUndefined();
      expect(store.deleteApplication(a2.applicationId)).toBe(true);
      expect(store.deleteApplication(a2.applicationId)).toBe(false);
      expect(store.getApplication(a2.applicationId)).toBeUndefined();
      // What the caller got is a copy.
      const got = store.getApplication(b1.applicationId)!;
      got.publicKey = 'changed';
      expect(store.getApplication(b1.applicationId)?.publicKey).toBe(b1.publicKey);
    });

    it.skipIf(!harness.reopen)('keeps everything across close and reopen', () => {
      store.createProject(project('111', { webhookUrl: 'https://w/h' }));
      const s = session('1_A', '111', { location: '1.2.3.4' });
      store.createSession(s);
      const a = archive('111', '1_A', 1000);
      store.createArchive({ apiKey: '111', archive: a });
      const queued = store.enqueueOutbox({ url: 'https://w/h', secret: 'q'.repeat(40), body: '{"event":"x"}', createdAt: 5 });
      store.putSettingIfAbsent('operatorTokenHash', 'kept');
      const app = application('111', 7);
      store.createApplication(app);
      store.close();
      store = harness.reopen!();
      expect(store.getProject('111')).toEqual(project('111', { webhookUrl: 'https://w/h' }));
      expect(store.getSession('1_A')).toEqual(s);
      expect(store.getArchive('111', a.id)?.archive).toEqual(a);
      expect(store.listOutbox('https://w/h', 10)).toEqual([{ id: queued, url: 'https://w/h', secret: 'q'.repeat(40), body: '{"event":"x"}', createdAt: 5 }]);
      expect(store.getSetting('operatorTokenHash')).toBe('kept');
      expect(store.getApplication(app.applicationId)).toEqual(app);
    });
  });
}
