import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { levelDbfs } from './audio.js';
import { JitterBuffer, Mixer } from './mixer.js';

const { mulaw } = createRequire(import.meta.url)('alawmulaw') as typeof import('alawmulaw');
const b = (n: number) => Buffer.from([n]);

/** 20 ms of a sine at 8 kHz as PCMU payloads (frame k continues the phase of frame k-1). */
function pcmuTone(freq: number, frames: number, amplitude = 8000): Buffer[] {
  return Array.from({ length: frames }, (_, k) => {
    const s = new Int16Array(160);
    for (let i = 0; i < 160; i++) s[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * (k * 160 + i)) / 8000));
    return Buffer.from(mulaw.encode(s));
  });
}

/** Power of `freq` in 8 kHz samples (Goertzel), relative to the total power. */
function share(samples: Float32Array, freq: number): number {
  const w = (2 * Math.PI * freq) / 8000;
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (const x of samples) {
    const s0 = x + 2 * Math.cos(w) * s1 - s2;
    s2 = s1;
    s1 = s0;
    total += x * x;
  }
  const p = s1 * s1 + s2 * s2 - 2 * Math.cos(w) * s1 * s2;
  return total > 0 ? (2 * p) / (samples.length * total) : 0;
}

describe('JitterBuffer', () => {
  it('waits for its depth, then plays in sequence order across reordering and the 16-bit wrap', () => {
    const jb = new JitterBuffer(2);
    jb.push(65535, b(1));
    expect(jb.pop()).toBeUndefined();
    jb.push(1, b(3));
    jb.push(0, b(2));
    expect([jb.pop(), jb.pop(), jb.pop()].map((x) => (x as Buffer)[0])).toEqual([1, 2, 3]);
    expect(jb.stats).toMatchObject({ received: 3, played: 3, lost: 0, late: 0 });
  });

  it('conceals a gap, drops late and duplicate packets, and drops the oldest when full', () => {
    const jb = new JitterBuffer(2, 4);
    jb.push(10, b(10));
    jb.push(12, b(12));
    expect((jb.pop() as Buffer)[0]).toBe(10);
    expect(jb.pop()).toBe('lost');
    expect((jb.pop() as Buffer)[0]).toBe(12);
    jb.push(11, b(11));
    jb.push(13, b(13));
    jb.push(13, b(13));
    expect(jb.stats).toMatchObject({ late: 1, duplicate: 1, lost: 1 });
    for (let s = 14; s < 20; s++) jb.push(s, b(s));
    expect(jb.size).toBe(4);
    expect(jb.stats.overflow).toBe(3);
    expect((jb.pop() as Buffer)[0]).toBe(16);
  });

  it('rebuffers after an underrun and restarts on a far jump (a new sender)', () => {
    const jb = new JitterBuffer(2, 16, 2);
    jb.push(1, b(1));
    jb.push(2, b(2));
    jb.pop();
    jb.pop();
    for (let i = 0; i < 3; i++) expect(jb.pop()).toBeUndefined();
    jb.push(3, b(3));
    expect(jb.pop()).toBeUndefined(); // waiting for depth again
    jb.push(4, b(4));
    expect((jb.pop() as Buffer)[0]).toBe(3);
    jb.push(30000, b(7));
    jb.push(30001, b(8));
    expect((jb.pop() as Buffer)[0]).toBe(7);
  });
});

describe('Mixer', () => {
  it('gives each output the others (N-1), decodes G.711, and a stream that stops does not stall the mix', () => {
    const mixer = new Mixer();
    mixer.addInput('a', 'PCMU');
    mixer.addInput('b', 'PCMU');
    const heard: Record<string, Float32Array[]> = { a: [], b: [], all: [], onlyA: [] };
    const out = (id: string, o: Partial<{ exclude: string; only: Set<string> }>) => mixer.addOutput({ id, ...o, onFrame: (f) => heard[id]!.push(Float32Array.from(f)) });
    out('a', { exclude: 'a' });
    out('b', { exclude: 'b' });
    out('all', {});
    out('onlyA', { only: new Set(['a']) });
    const ta = pcmuTone(400, 50);
    const tb = pcmuTone(1000, 25);
    for (let k = 0; k < 50; k++) {
      mixer.push('a', k, ta[k]!);
      if (k < 25) mixer.push('b', 1000 + k, tb[k]!);
      mixer.tick();
    }
    mixer.close();
    // frames 10..20: both inputs play
    const mid = (id: string) => Float32Array.from(heard[id]!.slice(10, 20).flatMap((f) => [...f]));
    expect(share(mid('a'), 1000)).toBeGreaterThan(0.9); // a hears b only
    expect(share(mid('a'), 400)).toBeLessThan(0.01);
    expect(share(mid('b'), 400)).toBeGreaterThan(0.9);
    expect(share(mid('onlyA'), 400)).toBeGreaterThan(0.9);
    expect(share(mid('all'), 400) + share(mid('all'), 1000)).toBeGreaterThan(0.9);
    expect(levelDbfs(mid('a'))).toBeGreaterThan(-20);
    // b stopped at frame 25: a hears silence, b keeps hearing a, every tick produced a frame.
    const late = (id: string) => Float32Array.from(heard[id]!.slice(35, 45).flatMap((f) => [...f]));
    expect(heard['b']).toHaveLength(50);
    expect(levelDbfs(late('a'))).toBe(-Infinity);
    expect(share(late('b'), 400)).toBeGreaterThan(0.9);
  });

  it('runs its own 20 ms clock and records tick times', async () => {
    const mixer = new Mixer();
    let frames = 0;
    mixer.addOutput({ id: 'x', onFrame: () => frames++ });
    await new Promise((r) => setTimeout(r, 420));
    mixer.close();
    // 21 ticks in 420 ms on a quiet machine; a machine loaded 10x over its cores was seen at 9.
    expect(frames).toBeGreaterThanOrEqual(5);
    expect(frames).toBeLessThanOrEqual(23);
    expect(mixer.stats().tickMs.length).toBe(frames);
    expect(mixer.stats().skippedTicks).toBe(0);
  });
});
