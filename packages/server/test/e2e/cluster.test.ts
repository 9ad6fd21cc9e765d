/**
 * Cluster acceptance (issue 13, items 1 and 2): three `tokhost serve` processes on a real
 * PostgreSQL and Redis, the official `opentok` SDK, and two Chromium pages, one reaching node B
 * and one node C (each through a small TCP balancer that prefers its node and falls back to the
 * others when that node's port refuses, as a load balancer with health checks does).
 *
 * - a routed session created on node A; the pages see and decode each other's video; a REST
 *   signal through node C reaches both; listStreams is the same on every node;
 * - the owner node is SIGKILLed mid-call: both pages reconnect (the client rejoins on the new
 *   owner), decode video again within 10 s, and signals work; the sessions committed to
 *   PostgreSQL are all still there; forceDisconnect through node C still works.
 *
 * - an archive started through node C records on the owner; after the kill a survivor finalises
 *   it from the shared data directory (`available`, or `failed`), never left `started`.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../cli/spawn.js';
import { startPostgres, startRedis } from '../cluster/services.js';
import type { RunningPostgres, RunningRedis } from '../cluster/services.js';
import { call, hasChromium, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, until } from '../kit/index.js';
import type { AppOrigin } from '../kit/index.js';
import { startBalancer, startClusterNodes } from '../kit/cluster.js';
import type { Balancer, ClusterNodes } from '../kit/cluster.js';

/** Frames decoded by the page's newest subscriber (after a failover it subscribes anew). */
const framesOfNewest = (p: Page) =>
  p.evaluate(async () => {
    const subs = window.app.subscribers;
    const sub = subs[subs.length - 1];
    if (!sub) return { subscribers: 0, frames: 0 };
    let frames = 0;
    try {
      (await sub.getRtcStatsReport()).forEach((r: { type: string; kind?: string; framesDecoded?: number }) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded ?? 0;
      });
    } catch {
      frames = 0;
    }
    return { subscribers: subs.length, frames };
  });

