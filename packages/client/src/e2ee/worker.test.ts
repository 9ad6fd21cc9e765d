/**
 * The encoded-transform worker's logic in Node (web streams and WebCrypto are globals here):
 * frame layout, the clear VP8/Opus bytes, decryption across workers, mismatch/match reports,
 * and rotation (receivers switch at once, senders after the delay, the old key for the grace).
 * The browser test (packages/server/test/e2e/e2ee.test.ts) runs the same code in Chromium.
 */
import { describe, expect, it } from 'vitest';
import { sframeCodec } from './sframe.js';
import type { FromWorker, ToWorker, TransformOptions } from './worker.js';
import { e2eeWorker, e2eeWorkerSource } from './worker.js';

const codec = sframeCodec();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One worker instance with a fake `self`. */
function worker() {
  const posted: FromWorker[] = [];
  const scope = {
    onmessage: null as ((ev: MessageEvent<ToWorker>) => void) | null,
    onrtctransform: null as ((ev: { transformer: { readable: ReadableStream; writable: WritableStream; options: TransformOptions; sendKeyFrameRequest?: () => Promise<void> } }) => void) | null,
    postMessage: (m: FromWorker) => posted.push(m),
  };
  e2eeWorker(scope as never, codec);
  let secretId = 0;
  let keyRequests = 0;
  return {
    posted,
    get keyRequests() {
      return keyRequests;
    },
    secret(text: string, switchDelayMs = 0, graceMs = 10_000) {
      const base = new TextEncoder().encode(text.padEnd(16, '.')).slice(0, 16).buffer;
      scope.onmessage!({ data: { type: 'secret', base, secretId: ++secretId, graceMs, switchDelayMs } } as MessageEvent<ToWorker>);
    },
    /** A transform: write frames in, read what comes out (dropped frames never come out). */
    transform(options: TransformOptions) {
      const input = new TransformStream<{ data: ArrayBuffer }, { data: ArrayBuffer }>();
      const output = new TransformStream<{ data: ArrayBuffer }, { data: ArrayBuffer }>();
      scope.onrtctransform!({ transformer: { readable: input.readable, writable: output.writable, options, sendKeyFrameRequest: async () => void keyRequests++ } });
      const writer = input.writable.getWriter();
      const reader = output.readable.getReader();
      const out: Uint8Array[] = [];
      void (async () => {
        for (;;) {
          const r = await reader.read();
          if (r.done) return;
          out.push(new Uint8Array(r.value.data));
        }
      })();
      return {
        out,
        async push(bytes: Uint8Array) {
          await writer.write({ data: bytes.slice().buffer });
          await sleep(5);
        },
      };
    },
  };
}

// A VP8 key frame starts with a frame tag whose bit 0 (P) is 0, then the start code 9d 01 2a.
const keyFrame = () => Uint8Array.from([0x50, 0x12, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, ...new Array(200).fill(0).map((_, i) => i & 0xff)]);
const deltaFrame = (n: number) => Uint8Array.from([0x31, 0x05, 0x00, ...new Array(60).fill(n)]);
const opus = () => Uint8Array.from([0x78, ...new Array(80).fill(0x42)]);

