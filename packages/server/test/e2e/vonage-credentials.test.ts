/**
 * Both generations of credentials in one call, in headless Chromium (issue #20, acceptance 1 and
 * 3): sessions and client tokens from `@vonage/video` (application ID + private key, RS256) and
 * from the official `opentok` SDK (API key + secret), used by `@tokhost/client` pages and by the
 * official OpenTok.js, each page decoding the other's picture. One browser and one server for
 * the file.
 *
 * The `@tokhost/client` pages publish the browser's fake camera (red); the OpenTok.js page a blue
 * canvas.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaMode, Video } from '@vonage/video';
import { SignJWT } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { createApplication } from '../../src/services/applications.js';
import { call, fakeCamera, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, startAppOrigin, startOpenTokJsOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokJsOrigin, OpenTokSdk, OtjsLook, Rgb } from '../kit/index.js';

const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
/** Whether a decoded mean colour is `want` within codec error. */
const near = (got: Rgb | null | undefined, want: Rgb) => !!got && got.every((c, i) => Math.abs(c - want[i]!) < 60);
/** Time for a test that opens pages (the 5 MB OpenTok.js on a busy 2-core machine takes seconds). */
const PAGES_MS = 120_000;

type Ids = { connectionId: string; streamId: string | null };

/** A `@tokhost/client` page's events of `type` (window.app.events). */
const appEvents = (p: Page, type: string) => p.evaluate((t) => window.app.events.filter((e) => e.type === t), type);

/** The mean colour and frame count of the first remote video a `@tokhost/client` page shows. */
const appLook = (p: Page) =>
  p.evaluate(() => {
    const v = document.querySelector<HTMLVideoElement>('#others video');
    if (!v || v.videoWidth === 0) return null;
    const c = document.createElement('canvas');
    c.width = 160;
    c.height = 120;
    const g = c.getContext('2d')!;
    g.drawImage(v, 0, 0, 160, 120);
    const d = g.getImageData(40, 30, 80, 60).data;
    const m = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) m[k]! += d[i + k]!;
    return { rgb: m.map((x) => Math.round(x / (d.length / 4))) as Rgb, frames: v.getVideoPlaybackQuality().totalVideoFrames };
  });

/** `p` (a `@tokhost/client` page) sees stream `streamId` and decodes it as colour `want`, frames coming. */
async function appDecodes(p: Page, streamId: string, want: Rgb): Promise<void> {
  await until(async () => (await appEvents(p, 'streamCreated')).some((e) => e['streamId'] === streamId), { timeoutMs: 10_000, what: `streamCreated ${streamId}` });
  const first = await until(async () => { const l = await appLook(p); return !!l && l.frames > 5 && near(l.rgb, want) && l; }, { timeoutMs: 25_000, what: `frames of ${streamId} in rgb(${want.join(',')})` });
  await until(async () => { const l = await appLook(p); return !!l && l.frames > first.frames + 10; }, { timeoutMs: 10_000, what: `frames of ${streamId} to keep coming` });
}

