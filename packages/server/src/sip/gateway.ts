/**
 * The SIP gateway: `dial` puts a SIP participant into a routed session and calls the far end.
 *
 * Per call: a server-side connection (the token's data) and an audio stream appear in the
 * session at once; the stream's media is the far end's audio as PCMU RTP, published into the
 * media router (`publishRtp`), so browsers subscribe to it and force-mute reaches it like any
 * stream. The far end hears the session's mix without its own stream (or the `streams` it
 * asked for) at 8 kHz. The connection, the stream and the mix are an {@link AudioParticipant}
 * (`src/participant/`), the server participant that the Audio Connector and captions use too.
 *
 * Lifecycle: DIALING → RINGING (180/183) → ACTIVE (2xx) ⇄ ON_HOLD (re-INVITE) → HANGUP. A call
 * that fails (4xx-6xx, timeout, 60 s without an answer, SRTP refused) destroys its connection;
 * a BYE from the far end or the connection's end (forceDisconnect) ends the call; so do 5
 * minutes without inbound media and 6 hours of call time. SIP callbacks go to the project's
 * webhook URL.
 */
import { randomUUID } from 'node:crypto';
import type { DialSipJson, RtStream, SipCallJson, VerifiedToken } from '@tokhost/protocol';
import type { AudioParticipant, AudioParticipants, Listener, RtpPublication } from '../participant/audio-participant.js';
import { percentile, type MixerStats } from '../participant/mixer.js';
import { RtpLeg, type RtpLegStats } from './rtp-leg.js';
import { answerDirection, buildOffer, parseRemote, SdpAnswerError, type RemoteMedia } from './sdp.js';
import { newSrtpKey } from './srtp.js';
import { VideoLeg } from './video-leg.js';
import type { Compositions } from '../compose/compositions.js';
import { SipCallFailure, SipUserAgent, targetOf, type SipCall, type SipTimers } from './ua.js';
import { sipUriProblem, userAtHostProblem } from './grammar.js';
import { parseSipUri, SipParseError } from './message.js';
import type { SipCallWebhookEvent } from '../webhooks/index.js';
import type { OutboundPolicy } from '../net/outbound.js';
import { TokhostError } from '../errors.js';

/** A dial request the gateway refuses; the REST edge maps `code` to the HTTP status (400, 501, 500). */
export class SipGatewayError extends TokhostError<'ERR_SIP_DIAL_INVALID' | 'ERR_SIP_UNSUPPORTED' | 'ERR_SIP_UNAVAILABLE'> {
  override readonly name = 'SipGatewayError';
  constructor(
    code: 'ERR_SIP_DIAL_INVALID' | 'ERR_SIP_UNSUPPORTED' | 'ERR_SIP_UNAVAILABLE',
    message: string,
    /** The request field at fault (`ERR_SIP_DIAL_INVALID`). */
    readonly field?: string,
  ) {
    super(code, message);
  }
}

export interface SipGatewayConfig {
  /** Address the SIP and RTP sockets bind to. */
  bindAddress: string;
  /** Address written in Via, Contact and SDP (behind 1:1 NAT). Default: `bindAddress`. */
  publicAddress?: string;
  /** UDP/TCP signalling port; 0: any. */
  port: number;
  /** TLS listener port (with `tlsCert`/`tlsKey`); 0: any. */
  tlsPort: number;
  tlsCert?: string;
  tlsKey?: string;
  /** Verify the far end's certificate on outgoing TLS. */
  tlsVerify: boolean;
  /** Extra trusted CA (PEM) for outgoing TLS. */
  tlsCa?: string;
  rtpMinPort: number;
  rtpMaxPort: number;
  /**
   * Symmetric-RTP latching for far ends behind NAT (config `sipRtpLatching`, default false): see
   * {@link RtpLeg}. Off, media is accepted only from the address and port of the SDP answer.
   */
  rtpLatching?: boolean;
  /** No final answer after this long: CANCEL (OpenTok: 60 s). */
  ringTimeoutMs: number;
  /** No inbound media for this long: hang up (704). */
  mediaTimeoutMs: number;
  /** Longest call (705). */
  maxDurationMs: number;
  timers?: Partial<SipTimers>;
}

