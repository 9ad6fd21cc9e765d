/**
 * Issue #22 acceptance 1: the web console at /console in headless Chromium, against a real server
 * with two publishing `@tokhost/client` pages (a red and a blue fake camera, each with a tone).
 * It signs in with the project's key and secret, sees the live routed session with both streams
 * (their thumbnails show red and blue), mutes the red stream (its audio stops at the blue page),
 * starts an archive and a broadcast from the console, plays the broadcast's HLS, stops both, plays
 * the archive in the page (time advances, the picture holds red and blue); the operator token sees
 * the project and the charts; another project's credentials see none of it.
 *
 * TOKHOST_SCREENSHOTS=1 writes a screenshot of each screen to docs/img/console/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, fakeCamera, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, AppStats, OpenTokSdk } from '../kit/index.js';

const hasTools = hasChromium && SDK_BUILT && hasCommands('ffmpeg', 'ffprobe');
const SHOTS = process.env['TOKHOST_SCREENSHOTS'] === '1' ? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'docs', 'img', 'console') : null;

type Rgb = [number, number, number];
const isRed = ([r, g, b]: Rgb) => r > 150 && g < 90 && b < 90;
const isBlue = ([r, g, b]: Rgb) => b > 150 && r < 90 && g < 90;
const stats = async (p: Page): Promise<AppStats> => (await p.evaluate(() => window.app.stats())) ?? { framesDecoded: 0, audioEnergy: 0, audioBytes: 0, audioLevel: 0 };

describe.skipIf(!hasTools)('web console (issue #22 acceptance 1)', () => {
  const apiKey = '8' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const otherKey = '9' + String(Date.now()).slice(-7);
  const otherSecret = randomBytes(20).toString('hex');
  const operatorToken = `op_${randomBytes(24).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-console-e2e-'));
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let hooks: Server;
  let red: Browser;
  let blue: Browser;
  let viewer: Browser;
  let ot: OpenTokSdk;

  beforeAll(async () => {
    red = await launchChromium(fakeCamera(dir, 'red', { toneHz: 440 }));
    blue = await launchChromium(fakeCamera(dir, 'blue', { toneHz: 880 }));
    viewer = await launchChromium();
    // A webhook receiver, so the Webhooks screen lists real deliveries.
    hooks = createHttpServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], dataDir: join(dir, 'data'), apiKey, apiSecret, mediaWorkers: 1, operatorToken, metricsHistoryIntervalSeconds: 1, archiveIdleStopSeconds: 30 });
    server.store.updateProject(apiKey, { webhookUrl: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`, name: 'console-test' });
    server.store.createProject({ apiKey: otherKey, apiSecret: otherSecret, name: 'other', createdAt: Date.now(), webhookUrl: null });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    appOrigin = await startAppOrigin();
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    for (const b of [red, blue, viewer]) await b?.close();
    await appOrigin?.close();
    await new Promise((r) => (hooks ? hooks.close(r) : r(undefined)));
    await server?.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  const shot = async (page: Page, name: string) => {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  };

  /** Opens the console and signs in with a project's key and secret, or the operator token. */
  async function signIn(page: Page, creds: { apiKey: string; apiSecret: string } | { token: string }, screenshot = false): Promise<void> {
    await page.goto(`${server.url}/console`);
    if ('token' in creds) {
      await page.click('text=Operator token');
      await page.fill('input[name=token]', creds.token);
    } else {
      await page.fill('input[name=apiKey]', creds.apiKey);
      await page.fill('input[name=apiSecret]', creds.apiSecret);
    }
    if (screenshot) await shot(page, 'sign-in');
    await page.click('button[type=submit]');
    await page.waitForSelector('nav a[data-tab=sessions]', { timeout: 30_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message.split('\n')[0]}; the sign-in page says: ${await page.textContent('main.signin').catch(() => '?')}`);
    });
  }

  /** Mean colour of the middle of an image or video element in the console page (drawn to a canvas). */
  const colourOf = (page: Page, selector: string, fx = 0.5, fy = 0.5) =>
    page.evaluate(
      ({ selector, fx, fy }) => {
        const el = document.querySelector(selector) as HTMLImageElement | HTMLVideoElement | null;
        if (!el) return null;
        const w = el instanceof HTMLVideoElement ? el.videoWidth : el.naturalWidth;
        const h = el instanceof HTMLVideoElement ? el.videoHeight : el.naturalHeight;
        if (!w || !h) return null;
        const c = document.createElement('canvas');
        c.width = w;
        c.height = h;
        const ctx = c.getContext('2d')!;
        ctx.drawImage(el, 0, 0);
        const d = ctx.getImageData(Math.floor(w * fx) - 4, Math.floor(h * fy) - 4, 8, 8).data;
        const sum = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) sum[k]! += d[i + k]!;
        return sum.map((s) => Math.round(s / (d.length / 4))) as [number, number, number];
      },
      { selector, fx, fy },
    );

  /** The left and right halves' colours of a composed picture (bestFit puts two streams side by side): red and blue. */
  const bothColours = async (page: Page, selector: string) => {
    const left = await colourOf(page, selector, 0.25, 0.5);
    const right = await colourOf(page, selector, 0.75, 0.5);
    const ok = [left, right].some((c) => c && isRed(c)) && [left, right].some((c) => c && isBlue(c));
    return { ok, left, right };
  };

  it('signs in, sees the live session with thumbnails, mutes a stream, records, broadcasts, plays; another project sees nothing', async () => {
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    const appUrl = appOrigin.url(server.url);
    const start = async (browser: Browser, name: string) => {
      const page = await openApp(browser, appUrl);
      const ids = await page.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'publisher', data: `name=${name}` }), name, resolution: '320x240' });
      return { page, streamId: ids.streamId!, connectionId: ids.connectionId };
    };
    const r = await start(red, 'red');
    const b = await start(blue, 'blue');
    await until(async () => (await stats(b.page)).audioBytes > 0 && (await stats(r.page)).framesDecoded > 5, { timeoutMs: 25_000, what: 'the two pages receive each other' });

    const page = await viewer.newPage({ viewport: { width: 1200, height: 820 } });
    // What the console page reports (CSP refusals, hls.js errors) goes to the test log.
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") console.info(`[console page] ${m.type()}: ${m.text()}`); });
    page.on("pageerror", (e) => console.info(`[console page] error: ${e.message}`));
    page.on("response", (r) => { if (r.status() >= 400) console.info(`[console page] HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
    try {
      // Sign in with the project's key and secret: the live session, its connections and streams.
      await signIn(page, { apiKey, apiSecret }, true);
      const card = `article[data-session-id="${sessionId}"]`;
      await page.waitForSelector(card, { timeout: 20_000 });
      expect(await page.locator(`${card} tr[data-connection-id]`).count()).toBe(2);
      expect(await page.textContent(`${card} tr[data-connection-id="${r.connectionId}"]`)).toContain('name=red');
      expect(await page.textContent(`${card} tr[data-connection-id="${r.connectionId}"]`)).toContain('tokhost');

      // Thumbnails from the router's tap show each camera's colour.
      const thumb = (id: string) => `figure[data-stream-id="${id}"] img.thumb`;
      const tile = (id: string) => page.textContent(`figure[data-stream-id="${id}"]`);
      const redThumb = await until(async () => { const c = await colourOf(page, thumb(r.streamId)); return c && isRed(c) && c; }, { timeoutMs: 40_000, what: 'red thumbnail' }).catch(async (err: Error) => { throw new Error(`${err.message}; the tile says: ${await tile(r.streamId)}`); });
      const blueThumb = await until(async () => { const c = await colourOf(page, thumb(b.streamId)); return c && isBlue(c) && c; }, { timeoutMs: 40_000, what: 'blue thumbnail' }).catch(async (err: Error) => { throw new Error(`${err.message}; the tile says: ${await tile(b.streamId)}`); });
      console.info(`[console] thumbnails: red stream rgb(${redThumb.join(',')}), blue stream rgb(${blueThumb.join(',')})`);
      // They are refreshed: the src changes within a few seconds.
      const src0 = await page.getAttribute(thumb(r.streamId), 'src');
      await until(async () => (await page.getAttribute(thumb(r.streamId), 'src')) !== src0, { timeoutMs: 15_000, what: 'thumbnail refreshed' });
      await shot(page, 'sessions');

      // Mute the red stream from the console: the blue page stops receiving its audio.
      const e0 = (await stats(b.page)).audioEnergy;
      await sleep(2000);
      const e1 = (await stats(b.page)).audioEnergy;
      expect(e1).toBeGreaterThan(e0);
      await page.click(`figure[data-stream-id="${r.streamId}"] button[data-action=mute-stream]`);
      await page.waitForSelector('p.message:not(.error)', { timeout: 5000 });
      await sleep(1500);
      const m0 = (await stats(b.page)).audioEnergy;
      await sleep(2500);
      const m1 = (await stats(b.page)).audioEnergy;
      console.info(`[console] blue page's received audio energy: +${(e1 - e0).toFixed(4)} in 2 s before the mute, +${(m1 - m0).toFixed(6)} in 2.5 s after`);
      expect(m1 - m0).toBeLessThan((e1 - e0) * 0.02);

      // Start an archive and a broadcast from the console, with the layout chooser.
      await page.selectOption(`${card} select[data-field=archive-layout]`, 'bestFit');
      await page.click(`${card} button[data-action=start-archive]`);
      await page.waitForSelector(`${card} button[data-action=stop-archive]`, { timeout: 10_000 });
      await page.selectOption(`${card} select[data-field=broadcast-layout]`, 'bestFit');
      await page.click(`${card} button[data-action=start-broadcast]`);
      await page.waitForSelector(`${card} button[data-action=stop-broadcast]`, { timeout: 15_000 });

      // The broadcast's HLS plays in the Broadcasts screen (hls.js).
      await page.click('nav a[data-tab=broadcasts]');
      const playHls = await page.waitForSelector('tr[data-status=started] button[data-action=play]', { timeout: 30_000 });
      await playHls.click();
      const hlsTime = await until(async () => { const t = await page.evaluate(() => (document.querySelector('video[data-broadcast-player]') as HTMLVideoElement | null)?.currentTime ?? 0); return t > 2 && t; }, { timeoutMs: 45_000, what: 'HLS playing' });
      // The first seconds may be black (the composer starts before the streams' first frames).
      const hlsColours = await until(async () => { const c = await bothColours(page, 'video[data-broadcast-player]'); return c.ok && c; }, { timeoutMs: 30_000, what: 'red and blue in the HLS picture' });
      console.info(`[console] HLS playing (${hlsTime.toFixed(1)} s in): left rgb(${hlsColours.left?.join(',')}), right rgb(${hlsColours.right?.join(',')})`);
      await shot(page, 'broadcasts');

      // Stop both from the session's card.
      await page.click('nav a[data-tab=sessions]');
      await page.click(`${card} button[data-action=stop-broadcast]`);
      await page.waitForSelector(`${card} button[data-action=start-broadcast]`, { timeout: 15_000 });
      await page.click(`${card} button[data-action=stop-archive]`);
      await page.waitForSelector(`${card} button[data-action=start-archive]`, { timeout: 15_000 });

      // The archive becomes available and plays in the page.
      await page.click('nav a[data-tab=archives]');
      const play = await page.waitForSelector('tr[data-status=available] button[data-action=play]', { timeout: 60_000 });
      expect(await page.textContent('tr[data-status=available]')).toMatch(/\d+ s/);
      await play.click();
      const video = 'video[data-archive-player]';
      const t1 = await until(async () => { const t = await page.evaluate((s) => (document.querySelector(s) as HTMLVideoElement | null)?.currentTime ?? 0, video); return t > 0.5 && t; }, { timeoutMs: 20_000, what: 'archive playing' });
      await sleep(1000);
      const t2 = await page.evaluate((s) => (document.querySelector(s) as HTMLVideoElement).currentTime, video);
      expect(t2).toBeGreaterThan(t1);
      const archiveColours = await until(async () => { const c = await bothColours(page, video); return c.ok && c; }, { timeoutMs: 20_000, what: 'red and blue in the archive picture' });
      console.info(`[console] archive playing (${t2.toFixed(1)} s in): left rgb(${archiveColours.left?.join(',')}), right rgb(${archiveColours.right?.join(',')})`);
      await shot(page, 'archives');

      // Webhook deliveries and SIP calls.
      await page.click('nav a[data-tab=webhooks]');
      await page.waitForSelector('tr[data-delivery-id][data-status=delivered]', { timeout: 15_000 });
      await shot(page, 'webhooks');
      await page.click('nav a[data-tab=sip]');
      await page.waitForSelector('section[data-view=sip] h2 small:text("0 now")', { timeout: 10_000 });

      // The operator token: every project (the chooser), this session, and the charts.
      await page.click('button[data-action=sign-out]');
      await signIn(page, { token: operatorToken });
      await page.selectOption('select[data-field=project]', apiKey);
      await page.waitForSelector(card, { timeout: 20_000 });
      await page.click('nav a[data-tab=charts]');
      await page.waitForSelector('figure.chart canvas', { timeout: 15_000 });
      expect(await page.locator('figure.chart canvas').count()).toBeGreaterThanOrEqual(3);
      await shot(page, 'charts');

      // Another project's credentials see none of it.
      await page.click('button[data-action=sign-out]');
      await signIn(page, { apiKey: otherKey, apiSecret: otherSecret });
      await page.waitForSelector('section[data-view=sessions] p.empty', { timeout: 10_000 });
      expect(await page.locator('article[data-session-id]').count()).toBe(0);
      await page.click('nav a[data-tab=archives]');
      await page.waitForSelector('section[data-view=archives] h2 small:text("0 in all")', { timeout: 10_000 });
      await page.click('nav a[data-tab=broadcasts]');
      await page.waitForSelector('section[data-view=broadcasts] h2 small:text("0 in all")', { timeout: 10_000 });
      expect(await page.locator('nav a[data-tab=charts]').count()).toBe(0);
      // …nor through the API the console uses, with the path naming the first project.
      const denied = await page.evaluate(async ([k, s, first, sid, stream]) => {
        const enc = (o: object) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        const now = Math.floor(Date.now() / 1000);
        const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ iss: k, ist: 'project', iat: now, exp: now + 60 })}`;
        const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(s), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
        const sig = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(input))))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        const headers = { 'x-opentok-auth': `${input}.${sig}` };
        const list = await fetch(`/v2/project/${first}/session`, { headers });
        const thumb = await fetch(`/v2/project/${first}/session/${encodeURIComponent(sid)}/stream/${stream}/thumbnail`, { headers });
        const history = await fetch('/v2/admin/metrics/history', { headers });
        return [list.status, thumb.status, history.status];
      }, [otherKey, otherSecret, apiKey, sessionId, r.streamId] as const);
      expect(denied).toEqual([403, 403, 403]);
    } finally {
      await page.close();
      await r.page.close();
      await b.page.close();
    }
  }, 240_000);
});
