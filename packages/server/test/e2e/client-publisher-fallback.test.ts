/**
 * The publisher audio fallback of `@tokhost/client` (OpenTok.js `audioFallback.publisher`) in a
 * routed session, in headless Chromium: one app page publishes two streams, one with the option
 * and one without; the media router's loss hook drops 30 % of what both send (before the router
 * measures it, so the detection is the real one). Only the opted-in publisher gets
 * `videoDisableWarning`, then `videoDisabled` (reason `quality`) and stops sending video; when the
 * loss stops it gets `videoEnabled` (reason `quality`) and sends video again. Loss between the
 * warning and disabling thresholds gives a warning that is lifted (`videoDisableWarningLifted`).
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, hasChromium, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokSdk } from '../kit/index.js';

/** Runs `body` (the text of an async function body) in the page; `window.t` keeps state between calls. */
const run = <T>(page: Page, body: string, arg: unknown = null): Promise<T> => page.evaluate(`(async (arg) => { let t = window.t; ${body} })(${JSON.stringify(arg)})`) as Promise<T>;

/** Video RTP packets the publisher `name` ('a' or 'b') has sent so far. */
const videoPackets = (page: Page, name: 'a' | 'b') =>
  run<number>(page, `const [r] = await t[arg].getRtcStatsReport(); let n = 0; r.rtcStatsReport.forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') n += s.packetsSent; }); return n;`, name);

