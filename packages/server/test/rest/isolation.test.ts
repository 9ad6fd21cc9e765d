import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REST_ROUTES } from '../../src/http/rest.js';
import { archive, broadcast } from '../storage/store.contract.js';
import { call, createSessionId, KEY_A, KEY_B, SECRET_B } from './harness.js';
import { startServer } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;

describe('project isolation', () => {
  let server: Server;
  let sessionB = '';
  const ids: Record<string, string> = {};
  const snapshotB = () => ({
    project: server.store.getProject(KEY_B),
    sessions: server.store.listSessions(KEY_B, { count: 1000 }),
    archives: server.store.listArchives(KEY_B, { count: 1000 }),
    broadcasts: server.store.listBroadcasts(KEY_B, { count: 1000 }),
    deliveries: server.store.listWebhookDeliveries(KEY_B, { count: 1000 }),
    renders: server.store.listRenders(KEY_B, { count: 1000 }),
  });

  beforeAll(async () => {
    server = await startServer();
    sessionB = await createSessionId(server, 'p2p.preference=disabled', { key: KEY_B, secret: SECRET_B });
    // B's recordings in every state the routes care about, written as the recorder would.
    const done = archive(KEY_B, sessionB, Date.now() - 1000);
    const running = archive(KEY_B, sessionB, Date.now(), { status: 'started', streamMode: 'manual' });
    const live = { ...broadcast(KEY_B, sessionB, Date.now()), streamMode: 'manual' as const };
    server.store.createArchive({ apiKey: KEY_B, archive: done });
    server.store.createArchive({ apiKey: KEY_B, archive: running });
    server.store.createBroadcast({ apiKey: KEY_B, broadcast: live });
    // A render of B's that is running (Experience Composer), as the render service writes it.
    const renderId = randomUUID();
    server.store.createRender({ apiKey: KEY_B, render: { id: renderId, sessionId: sessionB, projectId: KEY_B, createdAt: Date.now(), updatedAt: Date.now(), url: 'https://page.example/x', resolution: '1280x720', status: 'started', maxDuration: 1800, properties: { name: 'EC' } } });
    const outboxId = server.store.enqueueOutbox({ url: 'http://127.0.0.1:9/hook', secret: SECRET_B, body: '{"event":"connectionCreated"}', createdAt: Date.now() });
    const deliveryId = server.store.recordWebhookDelivery({ apiKey: KEY_B, outboxId, url: 'http://127.0.0.1:9/hook', event: 'connectionCreated', body: '{"event":"connectionCreated"}', createdAt: Date.now() }, 100);
    server.store.updateWebhookDelivery(outboxId, { status: 'failed', attempted: true, httpStatus: 500, error: 'HTTP 500', at: Date.now() });
    server.store.deleteOutbox(outboxId);
    Object.assign(ids, { deliveryId: String(deliveryId), sessionId: sessionB, archiveId: running.id, broadcastId: live.id, streamId: 'stream-1', connectionId: 'connection-1', doneArchiveId: done.id, renderId });
  });
  afterAll(() => server.close());

  const bodyFor = (path: string): unknown => {
    if (path.endsWith('/archive')) return { sessionId: sessionB };
    if (path.endsWith('/broadcast')) return { sessionId: sessionB, outputs: { hls: {} } };
    if (path.endsWith('/render')) return { sessionId: sessionB, token: 'T1==x', url: 'https://page.example/x' };
    if (path.endsWith('/captions')) return { sessionId: sessionB, token: 'T1==x' };
    if (path.endsWith('/connect')) return { sessionId: sessionB, token: 'T1==x', websocket: { uri: 'ws://a.example/s' } };
    if (path.endsWith('/dial')) return { sessionId: sessionB, token: 'T1==x', sip: { uri: 'sip:a@b.c' } };
    if (path.endsWith('/streams')) return { addStream: 'stream-1' };
    if (path.endsWith('/layout')) return { type: 'bestFit' };
    if (path.endsWith('/play-dtmf')) return { digits: '1' };
    if (path.endsWith('/signal')) return { type: 'chat', data: 'x' };
    if (path.endsWith('/session/:sessionId/stream')) return { items: [{ id: 'stream-1', layoutClassList: [] }] };
    if (path.endsWith('/stream/:streamId')) return { layoutClassList: ['focus'] };
    return {};
  };

  it("refuses every route called with A's credentials on B's IDs, and B is unchanged", async () => {
    const before = snapshotB();
    let checked = 0;
    for (const route of REST_ROUTES) {
      if (route.path === '/session/create') continue;
      for (const archiveId of route.path.includes(':archiveId') ? [ids.archiveId!, ids.doneArchiveId!] : [ids.archiveId!]) {
        const fill = (key: string) =>
          route.path
            .replace(':key', key)
            .replace(':sessionId', ids.sessionId!)
            .replace(':archiveId', archiveId)
            .replace(':broadcastId', ids.broadcastId!)
            .replace(':streamId', ids.streamId!)
            .replace(':connectionId', ids.connectionId!)
            .replace(':deliveryId', ids.deliveryId!)
            .replace(':renderId', ids.renderId!)

            .replace(':captionsId', '00000000-0000-4000-8000-000000000000')
            .replace(':connectId', '00000000-0000-4000-8000-000000000000');
        const query = route.method === 'GET' && (route.path.endsWith('/archive') || route.path.endsWith('/broadcast')) ? `?sessionId=${sessionB}` : '';
        const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : JSON.stringify(bodyFor(route.path));
        const headers = body ? { 'content-type': 'application/json' } : undefined;
        // A's credentials with B's key in the path: the key does not match the issuer.
        const onB = await call(server, route.method, fill(KEY_B) + query, { ...(body ? { body } : {}), ...(headers ? { headers } : {}) });
        expect(onB.status, `${route.method} ${route.path} on B's path`).toBe(403);
        // A's credentials on A's path with B's IDs: B's resources do not exist for A.
        const onA = await call(server, route.method, fill(KEY_A) + query, { ...(body ? { body } : {}), ...(headers ? { headers } : {}) });
        const lists = ['/v2/project/:key/session', '/v2/project/:key/webhook/deliveries'];
        if (lists.includes(route.path) || (route.method === 'GET' && route.path === '/v2/project/:key/render')) {
          // The admin lists name no ID: A's answer holds none of B's.
          expect(onA.status, `${route.method} ${route.path}`).toBe(200);
          expect((onA.json as { count: number }).count, `${route.path} lists nothing of B's`).toBe(0);
        } else expect(onA.status, `${route.method} ${route.path} with B's IDs`).toBe(404);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(25);
    // Session create cannot claim B either.
    const claim = await call(server, 'POST', '/session/create', { body: `api_key=${KEY_B}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(claim.status).toBe(400);
    expect(snapshotB()).toEqual(before);
    expect(server.store.listSessions(KEY_A).total).toBe(0);
  });
});