describe.skipIf(!hasChromium || !SDK_BUILT || !hasCommands('ffmpeg'))('@vonage/video and opentok credentials together, in Chromium', () => {
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let dir: string;
  let server: TokhostServer;
  /** The official key/secret SDK. */
  let ot: OpenTokSdk;
  /** `@vonage/video` on an application of the same project. */
  let video: Video;
  let appId: string;
  let privateKey: string;
  /** `@vonage/video` on an application of another project. */
  let otherVideo: Video;
  let appOrigin: AppOrigin;
  let otjsOrigin: OpenTokJsOrigin;
  let browser: Browser;
  /** One context for the OpenTok.js pages: they share the cached 5 MB script. */
  let otjsContext: BrowserContext;

  const openTokhost = () => openApp(browser, appOrigin.url(server.url));
  const startTokhost = (p: Page, o: { apiKey: string; sessionId: string; token: string; name: string }): Promise<Ids> => p.evaluate((x) => window.app.start(x), o);
  async function openOtjs(): Promise<Page> {
    const page = await otjsContext.newPage();
    page.on('pageerror', (err) => console.error('[page error]', err.message));
    await page.goto(otjsOrigin.url(server.url));
    await page.waitForFunction(() => window.sdkLoaded === true, undefined, { timeout: 15_000 });
    return page;
  }
  const otjsLook = (p: Page, streamId: string): Promise<OtjsLook | null> => p.evaluate((id) => window.otjs.look(id), streamId);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-vonage-'));
    server = await startServer({ apiKey, apiSecret });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    const made = createApplication(server.store, { apiKey });
    appId = made.application.applicationId;
    privateKey = made.privateKey!;
    video = new Video({ applicationId: appId, privateKey }, { videoHost: server.url });
    const otherKey = '7' + String(Date.now()).slice(-7);
    server.store.createProject({ apiKey: otherKey, apiSecret: randomBytes(20).toString('hex'), name: 'other', createdAt: Date.now(), webhookUrl: null });
    const other = createApplication(server.store, { apiKey: otherKey });
    otherVideo = new Video({ applicationId: other.application.applicationId, privateKey: other.privateKey! }, { videoHost: server.url });
    appOrigin = await startAppOrigin();
    otjsOrigin = await startOpenTokJsOrigin();
    browser = await launchChromium(fakeCamera(dir, 'red', { size: '320x240' }));
    otjsContext = await browser.newContext();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await otjsOrigin?.close();
    await appOrigin?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Two `@tokhost/client` pages, one per token, in `sessionId`: each sees and decodes the other's stream. */
  async function twoTokhostPages(sessionId: string, applicationToken: string, keySecretToken: string): Promise<void> {
    const v = await openTokhost();
    const k = await openTokhost();
    try {
      // The page on application credentials names its application ID where the API key goes.
      const idv = await startTokhost(v, { apiKey: appId, sessionId, token: applicationToken, name: 'vonage' });
      const idk = await startTokhost(k, { apiKey, sessionId, token: keySecretToken, name: 'opentok' });
      await until(async () => (await appEvents(v, 'connectionCreated')).some((e) => e['connectionId'] === idk.connectionId), { timeoutMs: 8000, what: 'the application page sees the key/secret connection' });
      await until(async () => (await appEvents(k, 'connectionCreated')).some((e) => e['connectionId'] === idv.connectionId), { timeoutMs: 8000, what: 'the key/secret page sees the application connection' });
      await appDecodes(v, idk.streamId!, RED);
      await appDecodes(k, idv.streamId!, RED);
      const streams = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
      expect(streams.map((s) => [s.id, s.name]).sort()).toEqual([[idk.streamId, 'opentok'], [idv.streamId, 'vonage']].sort());
      // The other SDK sees the same call.
      const listed = (await video.getStreamInfo(sessionId)) as { items: { id: string }[] };
      expect(listed.items.map((s) => s.id).sort()).toEqual([idk.streamId, idv.streamId].sort());
    } finally {
      await v.close();
      await k.close();
    }
  }

  it('(3) a session made by @vonage/video: a page with its client token and a page with an opentok token see and decode each other', async () => {
    const sessionId = (await video.createSession({ mediaMode: MediaMode.RELAYED })).sessionId;
    await twoTokhostPages(sessionId, video.generateClientToken(sessionId, { data: 'via=vonage' }), ot.generateToken(sessionId, { data: 'via=opentok' }));
  }, PAGES_MS);

  it('(3) the reverse, routed: a session made by opentok, one page on a @vonage/video token, one on an opentok token', async () => {
    const sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    await twoTokhostPages(sessionId, video.generateClientToken(sessionId, { role: 'moderator' as never }), ot.generateToken(sessionId));
  }, PAGES_MS);

  it('(1) OpenTok.js connects and publishes with a @vonage/video client token; a @tokhost/client page on an opentok token decodes it and the reverse', async () => {
    const sessionId = (await video.createSession({ mediaMode: MediaMode.RELAYED })).sessionId;
    const o = await openOtjs();
    const t = await openTokhost();
    try {
      // As a Vonage app does: OT.initSession(applicationId, sessionId) with generateClientToken's token.
      const ido = await o.evaluate((x) => window.otjs.start(x), { apiKey: appId, sessionId, token: video.generateClientToken(sessionId, { data: 'otjs=vonage' }), name: 'OpenTok.js on Vonage', rgb: BLUE });
      const idt = await startTokhost(t, { apiKey, sessionId, token: ot.generateToken(sessionId, { data: 'tokhost=opentok' }), name: 'tokhost' });
      expect(ido.streamId).toEqual(expect.any(String));
      await until(async () => (await o.evaluate(() => window.otjs.events)).some((e) => e.type === 'connectionCreated' && e['connectionId'] === idt.connectionId && e['data'] === 'tokhost=opentok'), { timeoutMs: 8000, what: 'OpenTok.js sees the Tokhost connection with its data' });
      await until(async () => (await appEvents(t, 'connectionCreated')).some((e) => e['connectionId'] === ido.connectionId), { timeoutMs: 8000, what: 'the Tokhost page sees the OpenTok.js connection' });
      await appDecodes(t, ido.streamId!, BLUE);
      const seen = await until(async () => { const l = await otjsLook(o, idt.streamId!); return !!l && l.framesDecoded > 5 && near(l.rgb, RED) && l; }, { timeoutMs: 25_000, what: 'OpenTok.js decodes the red camera' });
      expect(seen.framesDecoded).toBeGreaterThan(5);
      const streams = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
      expect(streams.map((s) => [s.id, s.name]).sort()).toEqual([[ido.streamId, 'OpenTok.js on Vonage'], [idt.streamId, 'tokhost']].sort());
    } finally {
      await o.close();
      await t.close();
    }
  }, PAGES_MS);

  it('(1) OpenTok.js refuses expired, other-application and wrong-key RS256 tokens with its authentication error (1004)', async () => {
    const sessionId = (await video.createSession({ mediaMode: MediaMode.RELAYED })).sessionId;
    const p = await openOtjs();
    try {
      const tryConnect = (token: string, key = appId) => p.evaluate((x) => window.otjs.tryConnect(x), { apiKey: key, sessionId, token });
      // The control: a good application token connects.
      expect(await tryConnect(video.generateClientToken(sessionId))).toBeNull();
      // @vonage/video always signs `exp` = `iat` + 15 min: an expired one is signed here with the same claims.
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ scope: 'session.connect', session_id: sessionId, role: 'publisher', initial_layout_class_list: '', sub: 'video', acl: { paths: { '/session/**': {} } }, jti: randomUUID(), iat: now - 1000, exp: now - 100, application_id: appId })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
        .sign(createPrivateKey(privateKey));
      const good = video.generateClientToken(sessionId);
      const [head, body] = good.split('.');
      const stray = new Video({ applicationId: appId, privateKey: createApplication(server.store, { apiKey }).privateKey! }, { videoHost: server.url });
      const cases: [string, string][] = [
        ['expired', expired],
        ['another project\'s application', otherVideo.generateClientToken(sessionId)],
        // Right application ID, signed with a key that is not its key (another application's).
        ['signed with another key', stray.generateClientToken(sessionId)],
        ['signature cut off', `${head}.${body}.`],
      ];
      for (const [what, token] of cases) {
        const err = await tryConnect(token);
        expect({ what, code: err?.code, name: err?.name }).toEqual({ what, code: 1004, name: 'OT_AUTHENTICATION_ERROR' });
      }
    } finally {
      await p.close();
    }
  }, PAGES_MS);
});
