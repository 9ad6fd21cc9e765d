/**
 * Fan-out of one live MPEG-TS byte stream (the composition encoder's stdout) to any number of
 * subscribers that may join at any time: archive file, HLS and RTMP remuxers.
 *
 * A subscriber that joins mid-stream must receive bytes a demuxer can start on without errors, so
 * it gets the latest PAT and PMT first and then the stream from the next random-access point:
 * the next video packet flagged `random_access_indicator` (ffmpeg's mpegts muxer sets it on every
 * keyframe) or the next video PES whose first packet holds an IDR/SPS NAL unit; when the program
 * has no video, the next audio PES start. Elementary streams other than the one it starts on are
 * joined at their next PES start, so no subscriber ever sees half a PES.
 */

/** Size of one transport stream packet. */
export const TS_PACKET_SIZE = 188;
const SYNC = 0x47;

/** PMT stream_type values treated as video (MPEG-1/2, MPEG-4 part 2, H.264, HEVC). */
const VIDEO_STREAM_TYPES = new Set([0x01, 0x02, 0x10, 0x1b, 0x24]);
/** PMT stream_type values treated as audio (MPEG audio, AAC ADTS/LATM, AC-3, E-AC-3, Opus in private data is not recognised). */
const AUDIO_STREAM_TYPES = new Set([0x03, 0x04, 0x0f, 0x11, 0x81, 0x87]);

/** Receives each chunk of whole TS packets; the buffer may be reused by nobody, keep it if needed. */
export type TsDataListener = (chunk: Buffer) => void;

/** Options of {@link TsFanout}. */
export interface TsFanoutOptions {
  /** Called when a subscriber's listener throws (the fan-out carries on). Default: ignore. */
  onListenerError?: (error: unknown) => void;
}

interface Subscriber {
  onData: TsDataListener;
  onEnd: (() => void) | undefined;
  /** `waiting`: nothing sent yet; `joining`: started, some PIDs not yet at a PES start; `live`: every packet. */
  state: 'waiting' | 'joining' | 'live';
  /** Elementary PIDs that have reached a PES start for this subscriber (only while joining). */
  joined: Set<number>;
}

/** What the fan-out learnt from the PSI tables. */
export interface TsProgramInfo {
  pmtPid: number | undefined;
  videoPid: number | undefined;
  audioPid: number | undefined;
  /** Every elementary PID of the program. */
  elementaryPids: number[];
}

/**
 * Splits a live MPEG-TS byte stream into packets and fans them out, keyframe-aware.
 *
 * @example
 * ```ts
 * const fanout = new TsFanout();
 * encoder.stdout.on('data', (c) => fanout.write(c));
 * encoder.stdout.on('end', () => fanout.end());
 * const unsubscribe = fanout.subscribe((chunk) => sink.stdin.write(chunk), () => sink.stdin.end());
 * ```
 */
export class TsFanout {
  #pending: Buffer = Buffer.alloc(0);
  #subscribers = new Set<Subscriber>();
  #pat: Buffer | undefined;
  #pmt: Buffer | undefined;
  #pmtPid: number | undefined;
  #videoPid: number | undefined;
  #videoType: number | undefined;
  #audioPid: number | undefined;
  #elementary = new Set<number>();
  #closed = false;
  #holds = new Set<object>();
  #onHold: Array<(held: boolean) => void> = [];
  #onListenerError: (error: unknown) => void;
  /** Bytes skipped while looking for packet sync (garbage in the input). */
  skippedBytes = 0;
  /** Whole packets received. */
  packets = 0;

  constructor(options: TsFanoutOptions = {}) {
    this.#onListenerError = options.onListenerError ?? (() => {});
  }