describe('e2ee worker', () => {
  it('keeps the VP8 and Opus header bytes in clear and encrypts the rest as SFrame', async () => {
    const w = worker();
    w.secret('secret one');
    const video = w.transform({ op: 'encrypt', kind: 'video', id: 'v' });
    const audio = w.transform({ op: 'encrypt', kind: 'audio', id: 'a' });
    const k = keyFrame();
    const d = deltaFrame(7);
    const o = opus();
    await video.push(k);
    await video.push(d);
    await audio.push(o);
    const [ek, ed] = video.out;
    const [eo] = audio.out;
    expect(Array.from(ek!.subarray(0, 10))).toEqual(Array.from(k.subarray(0, 10)));
    expect(Array.from(ed!.subarray(0, 3))).toEqual(Array.from(d.subarray(0, 3)));
    expect(eo![0]).toBe(o[0]);
    // Then an SFrame header (48-bit KID, counter) and ciphertext + 16-byte tag.
    const hk = codec.parseHeader(ek!, 10)!;
    const hd = codec.parseHeader(ed!, 3)!;
    expect(hk.ctr).toBe(0);
    expect(hd.ctr).toBe(1);
    expect(hd.kid).toBe(hk.kid);
    expect(ek!.length).toBe(k.length + hk.length + 16);
    expect(Buffer.from(ek!.subarray(10 + hk.length)).includes(Buffer.from(k.subarray(10, 40)))).toBe(false);
    // Audio and video of one sender have their own KIDs (their own key and nonce space).
    expect(codec.parseHeader(eo!, 1)!.kid).not.toBe(hk.kid);
  });

  it('another worker with the same secret decrypts; a wrong secret drops frames and reports mismatch, then match', async () => {
    const sender = worker();
    sender.secret('shared secret');
    const enc = sender.transform({ op: 'encrypt', kind: 'video', id: 's' });
    const frames = [keyFrame(), deltaFrame(1), deltaFrame(2), deltaFrame(3), deltaFrame(4), deltaFrame(5)];
    for (const f of frames) await enc.push(f);

    const good = worker();
    good.secret('shared secret');
    const dec = good.transform({ op: 'decrypt', kind: 'video', id: 'r' });
    for (const f of enc.out) await dec.push(f);
    expect(dec.out.map((x) => Array.from(x))).toEqual(frames.map((x) => Array.from(x)));
    expect(good.posted.filter((m) => m.type !== 'secretSet')).toEqual([]);

    const wrong = worker();
    wrong.secret('not the secret');
    const bad = wrong.transform({ op: 'decrypt', kind: 'video', id: 'x' });
    for (const f of enc.out.slice(0, 4)) await bad.push(f);
    expect(bad.out).toEqual([]);
    expect(wrong.posted.filter((m) => m.type !== 'secretSet')).toEqual([{ type: 'mismatch', id: 'x', kind: 'video' }]);
    wrong.secret('shared secret');
    await bad.push(enc.out[4]!);
    expect(bad.out.map((x) => Array.from(x))).toEqual([Array.from(frames[4]!)]);
    expect(wrong.posted.filter((m) => m.type !== 'secretSet')).toEqual([
      { type: 'mismatch', id: 'x', kind: 'video' },
      { type: 'match', id: 'x', kind: 'video' },
    ]);
    // A delta frame after dropped ones asks for a key frame.
    expect(wrong.keyRequests).toBe(1);
  });

  it('a tampered clear byte fails authentication', async () => {
    const a = worker();
    a.secret('shared secret');
    const enc = a.transform({ op: 'encrypt', kind: 'audio', id: 'a' });
    await enc.push(opus());
    const b = worker();
    b.secret('shared secret');
    const dec = b.transform({ op: 'decrypt', kind: 'audio', id: 'b' });
    const t = enc.out[0]!.slice();
    t[0] = t[0]! ^ 0x04;
    await dec.push(t);
    expect(dec.out).toEqual([]);
  });

  it('rotation: receivers accept the new secret at once and the old one for the grace; senders switch after the delay', async () => {
    const a = worker();
    const b = worker();
    a.secret('first secret');
    b.secret('first secret');
    const encA = a.transform({ op: 'encrypt', kind: 'video', id: 'a' });
    const decB = b.transform({ op: 'decrypt', kind: 'video', id: 'b' });
    await encA.push(keyFrame());
    // A rotates first (switching its sending 400 ms later); B rotates 50 ms after A.
    a.secret('second secret', 400, 1000);
    await encA.push(deltaFrame(1));
    await sleep(50);
    b.secret('second secret', 400, 1000);
    await encA.push(deltaFrame(2));
    await sleep(500);
    await encA.push(deltaFrame(3));
    const kids = encA.out.map((f, i) => codec.parseHeader(f, i === 0 ? 10 : 3)!.kid);
    expect(kids[1]).toBe(kids[0]);
    expect(kids[2]).toBe(kids[0]);
    expect(kids[3]).not.toBe(kids[0]);
    for (const f of encA.out) await decB.push(f);
    expect(decB.out).toHaveLength(4);
    expect(b.posted.filter((m) => m.type !== 'secretSet')).toEqual([]);
    // After the grace the first secret is gone: a frame under it no longer decrypts.
    await sleep(1100);
    await decB.push(encA.out[2]!);
    expect(decB.out).toHaveLength(4);
  });

  it('frames wait for the first secret instead of being dropped or sent in clear', async () => {
    const a = worker();
    const enc = a.transform({ op: 'encrypt', kind: 'audio', id: 'a' });
    const pending = enc.push(opus());
    await sleep(30);
    expect(enc.out).toEqual([]);
    a.secret('late secret');
    await pending;
    await sleep(20);
    expect(enc.out).toHaveLength(1);
    expect(codec.parseHeader(enc.out[0]!, 1)).toBeDefined();
  });

  it('the worker source is one self-contained script', () => {
    const src = e2eeWorkerSource();
    expect(src).toContain('SFrame 1.0 Secret key ');
    // It must parse as a script on its own (no imports, no references to module scope).
    expect(() => new Function('self', src)).not.toThrow();
  });
});
