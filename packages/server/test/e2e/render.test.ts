/**
 * Experience Composer end to end (issue 23): the official `opentok` SDK starts a render of a page
 * this test serves on loopback (a solid colour and a 1 kHz tone); the server's headless Chromium
 * publishes it into a routed session; a `@tokhost/client` subscriber page decodes the colour and
 * hears the tone; a composed archive of the session shows the colour (frames decoded by ffmpeg);
 * stop, a page that does not load, a refused private URL, the validation, and no browser left
 * behind — after the test and after a SIGKILL of a `tokhost serve` child.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenTokTs from '@tokhost/sdk';
import type { TokhostServer } from '../../src/create-server.js';
import { PROFILE_PREFIX } from '../../src/render/browser.js';
import { colourName, ffprobe, framesEvery, meanColour, toneLevel } from '../recording/media-check.js';
import { ensureBuilt, serve, stop } from '../cli/spawn.js';
import type { ServeProcess } from '../cli/spawn.js';
import { call, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokSdk } from '../kit/index.js';

interface RenderLike {
  id: string;
  status: string;
  reason?: string;
  streamId?: string;
  sessionId: string;
  url: string;
  resolution: string;
  callbackUrl?: string;
}
interface ArchiveLike {
  id: string;
  status: string;
  url: string | null;
  reason: string;
}
type Ot = OpenTokSdk & {
  startRender(o: Record<string, unknown>, cb: (err: Error | null, r?: RenderLike) => void): void;
  getRender(id: string, cb: (err: Error | null, r?: RenderLike) => void): void;
  stopRender(id: string, cb: (err: Error | null) => void): void;
  listRenders(o: Record<string, unknown>, cb: (err: Error | null, r?: { count: number; items: RenderLike[] }) => void): void;
  startArchive(sessionId: string, o: Record<string, unknown>, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  stopArchive(id: string, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  getArchive(id: string, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  listStreams(sessionId: string, cb: (err: Error | null, s?: Array<{ id: string; name: string }>) => void): void;
};

const hasTools = hasChromium && SDK_BUILT && hasCommands('ffmpeg', 'ffprobe');
const TONE_HZ = 1000;
/** How long acceptance 1 records its archive. */
const ARCHIVE_MS = 16_000;

/** A page of one colour playing a tone (Web Audio, started without a gesture: the render's flags allow it). */
const page = (rgb: string) => `<!doctype html><html><head><title>render me</title></head>
<body style="margin:0;background:${rgb};width:100vw;height:100vh"><script>
const ctx = new AudioContext(); const o = ctx.createOscillator(); const g = ctx.createGain();
o.frequency.value = ${TONE_HZ}; g.gain.value = 0.5; o.connect(g); g.connect(ctx.destination); o.start();
</script></body></html>`;

/**
 * `/proc/<pid>/<file>` of every running process, skipping those that exit meanwhile and zombies
 * (killed members of a browser's group wait there until init reaps them: they run nothing).
 */