  /** True once {@link end} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Number of current subscribers. */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** The program as parsed from the latest PAT/PMT. */
  get program(): TsProgramInfo {
    return { pmtPid: this.#pmtPid, videoPid: this.#videoPid, audioPid: this.#audioPid, elementaryPids: [...this.#elementary] };
  }

  /** Feed bytes of the stream (any chunking; garbage between packets is skipped). Ignored once closed. */
  write(chunk: Buffer): void {
    if (this.#closed || chunk.length === 0) return;
    const data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const packets: Buffer[] = [];
    let pos = 0;
    let runStart = -1;
    const flushRun = (end: number) => {
      if (runStart >= 0 && end > runStart) packets.push(data.subarray(runStart, end));
      runStart = -1;
    };
    while (data.length - pos >= TS_PACKET_SIZE) {
      // A sync byte counts when the next packet boundary (if already received) holds one too.
      if (data[pos] !== SYNC || (data.length - pos >= 2 * TS_PACKET_SIZE && data[pos + TS_PACKET_SIZE] !== SYNC)) {
        flushRun(pos);
        const next = this.#findSync(data, pos + 1);
        this.skippedBytes += next - pos;
        pos = next;
        continue;
      }
      if (runStart < 0) runStart = pos;
      pos += TS_PACKET_SIZE;
    }
    flushRun(pos);
    this.#pending = Buffer.from(data.subarray(pos));
    for (const run of packets) this.#dispatch(run);
  }

  /**
   * Receive the stream from the next random-access point on (PAT and PMT first). Returns the
   * unsubscribe function (idempotent; `onEnd` is not called by it). On a closed fan-out `onEnd`
   * is called at once.
   */
  subscribe(onData: TsDataListener, onEnd?: () => void): () => void {
    if (this.#closed) {
      if (onEnd) this.#safe(onEnd);
      return () => {};
    }
    const sub: Subscriber = { onData, onEnd, state: 'waiting', joined: new Set() };
    this.#subscribers.add(sub);
    return () => {
      this.#subscribers.delete(sub);
    };
  }

  /**
   * Ask the producer to wait (a subscriber that must not lose bytes and has too many queued).
   * Returns the function that lifts this hold (idempotent). While any hold stands, {@link held}
   * is true and the producer, told through {@link onHoldChange}, stops reading its source.
   */
  hold(): () => void {
    if (this.#closed) return () => {};
    const token = {};
    this.#holds.add(token);
    if (this.#holds.size === 1) this.#notifyHold(true);
    return () => {
      if (this.#holds.delete(token) && this.#holds.size === 0) this.#notifyHold(false);
    };
  }

  /** True while a subscriber holds the producer back. */
  get held(): boolean {
    return this.#holds.size > 0;
  }

  /**
   * The producer's side of {@link hold}: `listener(true)` when the first hold is taken,
   * `listener(false)` when the last is lifted (or the fan-out ends). Returns the unsubscribe function.
   */
  onHoldChange(listener: (held: boolean) => void): () => void {
    this.#onHold.push(listener);
    return () => {
      const i = this.#onHold.indexOf(listener);
      if (i >= 0) this.#onHold.splice(i, 1);
    };
  }

  #notifyHold(held: boolean): void {
    for (const l of [...this.#onHold]) this.#safe(() => l(held));
  }

  /** End of the stream: every subscriber's `onEnd` is called and the fan-out is closed. */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#holds.size > 0) {
      this.#holds.clear();
      this.#notifyHold(false);
    }
    this.#pending = Buffer.alloc(0);
    const subs = [...this.#subscribers];
    this.#subscribers.clear();
    for (const s of subs) if (s.onEnd) this.#safe(s.onEnd);
  }

  /**
   * Whether a sync byte at `pos` is confirmed by the next three packet boundaries that were
   * received (a lone 0x47 inside garbage or payload is common; four in a row 188 bytes apart are not).
   */
  #syncAt(data: Buffer, pos: number): boolean {
    if (data[pos] !== SYNC) return false;
    for (let k = 1; k <= 3; k++) {
      const next = pos + k * TS_PACKET_SIZE;
      if (next >= data.length) return true;
      if (data[next] !== SYNC) return false;
    }
    return true;
  }

  #findSync(data: Buffer, from: number): number {
    for (let i = from; i < data.length; i++) {
      if (data[i] !== SYNC) continue;
      if (this.#syncAt(data, i)) return i;
    }
    // Keep the tail that could still hold the start of a packet.
    return Math.max(from, data.length - TS_PACKET_SIZE + 1);
  }

  /** Handle a run of contiguous whole packets. */
  #dispatch(run: Buffer): void {
    const count = run.length / TS_PACKET_SIZE;
    this.packets += count;
    // Which subscribers need per-packet treatment in this run.
    let needsScan = false;
    for (const s of this.#subscribers) if (s.state !== 'live') needsScan = true;
    if (!needsScan) {
      // PSI must still be tracked so later subscribers get the latest tables.
      for (let i = 0; i < count; i++) this.#inspect(run.subarray(i * TS_PACKET_SIZE, (i + 1) * TS_PACKET_SIZE));
      for (const s of [...this.#subscribers]) this.#send(s, run);
      return;
    }
    const pending = new Map<Subscriber, Buffer[]>();
    const live = [...this.#subscribers].filter((s) => s.state === 'live');
    const others = [...this.#subscribers].filter((s) => s.state !== 'live');
    for (let i = 0; i < count; i++) {
      const pkt = run.subarray(i * TS_PACKET_SIZE, (i + 1) * TS_PACKET_SIZE);
      const kind = this.#inspect(pkt);
      for (const s of others) {
        const out = pending.get(s) ?? [];
        if (s.state === 'waiting') {
          if (!kind.startPoint || !this.#pat || !this.#pmt) continue;
          out.push(this.#pat, this.#pmt, pkt);
          s.state = 'joining';
          s.joined.add(kind.pid);
        } else if (s.state === 'joining') {
          if (kind.psi) {
            out.push(pkt);
          } else if (this.#elementary.has(kind.pid)) {
            if (!s.joined.has(kind.pid)) {
              if (!kind.pusi) continue;
              s.joined.add(kind.pid);
            }
            out.push(pkt);
            if ([...this.#elementary].every((p) => s.joined.has(p))) s.state = 'live';
          }
          // Other PIDs (null packets, SDT/NIT) are dropped while joining.
        } else {
          out.push(pkt);
        }
        pending.set(s, out);
      }
    }
    for (const s of live) this.#send(s, run);
    for (const [s, parts] of pending) if (parts.length) this.#send(s, parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  #send(s: Subscriber, chunk: Buffer): void {
    if (!this.#subscribers.has(s)) return;
    try {
      s.onData(chunk);
    } catch (error) {
      this.#onListenerError(error);
    }
  }

  #safe(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#onListenerError(error);
    }
  }

  /** Parse one packet: track PAT/PMT and say whether it is a start point. */
  #inspect(pkt: Buffer): { pid: number; pusi: boolean; psi: boolean; startPoint: boolean } {
    const pid = ((pkt[1]! & 0x1f) << 8) | pkt[2]!;
    const pusi = (pkt[1]! & 0x40) !== 0;
    const afc = (pkt[3]! >> 4) & 0x3;
    let payload = 4;
    let rai = false;
    if (afc & 0x2) {
      const afLength = pkt[4]!;
      if (afLength > 0) rai = (pkt[5]! & 0x40) !== 0;
      payload = 5 + afLength;
    }
    const hasPayload = (afc & 0x1) !== 0 && payload < TS_PACKET_SIZE;
    if (pid === 0) {
      if (pusi && hasPayload) this.#parsePat(pkt, payload);
      return { pid, pusi, psi: true, startPoint: false };
    }
    if (pid === this.#pmtPid) {
      if (pusi && hasPayload) this.#parsePmt(pkt, payload);
      return { pid, pusi, psi: true, startPoint: false };
    }
    let startPoint = false;
    if (this.#videoPid !== undefined) {
      if (pid === this.#videoPid) startPoint = rai || (pusi && hasPayload && this.#pesStartsWithKeyframe(pkt, payload));
    } else if (pid === this.#audioPid) {
      startPoint = pusi && hasPayload;
    }
    return { pid, pusi, psi: false, startPoint };
  }

  #parsePat(pkt: Buffer, payload: number): void {
    const start = payload + 1 + pkt[payload]!; // pointer_field
    if (start + 8 > TS_PACKET_SIZE || pkt[start] !== 0x00) return;
    const sectionLength = ((pkt[start + 1]! & 0x0f) << 8) | pkt[start + 2]!;
    const end = Math.min(start + 3 + sectionLength - 4, TS_PACKET_SIZE);
    for (let i = start + 8; i + 4 <= end; i += 4) {
      const program = (pkt[i]! << 8) | pkt[i + 1]!;
      if (program === 0) continue; // network PID
      this.#pmtPid = ((pkt[i + 2]! & 0x1f) << 8) | pkt[i + 3]!;
      this.#pat = Buffer.from(pkt);
      return;
    }
  }

  #parsePmt(pkt: Buffer, payload: number): void {
    const start = payload + 1 + pkt[payload]!;
    if (start + 12 > TS_PACKET_SIZE || pkt[start] !== 0x02) return;
    const sectionLength = ((pkt[start + 1]! & 0x0f) << 8) | pkt[start + 2]!;
    const end = start + 3 + sectionLength - 4;
    if (end > TS_PACKET_SIZE) return; // a PMT over several packets: not produced by ffmpeg for one program
    const programInfoLength = ((pkt[start + 10]! & 0x0f) << 8) | pkt[start + 11]!;
    let video: number | undefined;
    let videoType: number | undefined;
    let audio: number | undefined;
    const elementary = new Set<number>();
    for (let i = start + 12 + programInfoLength; i + 5 <= end; ) {
      const type = pkt[i]!;
      const epid = ((pkt[i + 1]! & 0x1f) << 8) | pkt[i + 2]!;
      const esInfo = ((pkt[i + 3]! & 0x0f) << 8) | pkt[i + 4]!;
      elementary.add(epid);
      if (video === undefined && VIDEO_STREAM_TYPES.has(type)) {
        video = epid;
        videoType = type;
      }
      if (audio === undefined && AUDIO_STREAM_TYPES.has(type)) audio = epid;
      i += 5 + esInfo;
    }
    this.#pmt = Buffer.from(pkt);
    this.#videoPid = video;
    this.#videoType = videoType;
    this.#audioPid = audio ?? (video === undefined ? [...elementary][0] : undefined);
    this.#elementary = elementary;
  }

  /** Whether the PES starting in this packet begins with an IDR picture or its parameter sets (H.264/HEVC). */
  #pesStartsWithKeyframe(pkt: Buffer, payload: number): boolean {
    if (payload + 9 > TS_PACKET_SIZE || pkt[payload] !== 0 || pkt[payload + 1] !== 0 || pkt[payload + 2] !== 1) return false;
    const es = payload + 9 + pkt[payload + 8]!;
    for (let i = es; i + 3 < TS_PACKET_SIZE; i++) {
      if (pkt[i] !== 0 || pkt[i + 1] !== 0 || pkt[i + 2] !== 1) continue;
      const nal = pkt[i + 3]!;
      if (this.#videoType === 0x24) {
        const type = (nal >> 1) & 0x3f;
        if ((type >= 16 && type <= 21) || type === 32 || type === 33) return true;
      } else if (this.#videoType === 0x1b) {
        const type = nal & 0x1f;
        if (type === 5 || type === 7) return true;
      }
      i += 2;
    }
    return false;
  }
}
