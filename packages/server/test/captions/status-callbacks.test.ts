/**
 * Live captions' status callbacks (issue 23; reference §4.5): a loopback HTTP receiver named as
 * `statusCallbackUrl` gets `started`, then `stopped` with reason "Stop Requested", signed with the
 * project's secret like every callback; a recogniser that fails (a Vosk-protocol engine whose
 * server is not there) ends the captions with `failed` and the reason. A callback URL of a private
 * address (not allowed by the outbound policy) or of another scheme is a 400 naming the field.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { CaptionsStatusEvent } from '../../src/captions/captions.js';
import type { TokhostServer } from '../../src/create-server.js';
import { signWebhookBody, WEBHOOK_SIGNATURE_HEADER } from '../../src/webhooks/index.js';
import { call, projectJwt, OpenTok, startServer, until, type OpenTokSdk } from '../kit/index.js';

describe('live captions status callbacks', () => {
  const apiKey = '7' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const got: { path: string; body: CaptionsStatusEvent; raw: string; headers: IncomingHttpHeaders }[] = [];
  let receiver: Server;
  let cbBase: string;
  let wss: WebSocketServer;
  let server: TokhostServer;
  let ot: OpenTokSdk;

  beforeAll(async () => {
    receiver = createHttpServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (raw += d));
      req.on('end', () => {
        got.push({ path: req.url ?? '', body: JSON.parse(raw) as CaptionsStatusEvent, raw, headers: req.headers });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    cbBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    // A port nothing listens on: the Vosk-protocol recogniser cannot be reached.
    const probe = createHttpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    // The Audio Connector's far end: a socket that only listens (its stream joins the session).
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    server = await startServer({ apiKey, apiSecret, mediaWorkers: 1, outboundAllow: ['127.0.0.0/8'], captionsEngine: 'vosk', captionsVoskUrl: `ws://127.0.0.1:${deadPort}/` });
    ot = new OpenTok(apiKey, apiSecret, server.url);
  }, 30_000);
  afterAll(async () => {
    await server?.close();
    for (const c of wss?.clients ?? []) c.terminate();
    await new Promise((r) => wss?.close(r));
    receiver?.closeAllConnections();
    await new Promise((r) => receiver?.close(r));
  });

  const jwt = () => projectJwt(apiKey, apiSecret);
  const post = (path: string, body?: unknown) => fetch(`${server.url}/v2/project/${apiKey}${path}`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const routed = async () => (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
  const callbacks = (path: string) => got.filter((g) => g.path === path);

  it('started, then stopped with "Stop Requested"; signed with the project secret', async () => {
    const sessionId = await routed();
    const res = await post('/captions', { sessionId, token: ot.generateToken(sessionId), statusCallbackUrl: `${cbBase}/a` });
    expect(res.status).toBe(202);
    const { captionsId } = (await res.json()) as { captionsId: string };
    const started = await until(async () => callbacks('/a')[0], { timeoutMs: 10_000, what: 'the started callback' });
    expect(started.body).toMatchObject({ captionId: captionsId, projectId: apiKey, sessionId, status: 'started', languageCode: 'en-US', provider: 'vosk-websocket', duration: 0 });
    expect(started.body.createdAt).toBeGreaterThan(Date.now() - 60_000);
    expect(started.body.reason).toBeUndefined();
    const sig = String(started.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()]);
    const t = Number(/^t=(\d+),/.exec(sig)?.[1]);
    expect(sig).toBe(signWebhookBody(apiSecret, started.raw, t));

    expect((await post(`/captions/${captionsId}/stop`)).status).toBe(202);
    const stopped = await until(async () => callbacks('/a')[1], { timeoutMs: 10_000, what: 'the stopped callback' });
    expect(stopped.body).toMatchObject({ captionId: captionsId, sessionId, status: 'stopped', reason: 'Stop Requested', createdAt: started.body.createdAt });
    expect(stopped.body.updatedAt).toBeGreaterThanOrEqual(started.body.updatedAt);
    expect(callbacks('/a').map((c) => c.body.status)).toEqual(['started', 'stopped']);
  }, 30_000);

  it('a recogniser that fails ends the captions: failed with the reason', async () => {
    const sessionId = await routed();
    const conn = await post('/connect', { sessionId, token: ot.generateToken(sessionId), websocket: { uri: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/far`, bidirectional: true } });
    expect(conn.status).toBe(200);
    // The Audio Connector's stream (a server participant's streams publish captions).
    await until(async () => (await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb)))[0]?.id, { timeoutMs: 10_000, what: 'the Audio Connector stream' });
    const res = await post('/captions', { sessionId, token: ot.generateToken(sessionId), statusCallbackUrl: `${cbBase}/b` });
    expect(res.status).toBe(202);
    const { captionsId } = (await res.json()) as { captionsId: string };
    const failed = await until(async () => callbacks('/b').find((c) => c.body.status === 'failed'), { timeoutMs: 15_000, what: 'the failed callback' });
    expect(failed.body).toMatchObject({ captionId: captionsId, sessionId, status: 'failed' });
    expect(failed.body.reason).toMatch(/^Speech recognition failed: .*ECONNREFUSED/);
    expect(callbacks('/b').map((c) => c.body.status)).toEqual(['started', 'failed']);
    // They are over: stop is a 404, and the session can have captions again.
    expect((await post(`/captions/${captionsId}/stop`)).status).toBe(404);
    const again = await post('/captions', { sessionId, token: ot.generateToken(sessionId) });
    expect(again.status).toBe(202);
  }, 30_000);

  it('a callback URL the outbound policy refuses, or not http(s), is a 400 naming statusCallbackUrl; nothing starts', async () => {
    const sessionId = await routed();
    for (const url of ['http://10.1.2.3/cb', 'http://[fe80::1]/cb', 'ftp://127.0.0.1/cb', 'not a url', 'http://user:pw@127.0.0.1/cb']) {
      const res = await post('/captions', { sessionId, token: ot.generateToken(sessionId), statusCallbackUrl: url });
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as { message: string }).message, url).toMatch(/statusCallbackUrl/);
    }
    // Nothing started: the session's captions can start.
    const ok = await post('/captions', { sessionId, token: ot.generateToken(sessionId) });
    expect(ok.status).toBe(202);
    expect((await post(`/captions/${((await ok.json()) as { captionsId: string }).captionsId}/stop`)).status).toBe(202);
  }, 30_000);
});
