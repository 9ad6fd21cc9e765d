/**
 * The SIP gateway: `dial` puts a SIP participant into a routed session and calls the far end.
 *
 * Per call: a server-side connection (the token's data) and an audio stream appear in the
 * session at once; the stream's media is the far end's audio as PCMU RTP, published into the
 * media router (`publishRtp`), so browsers subscribe to it and force-mute reaches it like any
 * stream. The far end hears the session's mix without its own stream (or the `streams` it
 * asked for), produced per session by one {@link Mixer} from router taps of every audio stream.
 *
 * Lifecycle: DIALING → RINGING (180/183) → ACTIVE (2xx) ⇄ ON_HOLD (re-INVITE) → HANGUP. A call
 * that fails (4xx-6xx, timeout, 60 s without an answer, SRTP refused) destroys its connection;
 * a BYE from the far end or the connection's end (forceDisconnect) ends the call; so do 5
 * minutes without inbound media and 6 hours of call time. SIP callbacks go to the project's
 * webhook URL.
 */
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { DialSipJson, RtStream, SipCallJson, VerifiedToken } from '@tokhost/protocol';
import type { MediaRoom, MediaTap } from '../media/types.js';
import type { ClientSocket } from '../realtime/session-log.js';
import type { ServerParticipant, ServerParticipants } from '../realtime/server-participants.js';
import type { CodecName } from './audio.js';
import { Mixer, percentile, type MixerStats } from './mixer.js';
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
  participants: ServerParticipants;
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

interface Tapped {
  tap: MediaTap;
  socket: Socket;
}

/** Everything the SIP legs of one session share: the mix and the taps feeding it. */
class SessionMix {
  readonly mixer: Mixer;
  room: MediaRoom | undefined;
  readonly taps = new Map<string, Tapped | 'pending'>();
  /** Streams of this session that are our own SIP legs (tapped once they are answered). */
  readonly sipStreams = new Set<string>();
  /** Audio streams the session has, as the participants see them. */
  readonly known = new Map<string, RtStream>();
  calls = 0;

  constructor(
    readonly sessionId: string,
    private readonly logger: SipGatewayDeps['logger'],
  ) {
    this.mixer = new Mixer((err) => logger.warn({ err: err.message, sessionId }, 'sip mixer error'));
  }

  /** The router room is known once the first leg publishes: tap what was seen before. */
  setRoom(room: MediaRoom): void {
    if (this.room) return;
    this.room = room;
    for (const id of this.known.keys()) if (!this.sipStreams.has(id)) void this.tap(id);
  }

  streamSeen(s: RtStream): void {
    if (this.known.has(s.streamId)) return;
    this.known.set(s.streamId, s);
    if (!this.sipStreams.has(s.streamId)) void this.tap(s.streamId);
  }

  streamGone(streamId: string): void {
    this.known.delete(streamId);
    this.untap(streamId);
  }

  async tap(streamId: string): Promise<void> {
    const room = this.room;
    if (!room || this.taps.has(streamId)) return;
    this.taps.set(streamId, 'pending');
    const socket = createSocket('udp4');
    try {
      await bindLoopback(socket);
      const tap = await room.tap(streamId, { host: '127.0.0.1', audioPort: socket.address().port });
      if (this.taps.get(streamId) !== 'pending') {
        void tap.close().catch(() => undefined);
        socket.close();
        return;
      }
      const codec = codecOfTap(tap.sdp);
      if (!codec) throw new Error(`tap of ${streamId} has no audio codec the mixer decodes`);
      this.mixer.addInput(streamId, codec.name);
      socket.on('message', (buf) => {
        if (buf.length < 12 || (buf[1]! & 0x7f) !== codec.pt) return;
        const cc = buf[0]! & 0x0f;
        let hl = 12 + cc * 4;
        if (buf[0]! & 0x10) hl += 4 + buf.readUInt16BE(hl + 2) * 4;
        this.mixer.push(streamId, buf.readUInt16BE(2), buf.subarray(hl));
      });
      this.taps.set(streamId, { tap, socket });
    } catch (err) {
      this.taps.delete(streamId);
      socket.close();
      this.logger.debug({ err: (err as Error).message, streamId }, 'sip mixer: tap failed');
    }
  }

  untap(streamId: string): void {
    const t = this.taps.get(streamId);
    this.taps.delete(streamId);
    this.mixer.removeInput(streamId);
    if (t && t !== 'pending') {
      void t.tap.close().catch(() => undefined);
      t.socket.close();
    }
  }

  close(): void {
    for (const id of [...this.taps.keys()]) this.untap(id);
    this.mixer.close();
  }
}

function codecOfTap(sdp: string): { name: CodecName; pt: number } | undefined {
  const m = /a=rtpmap:(\d+) ([A-Za-z0-9]+)\//.exec(sdp);
  if (!m) return undefined;
  const name = m[2]!.toLowerCase();
  const pt = Number(m[1]);
  if (name === 'opus') return { name: 'opus', pt };
  if (name === 'pcmu') return { name: 'PCMU', pt };
  if (name === 'pcma') return { name: 'PCMA', pt };
  return undefined;
}

/** One call and its participant. */
class GatewayCall {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  state: SipCallState = 'DIALING';
  participant!: ServerParticipant;
  stream!: RtStream;
  sip: SipCall | undefined;
  routerTarget: { host: string; port: number } | undefined;
  remote: RemoteMedia | undefined;
  readonly localKey: string | undefined;
  readonly videoKey: string | undefined;
  video: VideoLeg | undefined;
  forceMuted = false;
  ended = false;
  /** Far-end audio packets handed to the router (the session hears these). */
  packetsToRouter = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastDigit: { d: string; at: number } | undefined;
  closedByRealtime = false;

