import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REALTIME_PATH } from '@tokhost/protocol';
import type { AdminProjectJson, ListJson, LiveSessionJson, WebhookDeliveryJson } from '@tokhost/protocol';
import { TestClient } from '../realtime/harness.js';
import type { OpenTokSdk } from '../realtime/harness.js';
import { call, createSessionId, KEY_A, KEY_B, SECRET_A, SECRET_B, startServer } from './harness.js';

const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string, options?: unknown) => OpenTokSdk;

type Tokhost = Awaited<ReturnType<typeof startServer>>;

/** A webhook receiver on loopback that answers `status` (changeable) and records what it got. */
async function receiver(): Promise<{ url: string; status: number; bodies: string[]; server: Server }> {
  const r = { url: '', status: 500, bodies: [] as string[], server: undefined as unknown as Server };
  r.server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      r.bodies.push(body);
      res.writeHead(r.status).end();
    });
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
  return r;
}

async function until<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('admin API', () => {
  let server: Tokhost;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const clients: TestClient[] = [];
  let operator = '';
  let sessionA = '';
  let sessionB = '';

  beforeAll(async () => {
    hook = await receiver();
    operator = 'tho_admin-api-test-operator-token-0123456789';
    server = await startServer({ operatorToken: operator, outboundAllow: ['127.0.0.0/8'], webhookRetryDelaysMs: [50], webhookDeliveriesKept: 5 });
    server.store.updateProject(KEY_A, { webhookUrl: hook.url });
    sessionA = await createSessionId(server, 'p2p.preference=enabled');
    sessionB = await createSessionId(server, 'p2p.preference=enabled', { key: KEY_B, secret: SECRET_B });
    const wsUrl = server.url.replace('http', 'ws') + REALTIME_PATH;
    const join = async (key: string, secret: string, sessionId: string, data: string) => {
      const { client, first } = await TestClient.connect({ wsUrl, apiKey: key }, sessionId, new OpenTok(key, secret).generateToken(sessionId, { data }));
      clients.push(client);
      expect(first.type).toBe('sessionConnected');
      return client;
    };
    const a1 = await join(KEY_A, SECRET_A, sessionA, 'name=alice');
    await join(KEY_A, SECRET_A, sessionA, 'name=bob');
    const answer = await a1.request({ type: 'publish', name: 'alice-cam', hasAudio: true, hasVideo: false, videoType: 'camera' });
    expect(answer.ok, JSON.stringify(answer)).toBe(true);
    await join(KEY_B, SECRET_B, sessionB, 'name=carol');
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await server.close();
    await new Promise((r) => hook.server.close(r));
  });

  it("lists the project's live sessions with their connections and streams", async () => {
    const res = await call(server, 'GET', `/v2/project/${KEY_A}/session`);
    expect(res.status).toBe(200);
    const list = res.json as ListJson<LiveSessionJson>;
    expect(list.count).toBe(1);
    const s = list.items[0]!;
    expect(s.sessionId).toBe(sessionA);
    expect(s.mediaMode).toBe('relayed');
    expect(s.createdAt).toBeGreaterThan(Date.now() - 60_000);
    expect(s.connections.map((c) => [c.data, c.clientKind])).toEqual([
      ['name=alice', 'tokhost'],
      ['name=bob', 'tokhost'],
    ]);
    expect(s.streams).toHaveLength(1);
    expect(s.streams[0]).toMatchObject({ name: 'alice-cam', hasAudio: true, hasVideo: false, videoType: 'camera', connectionId: s.connections[0]!.connectionId });
    expect(typeof s.streams[0]!.streamId).toBe('string');
  });

  it("another project's credentials see none of it; a mismatched path is 403", async () => {
    const b = await call(server, 'GET', `/v2/project/${KEY_B}/session`, { key: KEY_B, secret: SECRET_B });
    expect(b.status).toBe(200);
    const list = b.json as ListJson<LiveSessionJson>;
    expect(list.items.map((s) => s.sessionId)).toEqual([sessionB]);
    expect(JSON.stringify(list)).not.toContain('alice');
    const cross = await call(server, 'GET', `/v2/project/${KEY_A}/session`, { key: KEY_B, secret: SECRET_B });
    expect(cross.status).toBe(403);
    expect(JSON.stringify(cross.json)).not.toContain(sessionA);
  });

  it('the operator token sees every project; a wrong one is refused', async () => {
    const auth = { auth: null, headers: { authorization: `Bearer ${operator}` } };
    const a = await call(server, 'GET', `/v2/project/${KEY_A}/session`, auth);
    const b = await call(server, 'GET', `/v2/project/${KEY_B}/session`, auth);
    expect((a.json as ListJson<LiveSessionJson>).items[0]!.sessionId).toBe(sessionA);
    expect((b.json as ListJson<LiveSessionJson>).items[0]!.sessionId).toBe(sessionB);
    const unknown = await call(server, 'GET', '/v2/project/99999999/session', auth);
    expect(unknown.status).toBe(404);
    const wrong = await call(server, 'GET', `/v2/project/${KEY_A}/session`, { auth: null, headers: { authorization: `Bearer ${operator}x` } });
    expect(wrong.status).toBe(403);
  });

  it('GET /v2/admin/projects: the operator token only, no secrets', async () => {
    const res = await call(server, 'GET', '/v2/admin/projects', { auth: null, headers: { authorization: `Bearer ${operator}` } });
    expect(res.status).toBe(200);
    const list = res.json as ListJson<AdminProjectJson>;
    expect(list.items.map((p) => p.apiKey).sort()).toEqual([KEY_A, KEY_B]);
    for (const p of list.items) expect(Object.keys(p).sort()).toEqual(['apiKey', 'createdAt', 'name']);
    expect(res.text).not.toContain(SECRET_A);
    expect(res.text).not.toContain(SECRET_B);
    const asProject = await call(server, 'GET', '/v2/admin/projects');
    expect(asProject.status).toBe(403);
    expect((asProject.json as { message: string }).message).toBe('Operator token required');
    expect((await call(server, 'GET', '/v2/admin/projects', { auth: null })).status).toBe(403);
    expect((await call(server, 'POST', '/v2/admin/projects', { auth: null, headers: { authorization: `Bearer ${operator}` } })).status).toBe(405);
  });

  it('records webhook deliveries (failed, then delivered on retry), bounded per project', async () => {
    const list = async (key = KEY_A, secret = SECRET_A, query = '') => (await call(server, 'GET', `/v2/project/${key}/webhook/deliveries${query}`, { key, secret })).json as ListJson<WebhookDeliveryJson>;
    // The joins above sent connectionCreated / streamCreated to A's hook, which answers 500: each
    // is tried twice (one retry of 50 ms), then failed.
    const failed = await until('failed deliveries', () => list(), (l) => l.items.length > 0 && l.items.every((d) => d.status === 'failed'));
    expect(failed.count).toBeLessThanOrEqual(5);
    const first = failed.items[0]!;
    expect(first).toMatchObject({ url: hook.url, status: 'failed', attempts: 2, lastHttpStatus: 500, lastError: 'HTTP 500' });
    expect(['connectionCreated', 'streamCreated']).toContain(first.event);
    expect(first.updatedAt).toBeGreaterThanOrEqual(first.createdAt);
    // B has no webhook URL: nothing recorded, and A's are not visible to B.
    expect((await list(KEY_B, SECRET_B)).count).toBe(0);
    const cross = await call(server, 'POST', `/v2/project/${KEY_A}/webhook/deliveries/${first.id}/retry`, { key: KEY_B, secret: SECRET_B });
    expect(cross.status).toBe(403);
    const onB = await call(server, 'POST', `/v2/project/${KEY_B}/webhook/deliveries/${first.id}/retry`, { key: KEY_B, secret: SECRET_B });
    expect(onB.status).toBe(404);

    hook.status = 204;
    const before = hook.bodies.length;
    const retried = await call(server, 'POST', `/v2/project/${KEY_A}/webhook/deliveries/${first.id}/retry`);
    expect(retried.status).toBe(202);
    expect((retried.json as WebhookDeliveryJson).status).toBe('pending');
    const again = await call(server, 'POST', `/v2/project/${KEY_A}/webhook/deliveries/${first.id}/retry`);
    expect([202, 409]).toContain(again.status);
    const done = await until('the retry delivered', () => list(), (l) => l.items.find((d) => d.id === first.id)?.status === 'delivered');
    expect(done.items.find((d) => d.id === first.id)).toMatchObject({ status: 'delivered', lastHttpStatus: 204, lastError: null });
    expect(hook.bodies.length).toBeGreaterThan(before);
    expect(JSON.parse(hook.bodies.at(-1)!)).toMatchObject({ sessionId: sessionA });

    // More events than the bound: only the 5 newest records stay.
    const extra = await TestClient.connect({ wsUrl: server.url.replace('http', 'ws') + REALTIME_PATH, apiKey: KEY_A }, sessionA, new OpenTok(KEY_A, SECRET_A).generateToken(sessionA, {}));
    clients.push(extra.client);
    for (let i = 0; i < 4; i++) {
      const published = await extra.client.request({ type: 'publish', name: `s${i}`, hasAudio: true, hasVideo: false, videoType: 'camera' });
      expect(published.ok, JSON.stringify(published)).toBe(true);
    }
    const bounded = await until('the bound', () => list(), (l) => l.items.some((d) => d.event === 'streamCreated' && d.id > first.id + 3));
    expect(bounded.count).toBe(5);
    expect((await list(KEY_A, SECRET_A, '?offset=1&count=2')).items.map((d) => d.id)).toEqual(bounded.items.slice(1, 3).map((d) => d.id));
  });

  it('bad query parameters and IDs are 400 naming the field; unknown IDs are 404', async () => {
    const bad = async (path: string, method = 'GET') => {
      const res = await call(server, method, path);
      return { status: res.status, message: (res.json as { message: string }).message };
    };
    expect(await bad(`/v2/project/${KEY_A}/webhook/deliveries?count=0`)).toEqual({ status: 400, message: expect.stringContaining('count') });
    expect(await bad(`/v2/project/${KEY_A}/webhook/deliveries?count=abc`)).toEqual({ status: 400, message: expect.stringContaining('count') });
    expect(await bad(`/v2/project/${KEY_A}/webhook/deliveries?offset=-1`)).toEqual({ status: 400, message: expect.stringContaining('offset') });
    expect(await bad(`/v2/project/${KEY_A}/webhook/deliveries/abc/retry`, 'POST')).toEqual({ status: 400, message: expect.stringContaining('deliveryId') });
    expect((await bad(`/v2/project/${KEY_A}/webhook/deliveries/999999/retry`, 'POST')).status).toBe(404);
  });

  it('documents the admin routes in /openapi.json', async () => {
    const doc = (await call(server, 'GET', '/openapi.json')).json as { paths: Record<string, Record<string, { security: object[] }>> };
    expect(doc.paths['/v2/admin/projects']!['get']!.security).toEqual([{ operatorToken: [] }]);
    expect(doc.paths['/v2/project/{key}/session']!['get']).toBeDefined();
    expect(doc.paths['/v2/project/{key}/webhook/deliveries']!['get']).toBeDefined();
    expect(doc.paths['/v2/project/{key}/webhook/deliveries/{deliveryId}/retry']!['post']).toBeDefined();
  });
});
