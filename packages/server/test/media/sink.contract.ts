/**
 * The behaviour every output of a composition must have (archive file, HLS, RTMP), run by each
 * implementation in sink-contract.test.ts on a live ffmpeg-made MPEG-TS source: it goes live and
 * says so; close finalises the output and it decodes to the end; a reader that stops reading is
 * bounded (it drops to a keyframe, or holds the producer and loses nothing); an input switch
 * keeps the output's timestamps monotonic. A case an implementation cannot run is skipped with
 * the reason in its title.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CompositionSink } from '../../src/compose/outputs/sink.js';
import { TsFanout } from '../../src/compose/ts-fanout.js';
import { decodeErrors, probe } from './fixtures/rtmp-servers.js';
import { startLiveTs, type LiveTsSource } from './fixtures/ts-source.js';

export const silentLogger = { info: () => {}, warn: () => {}, debug: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** What a sink reports about falling behind. */
export interface BehindStats {
  /** The ffmpeg process to stop (SIGSTOP) for the slow-reader case. */
  pid: number | undefined;
  droppedJoins: number;
  holds: number;
  peakQueuedBytes: number;
}

export type SinkCase = 'live' | 'trailer' | 'slowReader' | 'switchInput';

export interface SinkHarness<S extends CompositionSink> {
  /** A new sink writing under `dir` (a fresh directory per test). */
  make(dir: string, options: { maxBufferedBytes?: number }): S | Promise<S>;
  /** After `close()`: what a player or the archive's user gets, to decode (a file or a playlist). */
  output(sink: S, dir: string): Promise<string>;
  /** After `close()`: whether the output carries its end (MP4 trailer, `#EXT-X-ENDLIST`, a receiver that saw the stream end). */
  finalised(sink: S, output: string): Promise<boolean>;
  /** What the sink does when behind. */
  whenBehind: 'drop' | 'wait';
  behind(sink: S): BehindStats;
  /** Cases this implementation cannot run, with the reason. */
  skip?: Partial<Record<SinkCase, string>>;
  /** Called after each test (stop helper servers). */
  cleanup?(): void | Promise<void>;
}

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg && command -v ffprobe']).status === 0;

/** Video packet DTS of a file or playlist, in file order (seconds). */
function videoDts(input: string): number[] {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=dts_time', '-of', 'default=nw=1:nk=1', input], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').map(Number).filter(Number.isFinite);
}

const maxGap = (ts: number[]): number => Math.max(...ts.slice(1).map((t, i) => t - ts[i]!));

