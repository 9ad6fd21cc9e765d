import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createDecoder, createEncoder, FRAME, levelDbfs, MIX_RATE } from './audio.js';

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
