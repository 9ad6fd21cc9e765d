/**
 * End-to-end encryption (issue 11) in headless Chromium through `createServer`, the browser SDK
 * served at /js/tokhost.js and the fixture page `fixtures/e2ee.html` (each page publishes a
 * canvas picture: left half its own colour, right half white):
 *
 * - acceptance 1: two pages with the same secret decode each other's picture and hear audio;
 *   the router's plain-RTP tap of an encrypted stream does not decode in ffmpeg to the picture,
 *   while the same tap of a non-e2ee session does;
 * - acceptance 2: a third page with another secret gets `encryptionSecretMismatch` and decodes
 *   nothing, then `encryptionSecretMatch` and the picture after `setEncryptionSecret`; all three
 *   rotate to a new secret mid-call with no decoding gap over 500 ms;
 * - the router on encrypted media: 2 % loss (retransmission, key-frame requests) and the audio
 *   fallback under 30 % loss work, and no frame fails authentication;
 * - the createEncodedStreams fallback interoperates with RTCRtpScriptTransform;
 * - acceptance 3: missing / short secret → OT_INVALID_ENCRYPTION_SECRET; startArchive,
 *   startBroadcast and dial on an e2ee session → 409 as the official `opentok` SDK reports it;
 *   a page whose CSP forbids workers fails to connect (OT_UNSUPPORTED_BROWSER).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { projectJwt } from '../rest/harness.js';
import { call, hasChromium, hasCommands, launchChromium, OpenTok, openApp as openAppPage, SDK_BUILT, sleep, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, Cb, E2eeAppWindow, OpenTokSdk, Rgb } from '../kit/index.js';
import { portFree, rtpPortPair } from '../../src/compose/tap-source.js';

type Sdk = OpenTokSdk & {
  startArchive(sessionId: string, options: Record<string, unknown>, cb: Cb<unknown>): void;
  startBroadcast(sessionId: string, options: Record<string, unknown>, cb: Cb<unknown>): void;
  dial(sessionId: string, token: string, sipUri: string, options: Record<string, unknown>, cb: Cb<unknown>): void;
};

// Saturated colours: the RGB → YUV 4:2:0 → RGB round trip moves mid-range values most.
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const GREEN: Rgb = [0, 255, 0];
const WHITE: Rgb = [255, 255, 255];
/** The decoded colour is within `tol` of `want` on every channel (VP8 at low bitrate and the colour conversions shift them). */
const near = (got: Rgb | null | undefined, want: Rgb, tol = 60) => !!got && got.every((v, i) => Math.abs(v - want[i]!) <= tol);

const hasFfmpeg = hasCommands('ffmpeg');


