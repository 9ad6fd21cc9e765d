/**
 * The remux sinks on a live ffmpeg-made MPEG-TS source: HLS into a temp dir, RTMP into a real
 * nginx-rtmp and into `ffmpeg -listen 1`, a server that drops and comes back, an unreachable one,
 * and a sink that stops reading (drops to the next keyframe, the others go on).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HlsSink } from '../../src/compose/sinks/hls.js';
import { RemuxSink } from '../../src/compose/sinks/remux.js';
import { RtmpSink, type RtmpStatus } from '../../src/compose/sinks/rtmp.js';
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
    rmSync(dir, { recursive: true, force: true });
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

  it('RTMP server drops and comes back: offline, then live again; HLS goes on meanwhile', async () => {
    const hls = new HlsSink({ dir: join(dir, 'hls-drop'), logger });
    const rtmp = new RtmpSink({ serverUrl: nginx.serverUrl, streamName: 'drop', logger, initialBackoffMs: 300 });
    const statuses: RtmpStatus[] = [];
    rtmp.on('status', (s) => statuses.push(s));
    hls.start(fanout);
    rtmp.start(fanout);
    await until('rtmp live', () => rtmp.status === 'live');
    await until('hls live', () => hls.status === 'live');
    await nginx.stop();
    await until('rtmp offline', () => rtmp.status === 'offline');
    const segmentsAtDrop = (hls.playlist().match(/#EXTINF/g) ?? []).length;
    await sleep(4500);
    expect((hls.playlist().match(/#EXTINF/g) ?? []).length).toBeGreaterThan(segmentsAtDrop);
    await nginx.restart();
    await until('rtmp live again', () => rtmp.status === 'live', 20000);
    expect(statuses).toEqual(['live', 'offline', 'live']);
    expect(rtmp.attempts).toBeGreaterThanOrEqual(2);
    const pulled = join(dir, 'after-drop.flv');
    expect(await pullRtmp(`${nginx.serverUrl}/drop`, pulled, 2).done).toBe(0);
    expect((await probe(pulled)).video?.codec).toBe('h264');
    await rtmp.close();
    await hls.close();
    expect(hls.ended).toBe(true);
  });

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
      .filter((l) => l && !/continuity|Packet corrupt|non monotonically|DTS|PTS/i.test(l));
    expect(errors).toEqual([]);
    expect(readdirSync(join(dir, 'hls-stall')).some((f) => f.endsWith('.ts'))).toBe(true);
  });
});
