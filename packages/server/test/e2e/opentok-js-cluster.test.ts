/**
 * The official OpenTok.js (npm `@opentok/client`, unmodified) in a cluster (issue #21, acceptance
 * item 7): three `tokhost serve` nodes on a real PostgreSQL and Redis behind ONE round-robin TCP
 * balancer, so the client's config, session-info and messaging-socket connections land on
 * different nodes. An OpenTok.js page (blue canvas) and a `@tokhost/client` page (red fake camera)
 * in one routed session decode each other; the session's owner is SIGKILLed; both must decode
 * each other again within 10 s (the OpenTok.js page migrates to the new owner: see
 * docs/opentok-js.md, Cluster).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../cli/spawn.js';
import { startPostgres, startRedis } from '../cluster/services.js';
import type { RunningPostgres, RunningRedis } from '../cluster/services.js';
import { roundRobin, startBalancer, startClusterNodes } from '../kit/cluster.js';
import type { Balancer, ClusterNodes } from '../kit/cluster.js';
import { call, fakeCamera, hasChromium, launchChromium, OpenTok, openApp, SDK_BUILT, startAppOrigin, startOpenTokJsOrigin, until } from '../kit/index.js';
import type { AppOrigin, OpenTokJsOrigin, OtjsEvent, Rgb } from '../kit/index.js';

const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const near = (got: Rgb | null | undefined, want: Rgb) => !!got && got.every((c, i) => Math.abs(c - want[i]!) < 60);

/** The `@tokhost/client` page's newest subscriber: how many it has, its frames and mean colour. */
const newestLook = (p: Page) =>
  p.evaluate(async () => {
    const subs = window.app.subscribers;
    const sub = subs[subs.length - 1] as (typeof subs)[number] & { element?: HTMLElement };
    if (!sub) return { subscribers: 0, frames: 0, rgb: null };
    const v = sub.element?.querySelector('video') ?? (sub.element instanceof HTMLVideoElement ? sub.element : null);
    if (!v || v.videoWidth === 0) return { subscribers: subs.length, frames: 0, rgb: null };
    const c = document.createElement('canvas');
    c.width = 160;
    c.height = 120;
    const g = c.getContext('2d', { willReadFrequently: true })!;
    g.drawImage(v, 0, 0, 160, 120);
    const d = g.getImageData(40, 30, 80, 60).data;
    const m = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) {
      m[0]! += d[i]!;
      m[1]! += d[i + 1]!;
      m[2]! += d[i + 2]!;
    }
    return { subscribers: subs.length, frames: v.getVideoPlaybackQuality().totalVideoFrames, rgb: m.map((x) => Math.round(x / (d.length / 4))) as [number, number, number] };
  });

