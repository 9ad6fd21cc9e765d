import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REALTIME_PATH } from '@tokhost/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../realtime/harness.js';
import { createSessionId, KEY_A, SECRET_A, startServer } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;
const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string) => { generateToken(sessionId: string, o?: Record<string, unknown>): string };

// The routed-call figures (router streams, subscribers, packets/s) are checked with real
// browsers in test/e2e/routed.test.ts; here: the endpoint itself, its guard and the realtime counters.
describe('GET /metrics on a loopback-only server', () => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('answers Prometheus text without a token, with no session IDs, and without starting the media router', async () => {
    const sessionId = await createSessionId(server, 'p2p.preference=enabled');
    const ot = new OpenTok(KEY_A, SECRET_A);
    const wsUrl = server.url.replace(/^http/, 'ws') + REALTIME_PATH;
    const a = await TestClient.connect({ wsUrl, apiKey: KEY_A }, sessionId, ot.generateToken(sessionId));
    const b = await TestClient.connect({ wsUrl, apiKey: KEY_A }, sessionId, ot.generateToken(sessionId));
    try {
      const pub = await a.client.request({ type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } });
      expect(pub.ok).toBe(true);
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toContain('# TYPE tokhost_realtime_connections gauge\ntokhost_realtime_connections 2\n');
      expect(text).toContain('tokhost_realtime_sessions 1\n');
      expect(text).toContain('tokhost_realtime_streams{media_mode="relayed"} 1\n');
      // Session IDs name the tenant's API key: not in the labels unless metricsSessionLabels.
      expect(text).not.toContain(sessionId);
      expect(text).not.toContain('session=');
      expect(text).not.toContain(KEY_A);
      // No routed session yet: no router, so no media families, and a scrape does not start one.
      expect(text).not.toContain('tokhost_media_');
      expect(server.mediaRouterForTesting()).toBeNull();
      const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      a.client.ws.close();
      b.client.ws.close();
    }
  });

  it('asks for the token when the request came through a reverse proxy (Forwarded / X-Forwarded-For)', async () => {
    for (const headers of [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7' }] as Record<string, string>[]) {
      expect((await fetch(`${server.url}/metrics`, { headers })).status).toBe(401);
    }
  });
});

describe('GET /metrics with metricsSessionLabels', () => {
  it('labels the per-session figures with session IDs when the operator opts in', async () => {
    const server = await startServer({ metricsSessionLabels: true });
    try {
      const sessionId = await createSessionId(server, 'p2p.preference=enabled');
      const ot = new OpenTok(KEY_A, SECRET_A);
      const a = await TestClient.connect({ wsUrl: server.url.replace(/^http/, 'ws') + REALTIME_PATH, apiKey: KEY_A }, sessionId, ot.generateToken(sessionId));
      try {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        expect(text).toContain(`tokhost_realtime_session_connections{session="${sessionId}",media_mode="relayed"} 1\n`);
      } finally {
        a.client.ws.close();
      }
    } finally {
      await server.close();
    }
  });
});