export interface SipGatewayDeps {
  /** Server participants: each call is one (its connection, stream and mix). */
  participants: AudioParticipants;
  config: SipGatewayConfig;
  /** Delivers a SIP callback to the project's webhook URL (if it has one). */
  webhook(apiKey: string, event: SipCallWebhookEvent): void;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  /** The archive/broadcast compositor: `video: true` calls get its picture. Without it they are refused (501). */
  compositions?: Pick<Compositions, 'acquire'>;
  /**
   * Which hosts calls may reach: the dialled URI's host (a literal refused address is a 400, a
   * name is resolved and checked before the first packet), every later SIP target (Contact,
   * Record-Route) and the media address of the far end's SDP. Default none: any host.
   */
  outbound?: OutboundPolicy;
}

/** What `/metrics` shows of the gateway ({@link SipGateway.metrics}). */
export interface SipGatewayMetrics {
  calls: number;
  rtpDroppedSource: number;
  rtpRejectedSrtp: number;
}

export type SipCallState = 'DIALING' | 'RINGING' | 'ACTIVE' | 'ON_HOLD' | 'HANGUP';

/** OpenTok's reason codes besides SIP statuses. */
export const REASON = { normal: 700, unexpected: 703, mediaTimeout: 704, maxDuration: 705 } as const;

/** One call and its participant. */
class GatewayCall {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  state: SipCallState = 'DIALING';
  participant!: AudioParticipant;
  stream!: RtStream;
  publication: RtpPublication | undefined;
  listener: Listener | undefined;
  sip: SipCall | undefined;
  remote: RemoteMedia | undefined;
  readonly localKey: string | undefined;
  readonly videoKey: string | undefined;
  video: VideoLeg | undefined;
  forceMuted = false;
  ended = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastDigit: { d: string; at: number } | undefined;

  constructor(
    readonly gw: SipGateway,
    readonly apiKey: string,
    readonly sessionId: string,
    readonly options: DialSipJson,
    readonly leg: RtpLeg,
  ) {
    this.localKey = options.secure ? newSrtpKey() : undefined;
    this.videoKey = options.secure && options.video ? newSrtpKey() : undefined;
  }

  get connectionId(): string {
    return this.participant.connectionId;
  }

  /** Far-end audio packets handed to the router (the session hears these). */
  get packetsToRouter(): number {
    return this.publication?.packets ?? 0;
  }

  /** What the call's connection gets from the session: force-mute is the gateway's business. */
  onRealtime(m: Record<string, unknown>): void {
    if (m['type'] === 'muteForced' && m['streamId'] === this.stream?.streamId && m['active'] === true) this.onForceMute();
  }

  private onForceMute(): void {
    if (!this.options.observeForceMute) {
      // The leg did not ask to observe force-mute: its audio stays on (docs/sip.md).
      queueMicrotask(() => !this.ended && this.participant.setAudio(this.stream.streamId, true));
      return;
    }
    this.forceMuted = true;
    this.gw.webhookFor(this, 'muteForced');
  }

  onDigit(d: string): void {
    const now = Date.now();
    const prev = this.lastDigit;
    this.lastDigit = { d, at: now };
    if (d === '6' && prev?.d === '*' && now - prev.at < 3000 && this.options.observeForceMute) {
      this.forceMuted = !this.forceMuted;
      this.participant.setAudio(this.stream.streamId, !this.forceMuted);
      this.gw.logger.info({ callId: this.id, muted: this.forceMuted }, 'sip: *6 toggled mute');
    }
  }

  setState(s: SipCallState): void {
    if (this.state === s) return;
    this.state = s;
    this.gw.webhookFor(this, 'callUpdated');
  }

