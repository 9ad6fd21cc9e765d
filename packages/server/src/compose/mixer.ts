/**
 * Audio of a composition: one FIFO of 48 kHz mono s16 PCM per stream, mixed on the output
 * clock. A FIFO starts to play once it holds `prefillSamples` (a small jitter buffer: decoded
 * audio arrives in bursts), plays silence when it runs dry (a stream that stops sending never
 * stalls the mix) and drops its oldest samples beyond `maxSamples` (bounded latency).
 */
export const SAMPLE_RATE = 48_000;

class Fifo {
  private chunks: Int16Array[] = [];
  private head = 0;
  length = 0;
  playing = false;

  push(pcm: Int16Array): void {
    this.chunks.push(pcm);
    this.length += pcm.length;
  }

  drop(n: number): void {
    while (n > 0 && this.chunks.length) {
      const c = this.chunks[0]!;
      const take = Math.min(n, c.length - this.head);
      this.head += take;
      this.length -= take;
      n -= take;
      if (this.head >= c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
  }

  /** Add up to `n` samples into `acc`; returns how many were there. */
  addInto(acc: Int32Array, n: number): number {
    let i = 0;
    while (i < n && this.chunks.length) {
      const c = this.chunks[0]!;
      const take = Math.min(n - i, c.length - this.head);
      for (let k = 0; k < take; k++) acc[i + k]! += c[this.head + k]!;
      i += take;
      this.head += take;
      this.length -= take;
      if (this.head >= c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return i;
  }
}

export interface MixerOptions {
  /** Samples a stream must have buffered before it plays (default 2880 = 60 ms). */
  prefillSamples?: number;
  /** Most samples kept per stream (default 14400 = 300 ms). */
  maxSamples?: number;
}

export class AudioMixer {
  private readonly fifos = new Map<string, Fifo>();
  private readonly prefill: number;
  private readonly max: number;
  private acc = new Int32Array(0);

  constructor(options: MixerOptions = {}) {
    this.prefill = options.prefillSamples ?? 2880;
    this.max = options.maxSamples ?? 14_400;
  }

  /** Decoded PCM of one stream (little-endian s16 mono at 48 kHz). */
  push(id: string, bytes: Buffer): void {
    let f = this.fifos.get(id);
    if (!f) this.fifos.set(id, (f = new Fifo()));
    const pcm = new Int16Array(bytes.length >> 1);
    for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(i * 2);
    f.push(pcm);
    if (f.length > this.max) f.drop(f.length - this.max);
  }

  remove(id: string): void {
    this.fifos.delete(id);
  }

  /** The next `n` samples of the mix of `ids` (others are drained and discarded), as s16le bytes. */
  mix(n: number, ids: ReadonlySet<string>): Buffer {
    if (this.acc.length < n) this.acc = new Int32Array(n);
    const acc = this.acc;
    acc.fill(0, 0, n);
    for (const [id, f] of this.fifos) {
      if (!f.playing) {
        if (f.length < this.prefill) continue;
        f.playing = true;
      }
      if (!ids.has(id)) {
        f.drop(n);
        continue;
      }
      if (f.addInto(acc, n) < n) f.playing = false; // ran dry: refill the jitter buffer first
    }
    const out = Buffer.allocUnsafe(n * 2);
    for (let i = 0; i < n; i++) {
      const v = acc[i]!;
      out.writeInt16LE(v > 32767 ? 32767 : v < -32768 ? -32768 : v, i * 2);
    }
    return out;
  }
}
