import { REALTIME_PATH, REALTIME_PROTOCOL_VERSION, RT_CLOSE } from '@tokhost/protocol';
import type { ClientRequest, ConnectRequest, ResponseMessage, RtError, ServerMessage, SessionConnectedMessage } from '@tokhost/protocol';
import { ERRORS, OTError } from './errors.js';

/** Distributes `Omit` over a union (the built-in one collapses unions to their common keys). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type OutgoingRequest = DistributiveOmit<ClientRequest, 'id'>;

export interface TransportHandlers {
  /** Every sequenced server message except responses, in order, once each. */
  message(msg: ServerMessage): void;
  reconnecting(): void;
  reconnected(): void;
  /**
   * Cluster failover: the session moved to another node, and the transport joined it again as a
   * new connection (`msg`). The session's remote state is gone and its streams must be published
   * again.
   */
  rejoined(msg: SessionConnectedMessage): void;
  /** The connection is over (not called after a `disconnect()` the app asked for). */
  lost(reason: 'networkDisconnected' | 'forceDisconnected' | 'clientDisconnected'): void;
}

interface Pending {
  msg: ClientRequest;
  resolve(result: Record<string, unknown>): void;
  reject(err: OTError): void;
}

/** `http(s)://host/…` → `ws(s)://host/rtc/v1`. */
export function realtimeUrl(serverUrl: string): string {
  const u = new URL(REALTIME_PATH, serverUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : u.protocol === 'http:' ? 'ws:' : u.protocol;
  return u.toString();
}

/**
 * The realtime socket: sequenced delivery with acks, request/response by id, and automatic
 * resume after a dropped socket (same connection; unanswered requests re-sent, missed server
 * messages replayed by the server).
 */
export class Transport {
  private ws: WebSocket | null = null;
  private lastSeq = 0;
  private ackedSeq = 0;
  /** Messages received since the last ack. */
  private unacked = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private resumeInfo: { connectionId: string; resumeKey: string; graceMs: number } | null = null;
  state: 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' = 'idle';

  constructor(
    private readonly url: string,
    private readonly connectFrame: Omit<ConnectRequest, 'resume' | 'type' | 'version'>,
    private readonly handlers: TransportHandlers,
  ) {}

  /** Open the socket and join; resolves with `sessionConnected`. */
  connect(timeoutMs = 15_000): Promise<SessionConnectedMessage> {
    this.state = 'connecting';
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err: OTError | null, msg?: SessionConnectedMessage) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          this.state = 'closed';
          this.ws?.close();
          reject(err);
        } else resolve(msg!);
      };
      const timer = setTimeout(() => done(ERRORS.timeout('connecting to the Tokhost server timed out')), timeoutMs);
      this.open(null, {
        onFirst: (msg) => {
          if (msg.type === 'sessionConnected') {
            this.resumeInfo = { connectionId: msg.connection.connectionId, resumeKey: msg.resumeKey, graceMs: msg.reconnectGraceMs };
            this.state = 'connected';
            done(null, msg);
          } else if (msg.type === 'error') done(OTError.fromWire(msg.error));
        },
        onFailClose: (ev) => done(ERRORS.connectFailed(`could not connect to the Tokhost server (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`)),
      });
    });
  }

  /**
   * The socket's URL names the session (and the connection a resume is for), so a cluster node
   * can route the socket to the session's owner before the WebSocket handshake.
   */
  private socketUrl(resumeOf: string | null): string {
    const u = new URL(this.url);
    u.searchParams.set('session', this.connectFrame.sessionId);
    if (resumeOf !== null) u.searchParams.set('resume', resumeOf);
    return u.toString();
  }

  private open(resume: { lastSeq: number } | null, hooks: { onFirst(msg: ServerMessage): void; onFailClose(ev: CloseEvent): void }): void {
    const ws = new WebSocket(this.socketUrl(resume && this.resumeInfo ? this.resumeInfo.connectionId : null));
    this.ws = ws;
    let first = true;
    ws.onopen = () => {
      const frame: ConnectRequest = { type: 'connect', version: REALTIME_PROTOCOL_VERSION, ...this.connectFrame, batch: true };
      if (resume && this.resumeInfo) frame.resume = { connectionId: this.resumeInfo.connectionId, resumeKey: this.resumeInfo.resumeKey, lastSeq: resume.lastSeq };
      ws.send(JSON.stringify(frame));
    };
    const handle = (msg: ServerMessage) => {
      if (first) {
        first = false;
        hooks.onFirst(msg);
        if (msg.type === 'error') return;
        if (msg.type === 'sessionConnected') this.accept(msg);
        return;
      }
      this.accept(msg);
    };
    ws.onmessage = (ev) => {
      let parsed: ServerMessage | ServerMessage[];
      try {
        parsed = JSON.parse(String(ev.data)) as ServerMessage | ServerMessage[];
      } catch {
        return;
      }
      // With `batch`, one frame may carry several messages in order.
      if (Array.isArray(parsed)) for (const m of parsed) handle(m);
      else handle(parsed);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (first) {
        hooks.onFailClose(ev);
        return;
      }
      this.onClose(ev);
    };
  }

  private accept(msg: ServerMessage): void {
    if (!('seq' in msg) || typeof msg.seq !== 'number' || msg.seq === 0) return;
    if (msg.seq <= this.lastSeq) return;
    this.lastSeq = msg.seq;
    this.scheduleAck();
    if (msg.type === 'response') this.settle(msg);
    else this.handlers.message(msg);
  }

  private settle(msg: ResponseMessage): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result ?? {});
    else p.reject(OTError.fromWire(msg.error ?? ({ code: 'ERR_RT_INTERNAL', name: 'OT_UNEXPECTED_SERVER_RESPONSE', otCode: 2001, message: 'request failed' } as RtError)));
  }

  private scheduleAck(): void {
    // Seq numbers are per session (gaps for others' messages), so count messages, not numbers.
    if (++this.unacked >= 128) return this.flushAck();
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAck(), 1000);
  }

  private flushAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.unacked = 0;
    if (this.ws?.readyState === WebSocket.OPEN && this.state === 'connected' && this.lastSeq > this.ackedSeq) {
      this.ws.send(JSON.stringify({ type: 'ack', seq: this.lastSeq }));
      this.ackedSeq = this.lastSeq;
    }
  }

  /** Send a request; queued while reconnecting and re-sent after a resume. */
  request(body: OutgoingRequest): Promise<Record<string, unknown>> {
    if (this.state === 'closed' || this.state === 'idle') return Promise.reject(ERRORS.notConnected(body.type));
    const msg = { ...body, id: this.nextId++ } as ClientRequest;
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { msg, resolve, reject });
      if (this.state === 'connected' && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    });
  }

  /** Leave the session. */
  async disconnect(): Promise<void> {
    if (this.state !== 'connected') {
      this.shutdown();
      return;
    }
    const bye = this.request({ type: 'disconnect' }).catch(() => undefined);
    await Promise.race([bye, new Promise((r) => setTimeout(r, 1000))]);
    this.shutdown();
  }

  /** Close without telling the server (it will time the connection out). */
  shutdown(): void {
    this.state = 'closed';
    if (this.ackTimer) clearTimeout(this.ackTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    for (const p of this.pending.values()) p.reject(ERRORS.notConnected(p.msg.type));
    this.pending.clear();
  }

  private onClose(ev: CloseEvent): void {
    // A socket of the reconnect loop itself (e.g. a refused resume): the loop decides what next.
    if (this.state === 'closed' || this.state === 'reconnecting') return;
    if (ev.code === RT_CLOSE.ended || ev.code === RT_CLOSE.authFailed || ev.code === RT_CLOSE.protocolError || ev.code === RT_CLOSE.replaced || ev.code === RT_CLOSE.limitExceeded) {
      const reason = ev.reason === 'forceDisconnected' || ev.reason === 'clientDisconnected' ? ev.reason : 'networkDisconnected';
      this.shutdown();
      this.handlers.lost(reason);
      return;
    }
    this.state = 'reconnecting';
    this.handlers.reconnecting();
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    const deadline = Date.now() + (this.resumeInfo?.graceMs ?? 20_000);
    let delay = 250;
    while (this.state === 'reconnecting' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
      if (this.state !== 'reconnecting') return;
      const outcome = await new Promise<'ok' | 'retry' | 'fatal' | 'moved'>((resolve) => {
        const timer = setTimeout(() => {
          this.ws?.close();
          resolve('retry');
        }, 5000);
        this.open(
          { lastSeq: this.lastSeq },
          {
            onFirst: (msg) => {
              clearTimeout(timer);
              if (msg.type === 'sessionResumed') resolve('ok');
              else if (msg.type === 'error' && msg.error.code === 'ERR_RT_SESSION_MOVED') resolve('moved');
              else if (msg.type === 'error') resolve(msg.error.code === 'ERR_RT_RESUME_FAILED' || msg.error.code.startsWith('ERR_RT_TOKEN') ? 'fatal' : 'retry');
              else resolve('retry');
            },
            onFailClose: () => {
              clearTimeout(timer);
              resolve('retry');
            },
          },
        );
      });
      if (outcome === 'ok') {
        this.state = 'connected';
        // Requests the server may not have seen: it skips ids it already processed.
        for (const [, p] of [...this.pending.entries()].sort((a, b) => a[0] - b[0])) this.ws?.send(JSON.stringify(p.msg));
        this.ackedSeq = 0;
        this.flushAck();
        this.handlers.reconnected();
        return;
      }
      if (outcome === 'moved') {
        if (await this.rejoin()) return;
        continue;
      }
      if (outcome === 'fatal') break;
    }
    if (this.state === 'reconnecting') {
      this.shutdown();
      this.handlers.lost('networkDisconnected');
    }
  }

  /**
   * Join again as a new connection (same token) after `ERR_RT_SESSION_MOVED`. Requests still
   * waiting belonged to the old connection: they fail with "not connected".
   */
  private rejoin(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws?.close();
        resolve(false);
      }, 5000);
      this.lastSeq = 0;
      this.ackedSeq = 0;
      this.unacked = 0;
      this.open(null, {
        onFirst: (msg) => {
          clearTimeout(timer);
          if (msg.type !== 'sessionConnected') {
            resolve(false);
            return;
          }
          this.resumeInfo = { connectionId: msg.connection.connectionId, resumeKey: msg.resumeKey, graceMs: msg.reconnectGraceMs };
          for (const p of this.pending.values()) p.reject(ERRORS.notConnected(p.msg.type));
          this.pending.clear();
          this.state = 'connected';
          this.handlers.rejoined(msg);
          resolve(true);
        },
        onFailClose: () => {
          clearTimeout(timer);
          resolve(false);
        },
      });
    });
  }

  /** Test hook: drop the socket as a network failure would. */
  dropSocketForTesting(): void {
    this.ws?.close(4999, 'test drop');
  }
}
