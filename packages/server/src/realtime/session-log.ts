/**
 * Sequenced delivery for one session: every server message of the session goes into one log,
 * numbered from one counter (`seq`), and each connection reads the log through its own cursor.
 *
 * Why one log per session instead of one queue per connection: a message to everyone (a join's
 * `connectionCreated`, a signal) is serialised once and, at flush time, every connection whose
 * cursor is at the same place gets the same frame bytes. A join wave into a session of n people
 * is n² deliveries; with per-connection queues it was n² strings, n² replay-buffer slots and n²
 * socket writes, here it is n log entries and one write per connection per flush.
 *
 * Seq numbers are per session, so a connection sees them increasing with gaps (messages for
 * others take numbers too). The client keeps the last one it saw, acks it, and resumes from it;
 * the replay is the entries after it that the connection can see.
 *
 * Flushing: a message for one connection (a response, SDP) flushes that connection at the end
 * of the event-loop turn; a message for everyone flushes the session then too, except presence
 * (`connectionCreated` / `connectionDestroyed`) in a large session, which is flushed at most every
 * `presenceIntervalMs(size)` so a join wave costs each socket a few writes per second rather than
 * one per join. Any other broadcast (a signal, a stream event) flushes at once and carries the
 * presence queued before it, so per-sender order always holds.
 */

/** What a native connection needs from its transport (a WebSocket in production). */
export interface ClientSocket {
  /** Send one text frame (a Buffer holds UTF-8 text: the same bytes may go to many sockets). */
  send(text: string | Buffer): void;
  /**
   * Write a complete WebSocket text frame built once for many sockets (see `wsTextFrame`), or
   * one given in consecutive pieces (written without copying them together).
   * Optional: without it the log sends the payload with `send`.
   */
  sendFrame?(frame: Buffer | Buffer[]): void;
  close(code: number, reason: string): void;
  readonly isOpen: boolean;
}

/** What the log needs of a connection. */
export interface LogReader {
  socket: ClientSocket | null;
  /** The client accepts array frames (several messages in one frame). */
  batch: boolean;
  /** Absolute index of the next entry to send. */
  cursor: number;
  /** Absolute index of the first entry this reader may see. */
  joinIndex: number;
  /** Highest seq the client acknowledged. */
  ackedSeq: number;
  /** An entry after `cursor` is addressed to or excludes this reader (its frame is its own). */
  custom: boolean;
  /** The client suppressed connection events: presence entries are not for it. */
  presenceOff: boolean;
}

interface Entry {
  seq: number;
  /** The message as JSON, `seq` first. */
  text: string;
  /** Only for this reader, or for everyone (null). */
  to: LogReader | null;
  /** For everyone but this reader. */
  except: LogReader | null;
  /**
   * Set on presence (`connectionCreated` / `connectionDestroyed`, skipped for readers with
   * `presenceOff`): runs of the same kind go as one `connectionsCreated` / `connectionsDestroyed`.
   */
  fold: Fold | null;
  /** UTF-8 of `text`, made once when sent to many readers one message per frame. */
  bytes?: Buffer;
}

export interface SessionLogOptions {
  /** The session's connections now (iterated at each full flush). */
  readers(): Iterable<LogReader>;
  /** How many connections the session has. */
  size(): number;
  /**
   * Most entries kept for replay. Past it, entries nobody acknowledged are dropped (the session
   * is flushed first, so only connections without a socket lose them: their resume then fails).
   */
  maxEntries: number;
  /** Most bytes of message text kept for replay (same rule). */
  maxBytes: number;
}

/** Presence in a session this large or larger is batched (ms between flushes: see below). */
export const PRESENCE_BATCH_FROM = 64;

/**
 * The most a presence event waits in a large session: 50 ms at 100 connections, 500 ms from
 * 1,000. Each presence flush is one write per socket (a syscall of ~30 µs on the machines here),
 * so the wait bounds those writes to about 2,000/s however fast clients join; a roster update
 * half a second late is not noticed by people in a 1,000-person session.
 */
export function presenceIntervalMs(size: number): number {
  return size < PRESENCE_BATCH_FROM ? 0 : Math.min(500, Math.round(size / 2));
}

