import { describe, expect, it } from 'vitest';
import { createDecoder, createEncoder, downsample6, FRAME, levelDbfs, upsample6 } from './audio.js';

const tone = (freq: number, n: number, rate: number, amp = 8000) => Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));

describe('SIP audio codecs and resampling', () => {
  it('Opus (opusscript) round-trips a 440 Hz tone at about its level', () => {
    const enc = createEncoder('opus');
    const dec = createDecoder('opus');
    const src = tone(440, FRAME * 50, 48000);
    const out: number[] = [];
    for (let k = 0; k < 50; k++) {
      const payload = enc.encode(src.subarray(k * FRAME, (k + 1) * FRAME));
      expect(payload.length).toBeGreaterThan(10);
      expect(payload.length).toBeLessThan(200);
      out.push(...dec.decode(payload));
    }
    enc.close();
    dec.close();
    const tail = Float32Array.from(out.slice(FRAME * 10));
    expect(Math.abs(levelDbfs(tail) - levelDbfs(src))).toBeLessThan(2);
  });

  it('48 → 8 kHz keeps a 1 kHz tone and removes a 6 kHz one (anti-aliasing); 8 → 48 kHz keeps the level', () => {
    const hist = new Float32Array(48);
    const keep = downsample6(tone(1000, FRAME * 4, 48000), hist).subarray(160);
    const hist2 = new Float32Array(48);
    const alias = downsample6(tone(6000, FRAME * 4, 48000), hist2).subarray(160);
    expect(levelDbfs(keep)).toBeGreaterThan(levelDbfs(tone(1000, 960, 48000)) - 1);
    expect(levelDbfs(alias)).toBeLessThan(levelDbfs(tone(6000, 960, 48000)) - 35);
    const up = upsample6(Int16Array.from(tone(440, 160 * 10, 8000), (v) => Math.round(v)), { v: 0 });
    expect(up.length).toBe(9600);
    expect(Math.abs(levelDbfs(up.subarray(960)) - levelDbfs(tone(440, 960, 48000)))).toBeLessThan(0.5);
  });
});
