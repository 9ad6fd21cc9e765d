/**
 * A focused SIP user agent (RFC 3261) for outbound calls. It owns the transport and composes the
 * two layers above it: the transactions (`transactions.ts`: timers A/B/D and E/F, the response
 * cache of server transactions, 2xx retransmission until ACK) and the calls with their dialogs
 * (`dialog.ts`: digest authentication on 401/407, CANCEL, ACK for 2xx, BYE in both directions,
 * re-INVITE for hold, INFO). Here: requests are routed to their dialog, answered with `rport`
 * (RFC 3581) and cached. No registration, no incoming calls (an INVITE outside a dialog gets 603),
 * no SRV/NAPTR lookups (a host name is resolved with A records; the port defaults to 5060/5061).
 */
import { ALLOW, SipCall, type DialogUserAgent, type InviteOptions } from './dialog.js';
import { formatVia, parseNameAddr, parseVia, SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { DEFAULT_TIMERS, randomToken, SipTransactions, type SipTimers } from './transactions.js';
import { SipTransport, type InboundMessage, type SipTarget, type SipTransportOptions } from './transport.js';

export { SipCall, targetOf, type CallHandlers, type InviteOptions } from './dialog.js';
export { DEFAULT_TIMERS, randomToken, SipCallFailure, type SipTimers } from './transactions.js';

export interface SipUserAgentOptions extends Omit<SipTransportOptions, 'onMessage'> {
  timers?: Partial<SipTimers>;
  /** `User-Agent` header. Default "Tokhost". */
  userAgent?: string;
}

/** The user agent: one transport, the transactions and the dialogs on it. */
export class SipUserAgent implements DialogUserAgent {
  readonly transport: SipTransport;
  readonly timers: SipTimers;
  readonly userAgent: string;
  readonly transactions: SipTransactions;
  private readonly dialogs = new Map<string, SipCall>();
  private closed = false;

  private constructor(o: SipUserAgentOptions) {
    this.timers = { ...DEFAULT_TIMERS, ...(o.timers ?? {}) };
    this.userAgent = o.userAgent ?? 'Tokhost';
    this.transactions = new SipTransactions({ timers: this.timers, send: (target, msg) => this.transport.send(target, msg) });
    this.transport = new SipTransport({ ...o, onMessage: (m) => this.onMessage(m) });
  }

  static async start(o: SipUserAgentOptions): Promise<SipUserAgent> {
    const ua = new SipUserAgent(o);
    await ua.transport.start();
    return ua;
  }

  /** Create and start a call. */
  invite(o: InviteOptions): SipCall {
    const call = new SipCall(this, o);
    void call.start();
    return call;
  }

  hostPort(target: SipTarget): string {
    const a = this.transport.advertisedAddress;
    return `${a.includes(':') ? `[${a}]` : a}:${this.transport.localPortFor(target)}`;
  }

  via(target: SipTarget, branch: string): string {
    return `SIP/2.0/${target.transport.toUpperCase()} ${this.hostPort(target)};rport;branch=${branch}`;
  }

  registerDialog(call: SipCall): void {
    this.dialogs.set(`${call.callId}|${call.localTag}`, call);
  }

  forgetDialog(call: SipCall): void {
    this.dialogs.delete(`${call.callId}|${call.localTag}`);
  }

  /** Answer a request (and keep the answer for its retransmissions, §17.2). */
  respond(m: InboundMessage, req: SipRequest, status: number, reason: string, body?: { type: string; data: string }, contact?: string, reliable2xx = false): void {
    const h = new SipHeaders();
    const vias = req.headers.getAll('via');
    vias.forEach((v, i) => {
      if (i > 0) {
        h.append('via', v);
        return;
      }
      // RFC 3581 / §18.2.1: tell the sender where its request came from.
      try {
        const via = parseVia(v);
        if (via.host !== m.remote.address) via.params.set('received', m.remote.address);
        if (via.params.has('rport')) via.params.set('rport', String(m.remote.port));
        h.append('via', formatVia(via));
      } catch {
        h.append('via', v);
      }
    });
    h.append('from', req.headers.get('from')!);
    let to = req.headers.get('to')!;
    if (!/;\s*tag\s*=/i.test(to) && status > 100) to += `;tag=${randomToken(6)}`;
    h.append('to', to);
    h.append('call-id', req.headers.get('call-id')!);
    h.append('cseq', req.headers.get('cseq')!);
    if (contact) h.append('contact', contact);
    if (req.method === 'OPTIONS' || status === 405) {
      h.append('allow', ALLOW);
      h.append('accept', 'application/sdp');
    }
    h.append('user-agent', this.userAgent);
    if (body) h.append('content-type', body.type);
    const res: SipResponse = { kind: 'response', status, reason, headers: h, body: Buffer.from(body?.data ?? '') };
    this.transactions.respond(req, res, m.reply, m.transport, reliable2xx);
  }

  private onMessage(m: InboundMessage): void {
    if (this.closed) return;
    const msg = m.msg;
    if (msg.kind === 'response') {
      this.transactions.receiveResponse(msg);
      return;
    }
    // Retransmitted request: answer from the cache.
    if (this.transactions.answerRetransmission(msg, m.reply)) return;
    const toTag = safeTag(msg.headers.get('to'));
    const call = toTag ? this.dialogs.get(`${msg.headers.get('call-id')}|${toTag}`) : undefined;
    if (call) {
      call.onRequest(msg, m);
      return;
    }
    if (msg.method === 'ACK') return;
    if (msg.method === 'OPTIONS') this.respond(m, msg, 200, 'OK');
    else if (msg.method === 'INVITE' && !toTag) this.respond(m, msg, 603, 'Decline');
    else if (msg.method === 'CANCEL') this.respond(m, msg, 481, 'Call/Transaction Does Not Exist');
    else this.respond(m, msg, 481, 'Call/Transaction Does Not Exist');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.transactions.close();
    await this.transport.close();
  }
}

function safeTag(to: string | undefined): string | undefined {
  if (!to) return undefined;
  try {
    return parseNameAddr(to).params.get('tag') ?? undefined;
  } catch {
    return undefined;
  }
}
