import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { REALTIME_PATH } from '@tokhost/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/create-server.js';
import type { TokhostServer } from '../../src/create-server.js';
import type { OpenTokSdk } from '../realtime/harness.js';
import { TestClient } from '../realtime/harness.js';
import { startPostgres, startRedis } from './services.js';
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

  const node = (id: string, db: string) =>
    createServer(
      { port: 0, host: '127.0.0.1', databaseUrl: db, masterKey: MASTER, redisUrl: redis.url, nodeId: id, apiKey: KEY, apiSecret: SECRET, logLevel: 'warn', reconnectGraceMs: 3000 },
      { logStream: quiet },
    );

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const db = pg.createDatabase('cluster_inproc');
    nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(id, db)));
  });
  afterAll(async () => {
    open.forEach((c) => c.close());
    await Promise.all(nodes.map((n) => n.close()));
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  it('places a session on one owner, relays clients of other nodes to it, and forwards REST calls', async () => {
    const [a, b, c] = nodes as [TokhostServer, TokhostServer, TokhostServer];
    const otA = new OpenTok(KEY, SECRET, { apiUrl: a.url });
    const { sessionId } = await cb<{ sessionId: string }>((d) => otA.createSession({ mediaMode: 'relayed' }, d));
    const tokenFor = () => otA.generateToken(sessionId, { role: 'moderator' });
    const onB = await TestClient.connect({ wsUrl: wsUrl(b), apiKey: KEY }, sessionId, tokenFor());
    const onC = await TestClient.connect({ wsUrl: wsUrl(c), apiKey: KEY }, sessionId, tokenFor());
    open.push(onB.client, onC.client);
    expect(onB.first.type).toBe('sessionConnected');
    expect(onC.first.type).toBe('sessionConnected');
    // Both are in one room (the owner's): C sees B's connection.
    const bId = (onB.first as { connection: { connectionId: string } }).connection.connectionId;
    expect((onC.first as { connections: { connectionId: string }[] }).connections.map((x) => x.connectionId)).toContain(bId);
    // Exactly one node holds the room.
    const rooms = await Promise.all(nodes.map(async (n) => /tokhost_realtime_sessions (\d+)/.exec(await (await fetch(`${n.url}/metrics`)).text())![1]));
    expect(rooms.sort()).toEqual(['0', '0', '1']);
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
