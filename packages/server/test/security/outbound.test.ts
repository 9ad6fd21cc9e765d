/**
 * Issue 17 items 3, 9 and 10: targets that API callers name (RTMP servers, SIP URIs, webhook URLs)
 * are refused on loopback unless the operator's allow-list permits them, with real loopback
 * listeners that record whether anything reached them; stream keys never reach the log; links
 * are not built from a hostile Host header.
 */
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REALTIME_PATH } from '@tokhost/protocol';
import { createServer, type TokhostServer } from '../../src/create-server.js';
import { TestClient } from '../realtime/harness.js';
import { LogSink, projectJwt } from '../rest/harness.js';
import { TestCompositions } from '../media/fixtures/test-compositions.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
const KEY = '1700017';
const SECRET = 'outbound-test-secret-0123456789abcdef';
const STREAM_KEY = 'sk_live_Zq8Xv3Lr9TtW2pNb';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OpenTok = createRequire(import.meta.url)('opentok') as new (k: string, s: string, u: string) => { generateToken(s: string, o?: object): string };

async function until<T>(what: string, fn: () => T | undefined | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A TCP listener on loopback that records every connection (an RTMP server stand-in). */
async function tcpRecorder(): Promise<{ port: number; connections: number; server: TcpServer; sockets: Set<Socket> }> {
  const r = { port: 0, connections: 0, server: createTcpServer(), sockets: new Set<Socket>() };
  r.server.on('connection', (s) => {
    r.connections++;
    r.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => r.sockets.delete(s));
    // Drop it at once: ffmpeg's RTMP handshake fails and it names the URL in its error.
    s.destroy();
  });
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
  r.port = (r.server.address() as AddressInfo).port;
  return r;
}

/** An HTTP receiver on loopback; `answer` decides the status (and a Location). */
async function httpReceiver(answer: () => { status: number; location?: string } = () => ({ status: 204 })): Promise<{ url: string; got: string[]; server: Server }> {
  const got: string[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push(body);
      const a = answer();
      res.writeHead(a.status, a.location ? { location: a.location } : {}).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server };
}