  constructor(
    readonly gw: SipGateway,
    readonly apiKey: string,
    readonly sessionId: string,
    readonly options: DialSipJson,
    readonly leg: RtpLeg,
    readonly mix: SessionMix,
  ) {
    this.localKey = options.secure ? newSrtpKey() : undefined;
    this.videoKey = options.secure && options.video ? newSrtpKey() : undefined;
  }

  get connectionId(): string {
    return this.participant.connectionId;
  }

  /** The participant's socket: the messages its connection gets, and its end. */
  socket(): ClientSocket {
    let open = true;
    return {
      send: (data) => {
        let text: string;
        try {
          text = typeof data === 'string' ? data : data.toString('utf8');
          this.onRealtime(JSON.parse(text) as Record<string, unknown>);
        } catch {
          // not for us
        }
      },
      close: () => {
        if (!open) return;
        open = false;
        this.closedByRealtime = true;
        void this.end(REASON.normal, 'Normal Clearing', 'local');
      },
      get isOpen() {
        return open;
      },
    };
  }

  private onRealtime(msg: Record<string, unknown>): void {
    const items = Array.isArray(msg) ? (msg as Record<string, unknown>[]) : [msg];
    for (const m of items) {
      switch (m['type']) {
        case 'sessionConnected':
          for (const s of (m['streams'] as RtStream[] | undefined) ?? []) this.mix.streamSeen(s);
          break;
        case 'streamCreated':
          this.mix.streamSeen(m['stream'] as RtStream);
          break;
        case 'streamsCreated':
          for (const s of (m['streams'] as RtStream[] | undefined) ?? []) this.mix.streamSeen(s);
          break;
        case 'streamDestroyed':
          this.mix.streamGone((m['stream'] as RtStream).streamId);
          break;
        case 'muteForced':
          if (m['streamId'] === this.stream?.streamId && m['active'] === true) this.onForceMute();
          break;
      }
    }
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
    this.mix.mixer.removeOutput(this.id);
    if (this.stream) {
      this.mix.untap(this.stream.streamId);
      this.mix.sipStreams.delete(this.stream.streamId);
    }
    if (!this.participant.left && !this.closedByRealtime) this.participant.leave('clientDisconnected');
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
  private readonly sessions = new Map<string, SessionMix>();
  private routerSender: Socket | undefined;
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

  private async sender(): Promise<Socket> {
    if (this.routerSender) return this.routerSender;
    const s = createSocket('udp4');
    await bindLoopback(s);
    this.routerSender ??= s;
    if (this.routerSender !== s) s.close();
    return this.routerSender;
  }

  private mixFor(sessionId: string): SessionMix {
    let m = this.sessions.get(sessionId);
    if (!m) {
      m = new SessionMix(sessionId, this.logger);
      this.sessions.set(sessionId, m);
    }
    return m;
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
    const mix = this.mixFor(token.sessionId);
    const call = new GatewayCall(this, apiKey, token.sessionId, sip, leg, mix);
    call.video = video;
    mix.calls++;
    try {
      call.participant = this.deps.participants.join(token, call.socket());
    } catch (err) {
      leg.close();
      void video?.close();
      this.release(mix);
      throw new SipGatewayError('ERR_SIP_DIAL_INVALID', (err as Error).message, 'token');
    }
    this.calls.set(call.id, call);
    this.byConnection.set(call.connectionId, call);
    try {
      call.stream = await call.participant.publishAudio(sip.from ?? 'SIP call', async (media, streamId) => {
        mix.sipStreams.add(streamId);
        mix.setRoom(media.room);
        call.routerTarget = await media.room.publishRtp({ publisherId: streamId, audio: { payloadType: 0, rtpmap: 'PCMU/8000' }, sourceHost: '127.0.0.1' });
      });
    } catch (err) {
      await call.end(REASON.unexpected, 'Unexpected Clearing', 'remote');
      throw new SipGatewayError('ERR_SIP_DIAL_INVALID', `the SIP participant could not publish: ${(err as Error).message}`, 'token');
    }
    const sender = await this.sender();
    leg.onAudio = (rtp) => {
      const t = call.routerTarget;
      if (t && !call.ended) {
        call.packetsToRouter++;
        sender.send(rtp, t.port, t.host);
      }
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
    const mix = call.mix;
    // Now that media flows, the mix of the other SIP legs includes this one.
    void mix.tap(call.stream.streamId);
    const only = call.options.streams ? new Set(call.options.streams) : undefined;
    mix.mixer.addOutput({ id: call.id, exclude: call.stream.streamId, ...(only ? { only } : {}), onFrame: (f) => call.leg.sendFrame(f) });
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
    this.release(call.mix);
  }

  private release(mix: SessionMix): void {
    mix.calls--;
    if (mix.calls <= 0) {
      mix.close();
      this.sessions.delete(mix.sessionId);
    }
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
      mixers: [...this.sessions.values()].map((m) => {
        const stats = m.mixer.stats();
        return { sessionId: m.sessionId, stats, tickP99Ms: percentile(stats.tickMs, 99) };
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
    for (const m of this.sessions.values()) m.close();
    this.sessions.clear();
    this.routerSender?.close();
    const ua = await this.ua?.catch(() => undefined);
    await ua?.close();
  }
}

/** Bind a UDP socket to a free loopback port; once bound, its errors are ignored like a lost datagram. */
async function bindLoopback(socket: Socket): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
}