describe.skipIf(!hasChromium || !SDK_BUILT)('@tokhost/client publisher audio fallback (Chromium, routed)', () => {
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let browser: Browser;
  let ot: OpenTokSdk;
  let sessionId: string;
  let page: Page;

  beforeAll(async () => {
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret, mediaWorkers: 1 });
    ot = new OpenTok(apiKey, apiSecret, server.url);
    appOrigin = await startAppOrigin();
    browser = await launchChromium();
    sessionId = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
    page = await openApp(browser, appOrigin.url(server.url));
    await run(
      page,
      `
      window.t = { events: [] };
      t = window.t;
      t.s = OT.initSession(arg.apiKey, arg.sessionId);
      await t.s.connect.promise(arg.token);
      const props = { insertMode: 'append', width: 160, height: 120, resolution: '320x240', frameRate: 15 };
      t.a = await OT.initPublisher.promise(undefined, { ...props, name: 'a', audioFallback: { publisher: true } });
      t.b = await OT.initPublisher.promise(undefined, { ...props, name: 'b' });
      for (const [name, p] of [['a', t.a], ['b', t.b]]) {
        for (const type of ['videoDisableWarning', 'videoDisableWarningLifted', 'videoDisabled', 'videoEnabled']) {
          p.on(type, (e) => t.events.push({ publisher: name, type: e.type, reason: e.reason, target: e.target === p, at: Date.now() }));
        }
      }
      await t.s.publish.promise(t.a);
      await t.s.publish.promise(t.b);
      return null;
      `,
      { apiKey, sessionId, token: ot.generateToken(sessionId) },
    );
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await server?.close();
  });

  it('rejects a malformed audioFallback option with a clear error', async () => {
    const msg = await run<string>(page, `try { OT.initPublisher(undefined, { insertDefaultUI: false, audioFallback: { publisher: 'yes' } }); return 'no error'; } catch (e) { return e.message; }`);
    expect(msg).toMatch(/audioFallback must be an object/);
  });

  it('30 % uplink loss: warning, then video stops (reason quality) on the opted-in publisher only; no loss: videoEnabled and video flows again', async () => {
    const ids = await run<{ a: string; b: string }>(page, 'return { a: t.a.stream.streamId, b: t.b.stream.streamId };');
    await until(async () => (await videoPackets(page, 'a')) > 50 && (await videoPackets(page, 'b')) > 50, { timeoutMs: 15_000, what: 'both publishers sending video' });
    const room = await (await server.mediaRouterForTesting()!).room(sessionId);
    await expect(room.setPublisherLoss(ids.a, 1.5)).rejects.toThrow(/fraction must be a number from 0 to 1/);
    const t0 = Date.now();
    await room.setPublisherLoss(ids.a, 0.3);
    await room.setPublisherLoss(ids.b, 0.3);
    type Ev = { publisher: string; type: string; reason?: string; target: boolean; at: number };
    const events = () => run<Ev[]>(page, 'return t.events;');
    await until(async () => (await events()).some((e) => e.type === 'videoDisabled'), { timeoutMs: 15_000, what: 'videoDisabled on publisher a' });
    const disabled = await events();
    expect(disabled.map((e) => [e.publisher, e.type, e.reason ?? null, e.target])).toEqual([
      ['a', 'videoDisableWarning', null, true],
      ['a', 'videoDisabled', 'quality', true],
    ]);
    // The encoding is switched off (as OpenTok.js does): a's video packets stop, b's keep coming;
    // the stream still says it has video.
    await sleep(1000);
    const a0 = await videoPackets(page, 'a');
    const b0 = await videoPackets(page, 'b');
    await sleep(2000);
    const a1 = await videoPackets(page, 'a');
    const b1 = await videoPackets(page, 'b');
    console.info(`[publisher audio fallback] 30 % loss: videoDisableWarning after ${disabled[0]!.at - t0} ms, videoDisabled after ${disabled[1]!.at - t0} ms; in 2 s after: a sent ${a1 - a0} video packets, b (no option) ${b1 - b0}`);
    expect(a1 - a0).toBeLessThan(5);
    expect(b1 - b0).toBeGreaterThan(30);
    expect(await run<boolean>(page, 'return t.a.stream.hasVideo;')).toBe(true);

    const t1 = Date.now();
    await room.setPublisherLoss(ids.a, 0);
    await room.setPublisherLoss(ids.b, 0);
    await until(async () => (await events()).some((e) => e.type === 'videoEnabled'), { timeoutMs: 15_000, what: 'videoEnabled on publisher a' });
    const all = await events();
    const enabled = all[all.length - 1]!;
    expect([enabled.publisher, enabled.type, enabled.reason, enabled.target]).toEqual(['a', 'videoEnabled', 'quality', true]);
    const r0 = await videoPackets(page, 'a');
    await until(async () => (await videoPackets(page, 'a')) > r0 + 30, { timeoutMs: 5000, what: 'a sending video again' });
    // OpenTok.js raises videoEnabled (not videoDisableWarningLifted) when video comes back.
    expect((await events()).map((e) => `${e.publisher}:${e.type}`)).toEqual(['a:videoDisableWarning', 'a:videoDisabled', 'a:videoEnabled']);
    console.info(`[publisher audio fallback] videoEnabled (reason quality) ${enabled.at - t1} ms after the loss stopped`);

    // Loss between the warning (5 %) and disabling (12 %) thresholds: a warning only, lifted when the loss stops.
    const t2 = Date.now();
    await room.setPublisherLoss(ids.a, 0.07);
    await until(async () => (await events()).length === 4, { timeoutMs: 10_000, what: 'a second videoDisableWarning' });
    await room.setPublisherLoss(ids.a, 0);
    await until(async () => (await events()).length === 5, { timeoutMs: 10_000, what: 'videoDisableWarningLifted' });
    await sleep(1500);
    const final = await events();
    console.info(`[publisher audio fallback] 7 % loss: videoDisableWarning after ${final[3]!.at - t2} ms, lifted ${final[4]!.at - final[3]!.at} ms later; events: ${final.map((e) => `${e.publisher}:${e.type}`).join(', ')}`);
    // b (no option) never got an event.
    expect(final.map((e) => `${e.publisher}:${e.type}`)).toEqual(['a:videoDisableWarning', 'a:videoDisabled', 'a:videoEnabled', 'a:videoDisableWarning', 'a:videoDisableWarningLifted']);
    expect(final[4]!.target).toBe(true);
  }, 50_000);
});
