/**
 * The remux sinks on a live ffmpeg-made MPEG-TS source: HLS into a temp dir, RTMP into a real
 * nginx-rtmp and into `ffmpeg -listen 1`, an unreachable one, a switch to another input,
 * and a sink that stops reading (drops to the next keyframe, the others go on).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HlsSink } from '../../src/compose/outputs/hls.js';
import { RemuxSink } from '../../src/compose/outputs/remux.js';
import { RtmpSink } from '../../src/compose/outputs/rtmp.js';
import { TsFanout } from '../../src/compose/ts-fanout.js';
import { decodeErrors, ffmpegRtmpListener, freePort, hasNginxRtmp, meanVolumeDb, probe, pullRtmp, startNginxRtmp, type NginxRtmp } from './fixtures/rtmp-servers.js';
import { startLiveTs, type LiveTsSource } from './fixtures/ts-source.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg && command -v ffprobe']).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = { info: () => {}, warn: () => {}, debug: () => {} };

async function until(what: string, fn: () => boolean, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe.skipIf(!hasFfmpeg || !hasNginxRtmp)('remux sinks', () => {
  let dir: string;
  let fanout: TsFanout;
  let source: LiveTsSource;
  let nginx: NginxRtmp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sinks-'));
    fanout = new TsFanout();
    source = startLiveTs(fanout, { size: '640x360', rate: 25, gop: 50, bitrate: '600k' });
    nginx = await startNginxRtmp();
  });

  afterAll(async () => {
    await source?.stop();
    await nginx?.stop();
    nginx?.cleanup();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('HLS: live once a segment is listed, ffprobe reads it, ENDLIST after close', async () => {
    const hls = new HlsSink({ dir: join(dir, 'hls'), logger });
    const statuses: string[] = [];
    hls.on('status', (s) => statuses.push(s));
    const t0 = Date.now();
    hls.start(fanout);
    await until('hls live', () => hls.status === 'live');
    const toLive = Date.now() - t0;
    expect(toLive).toBeLessThan(8000);
    expect(hls.playlist()).toMatch(/#EXTINF:/);
    expect(hls.playlist()).toMatch(/#EXT-X-PROGRAM-DATE-TIME:/);
    await sleep(3000);
    const info = await probe(join(hls.dir, 'index.m3u8'));
    expect(info.video).toEqual({ codec: 'h264', width: 640, height: 360 });
    expect(info.audio?.codec).toBe('aac');
    await hls.close();
    expect(hls.closed).toBe(true);
    expect(hls.ended).toBe(true);
    expect(statuses).toEqual(['live', 'stopping', 'closed']);
    expect(await decodeErrors(join(hls.dir, 'index.m3u8'))).toBe('');
    // 2 s segments: every listed duration is about 2 s (the last may be shorter).
    const durations = [...hls.playlist().matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    expect(durations.length).toBeGreaterThanOrEqual(2);
    for (const d of durations.slice(0, -1)) expect(d).toBeCloseTo(2, 0);
  });

  it('RTMP to nginx-rtmp and to ffmpeg -listen: H.264 + AAC at the source size, audio not silent', async () => {
    const listenerFile = join(dir, 'listener.flv');
    const listener = await ffmpegRtmpListener(listenerFile, 4);
    const a = new RtmpSink({ serverUrl: nginx.serverUrl, streamName: 'a', id: 'nginx', logger });
    const b = new RtmpSink({ serverUrl: listener.serverUrl, streamName: listener.streamName, id: 'listener', logger });
    const t0 = Date.now();
    a.start(fanout);
    b.start(fanout);
    await until('both live', () => a.status === 'live' && b.status === 'live');
    expect(Date.now() - t0).toBeLessThan(3000);
    const pulled = join(dir, 'pulled.flv');
    const pull = pullRtmp(`${nginx.serverUrl}/a`, pulled, 4);
    expect(await pull.done).toBe(0);
    await listener.done;
    await a.close();
    await b.close();
    for (const file of [pulled, listenerFile]) {
      const info = await probe(file);
      expect(info.video).toEqual({ codec: 'h264', width: 640, height: 360 });
      expect(info.audio?.codec).toBe('aac');
      expect(info.duration).toBeGreaterThan(2.5);
      expect(await meanVolumeDb(file)).toBeGreaterThan(-40); // a 440 Hz sine at ffmpeg's default level: about -21 dB
    }
  });

  // A server dropping and coming back is tested on the broadcast level (test/media/broadcast.test.ts).

  it('an unreachable RTMP server ends error with a reason; another output is unaffected', async () => {
    const closedPort = await freePort();
    const bad = new RtmpSink({ serverUrl: `rtmp://127.0.0.1:${closedPort}/live`, streamName: 'x', logger, initialBackoffMs: 100, connectAttempts: 3 });
    const good = new RtmpSink({ serverUrl: nginx.serverUrl, streamName: 'good', logger });
    bad.start(fanout);
    good.start(fanout);
    await until('bad error', () => bad.status === 'error');
    expect(bad.attempts).toBe(3);
    expect(bad.reason).toMatch(/Connection refused|Cannot open|error/i);
    expect(bad.closed).toBe(true);
    await until('good live', () => good.status === 'live');
    await good.close();
  });

  it('switchInput moves a live sink to a new composition output (own time zero) without a restart or a timestamp jump', async () => {
    const hls = new HlsSink({ dir: join(dir, 'hls-switch'), logger });
    hls.start(fanout);
    await until('hls live', () => hls.status === 'live');
    await sleep(2500);
    const pid = hls.pid;
    const other = new TsFanout();
    const second = startLiveTs(other, { size: '640x360', rate: 25, gop: 50, bitrate: '600k', frequency: 880 });
    try {
      hls.switchInput(other);
      const segments = (hls.playlist().match(/#EXTINF/g) ?? []).length;
      await until('segments from the new output', () => (hls.playlist().match(/#EXTINF/g) ?? []).length >= segments + 2);
      expect(hls.pid).toBe(pid);
      await hls.close();
    } finally {
      await second.stop();
    }
    expect(hls.ended).toBe(true);
    const playlist = join(hls.dir, 'index.m3u8');
    // ffmpeg's discontinuity shift gives the first frame after the seam the DTS of the last one
    // before it (at most one warning per stream); nothing else may fail to decode.
    const errors = (await decodeErrors(playlist)).split('\n').filter(Boolean);
    expect(errors.filter((l) => !/non monotonically increasing dts/.test(l))).toEqual([]);
    expect(errors.length).toBeLessThanOrEqual(2);
    const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time', '-of', 'default=nw=1:nk=1', playlist], { encoding: 'utf8' });
    const pts = r.stdout.trim().split('\n').map(Number).filter(Number.isFinite).sort((a, b) => a - b);
    expect(pts.length).toBeGreaterThan(100);
    // One continuous clock: no gap over 1 s between consecutive frames.
    const gaps = pts.slice(1).map((t, i) => t - pts[i]!);
    expect(Math.max(...gaps)).toBeLessThan(1);
  });

  it('a sink that stops reading drops to the next keyframe and rejoins; the others never stall', async () => {
    const stalled = new RemuxSink({ outputArgs: ['-f', 'mpegts', '-y', join(dir, 'stalled.ts')], logger, maxBufferedBytes: 256 * 1024 });
    const hls = new HlsSink({ dir: join(dir, 'hls-stall'), logger });
    stalled.start(fanout);
    hls.start(fanout);
    await until('stalled sink live', () => stalled.status === 'live');
    await until('hls live', () => hls.status === 'live');
    process.kill(stalled.pid!, 'SIGSTOP');
    const before = (hls.playlist().match(/#EXTINF/g) ?? []).length;
    await sleep(6000);
    expect((hls.playlist().match(/#EXTINF/g) ?? []).length).toBeGreaterThan(before + 1);
    expect(stalled.droppedJoins).toBeGreaterThanOrEqual(1);
    process.kill(stalled.pid!, 'SIGCONT');
    const bytesAtResume = stalled.bytesIn;
    await until('stalled sink fed again', () => stalled.bytesIn > bytesAtResume + 100_000);
    await stalled.close();
    await hls.close();
    // What it wrote decodes: the rejoin started at a keyframe (a timestamp jump, no broken frames).
    const errors = (await decodeErrors(join(dir, 'stalled.ts')))
      .split('\n')
      .filter((l) => l && !/continuity|Packet corrupt|non monotonically|DTS|PTS|Last message repeated/i.test(l));
    expect(errors).toEqual([]);
    expect(readdirSync(join(dir, 'hls-stall')).some((f) => f.endsWith('.ts'))).toBe(true);
  });
});
