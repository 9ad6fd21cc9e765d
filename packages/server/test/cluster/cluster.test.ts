import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer as createHttpServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { REALTIME_PATH } from '@tokhost/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/create-server.js';
import type { TokhostServer } from '../../src/create-server.js';
import type { OpenTokSdk } from '../realtime/harness.js';
import { TestClient } from '../realtime/harness.js';
import { projectJwt } from '../rest/harness.js';
import { decodeErrors, probe } from '../media/fixtures/rtmp-servers.js';
import { TestCompositions } from '../media/fixtures/test-compositions.js';
import { startBalancer, startPostgres, startRedis } from './services.js';
import type { RunningPostgres, RunningRedis } from './services.js';

const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string, options?: unknown) => OpenTokSdk & {
  createSession(o: Record<string, unknown>, cb: (err: Error | null, s?: { sessionId: string }) => void): void;
};
const KEY = '31415926';
const SECRET = randomBytes(20).toString('hex');
const MASTER = randomBytes(32).toString('hex');
const quiet = new Writable({ write: (_c, _e, cb) => cb() });
const cb = <T>(fn: (done: (err: Error | null, v?: T) => void) => void) => new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

describe('cluster mode: three nodes on PostgreSQL and Redis (in process)', () => {
  let pg: RunningPostgres;
  let redis: RunningRedis;
  let nodes: TokhostServer[] = [];
  const open: TestClient[] = [];
  const wsUrl = (n: TokhostServer) => n.url.replace(/^http/, 'ws') + REALTIME_PATH;
  /** The URL @tokhost/client opens: it names the session (and the connection a resume is for). */
  const namedUrl = (n: TokhostServer, sessionId: string, resume?: string) => `${wsUrl(n)}?session=${encodeURIComponent(sessionId)}${resume ? `&resume=${encodeURIComponent(resume)}` : ''}`;
  // Two ways into the owner: sockets whose URL names the session are piped at the TCP level;
  // sockets that do not are read for their first frame and relayed frame by frame.
  const modes = [
    { mode: 'URL names the session: piped', url: namedUrl },
    { mode: 'URL without the session: relayed frame by frame', url: (n: TokhostServer) => wsUrl(n) },
  ];

  // metricsSessionLabels: the tests find a session's owner by its label in /metrics.
  const node = (id: string, db: string) =>
    createServer(
      { port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], databaseUrl: db, masterKey: MASTER, redisUrl: redis.url, nodeId: id, apiKey: KEY, apiSecret: SECRET, logLevel: 'warn', reconnectGraceMs: 3000, metricsSessionLabels: true },
      // Broadcasts encode a real ffmpeg test picture (the HLS test below); archives are not used here.
      { logStream: quiet, compositions: new TestCompositions() },
    );

  let dbUrl = '';
  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    dbUrl = pg.createDatabase('cluster_inproc');
    nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(id, dbUrl)));
  });
  afterAll(async () => {
    open.forEach((c) => c.close());
    await Promise.all(nodes.map((n) => n.close()));
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  it.each(modes)('places a session on one owner, routes clients of other nodes to it, and forwards REST calls ($mode)', async ({ mode, url }) => {
    const [a, b, c] = nodes as [TokhostServer, TokhostServer, TokhostServer];
    const otA = new OpenTok(KEY, SECRET, { apiUrl: a.url });
    const { sessionId } = await cb<{ sessionId: string }>((d) => otA.createSession({ mediaMode: 'relayed' }, d));
    const tokenFor = () => otA.generateToken(sessionId, { role: 'moderator' });
    const onB = await TestClient.connect({ wsUrl: url(b, sessionId), apiKey: KEY }, sessionId, tokenFor());
    const onC = await TestClient.connect({ wsUrl: url(c, sessionId), apiKey: KEY }, sessionId, tokenFor());
    open.push(onB.client, onC.client);
    expect(onB.first.type).toBe('sessionConnected');
    expect(onC.first.type).toBe('sessionConnected');
    // Both are in one room (the owner's): C sees B's connection.
    const bId = (onB.first as { connection: { connectionId: string } }).connection.connectionId;
    expect((onC.first as { connections: { connectionId: string }[] }).connections.map((x) => x.connectionId)).toContain(bId);
    // Exactly one node holds the room.
    const holders = await Promise.all(nodes.map(async (n) => (await (await fetch(`${n.url}/metrics`)).text()).includes(`session="${sessionId}"`)));
    expect(holders.filter(Boolean)).toHaveLength(1);
    // The entry nodes that are not the owner count the sockets they pass on, piped or relayed.
    const owner = nodes[holders.indexOf(true)]!;
    const metric = mode.startsWith('URL names') ? 'tokhost_node_piped_sockets' : 'tokhost_node_relayed_sockets';
    const passed = await Promise.all(nodes.map(async (n) => Number(new RegExp(`${metric}\\{node="[^"]+"\\} (\\d+)`).exec(await (await fetch(`${n.url}/metrics`)).text())?.[1] ?? NaN)));
    expect(passed.reduce((x, y) => x + y, 0)).toBe([b, c].filter((n) => n !== owner).length);
    // A stream published through B is listed by every node.
    const pub = await onB.client.request({ type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } });
    expect(pub.ok).toBe(true);
    for (const n of nodes) {
      const streams = await cb<{ id: string }[]>((d) => new OpenTok(KEY, SECRET, { apiUrl: n.url }).listStreams(sessionId, d));
      expect(streams.map((s) => s.id)).toEqual([(pub.result as { stream: { streamId: string } }).stream.streamId]);
    }
    // A REST signal sent to C reaches both clients; forceDisconnect via C disconnects B.
    const otC = new OpenTok(KEY, SECRET, { apiUrl: c.url });
    const gotB = onB.client.next((m) => m.type === 'signal');
    const gotC = onC.client.next((m) => m.type === 'signal');
    await cb((d) => otC.signal(sessionId, null, { type: 'chat', data: 'via C' }, d));
    expect(await gotB).toMatchObject({ signalType: 'chat', data: 'via C' });
    expect(await gotC).toMatchObject({ signalType: 'chat', data: 'via C' });
    const destroyed = onC.client.next((m) => m.type === 'connectionDestroyed');
    await cb((d) => otC.forceDisconnect(sessionId, bId, d));
    expect(await destroyed).toMatchObject({ reason: 'forceDisconnected' });
    expect((await onB.client.closed).code).toBe(4004);
    onC.client.close();
  });

  it('refuses a join for another session than the socket URL names, on the owner and through a pipe', async () => {
    const [a, b] = nodes as [TokhostServer, TokhostServer];
    const ot = new OpenTok(KEY, SECRET, { apiUrl: a.url });
    const { sessionId } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'relayed' }, d));
    const { sessionId: other } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'relayed' }, d));
    const anchor = await TestClient.connect({ wsUrl: namedUrl(a, sessionId), apiKey: KEY }, sessionId, ot.generateToken(sessionId));
    open.push(anchor.client);
    for (const n of [a, b]) {
      const wrong = await TestClient.connect({ wsUrl: namedUrl(n, sessionId), apiKey: KEY }, other, ot.generateToken(other));
      open.push(wrong.client);
      expect(wrong.first).toMatchObject({ type: 'error', error: { code: 'ERR_RT_SESSION_INVALID' } });
      expect((wrong.first as { error: { message: string } }).error.message).toMatch(/session=/);
    }
    // Not a session ID at all: refused by the node reached (with a token of a real session: its
    // check comes first), nothing placed for it.
    const garbage = await TestClient.connect({ wsUrl: namedUrl(b, 'not-a-session'), apiKey: KEY }, 'not-a-session', ot.generateToken(sessionId));
    open.push(garbage.client);
    expect(garbage.first).toMatchObject({ type: 'error', error: { code: 'ERR_RT_TOKEN_SESSION' } });
    // An upgrade whose target does not parse as a URL ends that socket, not the node.
    for (const target of ['http://[', '/rtc/v1?session=%zz&resume']) {
      const raw = connect(Number(new URL(b.url).port), '127.0.0.1');
      raw.on('error', () => undefined);
      await new Promise<void>((r) => raw.once('connect', () => r()));
      raw.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      await new Promise<void>((r) => {
        raw.once('close', () => r());
        setTimeout(() => (raw.destroy(), r()), 3000);
      });
    }
    expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
    // Nothing was placed for the other session.
    const holders = await Promise.all(nodes.map(async (n) => (await (await fetch(`${n.url}/metrics`)).text()).includes(`session="${other}"`)));
    expect(holders.filter(Boolean)).toHaveLength(0);
    anchor.client.close();
  });

  it('delivers session-monitoring webhooks once each, from the shared outbox', async () => {
    const got: string[] = [];
    const sink = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        got.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    try {
      const [a, b] = nodes as [TokhostServer, TokhostServer];
      a.store.updateProject(KEY, { webhookUrl: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook` });
      const ot = new OpenTok(KEY, SECRET, { apiUrl: a.url });
      const { sessionId } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'relayed' }, d));
      const x = await TestClient.connect({ wsUrl: wsUrl(b), apiKey: KEY }, sessionId, ot.generateToken(sessionId));
      await x.client.request({ type: 'disconnect' });
      const end = Date.now() + 8000;
      while (got.length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1500));
      const events = got.map((g) => JSON.parse(g) as { event: string; sessionId: string }).filter((e) => e.sessionId === sessionId);
      expect(events.map((e) => e.event)).toEqual(['sessionCreated', 'connectionCreated', 'connectionDestroyed', 'sessionDestroyed']);
    } finally {
      nodes[0]!.store.updateProject(KEY, { webhookUrl: null });
      sink.closeAllConnections();
      await new Promise((r) => sink.close(r));
    }
  });

  it.each(modes)('drains a node: its clients are told to reconnect and their session moves to another node ($mode)', async ({ mode, url }) => {
    const [a, , c] = nodes as [TokhostServer, TokhostServer, TokhostServer];
    const extra = await node(mode.startsWith('URL names') ? 'd1' : 'd2', dbUrl);
    try {
      const ot = new OpenTok(KEY, SECRET, { apiUrl: a.url });
      const { sessionId } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'relayed' }, d));
      // The first client joins on d, so d owns the session (ties go to the receiving node).
      const onD = await TestClient.connect({ wsUrl: url(extra, sessionId), apiKey: KEY }, sessionId, ot.generateToken(sessionId));
      const onC = await TestClient.connect({ wsUrl: url(c, sessionId), apiKey: KEY }, sessionId, ot.generateToken(sessionId));
      open.push(onD.client, onC.client);
      const first = onC.first as { connection: { connectionId: string }; resumeKey: string };
      const drained = extra.drain(3000);
      expect((await onC.client.closed).code).toBe(1012);
      expect((await fetch(`${extra.url}/readyz`)).status).toBe(503);
      const again = await TestClient.connect({ wsUrl: url(c, sessionId, first.connection.connectionId), apiKey: KEY }, sessionId, ot.generateToken(sessionId), {
        resume: { connectionId: first.connection.connectionId, resumeKey: first.resumeKey, lastSeq: 0 },
      });
      open.push(again.client);
      expect(again.first).toMatchObject({ type: 'error', error: { code: 'ERR_RT_SESSION_MOVED' } });
      const rejoined = await TestClient.connect({ wsUrl: url(c, sessionId), apiKey: KEY }, sessionId, ot.generateToken(sessionId));
      open.push(rejoined.client);
      expect(rejoined.first.type).toBe('sessionConnected');
      await drained;
      const holders = await Promise.all(nodes.map(async (n) => (await (await fetch(`${n.url}/metrics`)).text()).includes(`session="${sessionId}"`)));
      expect(holders.filter(Boolean)).toHaveLength(1);
    } finally {
      await extra.close();
    }
  });

  it('serves a broadcast\'s HLS from every node, and marks a broadcast no live node runs stopped', async () => {
    const [a, b, c] = nodes as [TokhostServer, TokhostServer, TokhostServer];
    const ot = new OpenTok(KEY, SECRET, { apiUrl: a.url });
    const { sessionId } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'routed' }, d));
    const viewer = await TestClient.connect({ wsUrl: namedUrl(b, sessionId), apiKey: KEY }, sessionId, ot.generateToken(sessionId));
    open.push(viewer.client);
    const auth = { 'x-opentok-auth': projectJwt(KEY, SECRET), 'content-type': 'application/json' };
    // Started through C (forwarded to the owner).
    const started = await fetch(`${c.url}/v2/project/${KEY}/broadcast`, { method: 'POST', headers: auth, body: JSON.stringify({ sessionId, outputs: { hls: {} } }) });
    expect(started.status).toBe(200);
    const broadcast = (await started.json()) as { id: string; broadcastUrls: { hls: string } };
    const path = new URL(broadcast.broadcastUrls.hls).pathname;
    const holders = await Promise.all(nodes.map(async (n) => (await (await fetch(`${n.url}/metrics`)).text()).includes(`session="${sessionId}"`)));
    const owner = nodes[holders.indexOf(true)]!;
    // The playlist lists segments on every node (the first one is cut after ~2 s).
    for (const n of nodes) {
      let text = '';
      for (let i = 0; i < 100 && !/seg-\d+\.ts/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 200));
        const res = await fetch(n.url + path);
        text = res.status === 200 ? await res.text() : '';
      }
      expect(text, `playlist from ${n.nodeId}`).toMatch(/#EXTM3U[\s\S]*seg-\d+\.ts/);
    }
    // A node that does not run it serves the same bytes, decodable: ffprobe through it.
    const other = nodes.find((n) => n !== owner)!;
    const seg = /(seg-\d+\.ts)/.exec(await (await fetch(other.url + path)).text())![1]!;
    const segPath = path.replace(/index\.m3u8$/, seg);
    const [mine, theirs] = await Promise.all([fetch(owner.url + segPath).then((r) => r.arrayBuffer()), fetch(other.url + segPath).then((r) => r.arrayBuffer())]);
    expect(theirs.byteLength).toBeGreaterThan(10_000);
    expect(Buffer.from(theirs).equals(Buffer.from(mine))).toBe(true);
    const range = await fetch(other.url + segPath, { headers: { range: 'bytes=0-187' } });
    expect([200, 206]).toContain(range.status);
    const info = await probe(other.url + path);
    expect(info.video).toMatchObject({ codec: 'h264', width: 640, height: 480 });
    expect(await decodeErrors(other.url + segPath)).toBe('');
    // An unknown token is 404 on every node (no forwarding loop).
    for (const n of nodes) expect((await fetch(`${n.url}/hls/${'x'.repeat(32)}/index.m3u8`)).status).toBe(404);
    const stopped = await fetch(`${a.url}/v2/project/${KEY}/broadcast/${broadcast.id}/stop`, { method: 'POST', headers: auth });
    expect(stopped.status).toBe(200);

    // What a node that died mid-broadcast leaves in PostgreSQL: a broadcast still `started` that
    // no live node announces. A survivor's sweep marks it stopped (within two sweeps of 5 s).
    const { sessionId: lostSession } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'routed' }, d));
    const lostId = '0a1b2c3d-0000-4000-8000-00000000dead';
    const old = Date.now() - 60_000;
    a.store.createBroadcast({ apiKey: KEY, broadcast: { id: lostId, sessionId: lostSession, projectId: Number(KEY), partnerId: Number(KEY), createdAt: old, updatedAt: old, resolution: '640x480', status: 'started', maxDuration: 7200, streamMode: 'auto', hasAudio: true, hasVideo: true, event: 'broadcast', settings: { hls: { lowLatency: false, dvr: false } }, broadcastUrls: { rtmp: [] } } as never });
    let status = 'started';
    for (let i = 0; i < 150 && status === 'started'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = ((await (await fetch(`${b.url}/v2/project/${KEY}/broadcast/${lostId}`, { headers: auth })).json()) as { status: string }).status;
    }
    expect(status).toBe('stopped');
  });

  it('behind a round-robin load balancer (nginx): clients, REST signal, listStreams and HLS work wherever each request lands', async () => {
    const lb = await startBalancer(nodes.map((n) => n.url));
    try {
      const ot = new OpenTok(KEY, SECRET, { apiUrl: lb.url });
      const { sessionId } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'routed' }, d));
      const piped = async () => (await Promise.all(nodes.map(async (n) => Number(/tokhost_node_piped_sockets\{node="[^"]+"\} (\d+)/.exec(await (await fetch(`${n.url}/metrics`)).text())?.[1] ?? NaN)))).reduce((x, y) => x + y, 0);
      const pipedBefore = await piped();
      // Six sockets in a row: round robin puts two on each node, so four reach the owner through another node.
      const clients: Awaited<ReturnType<typeof TestClient.connect>>[] = [];
      for (let i = 0; i < 6; i++) {
        const x = await TestClient.connect({ wsUrl: `${lb.url.replace(/^http/, 'ws')}${REALTIME_PATH}?session=${encodeURIComponent(sessionId)}`, apiKey: KEY }, sessionId, ot.generateToken(sessionId, { role: 'moderator' }));
        open.push(x.client);
        expect(x.first.type).toBe('sessionConnected');
        clients.push(x);
      }
      expect((await piped()) - pipedBefore).toBe(4);
      // One room: the last one joined sees the five before it.
      const ids = clients.map((x) => (x.first as { connection: { connectionId: string } }).connection.connectionId);
      expect((clients[5]!.first as { connections: { connectionId: string }[] }).connections.map((x) => x.connectionId)).toEqual(expect.arrayContaining(ids.slice(0, 5)));
      // REST signals through the balancer (each to a next node) reach every client.
      for (let i = 0; i < 3; i++) {
        const got = clients.map((x) => x.client.next((m) => m.type === 'signal' && (m as { data?: string }).data === `lb${i}`));
        await cb((d) => ot.signal(sessionId, null, { type: 'lb', data: `lb${i}` }, d));
        await Promise.all(got);
      }
      // A stream published through the balancer is listed the same by every node behind it
      // (a relayed session: a routed publish needs a real WebRTC offer).
      const { sessionId: relayed } = await cb<{ sessionId: string }>((d) => ot.createSession({ mediaMode: 'relayed' }, d));
      const publisher = await TestClient.connect({ wsUrl: `${lb.url.replace(/^http/, 'ws')}${REALTIME_PATH}?session=${encodeURIComponent(relayed)}`, apiKey: KEY }, relayed, ot.generateToken(relayed, { role: 'publisher' }));
      open.push(publisher.client);
      const pub = await publisher.client.request({ type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } });
      expect(pub.ok, JSON.stringify(pub)).toBe(true);
      const streamId = (pub.result as { stream: { streamId: string } }).stream.streamId;
      for (let i = 0; i < 3; i++) expect((await cb<{ id: string }[]>((d) => ot.listStreams(relayed, d))).map((x) => x.id)).toEqual([streamId]);
      publisher.client.close();
      // A broadcast started through the balancer: its HLS URL names the balancer (the Host the
      // caller used, also when the call was forwarded to the owner), and plays from any node.
      const auth = { 'x-opentok-auth': projectJwt(KEY, SECRET), 'content-type': 'application/json' };
      const started = await fetch(`${lb.url}/v2/project/${KEY}/broadcast`, { method: 'POST', headers: auth, body: JSON.stringify({ sessionId, outputs: { hls: {} } }) });
      expect(started.status).toBe(200);
      const broadcast = (await started.json()) as { id: string; broadcastUrls: { hls: string } };
      expect(broadcast.broadcastUrls.hls.startsWith(`${lb.url}/hls/`)).toBe(true);
      let listed = 0;
      for (let i = 0; i < 100 && listed < 6; i++) {
        const res = await fetch(broadcast.broadcastUrls.hls);
        if (res.status === 200 && /seg-\d+\.ts/.test(await res.text())) listed++;
        else if (listed === 0) await new Promise((r) => setTimeout(r, 200));
        else throw new Error(`HLS through the balancer answered ${res.status} after ${listed} good answers`);
      }
      expect(listed).toBe(6);
      const info = await probe(broadcast.broadcastUrls.hls);
      expect(info.video).toMatchObject({ codec: 'h264', width: 640, height: 480 });
      expect((await fetch(`${lb.url}/v2/project/${KEY}/broadcast/${broadcast.id}/stop`, { method: 'POST', headers: auth })).status).toBe(200);
      for (const x of clients) x.client.close();
    } finally {
      await lb.stop();
    }
  });

  it('shares one operator token: of the nodes started together one generated it, the others read its hash from PostgreSQL', async () => {
    const generators = nodes.filter((n) => n.operator.generated !== null);
    expect(generators).toHaveLength(1);
    expect(nodes.filter((n) => n.operator.source === 'store')).toHaveLength(2);
    const token = generators[0]!.operator.generated!;
    // Loopback listeners, so the token is asked for only of requests that came through a proxy.
    const viaProxy = { 'x-forwarded-for': '203.0.113.9' };
    for (const n of nodes) {
      expect((await fetch(`${n.url}/metrics`, { headers: viaProxy })).status).toBe(401);
      expect((await fetch(`${n.url}/metrics`, { headers: { ...viaProxy, authorization: `Bearer ${token}` } })).status).toBe(200);
    }
  });

  it('exposes readiness and cluster-wide metrics on every node', async () => {
    for (const n of nodes) {
      expect((await fetch(`${n.url}/readyz`)).status).toBe(200);
      // The cluster figures are those of the last heartbeat (once a second).
      let text = '';
      for (let i = 0; i < 30 && !text.includes('tokhost_cluster_nodes 3'); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        text = await (await fetch(`${n.url}/metrics`)).text();
      }
      expect(text).toContain('tokhost_cluster_nodes 3');
      expect(text).toMatch(new RegExp(`tokhost_node_session_leases\\{node="${n.nodeId}"\\} \\d`));
    }
  });
});
