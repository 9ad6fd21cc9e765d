import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/** A CDP event: its method, parameters, and the target session it came from (flat mode). */
export interface CdpEvent {
  method: string;
  params: Record<string, unknown>;
  sessionId?: string;
}

/** A command Chromium answered with an error, or one left unanswered when the pipe closed. */
export class CdpError extends Error {
  override readonly name = 'CdpError';
}

/**
 * The Chrome DevTools Protocol over `--remote-debugging-pipe`: Chromium reads commands on its fd 3
 * and writes answers and events on its fd 4, one JSON message per NUL-terminated frame. No port is
 * opened, so nothing else on the machine can drive the browser. Events are emitted as `event`
 * ({@link CdpEvent}); `close` when the pipe ends (the browser exited).
 */
export class CdpPipe extends EventEmitter<{ event: [CdpEvent]; close: [] }> {
  #nextId = 0;
  #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }>();
  #chunks: Buffer[] = [];
  #closed = false;

  constructor(
    private readonly out: Writable,
    input: Readable,
  ) {
    super();
    input.on('data', (chunk: Buffer) => this.#read(chunk));
    const end = () => this.#close();
    input.on('end', end);
    input.on('close', end);
    input.on('error', end);
    out.on('error', end);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Send one command; resolves with its result, rejects with {@link CdpError}. */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(new CdpError(`${method}: the browser is gone`));
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }

  #read(chunk: Buffer): void {
    let start = 0;
    let end: number;
    while ((end = chunk.indexOf(0, start)) >= 0) {
      this.#chunks.push(chunk.subarray(start, end));
      const text = Buffer.concat(this.#chunks).toString('utf8');
      this.#chunks = [];
      start = end + 1;
      let m: { id?: number; result?: Record<string, unknown>; error?: { message?: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
      try {
        m = JSON.parse(text) as typeof m;
      } catch {
        continue;
      }
      if (m.id !== undefined) {
        const p = this.#pending.get(m.id);
        if (!p) continue;
        this.#pending.delete(m.id);
        if (m.error) p.reject(new CdpError(`${p.method}: ${m.error.message ?? 'failed'}`));
        else p.resolve(m.result ?? {});
      } else if (m.method) {
        this.emit('event', { method: m.method, params: m.params ?? {}, ...(m.sessionId ? { sessionId: m.sessionId } : {}) });
      }
    }
    if (start < chunk.length) this.#chunks.push(chunk.subarray(start));
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(new CdpError(`${p.method}: the browser is gone`));
    this.#pending.clear();
    this.emit('close');
  }
}