describe.skipIf(!hasChromium || !SDK_BUILT)('cluster: three tokhost serve nodes, PostgreSQL, Redis, two browsers', () => {
  const apiKey = '7' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const masterKey = randomBytes(32).toString('hex');
  let pg: RunningPostgres;
  let redis: RunningRedis;
  let db = '';
  let shared = '';
  let cluster: ClusterNodes;
  let browser: Browser;
  let appOrigin: AppOrigin;
  let lbB: Balancer;
  let lbC: Balancer;

  const psqlCount = (table: string) => Number(execFileSync('psql', [db, '-qAtc', `SELECT count(*) FROM ${table}`]).toString().trim());

  beforeAll(async () => {
    ensureBuilt();
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    db = pg.createDatabase('cluster_e2e');
    // The archive directories every node reaches (recordings and finished files).
    shared = mkdtempSync(join(tmpdir(), 'tokhost-cluster-shared-'));
    cluster = await startClusterNodes({ ids: ['a', 'b', 'c'], apiKey, apiSecret, masterKey, databaseUrl: db, redisUrl: redis.url, dataDir: shared });
    lbB = await startBalancer(() => cluster.alivePorts(['b', 'a', 'c']));
    lbC = await startBalancer(() => cluster.alivePorts(['c', 'a', 'b']));
    appOrigin = await startAppOrigin();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await lbB?.close();
    await lbC?.close();
    await appOrigin?.close();
    await cluster?.stopAll();
    await Promise.all([pg?.stop(), redis?.stop()]);
    if (shared) rmSync(shared, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  const signalsOf = (p: Page) => p.evaluate(() => window.app.signals);
  const eventsOf = (p: Page) => p.evaluate(() => window.app.events);
  /** The node whose realtime layer holds the session (its metrics count one session). */
  const ownerNow = () => cluster.ownerOfOnlySession();

  it('routes one session over three nodes, survives SIGKILL of its owner, and loses nothing in PostgreSQL', async () => {
    const url = (id: string) => cluster.url(id);
    const otA = new OpenTok(apiKey, apiSecret, url('a'));
    const { sessionId } = await call<{ sessionId: string }>((cb) => otA.createSession({ mediaMode: 'routed' }, cb));
    for (let i = 0; i < 5; i++) await call<{ sessionId: string }>((cb) => otA.createSession({}, cb));
    const token = (name: string) => otA.generateToken(sessionId, { role: 'moderator', data: `n=${name}` });

    const pageB = await openApp(browser, appOrigin.url(lbB.url));
    const pageC = await openApp(browser, appOrigin.url(lbC.url));
    await pageB.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: token('Bea'), name: 'Bea', serverUrl: lbB.url });
    await pageC.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: token('Cid'), name: 'Cid', serverUrl: lbC.url });
    for (const p of [pageB, pageC]) await until(async () => (await framesOfNewest(p)).frames > 5, { timeoutMs: 30_000, what: 'first frames' });

    const lists = await Promise.all(['a', 'b', 'c'].map((id) => call<{ id: string; name: string }[]>((cb) => new OpenTok(apiKey, apiSecret, url(id)).listStreams(sessionId, cb))));
    expect(lists[0]!.map((s) => s.name).sort()).toEqual(['Bea', 'Cid']);
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);

    const otC = new OpenTok(apiKey, apiSecret, url('c'));
    await call<void>((cb) => otC.signal(sessionId, null, { type: 'chat', data: 'before' }, cb));
    for (const p of [pageB, pageC]) await until(async () => (await signalsOf(p)).some((x) => x.data === 'before'), { timeoutMs: 5000, what: 'REST signal via C' });

    // An archive started through node C records on the owner.
    type Archiving = { startArchive(s: string, o: Record<string, unknown>, cb: (e: Error | null, a?: { id: string; status: string }) => void): void; getArchive(id: string, cb: (e: Error | null, a?: { id: string; status: string; reason: string }) => void): void };
    const archive = await call<{ id: string; status: string }>((cb) => (otC as unknown as Archiving).startArchive(sessionId, { name: 'failover' }, cb));
    expect(archive.status).toBe('started');
    await sleep(2000);

    const owner = await ownerNow();
    expect(owner).not.toBeNull();
    const sessionsBefore = psqlCount('sessions');
    const archivesBefore = psqlCount('archives');
    expect(sessionsBefore).toBe(6);
    const subsBefore = await Promise.all([pageB, pageC].map(async (p) => (await framesOfNewest(p)).subscribers));

    const killedAt = Date.now();
    await cluster.kill(owner!);
    const recovered: number[] = [];
    for (const [i, p] of [pageB, pageC].entries()) {
      await until(async () => { const s = await framesOfNewest(p); return s.subscribers > subsBefore[i]! && s.frames > 5; }, { timeoutMs: 20_000, what: 'video after the failover' });
      recovered.push(Date.now() - killedAt);
    }
    const newOwner = await ownerNow();
    console.info(`[cluster e2e] owner ${owner} SIGKILLed; video decoded again after ${recovered.join(' ms and ')} ms; new owner ${newOwner}`);
    expect(Math.max(...recovered)).toBeLessThan(10_000);
    expect(newOwner).not.toBe(owner);
    for (const p of [pageB, pageC]) expect((await eventsOf(p)).some((e) => e.type === 'sessionReconnected')).toBe(true);

    // REST through node C, or A when C was the one killed.
    const via = owner === 'c' ? otA : otC;
    await call<void>((cb) => via.signal(sessionId, null, { type: 'chat', data: 'after' }, cb));
    for (const p of [pageB, pageC]) await until(async () => (await signalsOf(p)).some((x) => x.data === 'after'), { timeoutMs: 5000, what: 'REST signal after the failover' });
    const after = await call<{ name: string }[]>((cb) => via.listStreams(sessionId, cb));
    expect(after.map((s) => s.name).sort()).toEqual(['Bea', 'Cid']);
    expect(psqlCount('sessions')).toBe(sessionsBefore);
    // The archive the dead node was recording is finalised by a survivor, never left `started`.
    const ended = await until(async () => { const a = await call<{ status: string; reason: string }>((cb) => (via as unknown as Archiving).getArchive(archive.id, cb)); return (a.status === 'available' || a.status === 'failed') && a; }, { timeoutMs: 30_000, what: 'the archive to be finalised' });
    console.info(`[cluster e2e] archive recording on the dead node ended ${ended.status} (${ended.reason})`);
    expect(psqlCount('archives')).toBe(archivesBefore);

    const bConnection = await pageB.evaluate(() => window.app.session.connection.connectionId);
    await call<void>((cb) => via.forceDisconnect(sessionId, bConnection, cb));
    await until(async () => (await eventsOf(pageB)).some((e) => e.type === 'sessionDisconnected' && e['reason'] === 'forceDisconnected'), { timeoutMs: 5000, what: 'forceDisconnect after the failover' });
  }, 120_000);
});
