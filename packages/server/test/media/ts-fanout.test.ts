/**
 * TsFanout on real ffmpeg-made MPEG-TS: a subscriber that joins mid-stream gets bytes that ffmpeg
 * decodes without a single error from the first frame, which is a keyframe.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TS_PACKET_SIZE, TsFanout } from '../../src/compose/ts-fanout.js';
import { encodeTs } from './fixtures/ts-source.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg && command -v ffprobe']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'tsfanout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

/** Feed `data` in pseudo-random chunk sizes (not packet aligned); `at(offset)` runs between chunks. */
function feed(fanout: TsFanout, data: Buffer, at?: (offset: number) => void, garbageEvery = 0): void {
  let seed = 7;
  let pos = 0;
  let n = 0;
  while (pos < data.length) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const size = 1 + (seed % 9000);
    at?.(pos);
    fanout.write(data.subarray(pos, pos + size));
    pos += size;
    if (garbageEvery && ++n % garbageEvery === 0) fanout.write(Buffer.from('garbage\x47\x47 not a packet'));
  }
  fanout.end();
}

/** `got` is the whole of `source` but for at most three leading PSI packets. */
function fromStart(got: Buffer, source: Buffer): boolean {
  return got.length >= source.length - 3 * TS_PACKET_SIZE && source.subarray(source.length - got.length).equals(got);
}

interface Decoded {
  errors: string;
  videoFrames: number;
  audioFrames: number;
  firstVideoKey: boolean;
}

function decode(name: string, bytes: Buffer): Decoded {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const dec = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'frame=media_type,key_frame', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  const frames = probe.stdout.trim().split('\n').filter(Boolean);
  const video = frames.filter((f) => f.startsWith('video'));
  return {
    errors: (dec.stderr + probe.stderr).trim(),
    videoFrames: video.length,
    audioFrames: frames.filter((f) => f.startsWith('audio')).length,
    firstVideoKey: video[0] === 'video,1',
  };
}