export function sinkContract<S extends CompositionSink>(name: string, harness: SinkHarness<S>): void {
  const title = (c: SinkCase, text: string) => (harness.skip?.[c] ? `${text} (skipped: ${harness.skip[c]})` : text);
  const run = (c: SinkCase) => it.skipIf(!!harness.skip?.[c]);

  describe.skipIf(!hasFfmpeg)(`composition sink contract: ${name}`, () => {
    let fanout: TsFanout;
    let source: LiveTsSource;
    let dir: string;
    let sink: S | undefined;

    beforeAll(() => {
      fanout = new TsFanout();
      source = startLiveTs(fanout, { size: '640x360', rate: 25, gop: 50, bitrate: '600k' });
    });
    afterAll(async () => {
      await source?.stop();
    });
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sink-contract-'));
    });
    afterEach(async () => {
      await sink?.close();
      sink = undefined;
      await harness.cleanup?.();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    });

    run('live')(title('live', 'goes live within 8 s of start, and its status says so'), async () => {
      sink = await harness.make(dir, {});
      expect(sink.status).not.toBe('live');
      const t0 = Date.now();
      sink.start(fanout);
      await until('live', () => sink!.status === 'live', 8000);
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(sink.closed).toBe(false);
    });

    run('trailer')(title('trailer', 'close finalises the output, which decodes to the end without errors'), async () => {
      sink = await harness.make(dir, {});
      sink.start(fanout);
      await until('live', () => sink!.status === 'live');
      const liveAt = Date.now();
      await sleep(4000);
      await sink.close();
      const liveSeconds = (Date.now() - liveAt) / 1000;
      expect(sink.closed).toBe(true);
      const out = await harness.output(sink, dir);
      expect(await harness.finalised(sink, out)).toBe(true);
      expect(await decodeErrors(out)).toBe('');
      const info = await probe(out);
      expect(info.video).toEqual({ codec: 'h264', width: 640, height: 360 });
      expect(info.audio?.codec).toBe('aac');
      // Everything written while live is there (the first keyframe may come up to one GOP late).
      expect(info.duration).toBeGreaterThan(liveSeconds - 2.5);
    });

    run('slowReader')(title('slowReader', `a reader that stops reading stays bounded and ${harness.whenBehind === 'drop' ? 'drops to the next keyframe; the producer never waits' : 'holds the producer; nothing is lost'}`), async () => {
      const maxBufferedBytes = 256 * 1024;
      sink = await harness.make(dir, { maxBufferedBytes });
      let flowed = 0;
      const other = fanout.subscribe((c) => (flowed += c.length));
      try {
        sink.start(fanout);
        await until('live', () => sink!.status === 'live');
        const pid = harness.behind(sink).pid;
        expect(pid).toBeGreaterThan(0);
        process.kill(pid!, 'SIGSTOP');
        const before = flowed;
        let sawHeld = false;
        for (let i = 0; i < 60; i++) {
          sawHeld ||= fanout.held;
          await sleep(100);
        }
        const duringStall = flowed - before;
        process.kill(pid!, 'SIGCONT');
        const stats = harness.behind(sink);
        expect(stats.peakQueuedBytes).toBeLessThan(maxBufferedBytes + 1024 * 1024);
        if (harness.whenBehind === 'drop') {
          expect(stats.droppedJoins).toBeGreaterThanOrEqual(1);
          expect(sawHeld).toBe(false);
          expect(duringStall).toBeGreaterThan(200_000); // 6 s of a 600 kbit/s source reached the other reader
        } else {
          expect(stats.holds).toBeGreaterThanOrEqual(1);
          expect(sawHeld).toBe(true);
          expect(stats.droppedJoins).toBe(0);
        }
        await sleep(3000);
        await sink.close();
      } finally {
        other();
      }
      const out = await harness.output(sink, dir);
      const dts = videoDts(out);
      expect(dts.length).toBeGreaterThan(100);
      if (harness.whenBehind === 'wait') {
        // Nothing dropped: one frame after the other, a clean decode.
        expect(await decodeErrors(out)).toBe('');
        expect(maxGap(dts)).toBeLessThan(0.5);
      } else {
        // The rejoin started at a keyframe: a timestamp jump at most, no broken frames.
        const errors = (await decodeErrors(out)).split('\n').filter((l) => l && !/continuity|Packet corrupt|non monotonically|DTS|PTS|Last message repeated/i.test(l));
        expect(errors).toEqual([]);
      }
    });

    run('switchInput')(title('switchInput', 'an input switch to another output (own time zero) keeps timestamps monotonic, without a gap'), async () => {
      sink = await harness.make(dir, {});
      sink.start(fanout);
      await until('live', () => sink!.status === 'live');
      await sleep(2500);
      const next = new TsFanout();
      const second = startLiveTs(next, { size: '640x360', rate: 25, gop: 50, bitrate: '600k', frequency: 880 });
      try {
        sink.switchInput(next);
        await sleep(5000);
        expect(sink.status).toBe('live');
        await sink.close();
      } finally {
        await second.stop();
      }
      const out = await harness.output(sink, dir);
      expect(await harness.finalised(sink, out)).toBe(true);
      const dts = videoDts(out);
      expect(dts.length).toBeGreaterThan(100); // 7.5 s at 25 fps from both inputs, less up to a GOP at each join
      for (let i = 1; i < dts.length; i++) expect(dts[i]!).toBeGreaterThanOrEqual(dts[i - 1]!);
      expect(maxGap(dts)).toBeLessThan(1);
    });
  });
}