describe.skipIf(!hasChromium || !SDK_BUILT || !hasFfmpeg)('end-to-end encryption in routed sessions', () => {
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let browser: Browser;
  let ot: Sdk;
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-e2ee-'));

  beforeAll(async () => {
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret, mediaWorkers: 1 });
    ot = new OpenTok(apiKey, apiSecret, server.url) as Sdk;
    // /csp/…: the same page under a Content-Security-Policy that forbids workers.
    appOrigin = await startAppOrigin('e2ee-app.html', (path): Record<string, string> => (path.startsWith('/csp/') ? { 'Content-Security-Policy': "worker-src 'none'" } : {}));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  const openApp = (fallback = false, csp = false): Promise<Page> => openAppPage(browser, appOrigin.url(server.url, csp ? '/csp/e2ee-app.html' : undefined) + (fallback ? '&fallback=1' : ''));
  const app = (p: Page) => ({
    start: (o: Omit<Parameters<E2eeAppWindow['app']['start']>[0], 'apiKey' | 'token'>) =>
      p.evaluate((x) => (window as unknown as E2eeAppWindow).app.start(x), { ...o, apiKey, token: ot.generateToken(o.sessionId, { role: 'publisher', data: `n=${o.name}` }) }),
    look: (from: string) => p.evaluate((f) => (window as unknown as E2eeAppWindow).app.look(f), from).then((l) => l ?? { framesDecoded: 0, left: null, right: null, audioEnergy: 0, audioBytes: 0 }),
    events: () => p.evaluate(() => (window as unknown as E2eeAppWindow).app.events),
    setSecret: (s: string) => p.evaluate((x) => (window as unknown as E2eeAppWindow).app.setSecret(x), s),
    maxGap: (from: string, t0: number, t1: number) => p.evaluate(([f, a, b]) => (window as unknown as E2eeAppWindow).app.maxGap(f as string, a as number, b as number), [from, t0, t1] as const),
  });
  const createSession = (e2ee: boolean) => call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed', ...(e2ee ? { e2ee: true } : {}) }, cb)).then((s) => s.sessionId);
  /** The picture `from` publishes, as seen by this page: frames decode and both halves have the right colour. */
  const seesPicture = (p: Page, from: string, rgb: Rgb, ms = 20_000) =>
    until(async () => { const l = await app(p).look(from); return l.framesDecoded > 10 && near(l.left, rgb) && near(l.right, WHITE) && l; }, { timeoutMs: ms, what: `${from}'s picture` });

  /**
   * Taps the router for `streamId` and lets ffmpeg decode the video to raw RGB for 5 s.
   * Returns the decoded frames' count, how many of them show the picture, and ffmpeg's errors.
   */
  async function decodeTap(sessionId: string, streamId: string, rgb: Rgb, label: string): Promise<{ frames: number; showing: number; errors: number }> {
    const room = await (await server.mediaRouterForTesting()!).room(sessionId);
    const audioPort = await rtpPortPair();
    const videoPort = await rtpPortPair([audioPort]);
    const tap = await room.tap(streamId, { host: '127.0.0.1', audioPort, videoPort, paused: true });
    const sdpFile = join(dir, `${label}.sdp`);
    const out = join(dir, `${label}.rgb`);
    writeFileSync(sdpFile, tap.sdp);
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-localaddr', '127.0.0.1', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpFile, '-an', '-fps_mode', 'passthrough', '-vf', 'scale=320:240', '-pix_fmt', 'rgb24', '-f', 'rawvideo', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    ff.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => ff.once('exit', () => r()));
    try {
      for (let i = 0; (await portFree(videoPort)) || (await portFree(audioPort)); i++) {
        if (i > 100) throw new Error(`ffmpeg did not open its ports: ${stderr}`);
        await sleep(50);
      }
      await tap.start();
      await sleep(5000);
      ff.kill('SIGINT');
      const timer = setTimeout(() => ff.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    } finally {
      if (ff.exitCode === null && ff.signalCode === null) ff.kill('SIGKILL');
      await tap.close();
    }
    const size = existsSync(out) ? statSync(out).size : 0;
    const frame = 320 * 240 * 3;
    const data = size > 0 ? readFileSync(out) : Buffer.alloc(0);
    let showing = 0;
    const frames = Math.floor(size / frame);
    for (let f = 0; f < frames; f++) {
      const mean = (x0: number): Rgb => {
        const m = [0, 0, 0];
        let n = 0;
        for (let y = 40; y < 160; y += 4)
          for (let x = x0; x < x0 + 100; x += 4) {
            const o = f * frame + (y * 320 + x) * 3;
            m[0]! += data[o]!;
            m[1]! += data[o + 1]!;
            m[2]! += data[o + 2]!;
            n++;
          }
        return m.map((v) => Math.round(v / n)) as Rgb;
      };
      if (near(mean(30), rgb) && near(mean(190), WHITE)) showing++;
    }
    const errors = stderr.split('\n').filter((l) => l.trim() !== '').length;
    console.info(`[acceptance 1] ffmpeg on the router tap (${label}): ${frames} frames decoded, ${showing} show the publisher's picture, ${errors} error lines${errors ? ` (first: ${stderr.split('\n')[0]!.slice(0, 120)})` : ''}`);
    return { frames, showing, errors };
  }

  it('acceptance 1+2: encrypted media between same-secret pages, opaque to the router tap; mismatch, match, and rotation without a gap', async () => {
    const K1 = 'correct horse battery staple';
    const K2 = 'a second, rotated secret';
    const e2eeSession = await createSession(true);
    const plainSession = await createSession(false);
    const [a, b] = [await openApp(), await openApp()];
    const pages: Page[] = [a, b];
    try {
      expect(await a.evaluate(() => (window as unknown as E2eeAppWindow).OT.hasEndToEndEncryptionSupport())).toBe(true);
      const ida = await app(a).start({ sessionId: e2eeSession, secret: K1, name: 'A', rgb: RED });
      await app(b).start({ sessionId: e2eeSession, secret: K1, name: 'B', rgb: BLUE });
      await seesPicture(b, 'A', RED);
      await seesPicture(a, 'B', BLUE);
      for (const [p, from] of [[a, 'B'], [b, 'A']] as const) {
        const x = await app(p).look(from);
        await until(async () => { const l = await app(p).look(from); return l.audioEnergy > x.audioEnergy && l.audioBytes > x.audioBytes; }, { timeoutMs: 10_000, what: `audio from ${from}` });
      }
      const lookB = await app(b).look('A');
      console.info(`[acceptance 1] B decodes A's picture: left ${lookB.left} (sent ${RED}), right ${lookB.right}; ${lookB.framesDecoded} frames`);

      // The router's tap of A's encrypted stream: VP8 headers in clear, the rest ciphertext.
      const encrypted = await decodeTap(e2eeSession, ida.streamId!, RED, 'e2ee');
      expect(encrypted.showing).toBe(0);
      // The same picture in a session without e2ee decodes from the same tap.
      const d = await openApp();
      pages.push(d);
      const idd = await app(d).start({ sessionId: plainSession, name: 'D', rgb: RED });
      const plain = await decodeTap(plainSession, idd.streamId!, RED, 'plain');
      expect(plain.frames).toBeGreaterThan(30);
      expect(plain.showing).toBeGreaterThan(plain.frames * 0.8);
      await d.close();
      pages.pop();

      // acceptance 2: C joins with another secret.
      const c = await openApp();
      pages.push(c);
      await app(c).start({ sessionId: e2eeSession, secret: 'not the right secret', name: 'C', rgb: GREEN });
      for (const from of ['A', 'B']) await until(async () => (await app(c).events()).some((e) => e.type === 'encryptionSecretMismatch' && e.from === from), { timeoutMs: 15_000, what: `C: mismatch on ${from}` });
      // A and B cannot read C either.
      for (const p of [a, b]) await until(async () => (await app(p).events()).some((e) => e.type === 'encryptionSecretMismatch' && e.from === 'C'), { timeoutMs: 15_000, what: 'mismatch on C' });
      await sleep(1500);
      for (const from of ['A', 'B']) {
        const l = await app(c).look(from);
        console.info(`[acceptance 2] C with the wrong secret, stream ${from}: ${l.framesDecoded} frames decoded`);
        expect(l.framesDecoded).toBe(0);
      }
      expect((await app(a).look('C')).framesDecoded).toBe(0);

      const fixedAt = Date.now();
      expect(await app(c).setSecret(K1)).toBeNull();
      for (const from of ['A', 'B']) await until(async () => (await app(c).events()).some((e) => e.type === 'encryptionSecretMatch' && e.from === from), { timeoutMs: 15_000, what: `C: match on ${from}` });
      await seesPicture(c, 'A', RED);
      await seesPicture(c, 'B', BLUE);
      await seesPicture(a, 'C', GREEN);
      await seesPicture(b, 'C', GREEN);
      console.info(`[acceptance 2] after setEncryptionSecret C decodes A and B (and they decode C) ${Date.now() - fixedAt} ms later`);

      // Everyone rotates mid-call.
      await sleep(1000);
      const t0 = Date.now();
      const results = await Promise.all([a, b, c].map((p) => app(p).setSecret(K2)));
      expect(results).toEqual([null, null, null]);
      const rotatedMs = Date.now() - t0;
      await sleep(4000);
      const t1 = Date.now();
      const gaps: string[] = [];
      let worst = 0;
      for (const [p, name] of [[a, 'A'], [b, 'B'], [c, 'C']] as const) {
        for (const from of ['A', 'B', 'C'].filter((x) => x !== name)) {
          const g = await app(p).maxGap(from, t0, t1);
          worst = Math.max(worst, g);
          gaps.push(`${name}←${from} ${g} ms`);
        }
      }
      console.info(`[acceptance 2] rotation to a new secret (all three set it within ${rotatedMs} ms): longest decoding gap per subscriber over ${t1 - t0} ms: ${gaps.join(', ')}`);
      expect(worst).toBeLessThan(500);
      await seesPicture(a, 'C', GREEN, 5000);
      await seesPicture(c, 'B', BLUE, 5000);
      // The rotation raised no mismatch (the previous key covers the switch).
      const late = (await Promise.all([a, b, c].map((p) => app(p).events()))).flat().filter((e) => e.t >= t0 && e.type === 'encryptionSecretMismatch');
      expect(late).toEqual([]);
      // The media is now under the new secret: a newcomer with the old one cannot read it.
      const e = await openApp();
      pages.push(e);
      await app(e).start({ sessionId: e2eeSession, secret: K1, name: 'E', rgb: WHITE, publish: false });
      await until(async () => (await app(e).events()).some((x) => x.type === 'encryptionSecretMismatch' && x.from === 'A'), { timeoutMs: 15_000, what: 'old secret: mismatch on A' });
      expect((await app(e).look('A')).framesDecoded).toBe(0);

      // Loss: 2 % of the packets to C's subscriber of A are dropped for 4 s. Retransmission and
      // key-frame requests go through the router as for plain media (it needs only RTP headers):
      // frames keep decrypting, none fails authentication (no mismatch), the picture stays. How
      // smooth video is under loss is the router's NACK/PLI behaviour, the same without e2ee.
      const subscriberId = await c.evaluate(() => (window as unknown as { app: { subs: Record<string, { sub: { subscriberId: string } }> } }).app.subs['A']!.sub.subscriberId);
      const room = await (await server.mediaRouterForTesting()!).room(e2eeSession);
      const l0 = await app(c).look('A');
      const lossAt = Date.now();
      await room.setSubscriberLoss(subscriberId, 0.02);
      await sleep(4000);
      await room.setSubscriberLoss(subscriberId, 0);
      const l1 = await app(c).look('A');
      const lossGap = await app(c).maxGap('A', lossAt, Date.now());
      console.info(`[router] 2 % loss on one encrypted leg for 4 s: ${l1.framesDecoded - l0.framesDecoded} frames decoded, longest gap ${lossGap} ms, picture ${l1.left}`);
      expect(l1.framesDecoded - l0.framesDecoded).toBeGreaterThan(5);
      await seesPicture(c, 'A', RED, 10_000);
      expect((await app(c).events()).filter((x) => x.t >= lossAt && x.type === 'encryptionSecretMismatch')).toEqual([]);

      // Audio fallback: sustained 30 % loss on that leg; the router stops its video (it reads
      // RTCP, not media) and the encrypted audio keeps decrypting and playing.
      const fallbackAt = Date.now();
      await room.setSubscriberLoss(subscriberId, 0.3);
      await until(async () => (await app(c).events()).some((x) => x.t >= fallbackAt && x.type === 'videoDisabled' && x.from === 'A'), { timeoutMs: 25_000, what: 'videoDisabled (audio fallback) on the lossy encrypted leg' });
      const disabledMs = Date.now() - fallbackAt;
      await sleep(1000);
      const a0 = await app(c).look('A');
      await sleep(2000);
      const a1 = await app(c).look('A');
      await room.setSubscriberLoss(subscriberId, 0);
      console.info(`[router] audio fallback on an encrypted leg: videoDisabled ${disabledMs} ms after 30 % loss; then in 2 s +${a1.framesDecoded - a0.framesDecoded} frames, audio energy +${(a1.audioEnergy - a0.audioEnergy).toFixed(4)}`);
      expect(a1.audioEnergy).toBeGreaterThan(a0.audioEnergy);
      expect(a1.framesDecoded - a0.framesDecoded).toBeLessThan(3);
      expect((await app(c).events()).filter((x) => x.t >= fallbackAt && x.type === 'encryptionSecretMismatch')).toEqual([]);
    } finally {
      for (const p of pages) await p.close();
    }
  }, 150_000);

  it('the createEncodedStreams fallback speaks the same format as RTCRtpScriptTransform', async () => {
    const sessionId = await createSession(true);
    const [a, b] = [await openApp(), await openApp(true)];
    try {
      expect(await b.evaluate(() => typeof (window as unknown as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform)).toBe('undefined');
      expect(await b.evaluate(() => (window as unknown as E2eeAppWindow).OT.hasEndToEndEncryptionSupport())).toBe(true);
      await app(a).start({ sessionId, secret: 'shared by both pages', name: 'A', rgb: RED });
      await app(b).start({ sessionId, secret: 'shared by both pages', name: 'B', rgb: BLUE });
      await seesPicture(b, 'A', RED);
      await seesPicture(a, 'B', BLUE);
      const l = await app(b).look('A');
      console.info(`[fallback] the createEncodedStreams page decodes the script-transform page's picture (${l.left}) and the other way round`);
      expect(await app(b).setSecret('a new shared secret')).toBeNull();
      expect(await app(a).setSecret('a new shared secret')).toBeNull();
      await sleep(2500);
      await seesPicture(b, 'A', RED, 5000);
      await seesPicture(a, 'B', BLUE, 5000);
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);

  it('acceptance 3: a missing or short secret is OT_INVALID_ENCRYPTION_SECRET; archive, broadcast and dial are 409 for e2ee sessions', async () => {
    const sessionId = await createSession(true);
    const p = await openApp();
    try {
      const token = ot.generateToken(sessionId, { role: 'publisher' });
      const tryConnect = (secret?: string) => p.evaluate((o) => (window as unknown as E2eeAppWindow).app.tryConnect(o), { apiKey, sessionId, token, ...(secret !== undefined ? { secret } : {}) });
      const missing = await tryConnect();
      const short = await tryConnect('7chars!');
      const long = await tryConnect('x'.repeat(257));
      console.info(`[acceptance 3] connect without a secret: ${missing?.name} (${missing?.code}) "${missing?.message}"`);
      for (const r of [missing, short, long]) expect(r?.name).toBe('OT_INVALID_ENCRYPTION_SECRET');
      expect(await tryConnect('12345678')).toBeNull();
      expect(await tryConnect('x'.repeat(256))).toBeNull();
      // setEncryptionSecret checks the secret before anything else.
      const bad = await p.evaluate(() => {
        const s = (window as unknown as { OT: { initSession(k: string, s: string): { setEncryptionSecret(x: string): Promise<void> } } }).OT.initSession('1', 'x');
        return s.setEncryptionSecret('short').then(
          () => null,
          (e: Error) => e.name,
        );
      });
      expect(bad).toBe('OT_INVALID_ENCRYPTION_SECRET');
      // A page whose CSP forbids workers cannot encrypt: connect fails instead of sending in clear.
      const csp = await openApp(false, true);
      try {
        const r = await csp.evaluate((o) => (window as unknown as E2eeAppWindow).app.tryConnect(o), { apiKey, sessionId, token, secret: 'a valid secret' });
        console.info(`[acceptance 3] connect under worker-src 'none': ${r?.name} "${r?.message}"`);
        expect(r?.name).toBe('OT_UNSUPPORTED_BROWSER');
      } finally {
        await csp.close();
      }
      // A secret on a session without e2ee is ignored (the session is not encrypted).
      const plain = await createSession(false);
      expect(await p.evaluate((o) => (window as unknown as E2eeAppWindow).app.tryConnect(o), { apiKey, sessionId: plain, token: ot.generateToken(plain), secret: 'a valid secret' })).toBeNull();

      // A client stays connected, so the only reason for a refusal is e2ee.
      await app(p).start({ sessionId, secret: 'the session secret', name: 'P', rgb: RED, publish: false });
      const settle = (fn: (cb: Cb<unknown>) => void) => new Promise<Error | null>((resolve) => fn((err) => resolve(err)));
      const archive = await settle((cb) => ot.startArchive(sessionId, { name: 'x' }, cb));
      const broadcast = await settle((cb) => ot.startBroadcast(sessionId, { outputs: { hls: {} } }, cb));
      const dial = await settle((cb) => ot.dial(sessionId, token, 'sip:alice@127.0.0.1', {}, cb));
      console.info(`[acceptance 3] opentok SDK on an e2ee session: startArchive → "${archive?.message}"; startBroadcast → "${broadcast?.message}"; dial → "${dial?.message}"`);
      // opentok-node 2.23 reports these as "Unexpected response" with the server's message.
      expect(archive?.message).toMatch(/archiving is not available for end-to-end encrypted sessions/);
      expect(broadcast?.message).toMatch(/^Failed to start broadcast\..*broadcasting is not available for end-to-end encrypted sessions/);
      expect(dial?.message).toMatch(/^Failed to dial endpoint\..*SIP dial is not available for end-to-end encrypted sessions/);
      // The status behind them, on the same REST calls.
      const rest = async (path: string, body: unknown) => {
        const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-opentok-auth': projectJwt(apiKey, apiSecret) }, body: JSON.stringify(body) });
        return { status: r.status, json: (await r.json()) as { code: number; message: string; description: string } };
      };
      const raw = [
        await rest(`/v2/project/${apiKey}/archive`, { sessionId }),
        await rest(`/v2/project/${apiKey}/broadcast`, { sessionId, outputs: { hls: {} } }),
        await rest(`/v2/project/${apiKey}/dial`, { sessionId, token, sip: { uri: 'sip:alice@127.0.0.1' } }),
      ];
      for (const r of raw) {
        expect(r.status).toBe(409);
        expect(r.json).toMatchObject({ code: 409, message: expect.stringMatching(/not available for end-to-end encrypted sessions/), description: expect.stringContaining(sessionId) });
      }
      expect(server.store.listArchives(apiKey).total).toBe(0);
      expect(server.store.listBroadcasts(apiKey).total).toBe(0);
    } finally {
      await p.close();
    }
  }, 60_000);
});