function procs(file: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      out.push([Number(name), file === 'stat' ? stat : readFileSync(`/proc/${name}/${file}`, 'utf8')]);
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/**
 * Every process of a render browser: the browser (its command line names its profile,
 * `--user-data-dir=<tmpdir>/tokhost-render-*`), the members of its process group (it leads its
 * own), and any process whose HOME is a render profile (launchBrowser sets it; children inherit
 * it, so an orphan whose browser died is found too). Not by a plain substring of the command
 * line: the test's own paths (`tokhost-render-e2e-*`) appear in ffmpeg's and `tokhost serve`'s.
 */
function renderBrowsers(): number[] {
  const profiles = join(tmpdir(), PROFILE_PREFIX);
  const leaders = new Set(procs('cmdline').filter(([, c]) => c.includes(`--user-data-dir=${profiles}`)).map(([pid]) => pid));
  const found = new Set(procs('environ').filter(([, env]) => env.split('\0').some((e) => e.startsWith(`HOME=${profiles}`))).map(([pid]) => pid));
  for (const [pid, stat] of procs('stat')) if (leaders.has(pgidOf(stat))) found.add(pid);
  return [...found].sort((x, y) => x - y);
}

/** The process group ID in a `/proc/<pid>/stat` line (the fifth field; the name in parentheses may hold spaces). */
function pgidOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** The members of process group `pgid` (a render browser is the leader of its own group). */
function processGroup(pgid: number): number[] {
  return procs('stat')
    .filter(([, stat]) => pgidOf(stat) === pgid)
    .map(([pid]) => pid);
}

describe.skipIf(!hasTools)('Experience Composer: a web page published into a session by a headless Chromium', () => {
  const apiKey = '5' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-render-e2e-'));
  let server: TokhostServer;
  let pages: Server;
  let pagesUrl = '';
  let closedUrl = '';
  const callbacks: Array<{ id: string; status: string; event: string; reason?: string; streamId?: string }> = [];
  let hookUrl = '';
  let ot: Ot;
  let appOrigin: AppOrigin;
  let viewer: Browser;
  /** Where the in-process server records its render browsers (render/leftovers.ts). */
  const pidRecords = join(dir, 'data', 'render-pids');
  /** The composed archive acceptance 1 records of its render (checked by the next test). */
  let renderArchive: string | undefined;
  /** A render left running by the last in-process test, for the server's close to end. */
  let keptRunning: string | undefined;

  beforeAll(async () => {
    pages = createHttpServer((req, res) => {
      if (req.url === '/hook' && req.method === 'POST') {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          callbacks.push(JSON.parse(body) as (typeof callbacks)[number]);
          res.writeHead(200).end();
        });
        return;
      }
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>no</h1>');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(page(req.url === '/blue' ? 'rgb(0,0,255)' : 'rgb(255,0,0)'));
    });
    await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
    pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    hookUrl = `${pagesUrl}/hook`;
    // A port nothing listens on: bind one, note it, close it.
    const probe = createHttpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/`;
    await new Promise<void>((r) => probe.close(() => r()));
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], dataDir: join(dir, 'data'), apiKey, apiSecret, mediaWorkers: 1, renderMaxConcurrent: 2 });
    ot = new OpenTok(apiKey, apiSecret, server.url) as Ot;
    appOrigin = await startAppOrigin();
    viewer = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    try {
      await viewer?.close();
      // A render still running when the server closes ends with it: its browser group is killed,
      // its profile and record removed.
      const groups = existsSync(pidRecords) ? readdirSync(pidRecords).map((f) => [Number(f), readFileSync(join(pidRecords, f), 'utf8').trim()] as const) : [];
      await server?.close();
      if (keptRunning) expect(groups).toHaveLength(1);
      for (const [pgid, profile] of groups) {
        // Killed at once; the kernel may take a moment to take down every member of the group.
        await until(() => processGroup(pgid).length === 0, { timeoutMs: 10_000, what: `render browser group ${pgid} gone after close` });
        expect(existsSync(profile)).toBe(false);
      }
      expect(existsSync(pidRecords) ? readdirSync(pidRecords) : []).toEqual([]);
      expect(renderBrowsers()).toEqual([]);
    } finally {
      await appOrigin?.close();
      await new Promise<void>((r) => (pages ? pages.close(() => r()) : r()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  const routedSession = async () => (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
  const getRender = (id: string) => call<RenderLike>((cb) => ot.getRender(id, cb));
  const whenStatus = (id: string, statuses: string[], timeoutMs = 90_000) =>
    until(async () => {
      const r = await getRender(id);
      return statuses.includes(r.status) && r;
    }, { timeoutMs, what: `render ${id} ${statuses.join('/')}` });

  it('refuses bad starts with a 400 naming the field, a private URL without the allow-list, and changes nothing', async () => {
    const sessionId = await routedSession();
    const token = ot.generateToken(sessionId, { role: 'publisher' });
    const post = async (body: Record<string, unknown>) => {
      const res = await fetch(`${server.url}/v2/project/${apiKey}/render`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-opentok-auth': jwt() },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { message: string; description: string } };
    };
    const jwt = () => restJwt(apiKey, apiSecret);
    const good = { sessionId, token, url: `${pagesUrl}/red` };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...good, url: 'http://10.1.2.3/page' }, 'Invalid url: names a private address'],
      [{ ...good, url: 'http://169.254.169.254/latest/meta-data' }, 'Invalid url: names a link-local address'],
      [{ ...good, url: 'ftp://127.0.0.1/x' }, 'Invalid url: must be an absolute http or https URL'],
      [{ ...good, url: undefined }, 'Invalid url: is required'],
      [{ ...good, maxDuration: 59 }, 'Invalid maxDuration: must be an integer from 60 to 36000'],
      [{ ...good, maxDuration: 36001 }, 'Invalid maxDuration: must be an integer from 60 to 36000'],
      [{ ...good, resolution: '800x600' }, 'Invalid resolution: must be one of'],
      [{ ...good, properties: { name: 'x'.repeat(201) } }, 'Invalid properties.name: must be at most 200 characters'],
      [{ ...good, properties: 'EC' }, 'Invalid properties'],
      [{ ...good, statusCallbackUrl: 'http://192.168.1.10/hook' }, 'Invalid statusCallbackUrl: names a private address'],
      [{ ...good, token: 'not-a-token' }, 'Invalid token'],
      [{ ...good, token: ot.generateToken(sessionId, { role: 'subscriber' }) }, 'Invalid token: must have the publisher'],
      [{ ...good, sessionId: undefined }, 'Invalid sessionId: is required'],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      expect(r.status, message).toBe(400);
      expect(`${r.body.message}: ${r.body.description}`).toContain(message.replace(/^Invalid (\w[\w.]*): /, ''));
      expect(r.body.message).toContain(message.split(':')[0]!);
    }
    // A relayed session: 409; nothing was created by any of these.
    const relayed = (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).sessionId;
    const r409 = await post({ ...good, sessionId: relayed, token: ot.generateToken(relayed, { role: 'publisher' }) });
    expect(r409.status).toBe(409);
    const list = await call<{ count: number; items: RenderLike[] }>((cb) => ot.listRenders({}, cb));
    expect(list.count).toBe(0);
    // Unknown IDs: 404 on get (GET, and POST as the PHP SDK reads) and stop.
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await fetch(`${server.url}/v2/project/${apiKey}/render/${unknown}`, { method, headers: { 'x-opentok-auth': jwt() } });
      expect(res.status, method).toBe(404);
    }
    expect(renderBrowsers()).toEqual([]);
  });

  it('acceptance 1: the official SDK renders a page; a subscriber sees its colour and hears its tone; stop → stopped "Stop Requested" with callbacks', async () => {
    const sessionId = await routedSession();
    const token = ot.generateToken(sessionId, { role: 'publisher', data: 'render=red' });
    const t0 = Date.now();
    const started = await call<RenderLike>((cb) => ot.startRender({ sessionId, token, url: `${pagesUrl}/red`, resolution: '640x480', maxDuration: 300, statusCallbackUrl: hookUrl }, cb));
    expect(started).toMatchObject({ status: 'starting', sessionId, url: `${pagesUrl}/red`, resolution: '640x480', callbackUrl: hookUrl });
    const running = await whenStatus(started.id, ['started', 'failed']);
    expect(running.status, running.reason).toBe('started');
    console.info(`[render] started (stream published) ${Date.now() - t0} ms after startRender`);
    expect(renderBrowsers().length).toBeGreaterThan(0);
    // The render is a stream of the session like any publisher's.
    const streams = await call<Array<{ id: string; name: string }>>((cb) => ot.listStreams(sessionId, cb));
    expect(streams.map((s) => s.id)).toContain(running.streamId);
    // A composed archive of the session records while the subscriber looks and listens (the next
    // test checks the file: one render start serves both).
    const archive = await call<ArchiveLike>((cb) => ot.startArchive(sessionId, { name: 'render', resolution: '640x480' }, cb));
    const archiveStarted = Date.now();

    // A subscriber page: the colour of the decoded video and the loudest frequency of the audio.
    const appUrl = appOrigin.url(server.url);
    const sub = await openApp(viewer, appUrl);
    const seen = await sub.evaluate(
      async (o) => {
        const OT = (window as unknown as { OT: any }).OT;
        const session = OT.initSession(o.apiKey, o.sessionId);
        const stream: any = await new Promise((resolve, reject) => {
          session.on('streamCreated', (e: any) => e.stream.streamId === o.streamId && resolve(e.stream));
          session.connect(o.token, (err: any) => err && reject(new Error(err.message)));
        });
        const subscriber = session.subscribe(stream, undefined, { insertMode: 'append', width: 640, height: 480 });
        const video = await new Promise<HTMLVideoElement>((resolve) => {
          const t = setInterval(() => {
            const v = subscriber.element?.querySelector('video') as HTMLVideoElement | null;
            if (v && v.videoWidth > 0 && v.srcObject) {
              clearInterval(t);
              resolve(v);
            }
          }, 100);
        });
        // The first frames may still be black while the decoder starts: sample until one is not (10 s at most).
        const canvas = document.createElement('canvas');
        canvas.width = 64;
        canvas.height = 48;
        const g = canvas.getContext('2d')!;
        let rgb: [number, number, number] = [0, 0, 0];
        for (let t = 0; t < 50; t++) {
          await new Promise((res) => setTimeout(res, 200));
          g.drawImage(video, 0, 0, 64, 48);
          const px = g.getImageData(8, 8, 48, 32).data;
          let r = 0, gr = 0, b = 0;
          for (let i = 0; i < px.length; i += 4) (r += px[i]!), (gr += px[i + 1]!), (b += px[i + 2]!);
          const n = px.length / 4;
          rgb = [r / n, gr / n, b / n];
          if (rgb[0] + rgb[1] + rgb[2] > 60) break;
        }
        const ac = new AudioContext();
        const an = ac.createAnalyser();
        an.fftSize = 4096;
        ac.createMediaStreamSource(video.srcObject as MediaStream).connect(an);
        // Audio may start a little after the picture: listen up to 10 s for the loudest bin to settle.
        const f = new Float32Array(an.frequencyBinCount);
        let best = 1;
        for (let t = 0; t < 20; t++) {
          await new Promise((res) => setTimeout(res, 500));
          an.getFloatFrequencyData(f);
          best = 1;
          for (let i = 2; i < f.length; i++) if (f[i]! > f[best]!) best = i;
          if (Math.abs((best * ac.sampleRate) / an.fftSize - o.toneHz) < 30 && f[best]! > -70) break;
        }
        return { rgb, peakHz: (best * ac.sampleRate) / an.fftSize, peakDb: f[best]!, size: [video.videoWidth, video.videoHeight] };
      },
      { apiKey, sessionId, token: ot.generateToken(sessionId, { role: 'subscriber' }), streamId: running.streamId!, toneHz: TONE_HZ },
    );
    console.info(`[render] subscriber: mean colour ${seen.rgb.map((v) => v.toFixed(0)).join(',')} (${colourName(seen.rgb)}), ${seen.size.join('x')}, loudest ${seen.peakHz.toFixed(0)} Hz at ${seen.peakDb.toFixed(1)} dB`);
    expect(colourName(seen.rgb)).toBe('red');
    expect(Math.abs(seen.peakHz - TONE_HZ)).toBeLessThan(30);
    expect(seen.peakDb).toBeGreaterThan(-70);

    await sub.close();
    await sleep(ARCHIVE_MS - (Date.now() - archiveStarted));
    await call<ArchiveLike>((cb) => ot.stopArchive(archive.id, cb));
    renderArchive = archive.id;

    // Stop: 204, then `stopped` with its reason; the callbacks told every step.
    await call<void>((cb) => ot.stopRender(started.id, cb));
    const stopped = await getRender(started.id);
    expect(stopped).toMatchObject({ status: 'stopped', reason: 'Stop Requested' });
    await until(() => callbacks.some((c) => c.id === started.id && c.status === 'stopped'), { timeoutMs: 15_000, what: 'stopped callback' });
    const mine = callbacks.filter((c) => c.id === started.id);
    expect(mine.map((c) => c.status)).toEqual(['starting', 'started', 'stopped']);
    expect(mine[1]).toMatchObject({ event: 'started', streamId: running.streamId });
    expect(mine[2]).toMatchObject({ event: 'stopped', reason: 'Stop Requested' });
    // A second stop: the render is no longer running.
    await expect(call<void>((cb) => ot.stopRender(started.id, cb))).rejects.toThrow();
    // Its browser, profile and crash record are gone.
    expect(renderBrowsers()).toEqual([]);
    expect(readdirSync(pidRecords)).toEqual([]);
    // The stream went with it.
    await until(async () => !(await call<Array<{ id: string }>>((cb) => ot.listStreams(sessionId, cb))).some((s) => s.id === running.streamId), { timeoutMs: 10_000, what: 'render stream gone' });
  }, 240_000);

  // The render reaches the archive once the compositor's decoder for its stream runs: an ffmpeg
  // process (~0.4 s of CPU to start, seconds of wall time on a loaded machine), then the keyframe
  // the tap asks for. Until then the archive shows the empty layout, as for any publisher (seen:
  // 1.75 s at load average 8, 8.75 s at 18); the test checks every sampled frame from the first
  // red on.
  it('acceptance 1 (archive): a composed archive of a session with a render shows its colour and has its tone', async () => {
    expect(renderArchive, 'the archive recorded by the test before').toBeDefined();
    const done = await until(async () => {
      const a = await call<ArchiveLike>((cb) => ot.getArchive(renderArchive!, cb));
      return (a.status === 'available' || a.status === 'failed') && a;
    }, { timeoutMs: 90_000, what: 'archive available' });
    expect(done.status, done.reason).toBe('available');
    const file = join(dir, 'render.mp4');
    writeFileSync(file, Buffer.from(await (await fetch(done.url!)).arrayBuffer()));
    const probe = ffprobe(file);
    expect(probe.streams.map((st) => st.codec_name).sort()).toEqual(['aac', 'h264']);
    // The centre of a frame every half second (up to a quarter second before the end: a seek past
    // the last frame decodes nothing).
    const timeline: Array<[number, string]> = framesEvery(file, { from: 0.25, until: probe.duration, step: 0.5, width: 640, height: 480 }).map(([t, f]) => [t, colourName(meanColour(f, 640, { x: 160, y: 120, w: 320, h: 240 }))]);
    const first = timeline.findIndex(([, c]) => c === 'red');
    const from = first >= 0 ? timeline[first]![0] : probe.duration;
    const tone = toneLevel(file, TONE_HZ, from);
    // A band well away from the tone: the sound is the tone, not noise.
    const off = toneLevel(file, 2500, from);
    console.info(`[render] archive: ${probe.duration.toFixed(1)} s; the render's picture from ${from.toFixed(2)} s; ${TONE_HZ} Hz band ${tone.toFixed(1)} dB, 2500 Hz band ${off.toFixed(1)} dB; centre colour ${timeline.map(([t, c]) => `${t.toFixed(2)} ${c}`).join(', ')}`);
    expect(first, 'no red frame in the archive').toBeGreaterThanOrEqual(0);
    // Once there, the render stays: several frames, all red, to the end.
    const after = timeline.slice(first).map(([, c]) => c);
    expect(after.length).toBeGreaterThanOrEqual(4);
    expect(after.every((c) => c === 'red'), after.join(' ')).toBe(true);
    expect(tone).toBeGreaterThan(-40);
    expect(tone - off).toBeGreaterThan(20);
  }, 120_000);

  it('a URL that does not load (nothing listens; an HTTP 404) → failed "Could not load URL"; the stream name comes from properties.name; portrait sizes; the limit answers 429', async () => {
    const sessionId = await routedSession();
    const token = ot.generateToken(sessionId, { role: 'publisher' });
    const refused = await call<RenderLike>((cb) => ot.startRender({ sessionId, token, url: closedUrl, statusCallbackUrl: hookUrl }, cb));
    const missing = await call<RenderLike>((cb) => ot.startRender({ sessionId, token, url: `${pagesUrl}/missing` }, cb));
    for (const r of [refused, missing]) {
      const failed = await whenStatus(r.id, ['failed', 'started']);
      expect(failed).toMatchObject({ status: 'failed', reason: 'Could not load URL' });
    }
    await until(() => callbacks.some((c) => c.id === refused.id && c.status === 'failed' && c.reason === 'Could not load URL'), { timeoutMs: 15_000, what: 'failed callback' });

    // properties.name (sent by our SDK; opentok-node drops it) names the stream; 720x1280 is portrait.
    const sdk = new OpenTokTs(apiKey, apiSecret, server.url);
    const named = await sdk.startRender({ sessionId, token, url: `${pagesUrl}/blue`, resolution: '720x1280', properties: { name: 'Composer' } });
    const second = await sdk.startRender({ sessionId, token, url: `${pagesUrl}/red`, resolution: '480x640' });
    // Two running (the limit): the third is refused, naming the setting.
    const third = await fetch(`${server.url}/v2/project/${apiKey}/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-opentok-auth': restJwt(apiKey, apiSecret) },
      body: JSON.stringify({ sessionId, token, url: `${pagesUrl}/red` }),
    });
    expect(third.status).toBe(429);
    expect(((await third.json()) as { description: string }).description).toContain('renderMaxConcurrent');
    const up = await whenStatus(named.id, ['started', 'failed']);
    expect(up.status, up.reason).toBe('started');
    const streams = await call<Array<{ id: string; name: string; videoType?: string }>>((cb) => ot.listStreams(sessionId, cb));
    expect(streams.find((s) => s.id === up.streamId)?.name).toBe('Composer');
    const list = await sdk.listRenders({ count: 2 });
    expect(list.totalCount).toBeGreaterThanOrEqual(4);
    expect(list.items.map((r) => r.id)).toEqual([second.id, named.id]);
    await sdk.stopRender(named.id);
    await sdk.stopRender(second.id).catch(() => undefined);
    await until(() => renderBrowsers().length === 0, { timeoutMs: 10_000, what: 'no render browser' });
  }, 120_000);

  it('maxDuration ends a render "Max duration exceeded"; another is left running for the server\'s close (checked in afterAll)', async () => {
    const sessionId = await routedSession();
    const token = ot.generateToken(sessionId, { role: 'publisher' });
    // The smallest the API takes is 60 s; the service's timer is what is under test, so wait it out once.
    const r = await call<RenderLike>((cb) => ot.startRender({ sessionId, token, url: `${pagesUrl}/red`, maxDuration: 60 }, cb));
    const t0 = Date.now();
    const kept = await call<RenderLike>((cb) => ot.startRender({ sessionId, token, url: `${pagesUrl}/blue`, maxDuration: 600 }, cb));
    keptRunning = kept.id;
    const end = await whenStatus(r.id, ['stopped', 'failed'], 90_000);
    expect(end).toMatchObject({ status: 'stopped', reason: 'Max duration exceeded' });
    expect(Date.now() - t0).toBeGreaterThan(55_000);
    expect(await getRender(kept.id)).toMatchObject({ status: 'started' });
    // The ended render's browser is gone; the kept one's record and processes remain.
    await until(() => readdirSync(pidRecords).length === 1, { timeoutMs: 10_000, what: 'one render browser left' });
    expect(processGroup(Number(readdirSync(pidRecords)[0])).length).toBeGreaterThan(1);
  }, 120_000);

  it('after a SIGKILL of `tokhost serve`, its render browser outlives it; the next start kills it and fails the render "Server restarted"', async () => {
    ensureBuilt();
    const data = join(dir, 'serve-data');
    const pidDir = join(data, 'render-pids');
    const key = '6' + String(Date.now()).slice(-7);
    const secret = randomBytes(20).toString('hex');
    const args = ['--port', '0', '--data-dir', data, '--api-key', key, '--api-secret', secret, '--outbound-allow', '127.0.0.0/8', '--media-workers', '1', '--log-level', 'warn'];
    let first: ServeProcess | undefined;
    let second: ServeProcess | undefined;
    let group = -1;
    let profile = '';
    try {
      first = await serve(args);
      const ot1 = new OpenTok(key, secret, first.url) as Ot;
      const sessionId = (await call<{ sessionId: string }>((cb) => ot1.createSession({ mediaMode: 'routed' }, cb))).sessionId;
      const r = await call<RenderLike>((cb) => ot1.startRender({ sessionId, token: ot1.generateToken(sessionId, { role: 'publisher' }), url: `${pagesUrl}/red`, resolution: '640x480' }, cb));
      await until(async () => (await call<RenderLike>((cb) => ot1.getRender(r.id, cb))).status === 'started', { timeoutMs: 90_000, what: 'render started' });
      // What the cleanup reads: one record, named by the browser's pid, holding its profile.
      const records = readdirSync(pidDir);
      expect(records).toHaveLength(1);
      group = Number(records[0]);
      profile = readFileSync(join(pidDir, records[0]!), 'utf8').trim();
      expect(profile.startsWith(join(tmpdir(), PROFILE_PREFIX))).toBe(true);
      expect(existsSync(profile)).toBe(true);
      expect(readFileSync(`/proc/${group}/cmdline`, 'utf8')).toContain(`--user-data-dir=${profile}`);
      // The browser leads its own process group, with its renderer and helpers in it.
      const members = processGroup(group);
      console.info(`[render] serve's render browser: group ${group}, ${members.length} processes`);
      expect(members.length).toBeGreaterThan(1);
      expect(renderBrowsers()).toEqual(expect.arrayContaining(members));

      // Chromium shuts itself down when its DevTools pipe closes (measured here: 7 of its 10
      // processes gone within a second of the server's SIGKILL, the browser process and its zygotes
      // still there), so a healthy browser may leave nothing for the next start to find. The
      // cleanup is for one that does not exit (hung, or slow on a loaded machine): stop the whole
      // group first, so that it outlives the server for sure.
      process.kill(-group, 'SIGSTOP');
      first.child.kill('SIGKILL');
      await first.exited;
      await sleep(1000);
      // The browser outlived the server…
      expect(processGroup(group)).toEqual(expect.arrayContaining(members));
      expect(existsSync(profile)).toBe(true);
      // …until it starts again: the group is killed, the profile and the record removed.
      second = await serve(args);
      await until(() => processGroup(group).length === 0, { timeoutMs: 10_000, what: 'leftover browser group killed' });
      expect(existsSync(profile)).toBe(false);
      expect(readdirSync(pidDir)).toEqual([]);
      const ot2 = new OpenTok(key, secret, second.url) as Ot;
      const after = await call<RenderLike>((cb) => ot2.getRender(r.id, cb));
      expect(after).toMatchObject({ status: 'failed', reason: 'Server restarted' });
    } finally {
      await stop(first, 'SIGKILL');
      await stop(second);
      // Whatever happened above, leave no browser behind.
      if (group > 1 && processGroup(group).length > 0) process.kill(-group, 'SIGKILL');
      if (profile) rmSync(profile, { recursive: true, force: true });
    }
  }, 180_000);
});

/** An X-OPENTOK-AUTH project JWT (reference §1.3), made here so raw requests need no SDK internals. */
function restJwt(apiKey: string, apiSecret: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: apiKey, ist: 'project', iat: now, exp: now + 180, jti: randomBytes(8).toString('hex') })}`;
  return `${head}.${createHmac('sha256', apiSecret).update(head).digest('base64url')}`;
}