export class SessionLog {
  /** Last seq given out. */
  seq = 0;
  private entries: Entry[] = [];
  /** Absolute index of `entries[0]`. */
  private base = 0;
  private bytes = 0;
  /** Highest seq dropped before every connection had acknowledged it (by the size caps). */
  private forcedDropSeq = 0;
  /** Readers with an entry of their own waiting. */
  private readonly urgent = new Set<LogReader>();
  /** An entry for everyone is waiting; `everyoneNow`: one that must not wait. */
  private everyone = false;
  private everyoneNow = false;
  private lastFullFlush = 0;
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: SessionLogOptions) {}

  /** Absolute index one past the last entry. */
  get end(): number {
    return this.base + this.entries.length;
  }

  /** A new reader sees everything appended from now on. */
  attach(r: LogReader): void {
    r.cursor = this.end;
    r.joinIndex = this.end;
    r.ackedSeq = this.seq;
    r.custom = false;
  }

  /**
   * Send a reader its first message at once, sequenced but not kept (the join snapshot: large,
   * and never replayed, since a client resumes only after it got it). Attaches the reader.
   */
  sendFirst(r: LogReader, head: string, middle: Buffer | null = null, tail = ''): void {
    this.attach(r);
    r.ackedSeq = ++this.seq;
    const seq = this.seq;
    const socket = r.socket;
    if (!socket) return;
    // `head` is JSON text of an object without its closing part; `middle` bytes go in between.
    const first = Buffer.from(`{"seq":${seq},${head.slice(1)}`);
    const last = Buffer.from(tail);
    if (!socket.sendFrame) {
      socket.send(Buffer.concat(middle ? [first, middle, last] : [first, last]));
      return;
    }
    // The snapshot bytes are written as they are (no copy per join; they are never changed in place).
    const length = first.length + (middle?.length ?? 0) + last.length;
    socket.sendFrame([Buffer.concat([wsFrameHeader(length), first]), ...(middle ? [middle] : []), last]);
  }

  /**
   * Append one message (`body`: JSON text of an object without `seq`). `to`: only for that
   * reader; `except`: for everyone but that reader; `fold`: presence, which may wait for the
   * batched flush and folds with its neighbours.
   */
  append(body: string, to: LogReader | null, except: LogReader | null = null, fold: Fold | null = null): number {
    if (this.closed) return 0;
    const seq = ++this.seq;
    const text = body.length > 2 ? `{"seq":${seq},${body.slice(1)}` : `{"seq":${seq}}`;
    this.entries.push({ seq, text, to, except, fold });
    this.bytes += text.length;
    if (to) {
      to.custom = true;
      this.urgent.add(to);
    } else {
      this.everyone = true;
      if (!fold) this.everyoneNow = true;
      if (except) except.custom = true;
    }
    if (this.entries.length > this.options.maxEntries || this.bytes > this.options.maxBytes) this.shrink();
    this.schedule();
    return seq;
  }

  /** The client acknowledged everything up to `seq`. */
  ack(r: LogReader, seq: number): void {
    if (Number.isFinite(seq)) r.ackedSeq = Math.max(r.ackedSeq, Math.min(Math.floor(seq), this.seq));
  }

  /**
   * The messages after `lastSeq` that `r` can see (each a JSON text), or null when some are no
   * longer kept. Afterwards the reader is up to date: the caller sends them on the new socket.
   */
  replay(r: LogReader, lastSeq: number): string[] | null {
    if (!Number.isInteger(lastSeq) || lastSeq > this.seq || lastSeq < r.ackedSeq || lastSeq < this.forcedDropSeq) return null;
    const out: string[] = [];
    for (let i = Math.max(r.joinIndex - this.base, 0); i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.seq > lastSeq && visible(r, e)) out.push(e.text);
    }
    r.cursor = this.end;
    r.custom = false;
    this.urgent.delete(r);
    return out;
  }

  /** Send `r` what it has not been sent yet (no-op without an open socket). */
  flushReader(r: LogReader, shared?: SharedFrames): void {
    const socket = r.socket;
    if (!socket?.isOpen) return;
    const end = this.end;
    const from = Math.max(r.cursor, this.base);
    if (from >= end) return;
    const own = r.custom;
    r.cursor = end;
    r.custom = false;
    if (!r.batch) {
      for (let i = from - this.base; i < this.entries.length; i++) {
        const e = this.entries[i]!;
        if (!visible(r, e)) continue;
        if (e.to) socket.send(e.text);
        else socket.send((e.bytes ??= Buffer.from(e.text)));
      }
      return;
    }
    if (own) {
      const frame = this.frame(from, r);
      if (frame !== null) socket.send(frame);
      return;
    }
    // Readers at the same cursor with nothing of their own get the same bytes: the payload,
    // and the whole WebSocket frame built once for sockets that take one.
    const cache = shared?.[r.presenceOff ? 1 : 0];
    let frame = cache?.get(from);
    if (frame === undefined) {
      const text = this.frame(from, null, r.presenceOff);
      frame = text === null ? null : { payload: Buffer.from(text), framed: null };
      cache?.set(from, frame);
    }
    if (frame === null) return;
    if (socket.sendFrame) socket.sendFrame((frame.framed ??= wsTextFrame(frame.payload)));
    else socket.send(frame.payload);
  }

  /** Flush every reader now. */
  flushAll(): void {
    this.everyone = false;
    this.everyoneNow = false;
    this.urgent.clear();
    this.lastFullFlush = performance.now();
    const shared: SharedFrames = [new Map(), new Map()];
    let minAck = Infinity;
    let minCursor = this.end;
    for (const r of this.options.readers()) {
      this.flushReader(r, shared);
      if (r.ackedSeq < minAck) minAck = r.ackedSeq;
      if (r.cursor < minCursor) minCursor = r.cursor;
    }
    // Entries every connection acknowledged (and was sent) are no longer needed for replay.
    let drop = 0;
    const limit = Math.min(minCursor - this.base, this.entries.length);
    while (drop < limit && this.entries[drop]!.seq <= minAck) drop++;
    if (drop >= 64 || (drop > 0 && drop === this.entries.length)) this.dropFront(drop);
  }

  /** Stop scheduling (the session ended). */
  close(): void {
    this.closed = true;
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
    this.entries = [];
    this.urgent.clear();
  }

  /** Entries kept (for tests and metrics). */
  get length(): number {
    return this.entries.length;
  }

  /** The frame from `from` for `r`, or the shared one (`r` null) for readers with nothing of their own. */
  private frame(from: number, r: LogReader | null, presenceOff = false): string | null {
    const texts: string[] = [];
    // A run of connectionCreated (a join wave) goes as one connectionsCreated, a run of
    // connectionDestroyed as one connectionsDestroyed: a third fewer bytes.
    let run: Entry[] = [];
    const endRun = () => {
      if (run.length === 1) texts.push(run[0]!.text);
      else if (run.length > 1) {
        const items = run.map((e) => e.fold!.item).join(',');
        const last = run[run.length - 1]!.seq;
        texts.push(run[0]!.fold!.kind === 'created' ? `{"seq":${last},"type":"connectionsCreated","connections":[${items}]}` : `{"seq":${last},"type":"connectionsDestroyed","destroyed":[${items}]}`);
      }
      run = [];
    };
    for (let i = from - this.base; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (!(r === null ? e.to === null && !(presenceOff && e.fold) : visible(r, e))) continue;
      if (e.fold !== null) {
        if (run.length > 0 && run[0]!.fold!.kind !== e.fold.kind) endRun();
        run.push(e);
        continue;
      }
      endRun();
      texts.push(e.text);
    }
    endRun();
    if (texts.length === 0) return null;
    return texts.length === 1 ? texts[0]! : `[${texts.join(',')}]`;
  }

  private dropFront(n: number): void {
    for (let i = 0; i < n; i++) this.bytes -= this.entries[i]!.text.length;
    this.entries = this.entries.slice(n);
    this.base += n;
  }

  /** Over a cap: flush (open sockets get everything), trim what is acked, then drop the oldest. */
  private shrink(): void {
    this.flushAll();
    if (this.entries.length <= this.options.maxEntries && this.bytes <= this.options.maxBytes) return;
    let n = 0;
    let bytes = this.bytes;
    const keep = Math.floor(this.options.maxEntries * 0.75);
    while (n < this.entries.length - 1 && (this.entries.length - n > keep || bytes > this.options.maxBytes * 0.75)) {
      bytes -= this.entries[n]!.text.length;
      n++;
    }
    if (n === 0) return;
    this.forcedDropSeq = Math.max(this.forcedDropSeq, this.entries[n - 1]!.seq);
    this.dropFront(n);
  }

  private schedule(): void {
    if (this.closed) return;
    const now = performance.now();
    const dueAt = this.everyone ? this.lastFullFlush + presenceIntervalMs(this.options.size()) : Infinity;
    if (this.urgent.size > 0 || this.everyoneNow || dueAt <= now) {
      this.immediate ??= setImmediate(() => this.run());
      return;
    }
    if (this.everyone && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.run();
      }, Math.ceil(dueAt - now));
    }
  }

  private run(): void {
    this.immediate = null;
    if (this.closed) return;
    const due = this.everyone && performance.now() >= this.lastFullFlush + presenceIntervalMs(this.options.size());
    if (this.everyoneNow || due) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.flushAll();
      return;
    }
    for (const r of this.urgent) this.flushReader(r);
    this.urgent.clear();
    // Presence still waiting: its timer is set (or set now).
    this.schedule();
  }
}

function visible(r: LogReader, e: Entry): boolean {
  return (e.to === null || e.to === r) && e.except !== r && !(e.fold && r.presenceOff);
}

/** How a presence entry folds: its kind and its item's JSON (the connection, or `{connection, reason}`). */
export interface Fold {
  kind: 'created' | 'destroyed';
  item: string;
}

/** A frame shared by several readers: its payload, and the whole WebSocket frame once built. */
interface SharedFrame {
  payload: Buffer;
  framed: Buffer | null;
}

/** Shared frames of one flush by cursor: [readers with presence, readers without]. */
type SharedFrames = [Map<number, SharedFrame | null>, Map<number, SharedFrame | null>];

/** An unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2) holding `payload`. */
export function wsTextFrame(payload: Buffer): Buffer {
  const head = wsFrameHeader(payload.length);
  const out = Buffer.allocUnsafe(head.length + payload.length);
  head.copy(out, 0);
  payload.copy(out, head.length);
  return out;
}

/** The header of an unmasked, unfragmented WebSocket text frame of `n` payload bytes. */
export function wsFrameHeader(n: number): Buffer {
  const out = Buffer.allocUnsafe(n < 126 ? 2 : n < 65_536 ? 4 : 10);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  return out;
}
