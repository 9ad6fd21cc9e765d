/**
 * The SIP transaction layer (RFC 3261 §17): the INVITE client transaction with timers A/B/D
 * (§17.1.1) and its ACK for a non-2xx final response, non-INVITE client transactions with timers
 * E/F (§17.1.2), server transactions that answer retransmitted requests from a cache (§17.2), and
 * the UAS's retransmission of a 2xx to an INVITE until its ACK (§13.3.1.4).
 *
 * It knows nothing of dialogs or sockets: messages go out through the `send` function it is
 * given, which is what lets its timers be tested on their own.
 */
import { randomBytes } from 'node:crypto';
import { formatVia, parseCSeq, parseVia, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import type { SipTarget, SipTransportName } from './transport.js';
import { TokhostError } from '../errors.js';

/** RFC 3261 timer values, ms. */
export interface SipTimers {
  T1: number;
  T2: number;
  T4: number;
}
export const DEFAULT_TIMERS: SipTimers = Object.freeze({ T1: 500, T2: 4000, T4: 5000 });

export function randomToken(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/** A fresh RFC 3261 branch (the magic cookie `z9hG4bK` marks it as unique, §8.1.1.7). */
export const newBranch = (): string => `z9hG4bK${randomToken(10)}`;

/** The final outcome of an INVITE that did not connect. */
export class SipCallFailure extends TokhostError<'ERR_SIP_CALL_FAILED'> {
  override readonly name = 'SipCallFailure';
  constructor(
    /** SIP status (408 on timeout, 487 after CANCEL, 503 for a transport failure). */
    readonly status: number,
    readonly reason: string,
  ) {
    super('ERR_SIP_CALL_FAILED', `${status} ${reason}`);
  }
}

/** A client transaction, as the transaction user holds it (to end it early). */
export interface ClientTx {
  branch: string;
  method: string;
  onResponse(res: SipResponse): void;
  timers: NodeJS.Timeout[];
  done: boolean;
}

/** What the INVITE client transaction reports to its transaction user. */
export interface InviteTxHandlers {
  /** Every response: provisional, the 2xx (and its retransmissions for 64*T1), the first non-2xx final. */
  onResponse(res: SipResponse): void;
  /** Timer B fired: no final response within 64*T1. */
  onTimeout(): void;
  /** The transport could not send the INVITE. */
  onError(err: Error): void;
}

export interface SipTransactionsOptions {
  timers: SipTimers;
  /** Sends one message; rejects when the transport cannot. */
  send(target: SipTarget, msg: SipMessage): Promise<void>;
}

interface ServerTxEntry {
  response: SipMessage;
  reply: (m: SipMessage) => void;
  expires: number;
}

/** The client and server transactions of one user agent. */
export class SipTransactions {
  readonly timers: SipTimers;
  private readonly send: (target: SipTarget, msg: SipMessage) => Promise<void>;
  private readonly clientTx = new Map<string, ClientTx>();
  private readonly serverTx = new Map<string, ServerTxEntry>();
  /** 2xx responses to re-INVITEs retransmitted until their ACK (§13.3.1.4). */
  private readonly pending2xx = new Map<string, NodeJS.Timeout>();
  private readonly sweep: NodeJS.Timeout;

  constructor(o: SipTransactionsOptions) {
    this.timers = o.timers;
    this.send = o.send;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, e] of this.serverTx) if (e.expires < now) this.serverTx.delete(k);
    }, 5000);
    this.sweep.unref();
  }

  /** Sends a message outside any transaction (ACK for a 2xx); a transport failure is ignored. */
  sendRaw(target: SipTarget, msg: SipMessage): void {
    this.send(target, msg).catch(() => undefined);
  }

  /** INVITE client transaction (§17.1.1). */
  invite(target: SipTarget, req: SipRequest, handlers: InviteTxHandlers): ClientTx {
    const { onResponse, onTimeout, onError } = handlers;
    const branch = parseVia(req.headers.get('via')!).params.get('branch')!;
    const { T1 } = this.timers;
    const tx: ClientTx = { branch, method: 'INVITE', timers: [], done: false, onResponse: () => undefined };
    let finalSeen: SipResponse | undefined;
    let ack: SipRequest | undefined;
    const stopRetransmit = () => {
      for (const t of tx.timers) clearTimeout(t);
      tx.timers = [];
    };
    tx.onResponse = (res) => {
      if (tx.done && res.status >= 300 && ack) {
        // Completed: a retransmitted final response gets the same ACK again (timer D window).
        this.sendRaw(target, ack);
        return;
      }
      if (res.status < 200) {
        stopRetransmit();
        onResponse(res);
        return;
      }
      stopRetransmit();
      if (res.status < 300) {
        // 2xx ends the transaction; the TU acknowledges end to end. Keep routing retransmitted 2xx
        // to the call for 64*T1 so it can re-send its ACK.
        if (!finalSeen) {
          finalSeen = res;
          tx.done = true;
          tx.timers.push(setTimeout(() => this.clientTx.delete(key), 64 * T1));
        }
        onResponse(res);
        return;
      }
      if (finalSeen) return;
      finalSeen = res;
      tx.done = true;
      ack = ackForFinal(req, res);
      this.sendRaw(target, ack);
      // Timer D: absorb retransmissions for 32 s on UDP, none on reliable transports.
      tx.timers.push(setTimeout(() => this.clientTx.delete(key), target.transport === 'udp' ? Math.max(32_000, 64 * T1) : 0));
      onResponse(res);
    };
    const key = `${branch}|INVITE`;
    this.clientTx.set(key, tx);
    const send = () =>
      this.send(target, req).catch((err: Error) => {
        if (tx.done) return;
        stopRetransmit();
        tx.done = true;
        this.clientTx.delete(key);
        onError(err);
      });
    void send();
    // Timer A: T1, doubling without a cap (§17.1.1.2).
    if (target.transport === 'udp') retransmitUntilDone(tx, send, T1, Infinity);
    // Timer B: no response at all within 64*T1.
    const timerB = setTimeout(() => {
      if (tx.done || tx.timers.length === 0) return;
      stopRetransmit();
      tx.done = true;
      this.clientTx.delete(key);
      onTimeout();
    }, 64 * T1);
    tx.timers.push(timerB);
    return tx;
  }

  /** Ends a client transaction at once: no more retransmissions, timeouts or responses. */
  end(tx: ClientTx): void {
    for (const t of tx.timers) clearTimeout(t);
    tx.timers = [];
    tx.done = true;
    this.clientTx.delete(`${tx.branch}|${tx.method}`);
  }

  /** Non-INVITE client transaction (§17.1.2): timers E and F. Resolves with the final response. */
  nonInvite(target: SipTarget, req: SipRequest, branchOverride?: string): Promise<SipResponse> {
    if (branchOverride) {
      const via = parseVia(req.headers.get('via')!);
      via.params.set('branch', branchOverride);
      req.headers.set('via', formatVia(via));
    }
    const branch = parseVia(req.headers.get('via')!).params.get('branch')!;
    const { T1, T2 } = this.timers;
    return new Promise((resolve, reject) => {
      const key = `${branch}|${req.method}`;
      const tx: ClientTx = {
        branch,
        method: req.method,
        timers: [],
        done: false,
        onResponse: (res) => {
          if (res.status < 200 || tx.done) return;
          this.end(tx);
          resolve(res);
        },
      };
      this.clientTx.set(key, tx);
      const send = () =>
        this.send(target, req).catch((err: Error) => {
          if (tx.done) return;
          this.end(tx);
          reject(err);
        });
      void send();
      // Timer E: T1, doubling up to T2 (§17.1.2.2).
      if (target.transport === 'udp') retransmitUntilDone(tx, send, T1, T2);
      tx.timers.push(
        setTimeout(() => {
          if (tx.done) return;
          this.end(tx);
          reject(new SipCallFailure(408, 'Request Timeout'));
        }, 64 * T1),
      );
    });
  }

  /** Hands a response to the client transaction it belongs to (by top Via branch and CSeq method); unmatched ones are dropped. */
  receiveResponse(res: SipResponse): void {
    const branch = topBranch(res);
    let method: string;
    try {
      method = parseCSeq(res.headers.get('cseq')!).method;
    } catch {
      return;
    }
    this.clientTx.get(`${branch}|${method}`)?.onResponse(res);
  }

  /** A retransmitted request (other than ACK) gets the answer already given; true when it was one. */
  answerRetransmission(req: SipRequest, reply: (m: SipMessage) => void): boolean {
    const branch = topBranch(req);
    if (!branch || req.method === 'ACK') return false;
    const cached = this.serverTx.get(`${branch}|${req.method}`);
    if (!cached) return false;
    reply(cached.response);
    return true;
  }

  /**
   * Sends the answer to a request and keeps it for the request's retransmissions (§17.2). With
   * `reliable2xx`, a 2xx sent over UDP is re-sent on T1, 2*T1 … T2 until its ACK or 64*T1 (§13.3.1.4).
   */
  respond(req: SipRequest, res: SipResponse, reply: (m: SipMessage) => void, transport: SipTransportName, reliable2xx = false): void {
    reply(res);
    const branch = topBranch(req);
    if (branch) this.serverTx.set(`${branch}|${req.method}`, { response: res, reply, expires: Date.now() + 64 * this.timers.T1 });
    if (reliable2xx && res.status >= 200 && res.status < 300 && transport === 'udp') {
      const k = `${req.headers.get('call-id')}|${parseCSeq(req.headers.get('cseq')!).seq}`;
      let interval = this.timers.T1;
      const started = Date.now();
      const again = () => {
        if (Date.now() - started > 64 * this.timers.T1) {
          this.pending2xx.delete(k);
          return;
        }
        reply(res);
        interval = Math.min(interval * 2, this.timers.T2);
        this.pending2xx.set(k, setTimeout(again, interval));
      };
      this.pending2xx.set(k, setTimeout(again, interval));
    }
  }

  /** The ACK for a 2xx we sent arrived: stop re-sending that 2xx. */
  ackReceived(req: SipRequest): void {
    const k = `${req.headers.get('call-id')}|${parseCSeq(req.headers.get('cseq')!).seq}`;
    const t = this.pending2xx.get(k);
    if (t) clearTimeout(t);
    this.pending2xx.delete(k);
  }

  /** Stops every timer; nothing is sent afterwards. */
  close(): void {
    clearInterval(this.sweep);
    for (const tx of this.clientTx.values()) for (const t of tx.timers) clearTimeout(t);
    this.clientTx.clear();
    for (const t of this.pending2xx.values()) clearTimeout(t);
    this.pending2xx.clear();
  }
}

