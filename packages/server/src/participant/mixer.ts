/**
 * The audio mix of a session for its server participants at one rate: every audio stream of the
 * session (browsers and server participants alike, tapped from the media router as plain RTP)
 * goes through a small jitter buffer and a decoder; on a 20 ms clock the mixer takes one frame
 * from each input (silence from an input that has nothing, so a stream that stops never stalls
 * the mix) and hands every output the sum of the inputs it hears: all but its own ("N-1"), or
 * the ones it asked for.
 */
import { performance } from 'node:perf_hooks';
import { createDecoder, frameOf, MIX_RATE, type AudioDecoder, type CodecName, type MixRate } from './audio.js';

export interface JitterStats {
  received: number;
  played: number;
  /** Arrived after their turn (dropped). */
  late: number;
  duplicate: number;
  /** Dropped because the buffer was full. */
  overflow: number;
  /** Turns whose packet never came (concealed with silence). */
  lost: number;
}

const seqLess = (a: number, b: number) => a !== b && ((b - a) & 0xffff) < 0x8000;

/**
 * Reorders packets by sequence number and releases one per tick once `depth` packets are held
 * (depth × 20 ms of delay). An underrun of more than `rebufferAfter` ticks waits for `depth`
 * packets again (a stream that paused or stopped); a full buffer drops its oldest packet.
 */
export class JitterBuffer {
  private readonly packets = new Map<number, Buffer>();
  private next: number | undefined;
  private playing = false;
  private underruns = 0;
  readonly stats: JitterStats = { received: 0, played: 0, late: 0, duplicate: 0, overflow: 0, lost: 0 };

  constructor(
    readonly depth = 2,
    readonly max = 16,
    readonly rebufferAfter = 5,
  ) {}

  get size(): number {
    return this.packets.size;
  }

  push(seq: number, payload: Buffer): void {
    this.stats.received++;
    if (this.playing && this.next !== undefined && seqLess(seq, this.next)) {
      // A packet far behind is a restarted sender, not a late one.
      if (((this.next - seq) & 0xffff) > 1000) this.reset();
      else {
        this.stats.late++;
        return;
      }
    }
    if (this.packets.has(seq)) {
      this.stats.duplicate++;
      return;
    }
    if (this.playing && this.next !== undefined && ((seq - this.next) & 0xffff) > 1000) this.reset();
    this.packets.set(seq, payload);
    while (this.packets.size > this.max) {
      const oldest = this.oldest()!;
      this.packets.delete(oldest);
      this.stats.overflow++;
      if (this.next !== undefined && !seqLess(oldest, this.next)) this.next = (oldest + 1) & 0xffff;
    }
  }

  private reset(): void {
    this.playing = false;
    this.next = undefined;
    this.packets.clear();
  }

  private oldest(): number | undefined {
    let o: number | undefined;
    for (const s of this.packets.keys()) if (o === undefined || seqLess(s, o)) o = s;
    return o;
  }

  /** The packet for this tick, `'lost'` for a gap inside the stream, undefined when there is nothing to play. */
  pop(): Buffer | 'lost' | undefined {
    if (!this.playing) {
      if (this.packets.size < this.depth) return undefined;
      this.playing = true;
      this.next = this.oldest();
      this.underruns = 0;
    }
    const p = this.packets.get(this.next!);
    if (p) {
      this.packets.delete(this.next!);
      this.next = (this.next! + 1) & 0xffff;
      this.underruns = 0;
      this.stats.played++;
      return p;
    }
    if (this.packets.size === 0) {
      if (++this.underruns > this.rebufferAfter) this.playing = false;
      return undefined;
    }
    this.stats.lost++;
    this.next = (this.next! + 1) & 0xffff;
    return 'lost';
  }
}

interface Input {
  id: string;
  jb: JitterBuffer;
  decoder: AudioDecoder;
  pending: Float32Array;
  frame: Float32Array;
  active: boolean;
}

export interface MixerOutput {
  id: string;
  /** The input this output never hears (its own stream). */
  exclude?: string;
  /** When set, only these inputs are heard. */
  only?: ReadonlySet<string>;
  /** Called on each tick with one 20 ms frame at the mixer's rate (160 samples at 8 kHz); the array is reused. */
  onFrame(frame: Float32Array): void;
}

export interface MixerStats {
  ticks: number;
  /** 20 ms steps never produced because the process was stalled for more than 200 ms. */
  skippedTicks: number;
  /** Processing time per tick, ms (last up to 3000 ticks). */
  tickMs: number[];
  /** How late each tick started, ms. */
  lateMs: number[];
  inputs: number;
  outputs: number;
  jitter: JitterStats;
}

const KEEP = 3000;

export class Mixer {
  private readonly inputs = new Map<string, Input>();
  private readonly outputs = new Map<string, MixerOutput>();
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private n = 0;
  /** Samples per 20 ms frame at {@link rate}. */
  readonly frame: number;
  private readonly total: Float32Array;
  private readonly out: Float32Array;
  private readonly tickMs: number[] = [];
  private readonly lateMs: number[] = [];
  private ticks = 0;
  private skipped = 0;
  /** Counters of inputs already removed, so totals survive churn. */
  private readonly gone: JitterStats = { received: 0, played: 0, late: 0, duplicate: 0, overflow: 0, lost: 0 };

