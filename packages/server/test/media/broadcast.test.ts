/**
 * Broadcasts end to end through the REST API with the official `opentok` SDK, a real server,
 * real RTMP receivers (nginx-rtmp, ffmpeg -listen) and the HLS served by the server, on the
 * test compositions (a real ffmpeg encoder per composition) until the compositor is merged.
 */
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TokhostServer } from '../../src/create-server.js';
import { OfficialOpenTok, settle, type OpenTokLike, type Cb } from '../rest/opentok-types.js';
import { TestClient } from '../realtime/harness.js';
import { projectJwt } from '../rest/harness.js';
import { REALTIME_PATH } from '@tokhost/protocol';
import { decodeErrors, ffmpegRtmpListener, freePort, hasNginxRtmp, meanVolumeDb, probe, pullRtmp, startNginxRtmp, type NginxRtmp } from './fixtures/rtmp-servers.js';
import { TestCompositions } from './fixtures/test-compositions.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg && command -v ffprobe']).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEY = '4711';
const SECRET = 'broadcast-test-secret-0123456789abcdef';

interface RtmpJson {
  id?: string;
  serverUrl: string;
  streamName: string;
  status: string;
}
interface BroadcastLike {
  id: string;
  status: string;
  sessionId: string;
  resolution: string;
  streamMode: string;
  maxDuration: number;
  multiBroadcastTag?: string;
  settings?: { hls?: { lowLatency: boolean; dvr: boolean } };
  streams?: { streamId: string; hasAudio: boolean; hasVideo: boolean }[];
  broadcastUrls: null | { hls?: string; hlsStatus?: string; rtmp?: RtmpJson[] };
}
type Sdk = OpenTokLike & {
  setBroadcastLayout(id: string, type: string, stylesheet: string | null, screenshareType: string | null, cb: Cb): void;
  addBroadcastStream(id: string, streamId: string, options: Record<string, unknown>, cb: Cb): void;
  removeBroadcastStream(id: string, streamId: string, cb: Cb): void;
};

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.skipIf(!hasFfmpeg || !hasNginxRtmp)('broadcasts', () => {
  let dataDir: string;
  let server: TokhostServer;
  let ot: Sdk;
  let nginx: NginxRtmp;
  const compositions = new TestCompositions();
  let hook: Server;
  const callbacks: BroadcastLike[] = [];
  const clients: TestClient[] = [];
  let routed: string;

  const get = async (id: string) => (await settle<BroadcastLike>((cb) => ot.getBroadcast(id, cb as Cb))).value!;
  const start = (sessionId: string, options: Record<string, unknown>) => settle<BroadcastLike>((cb) => ot.startBroadcast(sessionId, options, cb as Cb));
  const stop = (id: string) => settle<BroadcastLike>((cb) => ot.stopBroadcast(id, cb as Cb));
  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}/v2/project/${KEY}${path}`, { method, headers: { 'X-OPENTOK-AUTH': projectJwt(KEY, SECRET), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  };
  const connectClient = async (sessionId: string) => {
    const token = ot.generateToken(sessionId, { role: 'publisher' });
    const { client, first } = await TestClient.connect({ wsUrl: server.url.replace('http', 'ws') + REALTIME_PATH, apiKey: KEY }, sessionId, token);
    expect(first.type).toBe('sessionConnected');
    clients.push(client);
    return client;
  };
  const newRoutedSession = async () => (await settle<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).value!.sessionId;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'broadcast-'));
    hook = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        callbacks.push(JSON.parse(body) as BroadcastLike);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    server = await createServer(
      { port: 0, outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey: KEY, apiSecret: SECRET, dataDir, logLevel: 'silent', hlsRetentionSeconds: 3 },
      { compositions, broadcastTuning: { rtmp: { initialBackoffMs: 300, connectAttempts: 2 } } },
    );
    server.store.updateProject(KEY, { webhookUrl: `http://127.0.0.1:${(hook.address() as { port: number }).port}/cb` });
    ot = new OfficialOpenTok(KEY, SECRET, server.url) as Sdk;
    nginx = await startNginxRtmp();
    routed = await newRoutedSession();
    await connectClient(routed);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
    await nginx?.stop();
    nginx?.cleanup();
    await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('refuses what OpenTok refuses, with the field named, and changes nothing', async () => {
    const relayed = (await settle<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: 'relayed' }, cb))).value!.sessionId;
    const empty = await newRoutedSession();
    const rtmp = (n: number) => Array.from({ length: n }, (_, i) => ({ serverUrl: nginx.serverUrl, streamName: `s${i}` }));
    const cases: Array<[string, Record<string, unknown>, number, RegExp]> = [
      [routed, { outputs: { rtmp: rtmp(6) } }, 400, /outputs\.rtmp.*at most 5/],
      [routed, { outputs: { hls: { dvr: true, lowLatency: true } } }, 400, /dvr and lowLatency/],
      [routed, { outputs: { hls: {} }, maxDuration: 59 }, 400, /maxDuration/],
      [routed, { outputs: { hls: {} }, maxDuration: 36001 }, 400, /maxDuration/],
      [routed, { outputs: {} }, 400, /outputs/],
      [routed, { outputs: { rtmp: [{ serverUrl: 'http://x/y', streamName: 'a' }] } }, 400, /serverUrl/],
      [routed, { outputs: { hls: {} }, resolution: '800x600' }, 400, /resolution/],
      [routed, { outputs: { hls: {} }, hasAudio: false, hasVideo: false }, 400, /hasAudio/],
      [relayed, { outputs: { hls: {} } }, 409, /routed/],
      [empty, { outputs: { hls: {} } }, 400, /No clients/],
      ['1_MX40NzExfn4xNzAwMDAwMDAwMDAwfkFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQX5-', { outputs: { hls: {} } }, 404, /not found/i],
    ];
    for (const [sessionId, options, status, message] of cases) {
      const r = await rest('POST', '/broadcast', { sessionId, ...options, streamMode: 'auto' });
      expect(r.status, JSON.stringify(options)).toBe(status);
      expect(r.text).toMatch(message);
    }
    // Through the official SDK the 400 arrives as its (copy-pasted) message.
    const viaSdk = await start(routed, { outputs: { rtmp: rtmp(6) } });
    expect(viaSdk.err?.message).toMatch(/Failed to start broadcast/);
    expect(server.store.listBroadcasts(KEY).total).toBe(0);
    expect(compositions.specs.length).toBe(0);
  });

  it('HLS + RTMP to nginx and ffmpeg -listen at 1280x720: live, playable, not silent; stop ends the playlist; a new one can start', async () => {
    const listenerFile = join(dataDir, 'listener.flv');
    const listener = await ffmpegRtmpListener(listenerFile, 5);
    const t0 = Date.now();
    const started = await start(routed, {
      outputs: {
        hls: {},
        rtmp: [
          { id: 'nginx', serverUrl: nginx.serverUrl, streamName: 'main' },
          { id: 'listener', serverUrl: listener.serverUrl, streamName: listener.streamName },
        ],
      },
      resolution: '1280x720',
      maxBitrate: 2_000_000,
    });
    expect(started.err).toBeNull();
    const b = started.value!;
    expect(b.status).toBe('started');
    expect(b.resolution).toBe('1280x720');
    expect(b.broadcastUrls?.hlsStatus).toBe('connecting');
    expect(b.broadcastUrls?.rtmp?.map((r) => [r.id, r.status])).toEqual([
      ['nginx', 'connecting'],
      ['listener', 'connecting'],
    ]);
    const hlsUrl = b.broadcastUrls!.hls!;
    expect(hlsUrl).toMatch(new RegExp(`^${server.url}/hls/[A-Za-z0-9_-]{32}/index\\.m3u8$`));
    expect(compositions.specs.at(-1)).toMatchObject({ apiKey: KEY, sessionId: routed, canvas: { width: 1280, height: 720 }, maxBitrate: 2_000_000, hasAudio: true, hasVideo: true, streamMode: 'auto' });

    const rtmpLive = await until('rtmp live', async () => {
      const g = await get(b.id);
      return g.broadcastUrls?.rtmp?.every((r) => r.status === 'live') && Date.now() - t0;
    });
    expect(rtmpLive).toBeLessThan(3000);
    await until('hls live', async () => (await get(b.id)).broadcastUrls?.hlsStatus === 'live');

    const pulled = join(dataDir, 'pulled.flv');
    expect(await pullRtmp(`${nginx.serverUrl}/main`, pulled, 4).done).toBe(0);
    await listener.done;
    for (const file of [pulled, listenerFile]) {
      const info = await probe(file);
      expect(info.video).toEqual({ codec: 'h264', width: 1280, height: 720 });
      expect(info.audio?.codec).toBe('aac');
      expect(await meanVolumeDb(file)).toBeGreaterThan(-40);
    }
    // The HLS URL, through the server's own HTTP route.
    const playlist = await fetch(hlsUrl);
    expect(playlist.status).toBe(200);
    expect(playlist.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(await playlist.text()).toMatch(/#EXTINF:/);
    const info = await probe(hlsUrl);
    expect(info.video).toEqual({ codec: 'h264', width: 1280, height: 720 });
    expect(info.audio?.codec).toBe('aac');
    // Unguessable: another token is 404, and so is a path outside the directory.
    expect((await fetch(hlsUrl.replace(/\/hls\/[^/]+\//, `/hls/${randomBytes(24).toString('base64url')}/`))).status).toBe(404);
    expect((await fetch(hlsUrl.replace('index.m3u8', '..%2Fx'))).status).toBe(404);

    const stopped = await stop(b.id);
    expect(stopped.err).toBeNull();
    expect(stopped.value!.status).toBe('stopped');
    expect(stopped.value!.broadcastUrls).toBeNull();
    const ended = await (await fetch(hlsUrl)).text();
    expect(ended).toMatch(/#EXT-X-ENDLIST\s*$/);
    expect(await decodeErrors(hlsUrl)).toBe('');
    expect(compositions.active).toBe(0);
    expect((await stop(b.id)).err?.message).toMatch(/Not Found|not found/);

    // The files go hlsRetentionSeconds (3 s here) after the end.
    await until('hls deleted', async () => (await fetch(hlsUrl)).status === 404, 8000);

    const again = await start(routed, { outputs: { hls: {} } });
    expect(again.err).toBeNull();
    const list = await settle<BroadcastLike[]>((cb) => ot.listBroadcasts({ sessionId: routed }, cb as Cb<unknown[]>));
    expect(list.value!.length).toBe(2);
    expect((list.extra as number) ?? 0).toBe(2);
    await stop(again.value!.id);

    // Callbacks: the Broadcast object with event "broadcast" on every change, ending stopped.
    await until('callbacks', () => callbacks.filter((c) => c.id === b.id && c.status === 'stopped').length === 1);
    const mine = callbacks.filter((c) => c.id === b.id);
    expect(mine.every((c) => (c as unknown as { event: string }).event === 'broadcast')).toBe(true);
    expect(mine[0]!.status).toBe('started');
    expect(mine.some((c) => c.broadcastUrls?.hlsStatus === 'live')).toBe(true);
    expect(mine.some((c) => c.broadcastUrls?.rtmp?.find((r) => r.id === 'nginx')?.status === 'live')).toBe(true);
    expect(mine.at(-1)!.broadcastUrls).toBeNull();
  });

  it('five RTMP outputs, one unreachable: four live, that one error, HLS live; nginx drops and comes back: offline, then live', async () => {
    const deadPort = await freePort();
    const outputs = [
      ...[1, 2, 3, 4].map((i) => ({ id: `ok${i}`, serverUrl: nginx.serverUrl, streamName: `five${i}` })),
      { id: 'dead', serverUrl: `rtmp://127.0.0.1:${deadPort}/live`, streamName: 'x' },
    ];
    const b = (await start(routed, { outputs: { hls: {}, rtmp: outputs } })).value!;
    const status = async () => Object.fromEntries((await get(b.id)).broadcastUrls!.rtmp!.map((r) => [r.id, r.status]));
    await until('four live, one error', async () => {
      const s = await status();
      return ['ok1', 'ok2', 'ok3', 'ok4'].every((k) => s[k] === 'live') && s.dead === 'error';
    });
    await until('hls live', async () => (await get(b.id)).broadcastUrls?.hlsStatus === 'live');
    const hlsUrl = (await get(b.id)).broadcastUrls!.hls!;
    const segments = async () => ((await (await fetch(hlsUrl)).text()).match(/#EXTINF/g) ?? []).length;

    await nginx.stop();
    await until('all four offline', async () => {
      const s = await status();
      return ['ok1', 'ok2', 'ok3', 'ok4'].every((k) => s[k] === 'offline');
    });
    const before = await segments();
    await sleep(4500);
    expect(await segments()).toBeGreaterThan(before); // HLS unaffected
    expect((await get(b.id)).broadcastUrls?.hlsStatus).toBe('live');
    await nginx.restart();
    await until('four live again', async () => {
      const s = await status();
      return ['ok1', 'ok2', 'ok3', 'ok4'].every((k) => s[k] === 'live');
    }, 25000);
    expect((await status()).dead).toBe('error');
    const pulled = join(dataDir, 'five.flv');
    expect(await pullRtmp(`${nginx.serverUrl}/five3`, pulled, 2).done).toBe(0);
    expect((await probe(pulled)).video?.codec).toBe('h264');
    await stop(b.id);
  });

  it('lowLatency: 1 s segments from a 1 s keyframe interval; dvr: every segment kept, URL marked ?DVR', async () => {
    const low = (await start(routed, { outputs: { hls: { lowLatency: true } }, resolution: '640x480' })).value!;
    expect(low.settings).toEqual({ hls: { lowLatency: true, dvr: false } });
    expect(compositions.specs.at(-1)!.keyframeIntervalSeconds).toBe(1);
    await until('low live', async () => (await get(low.id)).broadcastUrls?.hlsStatus === 'live');
    const lowUrl = (await get(low.id)).broadcastUrls!.hls!;
    await sleep(3500);
    const lowText = await (await fetch(lowUrl)).text();
    expect(lowText).toMatch(/#EXT-X-TARGETDURATION:1\b/);
    const lowDurations = [...lowText.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    expect(lowDurations.length).toBeGreaterThanOrEqual(3);
    for (const d of lowDurations) expect(d).toBeLessThanOrEqual(1.05);
    await stop(low.id);

    const dvr = (await start(routed, { outputs: { hls: { dvr: true } }, resolution: '480x640' })).value!;
    expect(dvr.broadcastUrls!.hls).toMatch(/index\.m3u8\?DVR$/);
    await until('dvr live', async () => (await get(dvr.id)).broadcastUrls?.hlsStatus === 'live');
    await sleep(6000);
    const dvrText = await (await fetch(dvr.broadcastUrls!.hls!)).text();
    expect(dvrText).toMatch(/#EXT-X-PLAYLIST-TYPE:EVENT/);
    expect(dvrText).toMatch(/#EXT-X-MEDIA-SEQUENCE:0\b/);
    expect(dvrText).toMatch(/seg-00000\.ts/);
    await stop(dvr.id);
    const probeDvr = await probe(join(dataDir, 'hls', dvr.id, 'index.m3u8'));
    expect(probeDvr.video).toEqual({ codec: 'h264', width: 480, height: 640 });
    expect(probeDvr.duration).toBeGreaterThan(5);
  });

  it('manual mode streams, layout changes while live, concurrent tagged broadcasts, audio-only', async () => {
    const streamClient = clients[0]!;
    void streamClient;
    const a = (await start(routed, { outputs: { hls: {} }, streamMode: 'manual', multiBroadcastTag: 'a', layout: { type: 'pip' } })).value!;
    expect(a.multiBroadcastTag).toBe('a');
    expect(a.streamMode).toBe('manual');
    expect(a.streams).toEqual([]);
    // A second broadcast without a tag, or with the same tag, is refused; another tag runs alongside.
    expect((await rest('POST', '/broadcast', { sessionId: routed, outputs: { hls: {} } })).status).toBe(409);
    expect((await rest('POST', '/broadcast', { sessionId: routed, outputs: { hls: {} }, multiBroadcastTag: 'a' })).status).toBe(409);
    const b = (await start(routed, { outputs: { hls: {} }, multiBroadcastTag: 'b', hasVideo: false })).value!;
    expect(b.status).toBe('started');
    const lease = compositions.specs.length - 2;
    expect(compositions.specs[lease]!.layout).toEqual({ type: 'pip' });
    expect(compositions.specs[lease + 1]).toMatchObject({ hasVideo: false, hasAudio: true });

    // Auto mode refuses stream changes with 405.
    expect((await rest('PATCH', `/broadcast/${b.id}/streams`, { addStream: 'nope' })).status).toBe(405);
    // Manual mode: an unknown stream is 404, nothing reaches the composition.
    expect((await rest('PATCH', `/broadcast/${a.id}/streams`, { addStream: 'no-such-stream' })).status).toBe(404);
    expect((await rest('PATCH', `/broadcast/${a.id}/streams`, { removeStream: 'no-such-stream' })).status).toBe(404);

    // Layout change while live (SDK call), validated first.
    expect((await rest('PUT', `/broadcast/${a.id}/layout`, { type: 'custom' })).status).toBe(400);
    const layoutChange = await settle((cb) => ot.setBroadcastLayout(a.id, 'horizontalPresentation', null, null, cb));
    expect(layoutChange.err).toBeNull();
    expect(compositions.calls.filter((c) => c.lease === lease && c.call === 'setLayout').map((c) => c.args[0])).toEqual([{ type: 'horizontalPresentation' }]);

    await until('b live', async () => (await get(b.id)).broadcastUrls?.hlsStatus === 'live');
    const audioOnly = await probe(join(dataDir, 'hls', b.id, 'index.m3u8'));
    expect(audioOnly.video).toBeUndefined();
    expect(audioOnly.audio?.codec).toBe('aac');
    await Promise.all([stop(a.id), stop(b.id)]);
    expect(compositions.active).toBe(0);
  });

  it('maxDuration stops the broadcast; so does a session left without clients', async () => {
    // A server whose second is 50 ms: maxDuration 60 lasts 3 s, the 60 s idle stop 3 s.
    const fast = await createServer({ port: 0, outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey: KEY, apiSecret: SECRET, dataDir: join(dataDir, 'fast'), logLevel: 'silent', reconnectGraceMs: 0 }, { compositions, broadcastTuning: { secondMs: 50 } });
    try {
      const fot = new OfficialOpenTok(KEY, SECRET, fast.url) as Sdk;
      const sessionId = (await settle<{ sessionId: string }>((cb) => fot.createSession({ mediaMode: 'routed' }, cb))).value!.sessionId;
      const token = fot.generateToken(sessionId, {});
      const { client } = await TestClient.connect({ wsUrl: fast.url.replace('http', 'ws') + REALTIME_PATH, apiKey: KEY }, sessionId, token);
      const b = (await settle<BroadcastLike>((cb) => fot.startBroadcast(sessionId, { outputs: { hls: {} }, maxDuration: 60 }, cb as Cb))).value!;
      expect(b.maxDuration).toBe(60);
      const t0 = Date.now();
      await until('stopped by maxDuration', () => fast.store.getBroadcast(KEY, b.id)?.broadcast.status === 'stopped', 10000);
      expect(Date.now() - t0).toBeGreaterThan(2500);
      expect(fast.store.getBroadcast(KEY, b.id)?.broadcast.broadcastUrls).toBeNull();

      const c = (await settle<BroadcastLike>((cb) => fot.startBroadcast(sessionId, { outputs: { hls: {} } }, cb as Cb))).value!;
      client.close();
      await until('stopped when idle', () => fast.store.getBroadcast(KEY, c.id)?.broadcast.status === 'stopped', 10000);
    } finally {
      await fast.close();
    }
  });
});