describe('outbound targets chosen by API callers', () => {
  const dirs: string[] = [];
  const servers: TokhostServer[] = [];
  const clients: TestClient[] = [];
  const closers: Array<() => unknown> = [];
  let strict: TokhostServer;
  let open: TokhostServer;
  const logsOf = new Map<TokhostServer, LogSink>();
  const logs = (s: TokhostServer) => logsOf.get(s)!.text;

  const start = async (config: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'tokhost-outbound-'));
    dirs.push(dir);
    const logs = new LogSink();
    const s = await createServer(
      { port: 0, host: '127.0.0.1', store: 'memory', apiKey: KEY, apiSecret: SECRET, dataDir: dir, logLevel: 'debug', sipPort: 0, mediaWorkers: 1, webhookRetryDelaysMs: [50, 50], ...config },
      { logStream: logs, compositions: new TestCompositions(), broadcastTuning: { rtmp: { initialBackoffMs: 100, connectAttempts: 2 } } },
    );
    servers.push(s);
    logsOf.set(s, logs);
    return s;
  };
  const rest = async (s: TokhostServer, path: string, body: unknown) => {
    const r = await fetch(`${s.url}/v2/project/${KEY}${path}`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': projectJwt(KEY, SECRET), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, text, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const routedSessionWithClient = async (s: TokhostServer) => {
    const r = await fetch(`${s.url}/session/create`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': projectJwt(KEY, SECRET), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: 'p2p.preference=disabled' });
    const sessionId = ((await r.json()) as { session_id: string }[])[0]!.session_id;
    const token = new OpenTok(KEY, SECRET, s.url).generateToken(sessionId, { role: 'publisher' });
    const { client } = await TestClient.connect({ wsUrl: s.url.replace('http', 'ws') + REALTIME_PATH, apiKey: KEY }, sessionId, token);
    clients.push(client);
    return { sessionId, token };
  };

  beforeAll(async () => {
    strict = await start({});
    open = await start({ outboundAllow: ['127.0.0.0/8'] });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.close();
    for (const c of closers) await c();
    for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it.skipIf(!hasFfmpeg)('refuses loopback RTMP servers in every spelling (400 naming the rule and field; nothing connects) and accepts them with the allow-list', async () => {
    const rtmp = await tcpRecorder();
    closers.push(() => new Promise((r) => rtmp.server.close(r)));
    const { sessionId } = await routedSessionWithClient(strict);
    const spellings = [`127.0.0.1:${rtmp.port}`, `localhost:${rtmp.port}`, `[::1]:${rtmp.port}`, `[::ffff:127.0.0.1]:${rtmp.port}`, `0x7f000001:${rtmp.port}`, `2130706433:${rtmp.port}`, `169.254.169.254`, `10.0.0.1`];
    for (const hostPort of spellings) {
      const r = await rest(strict, '/broadcast', { sessionId, outputs: { rtmp: [{ serverUrl: `rtmp://${hostPort}/live`, streamName: STREAM_KEY }] } });
      expect(r.status, hostPort).toBe(400);
      expect(r.text, hostPort).toMatch(/outputs\.rtmp\[0\]\.serverUrl/);
      expect(r.text, hostPort).toMatch(/rule: (loopback|link-local|private)/);
    }
    await sleep(500);
    expect(rtmp.connections).toBe(0);
    expect(strict.store.listBroadcasts(KEY).total).toBe(0);

    // Allowed: ffmpeg connects to the recorder (which drops it), and the output ends `error`.
    const o = await routedSessionWithClient(open);
    const r = await rest(open, '/broadcast', { sessionId: o.sessionId, outputs: { rtmp: [{ serverUrl: `rtmp://localhost:${rtmp.port}/live`, streamName: STREAM_KEY }] } });
    expect(r.status, r.text).toBe(200);
    await until('an RTMP connection', () => rtmp.connections > 0);
    const id = String(r.json['id']);
    const status = await until('the rtmp output to fail', () => {
      const out = open.store.getBroadcast(KEY, id)?.broadcast.broadcastUrls?.rtmp?.[0]?.status;
      return out === 'error' && out;
    });
    expect(status).toBe('error');
    console.info(`[outbound] rtmp: strict server refused ${spellings.length} spellings with 0 connections; allowed server made ${rtmp.connections} connection(s)`);

    // Item 9: the stream key never reached a log line, at debug level, through the failures.
    await rest(open, `/broadcast/${id}/stop`, {});
    expect(logs(open)).toMatch(/rtmp output status/);
    // ffmpeg's error names the output URL: it was logged, redacted.
    expect(logs(open)).toMatch(/rtmp:\/\/localhost:\d+\/live\/\[redacted\]/);
    expect(logs(open)).not.toContain(STREAM_KEY);
    expect(logs(strict)).not.toContain(STREAM_KEY);
  });

  it('refuses a loopback SIP target: a literal is a 400 and a name ends the call, and no packet is sent', async () => {
    const udp: UdpSocket = createSocket('udp4');
    const packets: string[] = [];
    udp.on('message', (m) => packets.push(m.toString('latin1')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => udp.close(() => r(undefined))));
    const port = udp.address().port;
    const { sessionId, token } = await routedSessionWithClient(strict);
    for (const host of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]']) {
      const r = await rest(strict, '/dial', { sessionId, token, sip: { uri: `sip:bob@${host}:${port}` } });
      expect(r.status, host).toBe(400);
      expect(r.text, host).toMatch(/sip\.uri/);
      expect(r.text, host).toMatch(/rule: loopback/);
    }
    // Not an RFC 3261 host at all (a toplabel starts with a letter): the URI grammar refuses it
    // before the outbound policy is asked.
    const hex = await rest(strict, '/dial', { sessionId, token, sip: { uri: `sip:bob@0x7f000001:${port}` } });
    expect(hex.status).toBe(400);
    expect(hex.text).toMatch(/Invalid sip\.uri/);
    // A name that resolves to loopback: the call starts and ends without a packet.
    const named = await rest(strict, '/dial', { sessionId, token, sip: { uri: `sip:bob@localhost:${port}` } });
    expect(named.status, named.text).toBe(200);
    const gateway = strict.sipGatewayForTesting()!;
    await until('the call to end', () => gateway.stats().calls === 0 && true, 10_000);
    expect(logs(strict)).toMatch(/outbound policy refuses/);
    await sleep(300);
    expect(packets).toEqual([]);

    // Allowed: the INVITE arrives.
    const o = await routedSessionWithClient(open);
    const ok = await rest(open, '/dial', { sessionId: o.sessionId, token: o.token, sip: { uri: `sip:bob@127.0.0.1:${port}` } });
    expect(ok.status, ok.text).toBe(200);
    await until('the INVITE', () => packets.some((p) => p.startsWith('INVITE sip:bob@127.0.0.1')));
    console.info(`[outbound] sip: strict server sent 0 packets; allowed server's INVITE arrived (${packets.length} packet(s))`);
  });

  it('refuses loopback webhook receivers without the allow-list, delivers with it, and never follows a redirect', async () => {
    const receiver = await httpReceiver();
    closers.push(() => new Promise((r) => receiver.server.close(r)));
    strict.webhooks.send(receiver.url, SECRET, { event: 'test', sessionId: 's1' });
    await until('the refusal to be counted', () => strict.webhooks.stats().dropped.refused === 1);
    expect(receiver.got).toEqual([]);
    // A name resolving to loopback is refused the same way.
    strict.webhooks.send(receiver.url.replace('127.0.0.1', 'localhost'), SECRET, { event: 'test', sessionId: 's1' });
    await until('the second refusal', () => strict.webhooks.stats().dropped.refused === 2);
    expect(receiver.got).toEqual([]);

    open.webhooks.send(receiver.url, SECRET, { event: 'test', sessionId: 's1' });
    await until('the delivery', () => receiver.got.length === 1);

    // A 302 to a second receiver: a failed attempt; the second receiver gets nothing.
    const second = await httpReceiver();
    closers.push(() => new Promise((r) => second.server.close(r)));
    const redirecting = await httpReceiver(() => ({ status: 302, location: second.url }));
    closers.push(() => new Promise((r) => redirecting.server.close(r)));
    const before = open.webhooks.stats();
    open.webhooks.send(redirecting.url, SECRET, { event: 'test', sessionId: 's2' });
    await until('every attempt to fail', () => open.webhooks.stats().dropped.retries === before.dropped.retries + 1);
    expect(redirecting.got).toHaveLength(3); // the first attempt and two retries
    expect(second.got).toEqual([]);
    const metrics = await (await fetch(`${open.url}/metrics`)).text();
    expect(metrics).toMatch(/tokhost_webhook_dropped_total\{reason="retries"\} 1/);
  });

  it('builds archive and HLS links from publicUrl or a trusted Host only', async () => {
    const raw = (s: TokhostServer, path: string, host: string, body?: unknown) =>
      new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
        const u = new URL(s.url);
        const req = request({ host: u.hostname, port: u.port, path: `/v2/project/${KEY}${path}`, method: body ? 'POST' : 'GET', headers: { host, 'X-OPENTOK-AUTH': projectJwt(KEY, SECRET), ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
        });
        req.on('error', reject);
        req.end(body ? JSON.stringify(body) : undefined);
      });
    const now = Date.now();
    const archive = { id: '0f0f0f0f-1111-4222-8333-444455556666', status: 'available', name: '', reason: '', sessionId: 'x', projectId: Number(KEY), partnerId: Number(KEY), createdAt: now, updatedAt: now, size: 10, duration: 1, outputMode: 'composed', hasAudio: true, hasVideo: true, sha256sum: '', password: '', resolution: '640x480', streamMode: 'auto', streams: [], event: 'archive', url: null };
    strict.store.createArchive({ apiKey: KEY, archive } as never);
    const listen = strict.url;
    for (const host of ['evil.example.com', 'evil.example.com:80', 'a@b', `${'a'.repeat(300)}.example`, '127.0.0.1:99999']) {
      const r = await raw(strict, `/archive/${archive.id}`, host);
      expect(r.status, host).toBe(200);
      expect(String(r.json['url']), host).toMatch(new RegExp(`^${listen.replace(/[.]/g, '\\.')}/`));
    }
    const fine = await raw(strict, `/archive/${archive.id}`, `localhost:${new URL(listen).port}`);
    expect(String(fine.json['url'])).toMatch(new RegExp(`^http://localhost:${new URL(listen).port}/`));
    // HLS URLs follow the same rule.
    const { sessionId } = await routedSessionWithClient(strict);
    const b = await raw(strict, '/broadcast', 'evil.example.com', { sessionId, outputs: { hls: {} } });
    expect(b.status).toBe(200);
    expect(String((b.json['broadcastUrls'] as { hls: string }).hls)).toMatch(new RegExp(`^${listen.replace(/[.]/g, '\\.')}/`));
    await rest(strict, `/broadcast/${String(b.json['id'])}/stop`, {});
  });
});