describe('GET /metrics on a server reachable from other machines', () => {
  // Listens on every interface (0.0.0.0 is not "loopback only"); the test connects through
  // 127.0.0.1 only. SIP is off so nothing else binds to 0.0.0.0.
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = await startServer({ host: '0.0.0.0', sip: false });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it('refuses without the operator token and with a wrong one: 401, a JSON error, nothing leaked', async () => {
    const sessionId = await createSessionId({ url: base });
    const ot = new OpenTok(KEY_A, SECRET_A);
    const a = await TestClient.connect({ wsUrl: `ws://127.0.0.1:${server.port}${REALTIME_PATH}`, apiKey: KEY_A }, sessionId, ot.generateToken(sessionId));
    try {
      const token = server.operator.generated!;
      expect(token).toMatch(/^tho_[A-Za-z0-9_-]{43}$/);
      const wrong = [undefined, 'Bearer ', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${Buffer.from(`x:${token}`).toString('base64')}`, token, 'Bearer tho_' + 'A'.repeat(43)];
      for (const authorization of wrong) {
        const res = await fetch(`${base}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
        expect(res.status).toBe(401);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
        const text = await res.text();
        expect(JSON.parse(text)).toEqual({ code: 401, message: 'Unauthorized', description: expect.stringContaining('Authorization: Bearer') });
        expect(text).not.toContain(sessionId);
        expect(text).not.toContain('tokhost_');
      }
      expect((await fetch(`${base}/metrics`, { method: 'HEAD' })).status).toBe(401);
    } finally {
      a.client.ws.close();
    }
  });

  it('answers with the operator token (scheme case-insensitive), still without session IDs', async () => {
    const sessionId = await createSessionId({ url: base });
    const ot = new OpenTok(KEY_A, SECRET_A);
    const a = await TestClient.connect({ wsUrl: `ws://127.0.0.1:${server.port}${REALTIME_PATH}`, apiKey: KEY_A }, sessionId, ot.generateToken(sessionId));
    try {
      for (const scheme of ['Bearer', 'bearer']) {
        const res = await fetch(`${base}/metrics`, { headers: { authorization: `${scheme} ${server.operator.generated!}` } });
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(text).toMatch(/tokhost_realtime_connections [1-9]/);
        expect(text).not.toContain(sessionId);
        expect(text).not.toContain('session=');
      }
      // The generated token is never logged: tokhost serve prints it once, nobody else.
      expect(server.logs.text).not.toContain(server.operator.generated!);
    } finally {
      a.client.ws.close();
    }
  });
});

describe('the operator token', () => {
  it('comes from the configuration when given (nothing generated), and the server answers only to it', async () => {
    const configured = 'op-token-from-config-0123456789';
    const server = await startServer({ host: '0.0.0.0', sip: false, operatorToken: configured });
    try {
      expect(server.operator).toMatchObject({ source: 'config', generated: null });
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${configured}` } })).status).toBe(200);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer op-token-from-config-012345678' } })).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it('is generated once per data directory and kept as a hash: the next start reuses it and shows nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tokhost-op-'));
    try {
      const first = await startServer({ store: 'sqlite', dataDir, host: '0.0.0.0', sip: false });
      const token = first.operator.generated;
      expect(first.operator.source).toBe('generated');
      const stored = first.store.getSetting('operatorTokenHash');
      await first.close();
      expect(token).toMatch(/^tho_/);
      expect(stored).toBe(`sha256:${createHash('sha256').update(token!).digest('hex')}`);
      const second = await startServer({ store: 'sqlite', dataDir, host: '0.0.0.0', sip: false });
      try {
        expect(second.operator).toMatchObject({ source: 'store', generated: null });
        const base = `http://127.0.0.1:${second.port}`;
        expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token!}` } })).status).toBe(200);
        expect((await fetch(`${base}/metrics`)).status).toBe(401);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });

  it('asks for the token on a second loopback address (host 127.0.0.2): only 127.0.0.1, ::1 and localhost count as this machine alone', async () => {
    const server = await startServer({ host: '127.0.0.2', sip: false });
    try {
      expect(server.url).toContain('127.0.0.2');
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.operator.generated!}` } })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('asks for the token on a loopback listener published by a reverse proxy (publicUrl set)', async () => {
    const server = await startServer({ publicUrl: 'https://video.example.com' });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.operator.generated!}` } })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('GET /healthz and /readyz', () => {
  it('answers liveness and readiness without authentication, 405 for other methods', async () => {
    const server = await startServer();
    try {
      const live = await fetch(`${server.url}/healthz`);
      expect(live.status).toBe(200);
      expect(await live.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready' });
      expect((await fetch(`${server.url}/readyz`, { method: 'HEAD' })).status).toBe(200);
      expect((await fetch(`${server.url}/healthz`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${server.url}/healthzx`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
