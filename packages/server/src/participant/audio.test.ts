import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createDecoder, createEncoder, FRAME, frameOf, fromPcm16le, levelDbfs, MIX_RATE, toPcm16le, type MixRate } from './audio.js';

const { mulaw, alaw } = createRequire(import.meta.url)('alawmulaw') as typeof import('alawmulaw');
const tone = (freq: number, n: number, amp = 8000) => Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / MIX_RATE));

describe('participant audio codecs (8 kHz mix)', () => {
  it('Opus (opusscript, narrowband) round-trips a 440 Hz tone at about its level with the 48 kHz RTP clock', () => {
    const enc = createEncoder('opus');
    const dec = createDecoder('opus');
    expect(enc.tsPerFrame).toBe(960);
    const src = tone(440, FRAME * 50);
    const out: number[] = [];
    for (let k = 0; k < 50; k++) {
      const payload = enc.encode(src.subarray(k * FRAME, (k + 1) * FRAME));
      expect(payload.length).toBeGreaterThan(10);
      expect(payload.length).toBeLessThan(200);
      const pcm = dec.decode(payload);
      expect(pcm.length).toBe(FRAME);
      out.push(...pcm);
    }
    enc.close();
    dec.close();
    expect(Math.abs(levelDbfs(Float32Array.from(out.slice(FRAME * 10))) - levelDbfs(src))).toBeLessThan(2);
  });

  it('G.711 µ-law and A-law encode the mix frame and decode back (clipping at full scale)', () => {
    for (const codec of ['PCMU', 'PCMA'] as const) {
      const enc = createEncoder(codec);
      const frame = tone(1000, FRAME);
      const payload = enc.encode(frame);
      expect(payload.length).toBe(160);
      const back = codec === 'PCMU' ? mulaw.decode(payload) : alaw.decode(payload);
      expect(Math.abs(levelDbfs(back) - levelDbfs(frame))).toBeLessThan(0.5);
      expect(createDecoder(codec).decode(payload)).toEqual(Float32Array.from(back));
      const loud = enc.encode(Float32Array.from({ length: FRAME }, () => 90_000));
      expect(Math.min(...(codec === 'PCMU' ? mulaw.decode(loud) : alaw.decode(loud)))).toBeGreaterThan(30_000);
    }
  });
});

/** Power share of `freq` in `x` at `rate` (Goertzel). */
function share(x: Float32Array, rate: number, freq: number): number {
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (const v of x) {
    const s0 = v + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    total += v * v;
  }
  return total > 0 ? (2 * (s1 * s1 + s2 * s2 - k * s1 * s2)) / (x.length * total) : 0;
}

describe('participant audio codecs at 16 and 24 kHz (Audio Connector, recognisers)', () => {
  it.each([16000, 24000] as const)('%i Hz: Opus round-trips a 1 kHz tone in frames of rate/50 samples; G.711 is upsampled without losing the tone', (rate: MixRate) => {
    const n = frameOf(rate);
    const enc = createEncoder('opus', rate);
    const dec = createDecoder('opus', rate);
    const src = Float32Array.from({ length: n * 50 }, (_, i) => 8000 * Math.sin((2 * Math.PI * 1000 * i) / rate));
    const out: number[] = [];
    for (let k = 0; k < 50; k++) {
      const pcm = dec.decode(enc.encode(src.subarray(k * n, (k + 1) * n)));
      expect(pcm.length).toBe(n);
      out.push(...pcm);
    }
    enc.close();
    dec.close();
    const tail = Float32Array.from(out.slice(n * 10));
    expect(Math.abs(levelDbfs(tail) - levelDbfs(src))).toBeLessThan(2);
    expect(share(tail, rate, 1000)).toBeGreaterThan(0.9);
    // A PCMU frame (8 kHz) decodes to a 20 ms frame at the higher rate, the tone intact.
    const g711 = createEncoder('PCMU');
    const up = createDecoder('PCMU', rate);
    const frames: number[] = [];
    for (let k = 0; k < 20; k++) {
      const f = Float32Array.from({ length: FRAME }, (_, i) => 8000 * Math.sin((2 * Math.PI * 1000 * (k * FRAME + i)) / MIX_RATE));
      const pcm = up.decode(g711.encode(f));
      expect(pcm.length).toBe(n);
      frames.push(...pcm);
    }
    expect(share(Float32Array.from(frames), rate, 1000)).toBeGreaterThan(0.9);
    expect(() => createEncoder('PCMA', rate)).toThrow(/8000 Hz only/);
  });

  it('16-bit little-endian PCM in and out, clipped', () => {
    const buf = toPcm16le(Float32Array.from([0, 1000, -1000, 40000, -40000]));
    expect([...new Int16Array(buf.buffer, buf.byteOffset, 5)]).toEqual([0, 1000, -1000, 32767, -32768]);
    expect([...fromPcm16le(Buffer.concat([buf, Buffer.from([7])]))]).toEqual([0, 1000, -1000, 32767, -32768]);
  });
});
