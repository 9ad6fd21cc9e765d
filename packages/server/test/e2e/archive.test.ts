/**
 * Archives end to end (issue 9): real Chromium publishers with distinct fake cameras (y4m clips of
 * one colour each) and tones, the server's router and compositor, real ffmpeg, files checked
 * with ffprobe/ffmpeg: codecs, size, duration, gaps, audio level and the colours where the layout
 * puts each publisher.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import OpenTokTs from '@tokhost/sdk';
import { computeLayout } from '../../src/compose/layout/index.js';
import type { LayoutSpec, LayoutStream } from '../../src/compose/layout/index.js';
import type { TokhostServer } from '../../src/create-server.js';
import { colourName, ffprobe, frameAt, framesEvery, maxVideoGap, meanColour, meanVolume, toneLevel } from '../recording/media-check.js';
import { call, fakeCamera, hasChromium, hasCommands, launchChromium, OpenTok, openApp, SDK_BUILT, sleep, startAppOrigin, startServer, until } from '../kit/index.js';
import type { AppOrigin, OpenTokSdk } from '../kit/index.js';

interface ArchiveLike {
  id: string;
  status: string;
  url: string | null;
  size: number;
  duration: number;
  sha256sum: string;
  reason: string;
  name: string | null;
}
type OtArchives = OpenTokSdk & {
  startArchive(sessionId: string, options: Record<string, unknown>, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  stopArchive(id: string, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  getArchive(id: string, cb: (err: Error | null, a?: ArchiveLike) => void): void;
  deleteArchive(id: string, cb: (err: Error | null) => void): void;
};

const hasTools = hasChromium && SDK_BUILT && hasCommands('ffmpeg', 'ffprobe');
const COLOURS = { red: 440, blue: 880, green: 660 } as const;
type Colour = keyof typeof COLOURS;

describe.skipIf(!hasTools)('archives: recorded files from real publishers', () => {
  const apiKey = '7' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-archive-e2e-'));
  let server: TokhostServer;
  let appOrigin: AppOrigin;
  let hooks: Server;
  const callbacks: { id: string; status: string; event: string }[] = [];
  let appUrl: string;
  const browsers = new Map<Colour, Browser>();
  let ot: OtArchives;
  const pages: Page[] = [];

  beforeAll(async () => {
    // One fake camera (a y4m clip Chromium loops) and microphone (a tone) per colour.
    for (const [colour, hz] of Object.entries(COLOURS)) browsers.set(colour as Colour, await launchChromium(fakeCamera(dir, colour, { toneHz: hz })));
    hooks = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const j = JSON.parse(body) as { id: string; status: string; event: string };
        if (j.event === 'archive') callbacks.push({ id: j.id, status: j.status, event: j.event });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], dataDir: join(dir, 'data'), apiKey, apiSecret, mediaWorkers: 1, archiveIdleStopSeconds: 4 });
    server.store.updateProject(apiKey, { webhookUrl: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook` });
    ot = new OpenTok(apiKey, apiSecret, server.url) as OtArchives;
    appOrigin = await startAppOrigin();
    appUrl = appOrigin.url(server.url);
  }, 120_000);

  // Each test's publishers end with it: pages left open keep encoding and starve the next tests
  // of CPU (11 publishers by the sixth archive test, load average 20 on two cores).
  afterEach(async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => undefined);
  });

  afterAll(async () => {
    for (const p of pages) await p.close().catch(() => undefined);
    for (const b of browsers.values()) await b.close();
    await appOrigin?.close();
    await new Promise((r) => (hooks ? hooks.close(r) : r(undefined)));
    await server?.close();
    if (!process.env['KEEP_ARCHIVE_FILES']) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  async function publisher(colour: Colour, sessionId: string, opts: Record<string, unknown> = {}): Promise<{ page: Page; streamId: string; connectionId: string }> {
    const page = await openApp(browsers.get(colour)!, appUrl);
    pages.push(page);
    const token = ot.generateToken(sessionId, { role: 'moderator', data: `colour=${colour}` });
    const ids = await page.evaluate((o) => window.app.start(o), { apiKey, sessionId, token, name: colour, subscribe: false, resolution: '640x480', ...opts });
    return { page, streamId: ids.streamId!, connectionId: ids.connectionId };
  }
  const routedSession = async (opts: Record<string, unknown> = {}) => (await call<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed', ...opts }, cb))).sessionId;
  const getArchive = (id: string) => call<ArchiveLike>((cb) => ot.getArchive(id, cb));
  const whenDone = (id: string) => until(async () => { const a = await getArchive(id); return (a.status === 'available' || a.status === 'failed') && a; }, { timeoutMs: 60_000, what: `archive ${id} available` });
  async function download(url: string, file: string): Promise<Buffer> {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    writeFileSync(file, body);
    return body;
  }

  it('acceptance 1: a two-publisher composed archive (official SDK) downloads as H.264 + AAC with both publishers where bestFit puts them', async () => {
    const sessionId = await routedSession();
    const red = await publisher('red', sessionId);
    await publisher('blue', sessionId);
    await sleep(1500);
    const t0 = Date.now();
    const started = await call<ArchiveLike>((cb) => ot.startArchive(sessionId, { name: 'two', resolution: '640x480' }, cb));
    expect(started.status).toBe('started');
    const tStarted = Date.now();
    await until(async () => (await red.page.evaluate(() => window.app.events)).some((e) => e.type === 'archiveStarted' && e['id'] === started.id), { timeoutMs: 5000, what: 'archiveStarted in the browser' });
    await sleep(10_000);
    const stopped = await call<ArchiveLike>((cb) => ot.stopArchive(started.id, cb));
    const span = (Date.now() - tStarted) / 1000;
    console.info(`[archive] startArchive answered in ${tStarted - t0} ms`);
    expect(stopped.status).toBe('stopped');
    expect(stopped.reason).toBe('user initiated');
    await until(async () => (await red.page.evaluate(() => window.app.events)).some((e) => e.type === 'archiveStopped' && e['id'] === started.id), { timeoutMs: 5000, what: 'archiveStopped in the browser' });
    const done = await whenDone(started.id);
    expect(done.status, done.reason).toBe('available');
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/archive-files\//);
    const file = join(dir, 'two.mp4');
    const body = await download(done.url!, file);
    expect(body.length).toBe(done.size);
    expect(createHash('sha256').update(body).digest('base64')).toBe(done.sha256sum);
    const probe = ffprobe(file);
    const v = probe.streams.find((s) => s.codec_type === 'video');
    const a = probe.streams.find((s) => s.codec_type === 'audio');
    expect(v).toMatchObject({ codec_name: 'h264', width: 640, height: 480 });
    expect(a?.codec_name).toBe('aac');
    const gap = maxVideoGap(file);
    const volume = meanVolume(file);
    const rgb = frameAt(file, probe.duration - 2, 640, 480);
    const left = colourName(meanColour(rgb, 640, { x: 40, y: 160, w: 240, h: 160 }));
    const right = colourName(meanColour(rgb, 640, { x: 360, y: 160, w: 240, h: 160 }));
    const top = colourName(meanColour(rgb, 640, { x: 40, y: 20, w: 240, h: 60 }));
    console.info(`[archive] composed 640x480: span ${span.toFixed(1)} s, file ${probe.duration.toFixed(2)} s (archive.duration ${done.duration}), ${done.size} bytes, max video gap ${(gap * 1000).toFixed(0)} ms, mean volume ${volume} dB, left ${left}, right ${right}, letterbox ${top}`);
    expect(Math.abs(probe.duration - span)).toBeLessThan(1);
    expect(gap).toBeLessThan(0.5);
    // Chromium's audio processing sends the -21 dB test tones at about -40 dB; silence is -91 dB.
    expect(volume).toBeGreaterThan(-55);
    // Both publishers are in the mix: each one's tone (440 Hz red, 880 Hz blue) is there.
    expect(toneLevel(file, 440)).toBeGreaterThan(-55);
    expect(toneLevel(file, 880)).toBeGreaterThan(-55);
    expect([left, right, top]).toEqual(['red', 'blue', 'black']);
    expect(callbacks.filter((c) => c.id === started.id).map((c) => c.status)).toEqual(['started', 'stopped', 'available']);
  }, 120_000);

  it('acceptance 1: an individual archive (@tokhost/sdk) is a ZIP with one playable WebM per stream and the manifest', async () => {
    const sdk = new OpenTokTs(apiKey, apiSecret, { apiUrl: server.url });
    const sessionId = await routedSession();
    const red = await publisher('red', sessionId);
    const blue = await publisher('blue', sessionId);
    await sleep(1000);
    const started = await sdk.startArchive(sessionId, { outputMode: 'individual', name: 'each' });
    expect(started.status).toBe('started');
    await sleep(6000);
    await sdk.stopArchive(started.id);
    const done = await whenDone(started.id);
    expect(done.status, done.reason).toBe('available');
    const zipFile = join(dir, 'each.zip');
    await download(done.url!, zipFile);
    const entries = await unzip(zipFile, join(dir, 'each'));
    const manifest = JSON.parse(readFileSync(join(dir, 'each', `${started.id}.json`), 'utf8')) as { id: string; sessionId: string; name: string; files: { streamId: string; filename: string; size: number; connectionData: string; startTimeOffset: number; stopTimeOffset: number; videoType: string }[] };
    expect(manifest).toMatchObject({ id: started.id, sessionId, name: 'each' });
    expect(manifest.files.map((f) => f.streamId).sort()).toEqual([red.streamId, blue.streamId].sort());
    for (const f of manifest.files) {
      expect(entries).toContain(f.filename);
      const p = ffprobe(join(dir, 'each', f.filename));
      expect(p.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
      expect(p.duration).toBeGreaterThan(4);
      expect(f.stopTimeOffset).toBeGreaterThan(f.startTimeOffset);
      expect(f.videoType).toBe('camera');
      expect(f.connectionData).toMatch(/^colour=/);
      expect(readFileSync(join(dir, 'each', f.filename)).length).toBe(f.size);
      const colour = colourName(meanColour(frameAt(join(dir, 'each', f.filename), p.duration - 1, 640, 480), 640, { x: 100, y: 100, w: 400, h: 280 }));
      expect(colour).toBe(f.connectionData.slice('colour='.length));
      console.info(`[archive] individual ${f.filename}: ${p.duration.toFixed(2)} s, ${f.size} bytes, offsets ${f.startTimeOffset}–${f.stopTimeOffset} ms, ${colour}`);
    }
  }, 120_000);

  /** The colour at the centre of each box the layout engine gives for these streams, in a decoded frame. */
  function expectLayout(file: string, t: number, spec: LayoutSpec, streams: { streamId: string; colour: Colour; classes?: string[] }[], canvas = { width: 640, height: 480 }) {
    const ls: LayoutStream[] = streams.map((s, i) => ({ streamId: s.streamId, connectionId: `c${i}`, videoType: 'camera', layoutClassList: s.classes ?? [], order: i }));
    const boxes = computeLayout(spec, ls, canvas);
    const rgb = frameAt(file, t, canvas.width, canvas.height);
    const seen: Record<string, string> = {};
    // Paint order: a box drawn later covers earlier ones, so check each box where nothing above it paints.
    for (const [i, box] of boxes.entries()) {
      const above = boxes.slice(i + 1);
      const cx = Math.round(box.x + box.width * 0.5);
      const cy = Math.round(box.y + box.height * 0.5);
      const w = Math.max(4, Math.round(box.width * 0.2));
      const h = Math.max(4, Math.round(box.height * 0.2));
      const rect = { x: Math.max(0, cx - (w >> 1)), y: Math.max(0, cy - (h >> 1)), w, h };
      if (above.some((b) => rect.x < b.x + b.width && rect.x + rect.w > b.x && rect.y < b.y + b.height && rect.y + rect.h > b.y)) continue;
      const want = streams.find((st) => st.streamId === box.streamId)!.colour;
      seen[want] = colourName(meanColour(rgb, canvas.width, rect));
    }
    const wanted = Object.fromEntries(Object.keys(seen).map((k) => [k, k]));
    expect(seen, `${spec.type} at ${t.toFixed(1)} s`).toEqual(wanted);
    return boxes;
  }

  /**
   * The first time in [from, to] (0.25 s steps) at which {@link expectLayout} holds, for changes
   * whose delay depends on the machine (a newcomer's decoder start and first keyframe: 0.5–2.5 s
   * on a quiet machine, more on a loaded one); fails with the last difference seen.
   */
  function expectLayoutWithin(file: string, from: number, to: number, spec: LayoutSpec, streams: { streamId: string; colour: Colour; classes?: string[] }[]) {
    let last: unknown = new Error(`empty window ${from.toFixed(2)}–${to.toFixed(2)} s`);
    for (let t = from; t <= to + 1e-9; t += 0.25) {
      try {
        return { t, boxes: expectLayout(file, t, spec, streams) };
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  it('acceptance 2: every predefined layout and a custom stylesheet, changed mid-recording, with a class change (pixel regions of decoded frames)', async () => {
    const sdk = new OpenTokTs(apiKey, apiSecret, { apiUrl: server.url });
    const sessionId = await routedSession();
    const pubs = [await publisher('red', sessionId), await publisher('blue', sessionId), await publisher('green', sessionId)];
    await sleep(1500);
    const started = await sdk.startArchive(sessionId, { name: 'layouts', layout: { type: 'bestFit' } });
    const t0 = Date.now();
    const custom = 'stream { float: left; width: 33.3333%; height: 100%; }';
    const plan: { spec: LayoutSpec; focus?: number }[] = [
      { spec: { type: 'bestFit' } },
      { spec: { type: 'pip' } },
      { spec: { type: 'verticalPresentation' }, focus: 2 },
      { spec: { type: 'horizontalPresentation' }, focus: 2 },
      { spec: { type: 'custom', stylesheet: custom }, focus: 2 },
    ];
    const marks: number[] = [];
    for (const [i, step] of plan.entries()) {
      if (i > 0) {
        if (step.focus !== undefined && plan[i - 1]!.focus === undefined) await sdk.setStreamClassLists(sessionId, [{ id: pubs[step.focus]!.streamId, layoutClassList: ['focus'] }]);
        await sdk.setArchiveLayout(started.id, step.spec);
      }
      marks.push((Date.now() - t0) / 1000);
      // The first step also covers the start of three decoders (0.5–2.5 s each on this machine).
      await sleep(i === 0 ? 5000 : 3000);
    }
    await sdk.stopArchive(started.id);
    const done = await whenDone(started.id);
    expect(done.status, done.reason).toBe('available');
    const file = join(dir, 'layouts.mp4');
    await download(done.url!, file);
    const colours: Colour[] = ['red', 'blue', 'green'];
    for (const [i, step] of plan.entries()) {
      // OpenTok ordering: classed streams first, so the focus stream leads once it has its class.
      const streams = pubs.map((p, k) => ({ streamId: p.streamId, colour: colours[k]!, classes: step.focus === k ? ['focus'] : [] }));
      const ordered = step.focus === undefined ? streams : [streams[step.focus]!, ...streams.filter((_, k) => k !== step.focus)];
      // Each step's picture is looked for while the step lasted (the first one includes the start of three decoders).
      const { t: at, boxes } = expectLayoutWithin(file, marks[i]! + (i === 0 ? 1 : 0.5), (marks[i + 1] ?? marks[i]! + 3) - 0.25, step.spec, ordered);
      console.info(`[archive] ${step.spec.type} from ${at.toFixed(1)} s (${(at - marks[i]!).toFixed(2)} s after the change): ${boxes.map((b) => `${colours[pubs.findIndex((p) => p.streamId === b.streamId)]} ${b.x},${b.y} ${b.width}x${b.height}`).join('; ')}`);
    }
    expect(maxVideoGap(file)).toBeLessThan(0.5);
  }, 150_000);

  it('acceptance 2: a stream joining and one leaving mid-recording (no gap, the layout follows within 1 s)', async () => {
    const sdk = new OpenTokTs(apiKey, apiSecret, { apiUrl: server.url });
    const sessionId = await routedSession();
    const red = await publisher('red', sessionId);
    await sleep(1000);
    const started = await sdk.startArchive(sessionId, { name: 'join-leave' });
    const t0 = Date.now();
    await sleep(3000);
    // Blue's stream exists from some time between these two marks (a page may take seconds to start).
    const beforeJoin = (Date.now() - t0) / 1000;
    const blue = await publisher('blue', sessionId);
    const joined = (Date.now() - t0) / 1000;
    await sleep(5000);
    await red.page.evaluate(() => window.app.session.disconnect());
    await until(async () => (await sdk.listStreams(sessionId)).length === 1, { timeoutMs: 10_000, what: 'red left' });
    const left = (Date.now() - t0) / 1000;
    await sleep(3000);
    await sdk.stopArchive(started.id);
    const done = await whenDone(started.id);
    expect(done.status, done.reason).toBe('available');
    const file = join(dir, 'join-leave.mp4');
    await download(done.url!, file);
    expectLayout(file, beforeJoin - 0.5, { type: 'bestFit' }, [{ streamId: red.streamId, colour: 'red' }]);
    // Within 1 s of the join the picture is split (red moved left); the newcomer shows once decoded.
    const split = frameAt(file, joined + 1, 640, 480);
    expect(colourName(meanColour(split, 640, { x: 100, y: 200, w: 100, h: 80 }))).toBe('red');
    expect(colourName(meanColour(split, 640, { x: 40, y: 20, w: 200, h: 60 }))).toBe('black');
    // The newcomer's picture needs its decoder started and a keyframe: 0.5–2.5 s measured here.
    const both = expectLayoutWithin(file, joined, left - 0.25, { type: 'bestFit' }, [{ streamId: red.streamId, colour: 'red' }, { streamId: blue.streamId, colour: 'blue' }]);
    expectLayout(file, left + 1, { type: 'bestFit' }, [{ streamId: blue.streamId, colour: 'blue' }]);
    const gap = maxVideoGap(file);
    console.info(`[archive] join at ${beforeJoin.toFixed(1)}–${joined.toFixed(1)} s (newcomer's picture from ${both.t.toFixed(2)} s), leave at ${left.toFixed(1)} s, max video gap ${(gap * 1000).toFixed(0)} ms`);
    expect(gap).toBeLessThan(0.5);
  }, 120_000);

  it('acceptance 2: manual stream mode (add with hasAudio false, add, remove), paused while nothing is chosen, 405 for an auto archive', async () => {
    const sdk = new OpenTokTs(apiKey, apiSecret, { apiUrl: server.url });
    const sessionId = await routedSession();
    const red = await publisher('red', sessionId);
    const blue = await publisher('blue', sessionId);
    const auto = await sdk.startArchive(sessionId, { multiArchiveTag: 'auto' });
    const refused = await call<void>((cb) => (ot as unknown as { addArchiveStream(a: string, s: string, o: object, cb: (e: Error | null) => void): void }).addArchiveStream(auto.id, red.streamId, {}, cb)).catch((e: Error) => e);
    expect(String(refused)).toMatch(/Unsupported Stream Mode/);
    await sdk.stopArchive(auto.id);
    const started = await sdk.startArchive(sessionId, { streamMode: 'manual', multiArchiveTag: 'manual', name: 'manual' });
    expect(started.status).toBe('started');
    await until(async () => (await getArchive(started.id)).status === 'paused', { timeoutMs: 5000, what: 'paused: no stream chosen' });
    await sdk.addArchiveStream(started.id, red.streamId, { hasAudio: false });
    const t0 = Date.now();
    await until(async () => (await getArchive(started.id)).status === 'started', { timeoutMs: 5000, what: 'started once a stream is chosen' });
    await sleep(4000);
    await sdk.addArchiveStream(started.id, blue.streamId);
    const both = (Date.now() - t0) / 1000;
    expect((await sdk.getArchive(started.id)).streams?.map((x) => x.streamId).sort()).toEqual([red.streamId, blue.streamId].sort());
    await sleep(5000);
    await sdk.removeArchiveStream(started.id, red.streamId);
    const blueOnly = (Date.now() - t0) / 1000;
    expect((await sdk.getArchive(started.id)).streams).toEqual([{ streamId: blue.streamId, hasAudio: true, hasVideo: true }]);
    await sleep(4000);
    await sdk.stopArchive(started.id);
    const done = await whenDone(started.id);
    expect(done.status, done.reason).toBe('available');
    const file = join(dir, 'manual.mp4');
    await download(done.url!, file);
    expectLayout(file, both - 1, { type: 'bestFit' }, [{ streamId: red.streamId, colour: 'red' }]);
    const added = expectLayoutWithin(file, both + 0.5, blueOnly - 0.25, { type: 'bestFit' }, [{ streamId: red.streamId, colour: 'red' }, { streamId: blue.streamId, colour: 'blue' }]);
    console.info(`[archive] manual: blue's picture ${(added.t - both).toFixed(2)} s after addArchiveStream`);
    expectLayout(file, blueOnly + 2.5, { type: 'bestFit' }, [{ streamId: blue.streamId, colour: 'blue' }]);
    // Red was added without audio: only blue's 880 Hz tone is in the mix.
    expect(toneLevel(file, 440)).toBeLessThan(toneLevel(file, 880) - 15);
    const statuses = callbacks.filter((c) => c.id === started.id).map((c) => c.status);
    console.info(`[archive] manual: both at ${both.toFixed(1)} s, blue only at ${blueOnly.toFixed(1)} s; callbacks ${statuses.join(' → ')}; 440 Hz ${toneLevel(file, 440)} dB, 880 Hz ${toneLevel(file, 880)} dB`);
    expect(statuses).toEqual(['started', 'paused', 'started', 'stopped', 'available']);
  }, 120_000);

  it('acceptance 2: multiArchiveTag archives at once (audio-only and 720p video-only), a second untagged one refused, delete', async () => {
    const sessionId = await routedSession();
    await publisher('green', sessionId);
    const audio = await call<ArchiveLike>((cb) => ot.startArchive(sessionId, { multiArchiveTag: 'a', hasVideo: false, name: 'audio' }, cb));
    const video = await call<ArchiveLike>((cb) => ot.startArchive(sessionId, { multiArchiveTag: 'b', hasAudio: false, resolution: '1280x720', name: 'video' }, cb));
    const third = await call<ArchiveLike>((cb) => ot.startArchive(sessionId, {}, cb)).catch((e: Error) => e);
    expect(third).toBeInstanceOf(Error);
    const busy = await call<void>((cb) => ot.deleteArchive(audio.id, cb)).catch((e: Error) => e);
    expect(busy).toBeInstanceOf(Error);
    await sleep(6000);
    await call<ArchiveLike>((cb) => ot.stopArchive(audio.id, cb));
    await call<ArchiveLike>((cb) => ot.stopArchive(video.id, cb));
    const [a, v] = [await whenDone(audio.id), await whenDone(video.id)];
    expect([a.status, v.status], `${a.reason} ${v.reason}`).toEqual(['available', 'available']);
    const af = join(dir, 'audio.mp4');
    const vf = join(dir, 'video.mp4');
    await download(a.url!, af);
    await download(v.url!, vf);
    expect(ffprobe(af).streams.map((x) => x.codec_name)).toEqual(['aac']);
    expect(toneLevel(af, 660)).toBeGreaterThan(-55);
    expect(ffprobe(vf).streams).toMatchObject([{ codec_name: 'h264', width: 1280, height: 720 }]);
    // The publisher's picture, once its decoder has started (two compositions at once, one of
    // them 720p, start slower on a loaded machine): looked for from 1 s to the end.
    const vDuration = ffprobe(vf).duration;
    let greenAt = NaN;
    let seenColour = '';
    for (let t = 1; t < vDuration - 0.25 && Number.isNaN(greenAt); t += 0.5) {
      seenColour = colourName(meanColour(frameAt(vf, t, 1280, 720), 1280, { x: 500, y: 260, w: 280, h: 200 }));
      if (seenColour === 'green') greenAt = t;
    }
    expect(seenColour, `the 720p video-only archive shows the publisher (last sample ${seenColour})`).toBe('green');
    // Green stays to the end.
    // Up to a quarter second before the container's end (half size: the same centre rectangle).
    const timeline = framesEvery(vf, { from: 0.25, until: vDuration, step: 0.5, width: 640, height: 360 }).map(([t, f]) => `${t.toFixed(2)} ${colourName(meanColour(f, 640, { x: 250, y: 130, w: 140, h: 100 }))}`);
    console.info(`[archive] tags timeline: ${timeline.join(', ')}`);
    expect(colourName(meanColour(frameAt(vf, vDuration - 0.5, 1280, 720), 1280, { x: 500, y: 260, w: 280, h: 200 }))).toBe('green');
    console.info(`[archive] tags: audio-only ${ffprobe(af).duration.toFixed(2)} s (${a.size} bytes), video-only 1280x720 ${vDuration.toFixed(2)} s (${v.size} bytes), publisher's picture from ${greenAt.toFixed(1)} s`);
    await call<void>((cb) => ot.deleteArchive(v.id, cb));
    expect((await fetch(v.url!)).status).toBe(404);
    const gone = await call<ArchiveLike>((cb) => ot.getArchive(v.id, cb)).catch((e: Error) => e);
    expect(String(gone)).toMatch(/not found/i);
    expect(existsSync(join(dir, 'data', 'archives', apiKey, `${v.id}.mp4`))).toBe(false);
    expect(existsSync(join(dir, 'data', 'archives', apiKey, `${a.id}.mp4`))).toBe(true);
  }, 120_000);

  it('acceptance 2: an archive stops by itself after the last client left (idle stop, 4 s here; 60 s by default)', async () => {
    const sessionId = await routedSession();
    const red = await publisher('red', sessionId);
    const started = await call<ArchiveLike>((cb) => ot.startArchive(sessionId, { name: 'idle' }, cb));
    await sleep(3000);
    await red.page.evaluate(() => window.app.session.disconnect());
    const left = Date.now();
    const stopped = await until(async () => { const a = await getArchive(started.id); return a.status !== 'started' && a.status !== 'paused' && a; }, { timeoutMs: 15_000, what: 'idle stop' });
    const after = (Date.now() - left) / 1000;
    expect(stopped.reason).toBe('session ended');
    expect(after).toBeGreaterThan(3.5);
    const done = await whenDone(started.id);
    expect(done.status, done.reason).toBe('available');
    console.info(`[archive] idle stop ${after.toFixed(1)} s after the last client left; ${done.duration} s recorded`);
  }, 60_000);
});

describe.skipIf(!hasTools)('archives: archiveMode always and the maximum duration', () => {
  const apiKey = '8' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-archive-always-'));
  let server: TokhostServer;
  let browser: Browser;
  let appOrigin: AppOrigin;

  beforeAll(async () => {
    server = await startServer({ outboundAllow: ['127.0.0.0/8'], dataDir: join(dir, 'data'), apiKey, apiSecret, mediaWorkers: 1, archiveMaxDurationSeconds: 5 });
    browser = await launchChromium();
    appOrigin = await startAppOrigin();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await appOrigin?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('the first client starts an archive with the session archive name and resolution; it stops at the maximum duration', async () => {
    const sdk = new OpenTokTs(apiKey, apiSecret, { apiUrl: server.url });
    const session = await sdk.createSession({ mediaMode: 'routed', archiveMode: 'always', archiveName: 'always on', archiveResolution: '1280x720' });
    expect((await sdk.listArchives({ sessionId: session.sessionId })).totalCount).toBe(0);
    const page = await openApp(browser, appOrigin.url(server.url));
    await page.evaluate((o) => window.app.start(o), { apiKey, sessionId: session.sessionId, token: sdk.generateToken(session.sessionId), name: 'p', subscribe: false });
    const list = (await until(async () => { const l = await sdk.listArchives({ sessionId: session.sessionId }); return l.totalCount === 1 && l; }, { timeoutMs: 10_000, what: 'automatic archive' })).items;
    expect(list[0]).toMatchObject({ name: 'always on', resolution: '1280x720', outputMode: 'composed' });
    await until(async () => (await page.evaluate(() => window.app.events)).some((e) => e.type === 'archiveStarted'), { timeoutMs: 5000, what: 'archiveStarted' });
    const ended = await until(async () => { const a = await sdk.getArchive(list[0]!.id); return (a.status === 'available' || a.status === 'failed') && a; }, { timeoutMs: 30_000, what: 'maximum duration stop' });
    expect(ended.status, ended.reason).toBe('available');
    expect(ended.reason).toBe('maximum duration exceeded');
    expect(Math.abs(ended.duration - 5)).toBeLessThanOrEqual(1);
    await page.close();
  }, 90_000);
});

function unzip(file: string, into: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        names.push(entry.fileName);
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            spawnSync('mkdir', ['-p', into]);
            writeFileSync(join(into, entry.fileName), Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(names));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}