  constructor(
    private readonly onError: (err: Error) => void = () => undefined,
    /** Sampling rate of the mix and its outputs. Default 8000. */
    readonly rate: MixRate = MIX_RATE,
  ) {
    this.frame = frameOf(rate);
    this.total = new Float32Array(this.frame);
    this.out = new Float32Array(this.frame);
  }

  addInput(id: string, codec: CodecName): void {
    if (this.inputs.has(id)) return;
    this.inputs.set(id, { id, jb: new JitterBuffer(), decoder: createDecoder(codec, this.rate), pending: new Float32Array(0), frame: new Float32Array(this.frame), active: false });
  }

  hasInput(id: string): boolean {
    return this.inputs.has(id);
  }

  removeInput(id: string): void {
    const i = this.inputs.get(id);
    if (!i) return;
    for (const k of Object.keys(this.gone) as (keyof JitterStats)[]) this.gone[k] += i.jb.stats[k];
    i.decoder.close();
    this.inputs.delete(id);
  }

  push(id: string, seq: number, payload: Buffer): void {
    this.inputs.get(id)?.jb.push(seq, payload);
  }

  addOutput(o: MixerOutput): void {
    this.outputs.set(o.id, o);
    if (!this.timer) this.start();
  }

  removeOutput(id: string): void {
    this.outputs.delete(id);
    if (this.outputs.size === 0) this.stop();
  }

  get idle(): boolean {
    return this.outputs.size === 0 && this.inputs.size === 0;
  }

  private start(): void {
    this.t0 = performance.now();
    this.n = 0;
    this.schedule();
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const due = this.t0 + (this.n + 1) * 20;
    this.timer = setTimeout(() => this.run(due), Math.max(0, due - performance.now()));
  }

  private run(due: number): void {
    const start = performance.now();
    this.n++;
    const late = start - due;
    // Far behind (the process was stalled): skip the lost ticks rather than burst them out.
    if (late > 200) {
      this.skipped += Math.floor(late / 20);
      this.t0 = start - this.n * 20;
    }
    try {
      this.tick();
    } catch (err) {
      this.onError(err as Error);
    }
    record(this.lateMs, Math.max(0, late));
    record(this.tickMs, performance.now() - start);
    if (this.outputs.size > 0) this.schedule();
    else this.timer = undefined;
  }

  /** One 20 ms step (public for tests that drive the clock themselves). */
  tick(): void {
    const n = this.frame;
    this.ticks++;
    const total = this.total;
    total.fill(0);
    for (const input of this.inputs.values()) {
      input.active = this.fill(input);
      if (!input.active) continue;
      const f = input.frame;
      for (let i = 0; i < n; i++) total[i] = total[i]! + f[i]!;
    }
    const out = this.out;
    for (const o of this.outputs.values()) {
      if (o.only) {
        out.fill(0);
        for (const id of o.only) {
          const input = this.inputs.get(id);
          if (!input?.active || id === o.exclude) continue;
          for (let i = 0; i < n; i++) out[i] = out[i]! + input.frame[i]!;
        }
      } else {
        const own = o.exclude !== undefined ? this.inputs.get(o.exclude) : undefined;
        if (own?.active) for (let i = 0; i < n; i++) out[i] = total[i]! - own.frame[i]!;
        else out.set(total);
      }
      try {
        o.onFrame(out);
      } catch (err) {
        this.onError(err as Error);
      }
    }
  }

  /** Takes one frame from an input into `input.frame`; false when it has nothing (silence). */
  private fill(input: Input): boolean {
    const n = this.frame;
    let got = false;
    while (input.pending.length < n) {
      const p = input.jb.pop();
      if (p === undefined) break;
      got = true;
      const pcm = p === 'lost' ? new Float32Array(n) : input.decoder.decode(p);
      const merged = new Float32Array(input.pending.length + pcm.length);
      merged.set(input.pending, 0);
      merged.set(pcm, input.pending.length);
      input.pending = merged;
    }
    if (input.pending.length === 0) return false;
    if (input.pending.length < n) {
      input.frame.fill(0);
      input.frame.set(input.pending, 0);
      input.pending = new Float32Array(0);
      return true;
    }
    input.frame.set(input.pending.subarray(0, n));
    input.pending = input.pending.slice(n);
    // Never let decoded audio pile up beyond 3 frames (a sender with a faster clock).
    if (input.pending.length > 3 * n) input.pending = input.pending.slice(input.pending.length - n);
    return got || true;
  }

  stats(): MixerStats {
    const jitter = { ...this.gone };
    for (const i of this.inputs.values()) for (const k of Object.keys(jitter) as (keyof JitterStats)[]) jitter[k] += i.jb.stats[k];
    return { ticks: this.ticks, skippedTicks: this.skipped, tickMs: [...this.tickMs], lateMs: [...this.lateMs], inputs: this.inputs.size, outputs: this.outputs.size, jitter };
  }

  close(): void {
    this.stop();
    for (const id of [...this.inputs.keys()]) this.removeInput(id);
    this.outputs.clear();
  }
}

function record(list: number[], v: number): void {
  list.push(v);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