describe.skipIf(!hasFfmpeg)('TsFanout', () => {
  const av = hasFfmpeg ? encodeTs({ seconds: 6, gop: 60 }) : Buffer.alloc(0);

  it('gives a late subscriber PAT+PMT and the stream from the next keyframe, decodable without errors', () => {
    const fanout = new TsFanout();
    const early: Buffer[] = [];
    const late: Buffer[] = [];
    let ended = 0;
    fanout.subscribe((c) => early.push(Buffer.from(c)), () => ended++);
    let subscribed = false;
    feed(fanout, av, (offset) => {
      if (!subscribed && offset > av.length * 0.4) {
        subscribed = true;
        fanout.subscribe((c) => late.push(Buffer.from(c)), () => ended++);
      }
    });
    expect(ended).toBe(2);
    expect(fanout.closed).toBe(true);
    // An early subscriber gets everything from the first keyframe on (ffmpeg puts only the SDT,
    // PAT and PMT before it, and the PAT and PMT are given first).
    expect(fromStart(Buffer.concat(early), av)).toBe(true);
    const lateBytes = Buffer.concat(late);
    expect(lateBytes.length % TS_PACKET_SIZE).toBe(0);
    expect(lateBytes.readUInt8(0)).toBe(0x47);
    // First packet is the PAT (PID 0), second the PMT.
    expect(((lateBytes[1]! & 0x1f) << 8) | lateBytes[2]!).toBe(0);
    expect(((lateBytes[TS_PACKET_SIZE + 1]! & 0x1f) << 8) | lateBytes[TS_PACKET_SIZE + 2]!).toBe(fanout.program.pmtPid);
    const d = decode('late.ts', lateBytes);
    expect(d.errors).toBe('');
    expect(d.firstVideoKey).toBe(true);
    // Joined after 40% of 6 s at a 2 s GOP: starts at the 4 s keyframe, so 2 s = 60 frames remain.
    expect(d.videoFrames).toBe(60);
    expect(d.audioFrames).toBeGreaterThan(80); // ~2 s of 1024-sample AAC frames at 48 kHz is 94
    expect(fanout.program.videoPid).toBeDefined();
    expect(fanout.program.audioPid).toBeDefined();
  });

  it('resyncs on garbage between packets and keeps every subscriber decodable', () => {
    const fanout = new TsFanout();
    const late: Buffer[] = [];
    let subscribed = false;
    feed(
      fanout,
      av,
      (offset) => {
        if (!subscribed && offset > av.length * 0.1) {
          subscribed = true;
          fanout.subscribe((c) => late.push(Buffer.from(c)));
        }
      },
      5,
    );
    expect(fanout.skippedBytes).toBeGreaterThan(0);
    const bytes = Buffer.concat(late);
    const d = decode('garbage.ts', bytes);
    // The garbage was inserted between chunks, so inside packets too: only those packets are lost.
    expect(d.firstVideoKey).toBe(true);
    expect(d.videoFrames).toBeGreaterThan(100);
    expect(fanout.packets * TS_PACKET_SIZE).toBeLessThanOrEqual(av.length);
  });

  it('clean garbage at packet boundaries is skipped without losing a packet', () => {
    const fanout = new TsFanout();
    const out: Buffer[] = [];
    fanout.subscribe((c) => out.push(Buffer.from(c)));
    for (let i = 0; i < av.length; i += TS_PACKET_SIZE * 50) {
      fanout.write(av.subarray(i, i + TS_PACKET_SIZE * 50));
      fanout.write(Buffer.from([0x00, 0x47, 0x12, 0xff, 0x47]));
    }
    fanout.end();
    expect(fromStart(Buffer.concat(out), av)).toBe(true);
    // The garbage after the last chunk waits for more bytes and is dropped by end().
    expect(fanout.skippedBytes).toBe(5 * (Math.ceil(av.length / (TS_PACKET_SIZE * 50)) - 1));
  });

  it('starts an audio-only stream at the next audio PES', () => {
    const audio = encodeTs({ seconds: 4, video: false });
    const fanout = new TsFanout();
    const late: Buffer[] = [];
    let subscribed = false;
    feed(fanout, audio, (offset) => {
      if (!subscribed && offset > audio.length / 2) {
        subscribed = true;
        fanout.subscribe((c) => late.push(Buffer.from(c)));
      }
    });
    expect(fanout.program.videoPid).toBeUndefined();
    const d = decode('audio.ts', Buffer.concat(late));
    expect(d.errors).toBe('');
    expect(d.videoFrames).toBe(0);
    expect(d.audioFrames).toBeGreaterThan(50);
  });

  it('a throwing listener or an unsubscribe does not disturb the others; subscribe after end ends at once', () => {
    const errors: unknown[] = [];
    const fanout = new TsFanout({ onListenerError: (e) => errors.push(e) });
    const good: Buffer[] = [];
    fanout.subscribe(() => {
      throw new Error('boom');
    });
    const unsubscribe = fanout.subscribe(() => {});
    fanout.subscribe((c) => good.push(Buffer.from(c)));
    expect(fanout.subscriberCount).toBe(3);
    unsubscribe();
    unsubscribe();
    expect(fanout.subscriberCount).toBe(2);
    feed(fanout, av);
    expect(errors.length).toBeGreaterThan(0);
    expect(fromStart(Buffer.concat(good), av)).toBe(true);
    let endedLate = false;
    fanout.subscribe(
      () => {},
      () => (endedLate = true),
    );
    expect(endedLate).toBe(true);
    fanout.write(av.subarray(0, 1880)); // ignored once closed
    expect(fanout.packets).toBe(av.length / TS_PACKET_SIZE);
  });
  it('hold: the producer is told when the first hold is taken and the last lifted, or the fan-out ends', () => {
    const fanout = new TsFanout();
    const changes: boolean[] = [];
    fanout.onHoldChange((held) => changes.push(held));
    const a = fanout.hold();
    const b = fanout.hold();
    expect(fanout.held).toBe(true);
    a();
    a(); // idempotent
    expect(fanout.held).toBe(true);
    b();
    expect(fanout.held).toBe(false);
    fanout.hold();
    fanout.end();
    expect(fanout.held).toBe(false);
    expect(changes).toEqual([true, false, true, false]);
    fanout.hold(); // after the end: nothing to hold
    expect(changes).toEqual([true, false, true, false]);
  });
});