  after(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Ends everything once: SIP (BYE/CANCEL unless the far end ended it), media, connection. */
  async end(code: number, message: string, by: 'local' | 'remote'): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.timers) clearTimeout(t);
    const wasActive = this.state === 'ACTIVE' || this.state === 'ON_HOLD';
    this.state = 'HANGUP';
    if (wasActive) this.gw.webhookFor(this, 'callUpdated');
    this.listener?.close();
    if (!this.participant.left) this.participant.leave('clientDisconnected');
    const hangup = by === 'local' && this.sip ? this.sip.hangup().catch(() => undefined) : Promise.resolve();
    this.leg.close();
    void this.video?.close();
    this.gw.forget(this);
    this.gw.logger.info({ callId: this.id, sessionId: this.sessionId, code, message }, 'sip call ended');
    this.gw.webhookFor(this, 'callDestroyed', { reason_code: code, reason_message: message });
    await hangup;
  }
}

/** The SIP gateway of a server (one user agent, all calls). */
export class SipGateway {
  private ua: Promise<SipUserAgent> | undefined;
  private readonly calls = new Map<string, GatewayCall>();
  private readonly byConnection = new Map<string, GatewayCall>();
  private closed = false;
  /** Counters of calls that have ended (live calls add their legs' own). */
  private readonly endedTotals = { rtpDroppedSource: 0, rtpRejectedSrtp: 0 };
  readonly logger: SipGatewayDeps['logger'];

  constructor(private readonly deps: SipGatewayDeps) {
    this.logger = deps.logger;
  }

  private userAgent(): Promise<SipUserAgent> {
    const c = this.deps.config;
    this.ua ??= SipUserAgent.start({
      bindAddress: c.bindAddress,
      ...(c.publicAddress ? { publicAddress: c.publicAddress } : {}),
      port: c.port,
      tlsPort: c.tlsPort,
      ...(c.tlsCert && c.tlsKey ? { tls: { cert: c.tlsCert, key: c.tlsKey } } : {}),
      tlsVerify: c.tlsVerify,
      ...(c.tlsCa ? { tlsCa: c.tlsCa } : {}),
      ...(c.timers ? { timers: c.timers } : {}),
      userAgent: 'Tokhost SIP gateway',
      ...(this.deps.outbound ? { outbound: this.deps.outbound } : {}),
      logger: this.logger,
    }).then((ua) => {
      this.logger.info({ udp: ua.transport.udpPort, tcp: ua.transport.tcpPort, tls: ua.transport.tlsPort || undefined }, 'sip user agent started');
      return ua;
    });
    this.ua.catch(() => {
      this.ua = undefined;
    });
    return this.ua;
  }

  /** Calls not yet ended of a project, and of one of its sessions (the concurrency limits). */
  callCounts(apiKey: string, sessionId: string): { inSession: number; inProject: number } {
    let inSession = 0;
    let inProject = 0;
    for (const c of this.calls.values()) {
      if (c.apiKey !== apiKey || c.ended) continue;
      inProject++;
      if (c.sessionId === sessionId) inSession++;
    }
    return { inSession, inProject };
  }

  /** The user agent's ports (tests, diagnostics), starting it if needed. */
  async ports(): Promise<{ udp: number; tcp: number; tls: number }> {
    const ua = await this.userAgent();
    return { udp: ua.transport.udpPort, tcp: ua.transport.tcpPort, tls: ua.transport.tlsPort };
  }