describe.skipIf(!hasChromium || !SDK_BUILT)('OpenTok.js in a cluster: three nodes, one round-robin balancer, SIGKILL of the owner', () => {
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const masterKey = randomBytes(32).toString('hex');
  let pg: RunningPostgres;
  let redis: RunningRedis;
  let shared = '';
  let cluster: ClusterNodes;
  let lb: Balancer;
  let browser: Browser;
  let context: BrowserContext;
  let otjsOrigin: OpenTokJsOrigin;
  let appOrigin: AppOrigin;

  beforeAll(async () => {
    ensureBuilt();
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    shared = mkdtempSync(join(tmpdir(), 'tokhost-otjs-cluster-'));
    cluster = await startClusterNodes({ ids: ['a', 'b', 'c'], apiKey, apiSecret, masterKey, databaseUrl: pg.createDatabase('otjs_cluster'), redisUrl: redis.url, dataDir: join(shared, 'data') });
    lb = await startBalancer(roundRobin(() => cluster.alivePorts()));
    otjsOrigin = await startOpenTokJsOrigin();
    appOrigin = await startAppOrigin();
    browser = await launchChromium(fakeCamera(shared, 'red', { size: '320x240' }));
    context = await browser.newContext();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await lb?.close();
    await otjsOrigin?.close();
    await appOrigin?.close();
    await cluster?.stopAll();
    await Promise.all([pg?.stop(), redis?.stop()]);
    if (shared) rmSync(shared, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  /** The node whose realtime layer holds the session (its metrics count one session). */
  const ownerNow = () => cluster.ownerOfOnlySession();

  it('both pages decode each other through the owner, and again within 10 s after SIGKILL of the owner', async () => {
    const ot = new OpenTok(apiKey, apiSecret, lb.url);
    const { sessionId } = await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb));

    const o = await context.newPage();
    o.on('pageerror', (err) => console.error('[page error]', err.message));
    await o.goto(otjsOrigin.url(lb.url), { timeout: 90_000 });
    await o.waitForFunction(() => window.sdkLoaded === true, undefined, { timeout: 15_000 });
    const t = await openApp(browser, appOrigin.url(lb.url));
    const ido = await o.evaluate((x) => window.otjs.start(x), { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'kind=otjs' }), name: 'OpenTok.js', rgb: BLUE });
    const idt = await t.evaluate((x) => window.app.start(x), { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'kind=tokhost' }), name: 'Tokhost', serverUrl: lb.url });

    const otjsSees = async (streamId: string) => {
      const l = await o.evaluate((id) => window.otjs.look(id), streamId);
      return l !== null && l.framesDecoded > 5 && near(l.rgb, RED) ? l.framesDecoded : 0;
    };
    await until(() => otjsSees(idt.streamId!), { timeoutMs: 30_000, what: 'the OpenTok.js page to decode the @tokhost/client page (red)' });
    await until(async () => { const l = await newestLook(t); return l.frames > 5 && near(l.rgb, BLUE); }, { timeoutMs: 30_000, what: 'the @tokhost/client page to decode the OpenTok.js page (blue)' });

    // One node holds the session: both clients' sockets reach it, whichever node they hit.
    const owner = await ownerNow();
    expect(owner).not.toBeNull();
    const text = await (await fetch(`${cluster.url(owner!)}/metrics`)).text();
    expect(text).toMatch(/^tokhost_realtime_connections 2$/m);
    const subsBefore = (await newestLook(t)).subscribers;

    const killedAt = Date.now();
    await cluster.kill(owner!);
    // The OpenTok.js page: a stream of the @tokhost/client page created after the kill, decoded red.
    const otjsBack = until(
      async () => {
        const fresh = (await o.evaluate(() => window.otjs.events)).filter((e: OtjsEvent) => e.type === 'streamCreated' && e.t >= killedAt && e['connectionId'] !== ido.connectionId);
        for (const e of fresh) if (await otjsSees(String(e['streamId']))) return Date.now() - killedAt;
        return 0;
      },
      { timeoutMs: 20_000, what: 'the OpenTok.js page to decode the @tokhost/client page again' },
    );
    const tokhostBack = until(
      async () => {
        const l = await newestLook(t);
        return l.subscribers > subsBefore && l.frames > 5 && near(l.rgb, BLUE) && Date.now() - killedAt;
      },
      { timeoutMs: 20_000, what: 'the @tokhost/client page to decode the OpenTok.js page again' },
    );
    // What each side saw after the kill (ms since the kill), for the reader of a slow or failed run.
    const timeline = async () => {
      const lines = [
        ...(await o.evaluate(() => window.otjs.events)).filter((e: OtjsEvent) => e.t >= killedAt).map((e: OtjsEvent) => `${e.t - killedAt} otjs ${e.type} ${String(e['streamId'] ?? e['connectionId'] ?? '')}`),
        ...(await t.evaluate(() => window.app.events)).filter((e) => e.t >= killedAt).map((e) => `${e.t - killedAt} tokhost ${e.type} ${String(e['streamId'] ?? e['connectionId'] ?? '')}`),
      ];
      if (process.env['TEST_LOG']) {
        for (const [id, n] of cluster.nodes) {
          for (const l of n.stdout().split('\n')) {
            const at = Number(/"time":(\d+)/.exec(l)?.[1] ?? 0);
            const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? '';
            if (at >= killedAt && msg !== 'opentok-js: message') lines.push(`${at - killedAt} node ${id}: ${msg}`);
          }
        }
      }
      return lines.sort((x, y) => parseInt(x) - parseInt(y)).join('\n');
    };
    const [otjsMs, tokhostMs] = await Promise.all([otjsBack, tokhostBack]).catch(async (err: unknown) => {
      console.error(`[otjs cluster] after the kill:\n${await timeline()}`);
      throw err;
    });
    if (Math.max(otjsMs, tokhostMs) >= 10_000) console.error(`[otjs cluster] after the kill:\n${await timeline()}`);
    const newOwner = await ownerNow();
    const events = (await o.evaluate(() => window.otjs.events)).filter((e: OtjsEvent) => e.t >= killedAt).map((e: OtjsEvent) => e.type);
    console.info(`[otjs cluster] owner ${owner} SIGKILLed; new owner ${newOwner}; OpenTok.js decodes again after ${otjsMs} ms, @tokhost/client after ${tokhostMs} ms; OpenTok.js events: ${events.join(', ')}`);
    expect(newOwner).not.toBeNull();
    expect(newOwner).not.toBe(owner);
    expect(Math.max(otjsMs, tokhostMs)).toBeLessThan(10_000);
    expect(events).not.toContain('sessionDisconnected');
    // The official SDK through the balancer sees both streams on the new owner.
    const streams = await call<{ name: string }[]>((cb) => ot.listStreams(sessionId, cb));
    expect(streams.map((s) => s.name).sort()).toEqual(['OpenTok.js', 'Tokhost']);
  }, 180_000);
});
