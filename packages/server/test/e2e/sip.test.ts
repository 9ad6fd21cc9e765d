/**
 * SIP interconnect end to end (issue 12, acceptance 1): `dial` through the official `opentok`
 * SDK against real SIP peers on loopback, with a Chromium participant using the browser SDK.
 *
 * - sipp (sip-tester) as the far end, over UDP and TCP: it challenges with digest auth, checks
 *   the X-Test and X-OpenTok-SessionId headers and echoes RTP, so the browser hears its own
 *   audio come back through the SIP leg; forceDisconnect sends BYE; the far end's BYE ends the
 *   connection in the browser; a wrong password leaves nothing behind.
 * - baresip over TLS with SRTP (mediaenc=srtp-mand): its audio (a 440 Hz file) reaches the
 *   browser and play-dtmf digits show up in its log.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { call, projectJwt, hasChromium, hasCommands, launchChromium, OpenTok, openApp as openAppPage, SDK_BUILT, sleep, startAppOrigin, startServer, until, type AppOrigin, type Cb, type OpenTokSdk } from '../kit/index.js';
import { freePort, startSippUas, uasScenario } from './sip-peers.js';
import { ScriptedFarEnd } from '../sip/far-end.js';

interface SipSdk extends OpenTokSdk {
  dial(sessionId: string, token: string, uri: string, options: Record<string, unknown>, cb: Cb<{ id: string; connectionId: string; streamId: string }>): void;
  listConnections?: unknown;
}
describe.skipIf(!hasChromium || !SDK_BUILT || !hasCommands('sipp'))('SIP interconnect against real SIP peers', () => {
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let hooks: Server;
  const callbacks: { event: string; call: { id: string; state?: string; reason_code?: number } }[] = [];
  let appUrl: string;
  let browser: Browser;
  let ot: SipSdk;
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-sip-e2e-'));

  beforeAll(async () => {
    hooks = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const e = JSON.parse(body) as { event: string; call?: { id: string } };
        if (e.call) callbacks.push(e as (typeof callbacks)[number]);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    // The TLS peer's certificate, made here (self-signed for 127.0.0.1, trusted as the gateway's CA).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    writeFileSync(join(dir, 'baresip.pem'), readFileSync(join(dir, 'cert.pem'), 'utf8') + readFileSync(join(dir, 'key.pem'), 'utf8'));
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], apiKey, apiSecret, logLevel: (process.env.SIP_E2E_LOG ?? 'silent') as 'silent', mediaWorkers: 1, sipPort: 0, sipTlsCa: join(dir, 'cert.pem') });
    server.store.updateProject(apiKey, { webhookUrl: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks` });
    ot = new OpenTok(apiKey, apiSecret, server.url) as SipSdk;
    appOrigin = await startAppOrigin();
    appUrl = appOrigin.url(server.url);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await server?.close();
    await new Promise((r) => (hooks ? hooks.close(r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  async function openApp(sessionId: string, name: string): Promise<{ page: Page; connectionId: string; streamId: string | null }> {
    const page = await openAppPage(browser, appUrl);
    const ids = await page.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'moderator', data: `n=${name}` }), name });
    return { page, ...ids };
  }
  const stats = async (p: Page) => (await p.evaluate(() => window.app.stats())) ?? { audioEnergy: 0, audioBytes: 0, audioLevel: 0 };
  const events = (p: Page) => p.evaluate(() => window.app.events);
  const routedSession = async () => (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
  const connections = async (sessionId: string) => {
    const r = await fetch(`${server.url}/v2/project/${apiKey}/session/${sessionId}/connection`, { headers: { 'X-OPENTOK-AUTH': jwt() } });
    return ((await r.json()) as { items: { connectionId: string }[] }).items.map((c) => c.connectionId);
  };
  const jwt = () => projectJwt(apiKey, apiSecret);

  /** The browser hears its own (fake microphone) audio come back through the echoing far end. */
  async function hearsItself(page: Page, what: string): Promise<number> {
    // The first call of the file also starts the media worker's SIP leg and the page's decoder on a
    // cold machine (seen > 20 s once in CI at load); 40 s, and what the page saw if it still fails.
    const s0 = await until(async () => { const s = await stats(page); return s.audioBytes > 2000 && s; }, { timeoutMs: 40_000, what: `${what}: SIP stream audio at the browser` }).catch(async (e: Error) => {
      throw new Error(`${e.message}; page stats ${JSON.stringify(await stats(page))}; events ${JSON.stringify((await events(page)).map((x) => x.type))}`);
    });
    await sleep(3000);
    const s1 = await stats(page);
    const energy = s1.audioEnergy - s0.audioEnergy;
    console.info(`[sip ${what}] browser received ${s1.audioBytes} audio bytes of the SIP stream; totalAudioEnergy +${energy.toFixed(4)} over 3 s`);
    return energy;
  }

  it.each([
    ['UDP', 'u1'],
    ['TCP', 't1'],
  ] as const)('%s: digest auth and X- header checked by sipp, the browser hears itself through the echo, listStreams, forceDisconnect sends BYE', async (name, transport) => {
    const sessionId = await routedSession();
    const alice = await openApp(sessionId, 'Alice');
    const sipp = await startSippUas(uasScenario('wait-for-bye'), { transport });
    try {
      const uri = `sip:bob@127.0.0.1:${sipp.port}${transport === 't1' ? ';transport=tcp' : ''}`;
      const dialed = await call<{ id: string; connectionId: string; streamId: string }>((cb) =>
        ot.dial(sessionId, ot.generateToken(sessionId, { data: 'sip=bob' }), uri, { headers: { 'X-Test': 'sip-test-value' }, auth: { username: 'alice', password: 's3cret' }, from: '14155550101@tokhost.test' }, cb),
      );
      expect(dialed).toMatchObject({ id: expect.any(String), connectionId: expect.any(String), streamId: expect.any(String) });
      const streams = await call<{ id: string; name: string }[]>((cb) => ot.listStreams(sessionId, cb));
      expect(streams.map((s) => s.id).sort()).toEqual([alice.streamId, dialed.streamId].sort());
      expect(await connections(sessionId)).toContain(dialed.connectionId);
      const energy = await hearsItself(alice.page, name);
      expect(energy).toBeGreaterThan(0.001);
      await call<void>((cb) => ot.forceDisconnect(sessionId, dialed.connectionId, cb));
      // sipp's scenario ends with the BYE it waits for: exit code 0 = every check passed.
      const code = await Promise.race([sipp.exited, sleep(10_000).then(() => 'timeout')]);
      if (code !== 0) console.error(sipp.logs());
      expect(code).toBe(0);
      expect(sipp.logs()).toContain('checked X-Test=sip-test-value X-OpenTok-SessionId=' + sessionId);
      expect(sipp.logs()).toMatch(/from= <sip:14155550101@tokhost.test>/);
      await until(async () => (await events(alice.page)).some((x) => x.type === 'connectionDestroyed' && x['connectionId'] === dialed.connectionId), { timeoutMs: 5000, what: 'the browser sees the SIP connection leave' });
      await until(async () => (await callbacks.filter((c) => c.call.id === dialed.id).map((c) => c.event + (c.call.state ? `:${c.call.state}` : ''))).includes('callDestroyed'), { timeoutMs: 5000, what: 'SIP callbacks' });
      const seen = callbacks.filter((c) => c.call.id === dialed.id).map((c) => c.event + (c.call.state ? `:${c.call.state}` : ''));
      expect(seen).toEqual(['callCreated', 'callUpdated:DIALING', 'callUpdated:RINGING', 'callUpdated:ACTIVE', 'callUpdated:HANGUP', 'callDestroyed']);
      expect(callbacks.find((c) => c.call.id === dialed.id && c.event === 'callDestroyed')?.call.reason_code).toBe(700);
    } finally {
      sipp.stop();
      await alice.page.close();
    }
  }, 90_000);

  it('TCP: a BYE from the far end ends the SIP connection in the browser', async () => {
    const sessionId = await routedSession();
    const alice = await openApp(sessionId, 'Alice');
    const sipp = await startSippUas(uasScenario('send-bye'), { transport: 't1' });
    try {
      const dialed = await call<{ id: string; connectionId: string; streamId: string }>((cb) =>
        ot.dial(sessionId, ot.generateToken(sessionId), `sip:bob@127.0.0.1:${sipp.port};transport=tcp`, { headers: { 'X-Test': 'sip-test-value' }, auth: { username: 'alice', password: 's3cret' } }, cb),
      );
      await until(async () => (await events(alice.page)).some((x) => x.type === 'streamCreated' && x['streamId'] === dialed.streamId), { timeoutMs: 5000, what: 'SIP stream in the browser' });
      await until(async () => (await events(alice.page)).some((x) => x.type === 'connectionDestroyed' && x['connectionId'] === dialed.connectionId), { timeoutMs: 15_000, what: 'the far end hangs up' });
      expect(await Promise.race([sipp.exited, sleep(5000).then(() => 'timeout')])).toBe(0);
      expect((await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb))).map((s) => s.id)).toEqual([alice.streamId]);
    } finally {
      sipp.stop();
      await alice.page.close();
    }
  }, 60_000);

  it.skipIf(!hasCommands('baresip'))('TLS + SRTP (baresip, mediaenc=srtp-mand): its audio reaches the browser, play-dtmf digits reach baresip', async () => {
    const sessionId = await routedSession();
    const alice = await openApp(sessionId, 'Alice');
    const bdir = mkdtempSync(join(tmpdir(), 'tokhost-baresip-'));
    execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=60', '-ar', '8000', '-ac', '1', join(bdir, 'tone.wav')]);
    const port = await freePort(true);
    writeFileSync(
      join(bdir, 'config'),
      [
        'poll_method epoll',
        `sip_listen 127.0.0.1:${port}`,
        `sip_certificate ${join(dir, 'baresip.pem')}`,
        'net_interface 127.0.0.1',
        `audio_source aufile,${join(bdir, 'tone.wav')}`,
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module aufile.so',
        'module srtp.so',
        'module account.so',
        'module_app menu.so',
      ].join('\n') + '\n',
    );
    writeFileSync(join(bdir, 'accounts'), '<sip:uas@127.0.0.1>;regint=0;answermode=auto;mediaenc=srtp-mand\n');
    let log = '';
    const proc: ChildProcess = spawn('baresip', ['-f', bdir, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await until(async () => (await log).includes('baresip is ready'), { timeoutMs: 10_000, what: 'baresip ready' });
      // TLS listens on sip_listen's port + 1.
      const dialed = await call<{ id: string; connectionId: string; streamId: string }>((cb) => ot.dial(sessionId, ot.generateToken(sessionId), `sip:uas@127.0.0.1:${port + 1};transport=tls`, { secure: true }, cb));
      const s0 = await until(async () => { const s = await stats(alice.page); return s.audioBytes > 2000 && s; }, { timeoutMs: 20_000, what: 'baresip audio at the browser' });
      await sleep(2000);
      const s1 = await stats(alice.page);
      console.info(`[sip TLS+SRTP] browser received ${s1.audioBytes} bytes of baresip's 440 Hz tone; totalAudioEnergy +${(s1.audioEnergy - s0.audioEnergy).toFixed(4)} over 2 s; baresip: ${/srtp|SRTP/.exec(log) ? 'SRTP on' : '?'}`);
      expect(s1.audioEnergy - s0.audioEnergy).toBeGreaterThan(0.01);
      const dtmf = await fetch(`${server.url}/v2/project/${apiKey}/session/${sessionId}/connection/${dialed.connectionId}/play-dtmf`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, body: JSON.stringify({ digits: '1p2#' }) });
      expect(dtmf.status).toBe(200);
      const bad = await fetch(`${server.url}/v2/project/${apiKey}/session/${sessionId}/play-dtmf`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/json' }, body: JSON.stringify({ digits: '12a' }) });
      expect(bad.status).toBe(400);
      await until(async () => (await [...log.matchAll(/received event: '(.)' \(end=1\)/g)].map((m) => m[1]).join('')) === '12#', { timeoutMs: 10_000, what: "digits in baresip's log" });
      await call<void>((cb) => ot.forceDisconnect(sessionId, dialed.connectionId, cb));
      await until(async () => { const l = await log; return /terminated|closed/i.test(l.slice(l.lastIndexOf('received event'))); }, { timeoutMs: 5000, what: 'baresip sees the BYE' });
    } catch (err) {
      console.error(log.slice(-4000));
      throw err;
    } finally {
      proc.kill('SIGKILL');
      rmSync(bdir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      await alice.page.close();
    }
  }, 90_000);

  it('video: true — the far end gets the composed video of the session as H.264 RTP (decoded by ffmpeg: the browser fake camera, moving)', async () => {
    const sessionId = await routedSession();
    const alice = await openApp(sessionId, 'Alice');
    const vport = await freePort(true);
    const sdp = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=far end video', 'c=IN IP4 127.0.0.1', 't=0 0', `m=video ${vport} RTP/AVP 96`, 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1', ''].join('\n');
    writeFileSync(join(dir, 'far-video.sdp'), sdp);
    // 64x48 grey frames on stdout: enough to see that a picture arrives and changes.
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', join(dir, 'far-video.sdp'), '-frames:v', '150', '-vf', 'scale=64:48', '-pix_fmt', 'gray', '-f', 'rawvideo', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let ffErr = '';
    ff.stdout!.on('data', (d: Buffer) => chunks.push(d));
    ff.stderr!.on('data', (d: Buffer) => (ffErr += d.toString()));
    const done = new Promise<number | null>((r) => ff.on('exit', (c) => r(c)));
    const far = new ScriptedFarEnd({ send: 'silence', videoPort: vport });
    await far.start();
    try {
      const dialed = await call<{ id: string; connectionId: string; streamId: string }>((cb) => ot.dial(sessionId, ot.generateToken(sessionId), far.uri, { video: true }, cb));
      await until(async () => (await far.invite !== undefined), { timeoutMs: 5000, what: 'INVITE at the far end' });
      expect(far.invite!.body.toString()).toMatch(/m=video \d+ RTP\/AVP 96[\s\S]*a=rtpmap:96 H264\/90000/);
      const code = await Promise.race([done, sleep(60_000).then(() => 'timeout')]);
      if (code !== 0) console.error(ffErr);
      expect(code).toBe(0);
      const frames = Buffer.concat(chunks);
      const n = Math.floor(frames.length / (64 * 48));
      expect(n).toBe(150);
      const mean = (f: Buffer) => f.reduce((a, v) => a + v, 0) / f.length;
      const first = frames.subarray(0, 64 * 48);
      const last = frames.subarray((n - 1) * 64 * 48, n * 64 * 48);
      let diff = 0;
      for (let i = 0; i < first.length; i++) diff += Math.abs(first[i]! - last[i]!);
      console.info(`[sip video] far end decoded ${n} frames of the composition: mean luma ${mean(first).toFixed(1)} → ${mean(last).toFixed(1)}, bright pixels in the last ${((last.filter((v) => v > 180).length / last.length) * 100).toFixed(1)} %, mean |change| first→last ${(diff / first.length).toFixed(2)}`);
      if (process.env.SIP_VIDEO_DUMP) writeFileSync(process.env.SIP_VIDEO_DUMP, Buffer.concat([Buffer.from('P5 64 48 255\n'), last]));
      // Chromium's fake camera: a white pac-man and clock on black. The far end sees them, moving.
      const bright = last.filter((v) => v > 180).length / last.length;
      expect(bright).toBeGreaterThan(0.03);
      expect(diff / first.length).toBeGreaterThan(0.5);
      await call<void>((cb) => ot.forceDisconnect(sessionId, dialed.connectionId, cb));
    } finally {
      ff.kill('SIGKILL');
      far.close();
      await alice.page.close();
    }
  }, 90_000);

  it('a wrong password: 403 from the far end, the connection and stream are gone, callDestroyed says 403', async () => {
    const sessionId = await routedSession();
    const alice = await openApp(sessionId, 'Alice');
    const sipp = await startSippUas(uasScenario('wait-for-bye'), { transport: 'u1' });
    try {
      const dialed = await call<{ id: string; connectionId: string; streamId: string }>((cb) =>
        ot.dial(sessionId, ot.generateToken(sessionId), `sip:bob@127.0.0.1:${sipp.port}`, { headers: { 'X-Test': 'sip-test-value' }, auth: { username: 'alice', password: 'wrong' } }, cb),
      );
      await until(async () => !(await connections(sessionId)).includes(dialed.connectionId), { timeoutMs: 10_000, what: 'the SIP connection removed' });
      expect(await connections(sessionId)).toEqual([alice.connectionId]);
      expect((await call<{ id: string }[]>((cb) => ot.listStreams(sessionId, cb))).map((s) => s.id)).toEqual([alice.streamId]);
      await until(async () => (await callbacks.find((c) => c.call.id === dialed.id && c.event === 'callDestroyed')) !== undefined, { timeoutMs: 5000, what: 'callDestroyed' });
      expect(callbacks.find((c) => c.call.id === dialed.id && c.event === 'callDestroyed')?.call.reason_code).toBe(403);
    } finally {
      sipp.stop();
      await alice.page.close();
    }
  }, 60_000);
});
