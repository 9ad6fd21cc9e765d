import { describe, expect, it } from 'vitest';
import { I420Canvas } from './canvas.js';
import { AudioMixer } from './mixer.js';
import { Y4mParser } from './y4m.js';

/** A solid I420 frame. */
function solid(w: number, h: number, y: number, u: number, v: number): Buffer {
  const b = Buffer.alloc((w * h * 3) / 2);
  b.fill(y, 0, w * h);
  b.fill(u, w * h, w * h + (w * h) / 4);
  b.fill(v, w * h + (w * h) / 4);
  return b;
}
const lumaAt = (c: I420Canvas, x: number, y: number) => c.data[y * c.width + x];

describe('I420Canvas.blit', () => {
  it('contain letterboxes a 4:3 picture in a 1:2 box (bars above and below), centred', () => {
    const c = new I420Canvas(640, 480);
    c.blit(solid(640, 480, 200, 10, 20), 640, 480, { x: 320, y: 0, width: 320, height: 480 }, 'contain');
    // 320x240 picture centred vertically: rows 120..359 painted, the rest black (16).
    expect(lumaAt(c, 480, 240)).toBe(200);
    expect(lumaAt(c, 480, 60)).toBe(16);
    expect(lumaAt(c, 480, 420)).toBe(16);
    expect(lumaAt(c, 100, 240)).toBe(16);
    expect(c.data[640 * 480 + 60 * 320 + 240]).toBe(10); // chroma U inside the picture
  });

  it('cover fills the box and crops; boxes past the canvas are clipped', () => {
    const c = new I420Canvas(320, 240);
    c.blit(solid(640, 480, 90, 128, 128), 640, 480, { x: 0, y: 0, width: 320, height: 100 }, 'cover');
    expect(lumaAt(c, 0, 0)).toBe(90);
    expect(lumaAt(c, 319, 99)).toBe(90);
    expect(lumaAt(c, 10, 120)).toBe(16);
    c.blit(solid(64, 48, 150, 128, 128), 64, 48, { x: 300, y: 220, width: 64, height: 48 }, 'contain');
    expect(lumaAt(c, 310, 230)).toBe(150);
  });

  it('nearest-neighbour scaling keeps the halves of a two-tone picture apart', () => {
    const src = solid(64, 64, 30, 128, 128);
    for (let y = 0; y < 64; y++) src.fill(220, y * 64 + 32, y * 64 + 64);
    const c = new I420Canvas(32, 32);
    c.blit(src, 64, 64, { x: 0, y: 0, width: 32, height: 32 }, 'contain');
    expect(lumaAt(c, 5, 5)).toBe(30);
    expect(lumaAt(c, 26, 5)).toBe(220);
  });
});

describe('AudioMixer', () => {
  const pcm = (n: number, v: number) => {
    const b = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) b.writeInt16LE(v, i * 2);
    return b;
  };
  const sample = (b: Buffer, i = 0) => b.readInt16LE(i * 2);

  it('a stream plays only once its jitter buffer holds prefillSamples', () => {
    const m = new AudioMixer({ prefillSamples: 960, maxSamples: 48_000 });
    const ids = new Set(['a', 'b']);
    m.push('a', pcm(480, 1000));
    expect(sample(m.mix(480, ids))).toBe(0); // not yet prefilled
    m.push('a', pcm(960, 1000));
    m.push('b', pcm(960, 30_000));
    // Both hold at least 960 samples now: both play.
    expect(sample(m.mix(480, ids))).toBe(31_000);
  });

  it('sums streams that are both buffered and clips at int16', () => {
    const m = new AudioMixer({ prefillSamples: 100, maxSamples: 48_000 });
    const ids = new Set(['a', 'b']);
    m.push('a', pcm(960, 20_000));
    m.push('b', pcm(960, 20_000));
    expect(sample(m.mix(480, ids))).toBe(32767);
    m.remove('b');
    expect(sample(m.mix(480, ids))).toBe(20_000);
    // a is empty now: silence, never a stall.
    expect(sample(m.mix(480, ids))).toBe(0);
  });

  it('drains streams left out of the mix and keeps at most maxSamples per stream', () => {
    const m = new AudioMixer({ prefillSamples: 10, maxSamples: 1000 });
    m.push('a', pcm(5000, 500));
    m.push('b', pcm(100, 700));
    const out = m.mix(1000, new Set(['b']));
    expect(sample(out, 0)).toBe(700);
    expect(sample(out, 500)).toBe(0);
    // a was capped at 1000 samples and drained by the last mix: nothing left.
    expect(sample(m.mix(10, new Set(['a'])))).toBe(0);
  });
});

describe('Y4mParser', () => {
  it('parses the header and frames in any chunking', () => {
    const frames: Buffer[] = [];
    const p = new Y4mParser((f, h) => {
      expect(h).toEqual({ width: 4, height: 2 });
      frames.push(f);
    });
    const frame = (v: number) => Buffer.concat([Buffer.from('FRAME\n'), Buffer.alloc(12, v)]);
    const all = Buffer.concat([Buffer.from('YUV4MPEG2 W4 H2 F25:1 Ip A1:1 C420jpeg\n'), frame(1), frame(2)]);
    for (let i = 0; i < all.length; i += 5) p.push(all.subarray(i, i + 5));
    expect(frames.map((f) => f[0])).toEqual([1, 2]);
    expect(() => new Y4mParser(() => undefined).push(Buffer.from('YUV4MPEG2 W4 H2 C444\n'))).toThrow(/4:2:0/);
  });
});
