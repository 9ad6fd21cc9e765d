import { createRequire } from 'node:module';
import { REALTIME_PATH } from '@tokhost/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../realtime/harness.js';
import { createSessionId, KEY_A, SECRET_A, startServer } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;
const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string) => { generateToken(sessionId: string, o?: Record<string, unknown>): string };

// The routed-call figures (router streams, subscribers, packets/s) are checked with real
// browsers in test/e2e/routed.test.ts; here: the endpoint itself and the realtime counters.
describe('GET /metrics', () => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('answers Prometheus text with the realtime counters, without starting the media router', async () => {
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
      expect(text).toContain(`tokhost_realtime_session_connections{session="${sessionId}",media_mode="relayed"} 2\n`);
      expect(text).toContain(`tokhost_realtime_session_streams{session="${sessionId}",media_mode="relayed"} 1\n`);
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