  /**
   * Dial out. Resolves once the connection and stream are in the session (before the far end
   * answers, as OpenTok does); the call goes on in the background.
   */
  async dial(apiKey: string, token: VerifiedToken, sip: DialSipJson): Promise<SipCallJson> {
    if (this.closed) throw new SipGatewayError('ERR_SIP_UNAVAILABLE', 'the SIP gateway is shut down');
    // Checked by the REST edge already; again here for other callers (what reaches the wire is
    // checked a third time by the serializer).
    const uriProblem = sipUriProblem(sip.uri);
    if (uriProblem) throw new SipGatewayError('ERR_SIP_DIAL_INVALID', `sip.uri ${uriProblem}`, 'sip.uri');
    let uri;
    try {
      uri = parseSipUri(sip.uri);
      targetOf(sip.uri);
    } catch (err) {
      throw new SipGatewayError('ERR_SIP_DIAL_INVALID', `sip.uri ${err instanceof SipParseError ? 'must be a sip: or sips: URI' : (err as Error).message}`, 'sip.uri');
    }
    if (!uri.user) throw new SipGatewayError('ERR_SIP_DIAL_INVALID', 'sip.uri must name a user (sip:user@host)', 'sip.uri');
    const rule = this.deps.outbound?.checkLiteral(targetOf(sip.uri).host);
    if (rule) throw new SipGatewayError('ERR_SIP_DIAL_INVALID', `sip.uri names a ${rule} address, which the server's outbound policy refuses (rule: ${rule})`, 'sip.uri');
    if (uri.headers !== undefined) throw new SipGatewayError('ERR_SIP_DIAL_INVALID', 'sip.uri must not carry ?headers (use sip.headers)', 'sip.uri');
    if (sip.video && !this.deps.compositions) throw new SipGatewayError('ERR_SIP_UNSUPPORTED', 'sip.video: composed video to SIP endpoints needs the compositor, which this server runs without (see docs/sip.md)', 'sip.video');
    let fromUser = '+00000000';
    let fromHost: string | undefined;
    if (sip.from) {
      if (userAtHostProblem(sip.from)) throw new SipGatewayError('ERR_SIP_DIAL_INVALID', 'sip.from must be user@domain', 'sip.from');
      const at = sip.from.lastIndexOf('@');
      fromUser = sip.from.slice(0, at);
      fromHost = sip.from.slice(at + 1);
    }
    const ua = await this.userAgent().catch((err: Error) => {
      throw new SipGatewayError('ERR_SIP_UNAVAILABLE', `the SIP user agent could not start: ${err.message}`);
    });
    const c = this.deps.config;
    const leg = new RtpLeg({ bindAddress: c.bindAddress, minPort: c.rtpMinPort, maxPort: c.rtpMaxPort, latching: c.rtpLatching === true });
    try {
      await leg.open();
    } catch (err) {
      throw new SipGatewayError('ERR_SIP_UNAVAILABLE', (err as Error).message);
    }
    let video: VideoLeg | undefined;
    if (sip.video) {
      video = new VideoLeg({ bindAddress: c.bindAddress, minPort: c.rtpMinPort, maxPort: c.rtpMaxPort });
      try {
        await video.open();
      } catch (err) {
        leg.close();
        await video.close();
        throw new SipGatewayError('ERR_SIP_UNAVAILABLE', (err as Error).message);
      }
    }
    const call = new GatewayCall(this, apiKey, token.sessionId, sip, leg);
    call.video = video;
    try {
      call.participant = this.deps.participants.join(token, {
        onMessage: (m) => call.onRealtime(m),
        onEnd: (byServer) => {
          if (!byServer) return;
          void call.end(REASON.normal, 'Normal Clearing', 'local');
        },
      });
    } catch (err) {
      leg.close();
      void video?.close();
      throw new SipGatewayError('ERR_SIP_DIAL_INVALID', (err as Error).message, 'token');
    }
    this.calls.set(call.id, call);
    this.byConnection.set(call.connectionId, call);
    try {
      call.publication = await call.participant.publishRtp(sip.from ?? 'SIP call', { payloadType: 0, rtpmap: 'PCMU/8000' });
      call.stream = call.publication.stream;
    } catch (err) {
      await call.end(REASON.unexpected, 'Unexpected Clearing', 'remote');
      throw new SipGatewayError('ERR_SIP_DIAL_INVALID', `the SIP participant could not publish: ${(err as Error).message}`, 'token');
    }
    const publication = call.publication;
    leg.onAudio = (rtp) => {
      if (!call.ended) publication.send(rtp);
    };
    leg.onDigit = (d) => call.onDigit(d);
    this.webhookFor(call, 'callCreated');
    this.webhookFor(call, 'callUpdated');
    this.startCall(ua, call, sip, fromUser, fromHost);
    return { id: call.id, connectionId: call.connectionId, streamId: call.stream.streamId, projectId: apiKey, sessionId: token.sessionId, createdAt: call.createdAt, updatedAt: call.createdAt };
  }

