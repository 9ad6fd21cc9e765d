/**
 * The official OpenTok.js (npm `@opentok/client`, unmodified) in a ROUTED session loses its
 * messaging WebSocket (issue #21, acceptance item 6): the test cuts page A's socket with a TCP
 * proxy; A must emit sessionReconnecting then sessionReconnected with the same connection ID, and
 * video must flow again both ways through the media router (decoded pixels on both pages after
 * the cut). A stream published while A is away (page C) reaches A after the reconnect: A
 * subscribes to it through the router and decodes it.
 *
 * What the client does (observed with 2.35.2, server log at debug): it reopens the socket with
 * `reconnect=true` and the same `socketId`, acknowledges the messages resent to it, and asks
 * `iceRestart('socket reconnected')` of its publisher and subscribers; with their ICE still
 * connected (media does not cross the messaging socket) that sends nothing: no offer, no ICE
 * restart, no resubscribe. The router legs stay up through the server's reconnect grace period,
 * so media never stops; the stream announced while away is subscribed like any new one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, hasChromium, launchChromium, OpenTok, OPENTOK_JS_LATEST, startOpenTokJsOrigin, startServer, startTcpProxy, until } from '../kit/index.js';
import type { OpenTokJsOrigin, OpenTokSdk, OtjsEvent, Rgb, TcpProxy } from '../kit/index.js';

const BLUE: Rgb = [0, 0, 255];
const GREEN: Rgb = [0, 255, 0];
const YELLOW: Rgb = [255, 255, 0];
const near = (got: Rgb | null | undefined, want: Rgb) => !!got && got.every((c, i) => Math.abs(c - want[i]!) < 60);
/** Loading the 5 MB OpenTok.js on a busy 2-core machine takes seconds per page. */
const PAGES_MS = 150_000;

const events = (p: Page) => p.evaluate(() => window.otjs.events);
const look = (p: Page, streamId: string) => p.evaluate((id) => window.otjs.look(id), streamId);
const waitEvent = (p: Page, what: string, pred: (e: OtjsEvent) => boolean, timeoutMs = 10_000) => until(async () => (await events(p)).find(pred), { timeoutMs, what });

/** Page `p` decodes `streamId` as colour `want`, and more than `after` frames in all (frames keep coming). */
async function decodes(p: Page, streamId: string, want: Rgb, after = 0, timeoutMs = 30_000): Promise<number> {
  const got = await until(
    async () => {
      const l = await look(p, streamId);
      return !!l && l.framesDecoded > after + 5 && near(l.rgb, want) && l;
    },
    { timeoutMs, what: `frames of ${streamId} in rgb(${want.join(',')}) beyond ${after}` },
  );
  return got.framesDecoded;
}

describe.skipIf(!hasChromium)('OpenTok.js in a routed session: a cut messaging WebSocket', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let dir: string;
  let server: TokhostServer;
  let ot: OpenTokSdk;
  let otjsOrigin: OpenTokJsOrigin;
  let proxy: TcpProxy;
  let browser: Browser;
  let context: BrowserContext;

  async function openOtjs(serverUrl: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error('[page error]', err.message));
    await page.goto(otjsOrigin.url(serverUrl, OPENTOK_JS_LATEST));
    await page.waitForFunction(() => window.sdkLoaded === true, undefined, { timeout: 15_000 });
    return page;
  }
  const start = (p: Page, o: Parameters<Window['otjs']['start']>[0]) => p.evaluate((x) => window.otjs.start(x), o);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-otjs-reconnect-'));
    server = await startServer({ apiKey, apiSecret, mediaWorkers: 1, dataDir: join(dir, 'data') });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    otjsOrigin = await startOpenTokJsOrigin();
    proxy = await startTcpProxy(server.port);
    browser = await launchChromium();
    context = await browser.newContext();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await otjsOrigin?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('(6) sessionReconnecting, sessionReconnected with the same connection ID; video flows again both ways; a stream published meanwhile is decoded', async () => {
    const { sessionId } = await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb));
    const token = (data: string) => ot.generateToken(sessionId, { role: 'publisher', data });
    // A reaches the server through the proxy the test cuts; B and C go straight to it.
    const a = await openOtjs(proxy.url);
    const b = await openOtjs(server.url);
    const ida = await start(a, { apiKey, sessionId, token: token('user=a'), name: 'A', rgb: BLUE });
    const idb = await start(b, { apiKey, sessionId, token: token('user=b'), name: 'B', rgb: GREEN });
    let atA = await decodes(a, idb.streamId!, GREEN);
    let atB = await decodes(b, ida.streamId!, BLUE);

    // A is away for a few seconds (its reconnect attempts are refused); meanwhile C publishes.
    const c = await openOtjs(server.url);
    proxy.hold();
    proxy.cut();
    await waitEvent(a, 'sessionReconnecting', (e) => e.type === 'sessionReconnecting');
    const idc = await start(c, { apiKey, sessionId, token: token('user=c'), name: 'C', rgb: YELLOW, subscribe: false });
    expect((await events(a)).some((e) => e.type === 'sessionReconnected')).toBe(false);
    proxy.release();
    const back = await waitEvent(a, 'sessionReconnected', (e) => e.type === 'sessionReconnected', 20_000);
    expect(back['connectionId']).toBe(ida.connectionId);
    const reconnectMs = back.t - (await events(a)).find((e) => e.type === 'sessionReconnecting')!.t;

    // Video both ways after the cut: frames beyond those decoded before it, in the right colours.
    atA = await decodes(a, idb.streamId!, GREEN, atA, 15_000);
    atB = await decodes(b, ida.streamId!, BLUE, atB, 15_000);
    await decodes(a, idc.streamId!, YELLOW, 0, 30_000);
    // And it keeps flowing (a later ICE restart or renegotiation would stall it).
    await decodes(a, idb.streamId!, GREEN, atA + 20, 10_000);
    await decodes(b, ida.streamId!, BLUE, atB + 20, 10_000);
    console.info(`[otjs routed reconnect] sessionReconnected ${reconnectMs} ms after sessionReconnecting; A decodes B and C, B decodes A`);

    expect((await events(a)).some((e) => e.type === 'sessionDisconnected')).toBe(false);
    expect((await events(b)).some((e) => (e.type === 'connectionDestroyed' && e['connectionId'] === ida.connectionId) || (e.type === 'streamDestroyed' && e['streamId'] === ida.streamId))).toBe(false);
    const streams = await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb));
    expect(streams.map((s) => s.id).sort()).toEqual([ida.streamId, idb.streamId, idc.streamId].sort());
    for (const p of [a, b, c]) await p.close();
  }, PAGES_MS);
});