/** Re-sends on UDP after `first` ms, the interval doubling up to `cap`, until the transaction is done. */
function retransmitUntilDone(tx: ClientTx, send: () => unknown, first: number, cap: number): void {
  let interval = first;
  const retransmit = () => {
    if (tx.done) return;
    void send();
    interval = Math.min(interval * 2, cap);
    tx.timers.push(setTimeout(retransmit, interval));
  };
  tx.timers.push(setTimeout(retransmit, interval));
}

/** ACK for a non-2xx final response: same branch and Via, To with the response's tag (§17.1.1.3). */
function ackForFinal(req: SipRequest, res: SipResponse): SipRequest {
  const h = new SipHeaders();
  h.append('via', req.headers.get('via')!);
  h.append('max-forwards', '70');
  h.append('from', req.headers.get('from')!);
  h.append('to', res.headers.get('to') ?? req.headers.get('to')!);
  h.append('call-id', req.headers.get('call-id')!);
  h.append('cseq', `${parseCSeq(req.headers.get('cseq')!).seq} ACK`);
  for (const r of req.headers.getAll('route')) h.append('route', r);
  return { kind: 'request', method: 'ACK', uri: req.uri, headers: h, body: Buffer.alloc(0) };
}

/** The branch of a message's top Via, if it has one that parses. */
export function topBranch(msg: SipMessage): string | undefined {
  const v = msg.headers.get('via');
  if (!v) return undefined;
  try {
    return parseVia(v).params.get('branch') ?? undefined;
  } catch {
    return undefined;
  }
}