  private startCall(ua: SipUserAgent, call: GatewayCall, sip: DialSipJson, fromUser: string, fromHost: string | undefined): void {
    const c = this.deps.config;
    // X-OpenTok-SessionId is ours to set (as OpenTok does); a caller's value of it is dropped.
    const headers: [string, string][] = Object.entries(sip.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'x-opentok-sessionid');
    headers.push(['X-OpenTok-SessionId', call.sessionId]);
    const sipCall = ua.invite({
      uri: sip.uri,
      fromUser,
      ...(fromHost ? { fromHost } : {}),
      headers,
      ...(sip.auth ? { auth: sip.auth } : {}),
      sdp: () => buildOffer({ address: ua.transport.advertisedAddress, port: call.leg.port, sessionVersion: 1, ...(call.localKey ? { srtpKey: call.localKey } : {}), ...this.videoOffer(call) }),
      onProvisional: (status) => {
        if (status === 180 || status === 183) call.setState('RINGING');
      },
    });
    call.sip = sipCall;
    sipCall.handlers = {
      onBye: () => void call.end(REASON.normal, 'Normal Clearing', 'remote'),
      onReinvite: (offer) => this.onReinvite(call, offer),
      onInfo: (type, body) => {
        const m = /Signal\s*=\s*([0-9*#])/i.exec(body);
        if (/dtmf/i.test(type) && m) call.onDigit(m[1]!);
      },
    };
    // No final answer in time: give up (CANCEL), as OpenTok does after 60 s.
    call.after(c.ringTimeoutMs, () => {
      if (call.state === 'DIALING' || call.state === 'RINGING') {
        void sipCall.hangup();
        void call.end(408, 'Request Timeout (no answer)', 'remote');
      }
    });
    sipCall.answered.then(
      ({ sdp }) => this.onAnswered(call, sdp),
      (err: unknown) => {
        const f = err instanceof SipCallFailure ? err : new SipCallFailure(500, (err as Error).message);
        void call.end(f.status, f.reason, 'remote');
      },
    );
  }

  private onAnswered(call: GatewayCall, sdp: string): void {
    if (call.ended) {
      void call.sip?.hangup();
      return;
    }
    let remote: RemoteMedia;
    try {
      remote = parseRemote(sdp);
    } catch (err) {
      void call.end(488, `Not Acceptable Here: ${err instanceof SdpAnswerError ? err.message : (err as Error).message}`, 'local');
      return;
    }
    const mediaRule = this.deps.outbound?.checkAddress(remote.address);
    if (mediaRule) {
      void call.end(488, `Not Acceptable Here: the answer's media address is a ${mediaRule} address, which the server's outbound policy refuses`, 'local');
      return;
    }
    if (call.localKey && (!remote.secure || !remote.srtpKey)) {
      void call.end(488, 'Not Acceptable Here: the far end refused SRTP (secure: true)', 'local');
      return;
    }
    if (!call.localKey && remote.secure) {
      void call.end(488, 'Not Acceptable Here: the far end answered SRTP to a plain RTP offer', 'local');
      return;
    }
    call.remote = remote;
    call.leg.configure({ address: remote.address, port: remote.port, codec: { name: remote.codec.name, pt: remote.codec.pt }, telephoneEvent: remote.telephoneEvent, ...(call.localKey ? { localKey: call.localKey, remoteKey: remote.srtpKey! } : {}) });
    call.leg.sending = remote.direction === 'sendrecv' || remote.direction === 'recvonly';
    call.leg.lastInboundAt = Date.now();
    call.setState(call.leg.sending ? 'ACTIVE' : 'ON_HOLD');
    call.listener = call.participant.listen({ rate: 8000, ...(call.options.streams ? { streams: call.options.streams } : {}), onFrame: (f) => call.leg.sendFrame(f) });
    if (call.video && remote.video) {
      this.startVideo(call, remote.video).catch((err: Error) => this.logger.warn({ err: err.message, callId: call.id }, 'sip: video to the far end failed; the call goes on with audio'));
    }
    const c = this.deps.config;
    call.after(c.maxDurationMs, () => void call.end(REASON.maxDuration, 'Max Duration', 'local'));
    call.every(Math.min(5000, Math.max(250, c.mediaTimeoutMs / 4)), () => {
      // On hold the far end may legitimately send nothing.
      if (call.state === 'ACTIVE' && Date.now() - call.leg.lastInboundAt > c.mediaTimeoutMs) void call.end(REASON.mediaTimeout, 'Media Timeout', 'local');
    });
  }

  private videoOffer(call: GatewayCall): { video?: { port: number; srtpKey?: string } } {
    if (!call.video) return {};
    return { video: { port: call.video.port, ...(call.videoKey ? { srtpKey: call.videoKey } : {}) } };
  }

  /** The far end took our video: its picture is the session's composition (one encoder shared with equal archives/broadcasts). */
  private async startVideo(call: GatewayCall, remote: NonNullable<RemoteMedia['video']>): Promise<void> {
    const lease = await this.deps.compositions!.acquire({
      apiKey: call.apiKey,
      sessionId: call.sessionId,
      canvas: { width: 640, height: 480 },
      layout: { type: 'bestFit' },
      streamMode: 'auto',
      hasAudio: false,
      hasVideo: true,
      keyframeIntervalSeconds: 1,
    });
    if (call.ended || !call.video) {
      await lease.release();
      return;
    }
    call.video.onError = (m) => this.logger.warn({ callId: call.id, err: m }, 'sip: video to the far end stopped');
    this.logger.info({ callId: call.id, to: `${remote.address}:${remote.port}` }, 'sip: sending the composition as H.264');
    await call.video.start({ lease, address: remote.address, port: remote.port, payloadType: remote.pt, ...(call.videoKey ? { localKey: call.videoKey } : {}) });
  }

  private onReinvite(call: GatewayCall, offer: string): string {
    const ua = call.sip!.ua;
    let direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' = 'sendrecv';
    if (offer.trim()) {
      const remote = parseRemote(offer);
      const mediaRule = this.deps.outbound?.checkAddress(remote.address);
      if (mediaRule) throw new Error(`the offer's media address is a ${mediaRule} address, which the server's outbound policy refuses`);
      direction = answerDirection(remote.direction);
      call.leg.configure({ address: remote.address, port: remote.port, codec: { name: remote.codec.name, pt: remote.codec.pt }, telephoneEvent: remote.telephoneEvent, ...(call.localKey && remote.srtpKey ? { localKey: call.localKey, remoteKey: remote.srtpKey } : {}) });
      call.leg.sending = direction === 'sendrecv' || direction === 'sendonly';
      call.leg.lastInboundAt = Date.now();
      call.setState(remote.direction === 'sendrecv' ? 'ACTIVE' : 'ON_HOLD');
    }
    const codec = call.remote?.codec;
    const te = call.remote?.telephoneEvent;
    const codecs = codec ? [{ pt: codec.pt, name: codec.name, rate: codec.rate, ...(codec.name === 'opus' ? { channels: 2 } : {}) }, ...(te !== undefined ? [{ pt: te, name: 'telephone-event' as const, rate: 8000, fmtp: '0-16' }] : [])] : undefined;
    return buildOffer({ address: ua.transport.advertisedAddress, port: call.leg.port, sessionVersion: 2, direction, ...(call.localKey ? { srtpKey: call.localKey } : {}), ...(/m=video [1-9]/.test(offer) ? this.videoOffer(call) : {}) }, codecs);
  }

  /**
   * Play DTMF digits to every SIP leg of a session, or to one connection's. Returns the number
   * of legs the digits were sent to; throws `invalid` when `connectionId` is not a SIP call.
   */
  async playDtmf(sessionId: string, connectionId: string | null, digits: string): Promise<number> {
    let targets: GatewayCall[];
    if (connectionId !== null) {
      const call = this.byConnection.get(connectionId);
      if (!call || call.sessionId !== sessionId) throw new SipGatewayError('ERR_SIP_DIAL_INVALID', `connection ${connectionId} is not a SIP call of this session`, 'connectionId');
      targets = [call];
    } else targets = [...this.calls.values()].filter((c) => c.sessionId === sessionId);
    const active = targets.filter((c) => c.state === 'ACTIVE' || c.state === 'ON_HOLD');
    // Queued on each leg; the REST answer does not wait for the tones (a few seconds of them).
    for (const c of active) void c.leg.playDtmf(digits).then((ok) => !ok && this.logger.warn({ callId: c.id }, 'sip: far end takes no telephone-event; DTMF not sent'));
    return active.length;
  }

  /** Is this connection a SIP call? */
  isSipConnection(connectionId: string): boolean {
    return this.byConnection.has(connectionId);
  }

  webhookFor(call: GatewayCall, event: SipCallWebhookEvent['event'], extra: { reason_code?: number; reason_message?: string } = {}): void {
    const body: SipCallWebhookEvent = {
      sessionId: call.sessionId,
      projectId: call.apiKey,
      event,
      timestamp: Date.now(),
      call: { id: call.id, connectionId: call.connectionId, createdAt: call.createdAt, ...(event === 'callUpdated' ? { state: call.state } : {}), ...extra },
    };
    try {
      this.deps.webhook(call.apiKey, body);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'sip webhook failed');
    }
  }

  forget(call: GatewayCall): void {
    if (this.calls.has(call.id)) {
      this.endedTotals.rtpDroppedSource += call.leg.stats.droppedSource;
      this.endedTotals.rtpRejectedSrtp += call.leg.stats.rejected;
    }
    this.calls.delete(call.id);
    if (this.byConnection.get(call.connectionId) === call) this.byConnection.delete(call.connectionId);
  }

  /** Live figures (bench, diagnostics). */
  stats(): { calls: number; mixers: { sessionId: string; stats: MixerStats; tickP99Ms: number }[]; legs: { packetsIn: number; packetsOut: number; rejected: number; droppedSource: number } } {
    const legs = { packetsIn: 0, packetsOut: 0, rejected: 0, droppedSource: 0 };
    for (const c of this.calls.values()) {
      legs.packetsIn += c.leg.stats.packetsIn;
      legs.packetsOut += c.leg.stats.packetsOut;
      legs.rejected += c.leg.stats.rejected;
      legs.droppedSource += c.leg.stats.droppedSource;
    }
    return {
      calls: this.calls.size,
      mixers: [...new Set([...this.calls.values()].map((c) => c.participant.audio))].flatMap((a) => {
        const stats = a.mixerAt(8000)?.stats();
        return stats ? [{ sessionId: a.sessionId, stats, tickP99Ms: percentile(stats.tickMs, 99) }] : [];
      }),
      legs,
    };
  }

  /**
   * Counters since start for `/metrics` (monotonic: ended calls included): calls in progress, and
   * inbound RTP packets dropped for their source (not the SDP's address and port) or for failing
   * SRTP authentication.
   */
  metrics(): SipGatewayMetrics {
    const m = { calls: this.calls.size, rtpDroppedSource: this.endedTotals.rtpDroppedSource, rtpRejectedSrtp: this.endedTotals.rtpRejectedSrtp };
    for (const c of this.calls.values()) {
      m.rtpDroppedSource += c.leg.stats.droppedSource;
      m.rtpRejectedSrtp += c.leg.stats.rejected;
    }
    return m;
  }

  /** One call's media counters (tests, diagnostics); undefined once it has ended. */
  callStats(callId: string): { remote: { address: string; port: number } | undefined; packetsToRouter: number; leg: RtpLegStats } | undefined {
    const c = this.calls.get(callId);
    if (!c) return undefined;
    return { remote: c.leg.remote ? { ...c.leg.remote } : undefined, packetsToRouter: c.packetsToRouter, leg: { ...c.leg.stats } };
  }

  /** Hangs up every call and stops the user agent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // BYEs go out at once; their answers are awaited briefly (a gone far end would hold shutdown for timer F).
    const ends = Promise.all([...this.calls.values()].map((c) => c.end(REASON.normal, 'Normal Clearing', 'local')));
    await Promise.race([ends, new Promise((r) => setTimeout(r, 2000).unref())]);
    const ua = await this.ua?.catch(() => undefined);
    await ua?.close();
  }
}
