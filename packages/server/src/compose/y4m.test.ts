import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Y4mParser } from './y4m.js';

const W = 16;
const H = 8;
const SIZE = (W * H * 3) / 2;

function stream(frames: number): { bytes: Buffer; frames: Buffer[] } {
  const parts = [Buffer.from(`YUV4MPEG2 W${W} H${H} F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n`)];
  const out: Buffer[] = [];
  for (let f = 0; f < frames; f++) {
    // FRAME lines may carry parameters (ffmpeg writes none, others do).
    parts.push(Buffer.from(f % 2 ? 'FRAME\n' : 'FRAME Ixyz\n'));
    const b = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i++) b[i] = (i * 7 + f * 13) & 255;
    parts.push(b);
    out.push(b);
  }
  return { bytes: Buffer.concat(parts), frames: out };
}

function parse(bytes: Buffer, cuts: number[]): Buffer[] {
  const got: Buffer[] = [];
  const p = new Y4mParser((frame, h) => {
    expect(h).toEqual({ width: W, height: H });
    got.push(frame);
  });
  let pos = 0;
  for (const n of [...cuts, bytes.length]) {
    p.push(Buffer.from(bytes.subarray(pos, pos + n)));
    pos += n;
    if (pos >= bytes.length) break;
  }
  return got;
}

describe('Y4mParser', () => {
  it('gives every frame whole and in order, however the bytes are chunked', () => {
    const { bytes, frames } = stream(6);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }), (cuts) => {
        const got = parse(bytes, cuts);
        expect(got.length).toBe(frames.length);
        got.forEach((g, i) => expect(g.equals(frames[i]!)).toBe(true));
      }),
    );
  });

  it('hands out private copies (later input does not change an earlier frame)', () => {
    const { bytes, frames } = stream(2);
    const got = parse(bytes, [bytes.length]);
    bytes.fill(0);
    expect(got[0]!.equals(frames[0]!)).toBe(true);
  });

  it('refuses what is not 4:2:0 YUV4MPEG2 and a missing frame marker', () => {
    expect(() => new Y4mParser(() => undefined).push(Buffer.from('RIFF1234\n'))).toThrow(/not a YUV4MPEG2/);
    expect(() => new Y4mParser(() => undefined).push(Buffer.from('YUV4MPEG2 W16 H8 C444\n'))).toThrow(/not 4:2:0/);
    const p = new Y4mParser(() => undefined);
    expect(() => p.push(Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H}\nJUNK\n`), Buffer.alloc(SIZE)]))).toThrow(/frame marker/);
    expect(() => new Y4mParser(() => undefined).push(Buffer.alloc(5000, 0x41))).toThrow(/header line too long/);
  });
});
