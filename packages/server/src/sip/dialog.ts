/**
 * An outgoing call (RFC 3261): the transaction user of its INVITE — provisional responses,
 * digest authentication on 401/407 (§22), CANCEL (§9), ACK for 2xx sent end to end and re-sent on
 * every retransmitted 2xx (§13.2.2.4) — and then the dialog it creates (§12): Call-ID, tags, local
 * and remote CSeq, route set and remote target, in-dialog requests (INFO, BYE) and the answers to
 * the far end's requests in the dialog (re-INVITE for hold, OPTIONS, INFO, BYE).
 *
 * The transactions themselves are in `transactions.ts`; the user agent that owns the socket and
 * routes requests to their dialog is in `ua.ts`.
 */
import { authorizationHeader, parseChallenge, type DigestChallenge } from './digest.js';
import { formatNameAddr, parseCSeq, parseNameAddr, parseSipUri, parseVia, SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { newBranch, randomToken, SipCallFailure, type ClientTx, type SipTransactions } from './transactions.js';
import type { InboundMessage, SipTarget, SipTransport, SipTransportName } from './transport.js';

/** The methods this user agent answers (the `Allow` header). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO';

/** What a call needs from the user agent that owns it (implemented by `SipUserAgent`). */
export interface DialogUserAgent {
  readonly transport: SipTransport;
  readonly transactions: SipTransactions;
  /** `User-Agent` header. */
  readonly userAgent: string;
  /** Our advertised host and port on the flow to `target`. */
  hostPort(target: SipTarget): string;
  /** A Via header for a request to `target` with the given branch. */
  via(target: SipTarget, branch: string): string;
  /** Requests in this dialog are routed to the call from now on. */
  registerDialog(call: SipCall): void;
  forgetDialog(call: SipCall): void;
  /** Answers a request (server transaction, §17.2). */
  respond(m: InboundMessage, req: SipRequest, status: number, reason: string, body?: { type: string; data: string }, contact?: string, reliable2xx?: boolean): void;
}

/** Where a SIP URI sends requests: transport from `sips:`/`;transport=`, default ports 5060/5061. */
export function targetOf(uri: string): SipTarget {
  const u = parseSipUri(uri);
  const tp = u.params.get('transport')?.toLowerCase();
  let transport: SipTransportName = u.scheme === 'sips' ? 'tls' : 'udp';
  if (tp === 'tcp') transport = u.scheme === 'sips' ? 'tls' : 'tcp';
  else if (tp === 'tls') transport = 'tls';
  else if (tp !== undefined && tp !== 'udp') throw new Error(`unsupported transport "${tp}"`);
  const host = u.host.replace(/^\[|\]$/g, '');
  return { transport, host, port: u.port ?? (transport === 'tls' ? 5061 : 5060) };
}

export interface InviteOptions {
  /** Request-URI. */
  uri: string;
  /** From user part and display name. */
  fromUser: string;
  fromHost?: string;
  displayName?: string;
  /** Extra headers, in order (X- headers, X-OpenTok-SessionId). */
  headers?: [string, string][];
  auth?: { username: string; password: string };
  /** The SDP offer. Called once the local port of the flow is known (TCP/TLS). */
  sdp: string | (() => string);
  /** A provisional response arrived (100, 180, 183). */
  onProvisional?(status: number, reason: string): void;
}

export interface CallHandlers {
  /** The far end hung up (BYE). */
  onBye?(): void;
  /** A re-INVITE in the dialog: return the answer SDP (the offer may be empty). */
  onReinvite?(offer: string): string;
  /** An INFO request (e.g. `application/dtmf-relay`). */
  onInfo?(contentType: string, body: string): void;
}

/** One outgoing call: INVITE transaction, then the dialog. */
export class SipCall {
  readonly callId = `${randomToken(12)}@tokhost`;
  readonly localTag = randomToken(6);
  remoteTag: string | undefined;
  state: 'calling' | 'proceeding' | 'confirmed' | 'terminated' = 'calling';
  /** The final answer (2xx); rejects with a {@link SipCallFailure}. */
  readonly answered: Promise<{ sdp: string; response: SipResponse }>;
  handlers: CallHandlers = {};
  localCseq = 1;
  remoteCseq = -1;
  remoteTarget: string;
  routeSet: string[] = [];
  target: SipTarget;
  readonly fromHeader: string;
  toHeader: string;
  private resolveAnswer!: (v: { sdp: string; response: SipResponse }) => void;
  private rejectAnswer!: (e: SipCallFailure) => void;
  private invite: SipRequest | undefined;
  private inviteTx: ClientTx | undefined;
  private ackFor2xx: SipRequest | undefined;
  private cancelRequested = false;
  private authTries = 0;
  private readonly sdpText: () => string;
  /** Local SDP currently in force (re-sent on re-INVITE answers). */
  localSdp = '';

  constructor(
    readonly ua: DialogUserAgent,
    readonly options: InviteOptions,
  ) {
    this.answered = new Promise((resolve, reject) => {
      this.resolveAnswer = resolve;
      this.rejectAnswer = reject;
    });
    this.answered.catch(() => undefined);
    this.target = targetOf(options.uri);
    this.remoteTarget = options.uri;
    const fromHost = options.fromHost ?? ua.transport.advertisedAddress;
    const userPart = encodeURIComponent(options.fromUser).replace(/%2B/g, '+');
    this.fromHeader = formatNameAddr({ displayName: options.displayName, uri: `sip:${userPart}@${fromHost}`, params: new Map([['tag', this.localTag]]) });
    const toUri = parseSipUri(options.uri);
    this.toHeader = `<${toUri.scheme}:${toUri.user ? `${encodeURIComponent(toUri.user)}@` : ''}${toUri.host}${toUri.port ? `:${toUri.port}` : ''}>`;
    this.sdpText = typeof options.sdp === 'function' ? options.sdp : () => options.sdp as string;
  }

  /** Sends the INVITE. */
  async start(): Promise<void> {
    try {
      await this.ua.transport.connect(this.target);
    } catch (err) {
      this.fail(503, `transport: ${(err as Error).message}`);
      return;
    }
    this.localSdp = this.sdpText();
    this.sendInvite(undefined);
  }

  contact(): string {
    const t = this.target.transport;
    return `<sip:tokhost@${this.ua.hostPort(this.target)}${t === 'udp' ? '' : `;transport=${t}`}>`;
  }

  private sendInvite(auth: [string, string] | undefined): void {
    const h = this.requestHeaders('INVITE', this.localCseq);
    h.append('contact', this.contact());
    h.append('allow', ALLOW);
    h.append('user-agent', this.ua.userAgent);
    if (auth) h.append(auth[0], auth[1]);
    for (const [k, v] of this.options.headers ?? []) h.append(k, v);
    h.append('content-type', 'application/sdp');
    const req: SipRequest = { kind: 'request', method: 'INVITE', uri: this.options.uri, headers: h, body: Buffer.from(this.localSdp) };
    this.invite = req;
    this.inviteTx = this.ua.transactions.invite(this.target, req, { onResponse: (res) => this.onInviteResponse(res), onTimeout: () => this.fail(408, 'Request Timeout'), onError: (err) => this.fail(503, `transport: ${err.message}`) });
  }

  private onInviteResponse(res: SipResponse): void {
    if (this.state === 'terminated' && res.status < 200) return;
    if (res.status < 200) {
      if (this.state === 'calling') this.state = 'proceeding';
      if (this.cancelRequested) this.sendCancel();
      try {
        this.options.onProvisional?.(res.status, res.reason);
      } catch {
        // a throwing listener must not break the transaction
      }
      return;
    }
    if (res.status < 300) {
      this.on2xx(res);
      return;
    }
    if ((res.status === 401 || res.status === 407) && this.options.auth && this.authTries < 2 && !this.cancelRequested) {
      const ch = res.headers.get(res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
      let challenge: DigestChallenge | undefined;
      try {
        challenge = ch ? parseChallenge(ch) : undefined;
      } catch (err) {
        this.fail(res.status, `${res.reason || 'Unauthorized'} (challenge refused: ${(err as Error).message})`);
        return;
      }
      // A second challenge after credentials were sent means they were wrong (unless the nonce went stale).
      if (challenge && (this.authTries === 0 || challenge.stale)) {
        this.authTries++;
        this.localCseq++;
        let value: string;
        try {
          value = authorizationHeader(challenge, { username: this.options.auth.username, password: this.options.auth.password, method: 'INVITE', uri: this.options.uri });
        } catch (err) {
          // An algorithm we do not support, or a challenge whose values cannot be echoed safely.
          this.fail(res.status, `${res.reason || 'Unauthorized'} (challenge refused: ${(err as Error).message})`);
          return;
        }
        this.sendInvite([res.status === 401 ? 'authorization' : 'proxy-authorization', value]);
        return;
      }
    }
    this.fail(res.status, res.reason || 'Failed');
  }

  private on2xx(res: SipResponse): void {
    const toTag = parseNameAddr(res.headers.get('to') ?? '').params.get('tag') ?? undefined;
    if (this.ackFor2xx) {
      // A retransmitted 2xx: our ACK was lost (§13.2.2.4).
      if (toTag === this.remoteTag) this.ua.transactions.sendRaw(this.ackTarget(), this.ackFor2xx);
      return;
    }
    this.remoteTag = toTag ?? undefined;
    this.toHeader = res.headers.get('to') ?? this.toHeader;
    const contact = res.headers.get('contact');
    if (contact) {
      try {
        this.remoteTarget = parseNameAddr(contact).uri;
      } catch {
        // keep the request URI
      }
    }
    this.routeSet = res.headers.getAll('record-route').reverse();
    const ack = this.inDialogRequest('ACK', this.localCseq);
    this.ackFor2xx = ack;
    this.ua.transactions.sendRaw(this.ackTarget(), ack);
    if (this.state === 'terminated' || this.cancelRequested) {
      // Answered after we gave up (CANCEL crossed the 200): hang up at once (§9.1).
      this.state = 'confirmed';
      void this.bye();
      return;
    }
    this.state = 'confirmed';
    this.ua.registerDialog(this);
    this.resolveAnswer({ sdp: res.body.toString('utf8'), response: res });
  }

  /** Where in-dialog requests go: the first Route (loose routing) or the remote target, over the flow the call uses. */
  private ackTarget(): SipTarget {
    const first = this.routeSet[0];
    try {
      const t = targetOf(first ? parseNameAddr(first).uri : this.remoteTarget);
      // Connection-oriented calls keep their connection: the far end's Contact is often not reachable (NAT, no listener).
      if (this.target.transport !== 'udp') return this.target;
      return t;
    } catch {
      return this.target;
    }
  }

  /** The headers every request of this call starts with, a new branch each time (§8.1.1). */
  private requestHeaders(method: string, cseq: number): SipHeaders {
    const h = new SipHeaders();
    h.append('via', this.ua.via(this.target, newBranch()));
    h.append('max-forwards', '70');
    h.append('from', this.fromHeader);
    h.append('to', this.toHeader);
    h.append('call-id', this.callId);
    h.append('cseq', `${cseq} ${method}`);
    return h;
  }

  inDialogRequest(method: string, cseq: number, body?: { type: string; data: string }): SipRequest {
    const h = this.requestHeaders(method, cseq);
    for (const r of this.routeSet) h.append('route', r);
    if (method !== 'ACK') h.append('contact', this.contact());
    if (body) h.append('content-type', body.type);
    return { kind: 'request', method, uri: this.remoteTarget, headers: h, body: Buffer.from(body?.data ?? '') };
  }

  private sendCancel(): void {
    if (!this.invite || this.state !== 'proceeding') return;
    const h = new SipHeaders();
    h.append('via', this.invite.headers.get('via')!);
    h.append('max-forwards', '70');
    h.append('from', this.fromHeader);
    h.append('to', this.invite.headers.get('to')!);
    h.append('call-id', this.callId);
    h.append('cseq', `${this.localCseq} CANCEL`);
    const branch = parseVia(this.invite.headers.get('via')!).params.get('branch') ?? newBranch();
    this.ua.transactions.nonInvite(this.target, { kind: 'request', method: 'CANCEL', uri: this.invite.uri, headers: h, body: Buffer.alloc(0) }, branch).catch(() => undefined);
  }

  /**
   * Ends the call: CANCEL while it rings (the INVITE then fails with 487), BYE once answered.
   * Resolves when the far end answered the BYE (or gave up on it).
   */
  async hangup(): Promise<void> {
    if (this.state === 'terminated') return;
    if (this.state === 'confirmed') {
      await this.bye();
      return;
    }
    this.cancelRequested = true;
    if (this.state === 'proceeding') this.sendCancel();
    // Calling (no provisional yet): the CANCEL goes out when the first 1xx arrives (§9.1); give the
    // INVITE a short while, then drop it.
    const t = setTimeout(() => this.fail(487, 'Request Terminated'), 4000);
    await this.answered.catch(() => undefined);
    clearTimeout(t);
  }

  private async bye(): Promise<void> {
    if (this.state !== 'confirmed') return;
    this.state = 'terminated';
    this.ua.forgetDialog(this);
    const req = this.inDialogRequest('BYE', ++this.localCseq);
    try {
      await this.ua.transactions.nonInvite(this.ackTarget(), req);
    } catch {
      // the far end is gone: the call is over all the same
    }
  }

  /** Sends an in-dialog request (INFO) and resolves with its final response. */
  async request(method: string, body?: { type: string; data: string }): Promise<SipResponse> {
    if (this.state !== 'confirmed') throw new Error(`call is ${this.state}`);
    return this.ua.transactions.nonInvite(this.ackTarget(), this.inDialogRequest(method, ++this.localCseq, body));
  }

  /** The far end sent a request in this dialog. */
  onRequest(req: SipRequest, m: InboundMessage): void {
    const cseq = parseCSeq(req.headers.get('cseq')!);
    if (req.method === 'ACK') {
      this.ua.transactions.ackReceived(req);
      return;
    }
    if (cseq.seq < this.remoteCseq && req.method !== 'ACK') {
      this.ua.respond(m, req, 500, 'Server Internal Error');
      return;
    }
    this.remoteCseq = cseq.seq;
    switch (req.method) {
      case 'BYE':
        this.ua.respond(m, req, 200, 'OK');
        if (this.state !== 'terminated') {
          this.state = 'terminated';
          this.ua.forgetDialog(this);
          safe(() => this.handlers.onBye?.());
        }
        return;
      case 'INVITE': {
        let answer = this.localSdp;
        try {
          answer = this.handlers.onReinvite?.(req.body.toString('utf8')) ?? this.localSdp;
        } catch {
          this.ua.respond(m, req, 488, 'Not Acceptable Here');
          return;
        }
        const remote = req.headers.get('contact');
        if (remote) {
          try {
            this.remoteTarget = parseNameAddr(remote).uri;
          } catch {
            // keep
          }
        }
        this.localSdp = answer;
        this.ua.respond(m, req, 200, 'OK', { type: 'application/sdp', data: answer }, this.contact(), true);
        return;
      }
      case 'OPTIONS':
        this.ua.respond(m, req, 200, 'OK');
        return;
      case 'INFO':
        this.ua.respond(m, req, 200, 'OK');
        safe(() => this.handlers.onInfo?.(req.headers.get('content-type') ?? '', req.body.toString('utf8')));
        return;
      case 'UPDATE':
      case 'NOTIFY':
        this.ua.respond(m, req, 200, 'OK');
        return;
      default:
        this.ua.respond(m, req, 405, 'Method Not Allowed');
    }
  }

  fail(status: number, reason: string): void {
    if (this.state === 'terminated' || this.state === 'confirmed') return;
    this.state = 'terminated';
    if (this.inviteTx) this.ua.transactions.end(this.inviteTx);
    this.rejectAnswer(new SipCallFailure(status, reason));
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // listeners must not break the stack
  }
}

