/**
 * The node-datachannel (libdatachannel) SFU engine. It runs inside a media worker process
 * (`worker.ts`); one engine holds the rooms placed on that worker.
 *
 * Forwarding: each publisher stream (audio or video) keeps a set of legs. A leg rewrites the
 * sequence number and SSRC of every packet into its own numbering space (so pausing video or
 * waiting for a keyframe never shows up as loss downstream) and sends it on the subscriber's
 * track. The native `RtcpNackResponder` on each subscriber video track answers NACKs from a
 * per-leg history. The publisher side (receiver reports, NACK generation, RTX unwrap, PLI) is
 * done here in JS because libdatachannel's `RtcpReceivingSession` sends no NACKs.
 *
 * node-datachannel quirks handled here: JS references to every Track/handler are kept (or their
 * callbacks stop after GC); tracks are closed before `pc.close()` (or ~250 KB leak per peer);
 * `sendMessageBinary` throws once a track closed natively, so every send is guarded.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import nodeDataChannel from 'node-datachannel';
import type { PeerConnection, Track, MediaHandler, RtcConfig } from 'node-datachannel';
import type { IceCandidateInit, SessionMetrics, SubscriberMediaEvent, WorkerMetrics } from '../types.js';
import type { WorkerConfig, WorkerEvent } from './ipc.js';
import { announceCandidate, announceSdp, mungePublisherOffer, SdpError, type PublisherCodecs } from './sdp.js';
import { buildNack, buildPli, buildRr, buildSr, isRtcp, isVp8KeyframeStart, ntpMiddle, parseRtcp, parseRtp, unwrapRtx, type ReportBlock, type RtcpPacket } from './rtp.js';
import { TokhostError, type MediaErrorCode } from '../../errors.js';
import { INITIAL_FALLBACK, measureLoss, rembLoss, stepFallback, type FallbackState, type LossWindow } from './audio-fallback.js';

const { PeerConnection: NdcPeerConnection, Audio, Video, RtcpNackResponder } = nodeDataChannel;

/** Error with the `code` the router maps to a `MediaError`. */
export class EngineError extends TokhostError<MediaErrorCode> {
  override readonly name = 'EngineError';
}

/** Chrome ignores keyframe requests less than ~300 ms apart. */
const PLI_MIN_INTERVAL_MS = 400;
/** A leg still waiting for a keyframe after this long asks again (a PLI may have been lost). */
const KEYFRAME_WATCHDOG_MS = 1200;
const NACK_MAX_TRIES = 4;
const NACK_RETRY_MS = 60;
const NACK_QUEUE_MAX = 256;

type Kind = 'audio' | 'video';
type EmitFn = (e: Exclude<WorkerEvent, { ev: 'stats' }>) => void;

function randomSsrc(): number {
  return randomInt(1, 0xffffffff);
}

/** A destination of one publisher stream: a subscriber's track or a tap socket. */
class Leg {
  readonly ssrc: number;
  /** The subscriber wants this kind (subscribeToAudio/Video). */
  wanted = true;
  /** Audio fallback stopped video on this leg. */
  qualityOff = false;
  waitingKeyframe: boolean;
  /** Recompute the sequence offset at the next forwarded packet (start or resume). */
  resync = true;
  seqOffset = 0;
  lastOutSeq: number;
  keyframeWaitSince = 0;
  packets = 0;
  octets = 0;
  lossHook = 0;
  srSent = false;
  /** Taps hold packets until the stream's first sender report is known (receivers need it first for A/V sync). */
  requireSr = false;
  closed = false;

  constructor(
    readonly kind: Kind,
    readonly stream: PubStream,
    private readonly sendFn: (buf: Buffer) => boolean,
    ssrc?: number,
  ) {
    this.ssrc = ssrc ?? randomSsrc();
    this.waitingKeyframe = kind === 'video';
    this.lastOutSeq = randomInt(0, 0x8000);
  }

  get active(): boolean {
    return this.wanted && !this.qualityOff && !this.closed;
  }

  send(buf: Buffer): boolean {
    try {
      return this.sendFn(buf);
    } catch {
      return false;
    }
  }

  /** Resume after a pause: the next packet continues this leg's numbering; video waits for a keyframe. */
  restart(): void {
    this.resync = true;
    if (this.kind === 'video') {
      this.waitingKeyframe = true;
      this.keyframeWaitSince = Date.now();
      this.stream.requestKeyframe();
    }
  }

  forward(buf: Buffer, seq: number, keyframe: boolean, payloadBytes: number): number {
    if (!this.active) return 0;
    if (this.requireSr && !this.stream.lastSr) return 0;
    if (this.waitingKeyframe) {
      if (!keyframe) return 0;
      this.waitingKeyframe = false;
    }
    if (this.resync) {
      this.seqOffset = (seq - ((this.lastOutSeq + 1) & 0xffff)) & 0xffff;
      this.resync = false;
      if (!this.srSent && this.stream.lastSr) this.sendSr();
    }
    const outSeq = (seq - this.seqOffset) & 0xffff;
    // Only move forward: a late retransmission keeps its place in the numbering.
    if (((outSeq - this.lastOutSeq) & 0xffff) < 0x8000) this.lastOutSeq = outSeq;
    if (this.lossHook > 0 && Math.random() < this.lossHook) return 0;
    buf.writeUInt16BE(outSeq, 2);
    buf.writeUInt32BE(this.ssrc, 8);
    if (!this.send(buf)) return 0;
    this.packets++;
    this.octets += payloadBytes;
    return 1;
  }

  sendSr(): void {
    const sr = this.stream.lastSr;
    if (!sr) return;
    this.srSent = true;
    this.send(buildSr(this.ssrc, sr.ntpSec, sr.ntpFrac, sr.rtpTimestamp, this.packets, this.octets));
  }
}

interface SrInfo {
  ntpSec: number;
  ntpFrac: number;
  rtpTimestamp: number;
  at: number;
}

/** One incoming stream of a publisher, with the receive statistics its RTCP needs. */
class PubStream {
  ssrc = 0;
  track: Track | undefined;
  readonly legs = new Set<Leg>();
  lastSr: SrInfo | undefined;
  // RFC 3550 A.1 receive statistics
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private jitter = 0;
  private lastTransit = 0;
  private readonly nackQueue = new Map<number, { tries: number; nextAt: number }>();
  private lastPliAt = 0;
  private pliTimer: NodeJS.Timeout | undefined;
  packetsIn = 0;
  bytesIn = 0;
  lost = 0;
  /** Test hook: drop this fraction (0..1) of the incoming packets before anything counts them. */
  lossHook = 0;
  /** Packets that arrived in order (first arrivals, not retransmissions): the publisher fallback's loss. */
  private firstArrivals = 0;
  private lossWindow: LossWindow | undefined;

  constructor(
    readonly kind: Kind,
    readonly pt: number,
    readonly rtxPt: number | undefined,
    readonly clockRate: number,
    private readonly publisher: Publisher,
  ) {}

  onPacket(raw: Buffer): void {
    if (this.lossHook > 0 && Math.random() < this.lossHook) return;
    let buf = raw;
    let p = parseRtp(buf);
    if (!p) return;
    if (p.payloadType === this.rtxPt) {
      if (this.ssrc === 0) return;
      const un = unwrapRtx(buf, p, this.ssrc, this.pt);
      if (!un) return;
      buf = un;
      p = parseRtp(buf);
      if (!p) return;
    } else if (p.payloadType !== this.pt) {
      return;
    } else if (this.ssrc !== p.ssrc) {
      this.ssrc = p.ssrc;
    }
    this.packetsIn++;
    this.bytesIn += buf.length;
    const fresh = this.track_(p.seq, p.timestamp);
    if (!fresh) return;
    if (this.kind === 'audio' && this.publisher.audioMuted) return;
    const keyframe = this.kind === 'video' && isVp8KeyframeStart(buf, p);
    let sent = 0;
    for (const leg of this.legs) sent += leg.forward(buf, p.seq, keyframe, p.payloadLength);
    this.publisher.room.forwarded += sent;
    this.publisher.room.forwardedBytes += sent * buf.length;
  }

  /** Updates receive statistics and the NACK queue; false for a duplicate. */
  private track_(seq: number, ts: number): boolean {
    const now = Date.now();
    if (!this.started) {
      this.started = true;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.received = 1;
      this.firstArrivals = 1;
      return true;
    }
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta === 0) return false;
    if (delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      if (this.kind === 'video' && delta > 1 && delta < 200) {
        for (let i = 1; i < delta; i++) this.nackQueue.set((this.maxSeq + i) & 0xffff, { tries: 0, nextAt: now + 10 });
        while (this.nackQueue.size > NACK_QUEUE_MAX) this.nackQueue.delete(this.nackQueue.keys().next().value!);
      }
      this.maxSeq = seq;
      this.firstArrivals++;
      const arrival = (now * this.clockRate) / 1000;
      const transit = arrival - ts;
      if (this.lastTransit !== 0) {
        const d = Math.abs(transit - this.lastTransit);
        this.jitter += (d - this.jitter) / 16;
      }
      this.lastTransit = transit;
    } else {
      // Old packet: a retransmission or reordering. Forward only what was still missing.
      if (!this.nackQueue.delete(seq)) return false;
    }
    this.received++;
    return true;
  }

  /** Called every ~20 ms: sends due NACKs. */
  tickNack(now: number, senderSsrc: number): void {
    if (this.nackQueue.size === 0 || !this.track) return;
    const due: number[] = [];
    for (const [seq, e] of this.nackQueue) {
      if (e.nextAt > now) continue;
      if (e.tries >= NACK_MAX_TRIES) {
        this.nackQueue.delete(seq);
        this.lost++;
        continue;
      }
      e.tries++;
      e.nextAt = now + NACK_RETRY_MS;
      due.push(seq);
    }
    if (due.length) this.sendRtcp(buildNack(senderSsrc, this.ssrc, due));
  }

  /**
   * The fraction of packets that did not arrive first time (sequence gaps, before retransmission)
   * since the last call at least a second ago; undefined while the window is open or empty.
   */
  sampleLoss(now: number): number | undefined {
    if (!this.started) return undefined;
    const ext = this.cycles + this.maxSeq;
    // The counters a receiver report would carry if retransmissions did not count as arrivals.
    const m = measureLoss(this.lossWindow, { highestSeq: ext, cumulativeLost: ext - this.baseSeq + 1 - this.firstArrivals }, now);
    this.lossWindow = m.window;
    return m.fraction;
  }

  /** Starts a new loss window (video resumed after a pause: the gap is not loss). */
  resetLoss(): void {
    this.lossWindow = undefined;
  }

  receiverReport(now: number): Buffer | undefined {
    if (!this.started || this.ssrc === 0) return undefined;
    const extMax = this.cycles + this.maxSeq;
    const expected = extMax - this.baseSeq + 1;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const sr = this.lastSr;
    return buildRr(this.publisher.rtcpSsrc, [
      {
        ssrc: this.ssrc,
        fractionLost: expectedInterval > 0 && lostInterval > 0 ? lostInterval / expectedInterval : 0,
        cumulativeLost: Math.max(0, expected - this.received),
        highestSeq: extMax,
        jitter: Math.round(this.jitter),
        lsr: sr ? ntpMiddle(sr.ntpSec, sr.ntpFrac) : 0,
        dlsr: sr ? Math.round(((now - sr.at) / 1000) * 65536) : 0,
      },
    ]);
  }

  sendRtcp(buf: Buffer): void {
    try {
      this.track?.sendMessageBinary(buf);
    } catch {
      // closed natively; the peer's state callback cleans up
    }
  }

  onSenderReport(sr: Extract<RtcpPacket, { type: 'sr' }>): void {
    this.lastSr = { ntpSec: sr.ntpSec, ntpFrac: sr.ntpFrac, rtpTimestamp: sr.rtpTimestamp, at: Date.now() };
    for (const leg of this.legs) if (leg.active && !leg.resync) leg.sendSr();
  }

  /** Throttled PLI: at most one per PLI_MIN_INTERVAL_MS; a request inside the window is deferred, not dropped. */
  requestKeyframe(): void {
    if (this.kind !== 'video' || this.pliTimer) return;
    const wait = this.lastPliAt + PLI_MIN_INTERVAL_MS - Date.now();
    const fire = () => {
      this.pliTimer = undefined;
      if (this.ssrc === 0 || this.publisher.closed) return;
      this.lastPliAt = Date.now();
      this.publisher.room.engine.keyframeRequests++;
      this.sendRtcp(buildPli(this.publisher.rtcpSsrc, this.ssrc));
    };
    if (wait <= 0) fire();
    else this.pliTimer = setTimeout(fire, wait);
  }

  close(): void {
    if (this.pliTimer) clearTimeout(this.pliTimer);
    this.pliTimer = undefined;
  }
}

class Publisher {
  readonly rtcpSsrc = randomSsrc();
  readonly streams: { audio?: PubStream; video?: PubStream } = {};
  readonly tracks: Track[] = [];
  readonly subscribers = new Set<Subscriber>();
  readonly taps = new Map<string, Tap>();
  audioMuted = false;
  closed = false;
  connected = false;
  /** The publisher asked for the publisher audio fallback (OpenTok's `audioFallback.publisher`). */
  fallbackWanted = false;
  fallback: FallbackState = INITIAL_FALLBACK;

  /** A server-side publisher (SIP call): plain RTP arrives on this socket instead of a peer connection. */
  rtpSocket: Socket | undefined;

  constructor(
    readonly id: string,
    readonly room: Room,
    readonly pc: PeerConnection | null,
    readonly codecs: PublisherCodecs,
  ) {
    if (codecs.audio) this.streams.audio = new PubStream('audio', codecs.audio.pt, undefined, codecs.audio.clockRate ?? 48000, this);
    if (codecs.video) this.streams.video = new PubStream('video', codecs.video.pt, codecs.video.rtxPt, 90000, this);
  }

  onTrack(track: Track): void {
    this.tracks.push(track);
    const kind: Kind = track.type() === 'audio' ? 'audio' : 'video';
    const stream = this.streams[kind];
    if (!stream) return;
    stream.track = track;
    track.onMessage((buf) => {
      if (isRtcp(buf)) {
        for (const pkt of parseRtcp(buf)) {
          if (pkt.type === 'sr') {
            const s = this.streams.audio?.ssrc === pkt.ssrc ? this.streams.audio : this.streams.video?.ssrc === pkt.ssrc ? this.streams.video : undefined;
            s?.onSenderReport(pkt);
          }
        }
      } else stream.onPacket(buf);
    });
    track.onOpen(() => {
      for (const sub of this.subscribers) sub.videoLeg?.restart();
    });
  }

  /**
   * One second's loss of the incoming streams fed to the audio fallback's decisions (the same as a
   * subscriber's, measured here on what the publisher sends); the events go to the publisher,
   * whose client stops or resumes sending video.
   */
  tickFallback(now: number): void {
    if (!this.fallbackWanted || !this.streams.video) return;
    for (const kind of ['video', 'audio'] as const) {
      const fraction = this.streams[kind]?.sampleLoss(now);
      if (fraction === undefined) continue;
      const step = stepFallback(this.fallback, { fraction, kind, now, videoWanted: true }, this.room.engine.config.audioFallback);
      this.fallback = step.state;
      for (const event of step.events) {
        if (event.type === 'videoEnabled') this.streams.video.resetLoss();
        this.room.engine.emit({ ev: 'pubEvent', sessionId: this.room.id, publisherId: this.id, event });
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.subscribers]) s.close('unpublished');
    for (const t of [...this.taps.values()]) t.close();
    this.streams.audio?.close();
    this.streams.video?.close();
    if (this.pc) closePeer(this.pc, this.tracks);
    this.rtpSocket?.close();
    this.rtpSocket = undefined;
  }
}

/** The SDP rtpmap of a publisher's audio codec (Opus unless a server-side publisher said otherwise). */
function audioRtpmap(codec: NonNullable<PublisherCodecs['audio']>): string {
  return codec.rtpmap ?? 'opus/48000/2';
}

function closePeer(pc: PeerConnection, tracks: Track[]): void {
  for (const t of tracks) {
    try {
      t.close();
    } catch {
      // already closed
    }
  }
  try {
    pc.close();
  } catch {
    // already closed
  }
}

class Subscriber {
  readonly tracks: Track[] = [];
  readonly handlers: MediaHandler[] = [];
  audioLeg: Leg | undefined;
  videoLeg: Leg | undefined;
  closed = false;
  connected = false;
  lastRtcpAt = Date.now();
  remoteSet = false;
  readonly pendingCandidates: IceCandidateInit[] = [];
  fallback: FallbackState = INITIAL_FALLBACK;
  lastLoss = 0;
  private readonly lossWindow: Partial<Record<Kind, LossWindow>> = {};
  private lastRtcp: Buffer | undefined;
  private lastRtcpTime = 0;

  constructor(
    readonly id: string,
    readonly room: Room,
    readonly publisher: Publisher,
    readonly pc: PeerConnection,
  ) {}

  onRtcp(buf: Buffer): void {
    const now = Date.now();
    // libdatachannel may hand the same compound packet to both tracks.
    if (this.lastRtcp && now - this.lastRtcpTime < 50 && this.lastRtcp.equals(buf)) return;
    this.lastRtcp = Buffer.from(buf);
    this.lastRtcpTime = now;
    this.lastRtcpAt = now;
    for (const pkt of parseRtcp(buf)) {
      if (pkt.type === 'pli' || pkt.type === 'fir') {
        if (this.videoLeg && (pkt.mediaSsrc === this.videoLeg.ssrc || pkt.type === 'fir')) this.publisher.streams.video?.requestKeyframe();
      } else if (pkt.type === 'rr' || pkt.type === 'sr') {
        for (const r of pkt.reports) {
          if (this.videoLeg && r.ssrc === this.videoLeg.ssrc && this.videoLeg.active) this.onReport(r, 'video', now);
          else if (this.audioLeg && r.ssrc === this.audioLeg.ssrc && this.audioLeg.active) this.onReport(r, 'audio', now);
        }
      } else if (pkt.type === 'remb') {
        const loss = rembLoss(pkt.bitrate, this.room.engine.config.audioFallback);
        if (loss !== undefined && this.videoLeg?.active) this.onLoss(loss, 'video');
      }
    }
  }

  private onReport(r: ReportBlock, kind: Kind, now: number): void {
    const m = measureLoss(this.lossWindow[kind], r, now);
    this.lossWindow[kind] = m.window;
    if (m.fraction !== undefined) this.onLoss(m.fraction, kind);
  }

  /** Feeds a loss sample to the audio fallback and carries out what it decides. */
  private onLoss(fraction: number, kind: Kind): void {
    this.lastLoss = fraction;
    const videoLeg = this.videoLeg;
    const step = stepFallback(this.fallback, { fraction, kind, now: Date.now(), videoWanted: videoLeg?.wanted === true }, this.room.engine.config.audioFallback);
    this.fallback = step.state;
    if (!videoLeg) return;
    for (const event of step.events) {
      if (event.type === 'videoDisabled') {
        videoLeg.qualityOff = true;
        delete this.lossWindow.audio;
      } else if (event.type === 'videoEnabled') {
        videoLeg.qualityOff = false;
        delete this.lossWindow.video;
        videoLeg.restart();
      }
      this.emit(event);
    }
  }

  emit(event: SubscriberMediaEvent): void {
    this.room.engine.emit({ ev: 'subEvent', sessionId: this.room.id, subscriberId: this.id, event });
  }

  close(reason?: 'failed' | 'rtcp-timeout' | 'unpublished'): void {
    if (this.closed) return;
    this.closed = true;
    for (const leg of [this.audioLeg, this.videoLeg]) {
      if (!leg) continue;
      leg.closed = true;
      leg.stream.legs.delete(leg);
    }
    this.publisher.subscribers.delete(this);
    this.room.subscribers.delete(this.id);
    closePeer(this.pc, this.tracks);
    if (reason) this.emit({ type: 'closed', reason });
  }
}

class Tap {
  readonly legs: Leg[] = [];
  closed = false;
  constructor(
    readonly id: string,
    readonly publisher: Publisher,
    readonly socket: Socket,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const leg of this.legs) {
      leg.closed = true;
      leg.stream.legs.delete(leg);
    }
    this.publisher.taps.delete(this.id);
    this.socket.close();
  }
}

class Room {
  readonly publishers = new Map<string, Publisher>();
  readonly subscribers = new Map<string, Subscriber>();
  forwarded = 0;
  forwardedBytes = 0;
  lastForwarded = 0;
  lastForwardedBytes = 0;
  pps = 0;
  bps = 0;

  constructor(
    readonly id: string,
    readonly engine: NdcEngine,
  ) {}

  close(): void {
    for (const p of [...this.publishers.values()]) p.close();
    for (const s of [...this.subscribers.values()]) s.close();
    this.publishers.clear();
    this.subscribers.clear();
  }
}

/** The engine of one media worker. Methods mirror the IPC requests. */
export class NdcEngine {
  readonly rooms = new Map<string, Room>();
  private readonly timer: NodeJS.Timeout;
  private tickCount = 0;
  private packetsInPrior = 0;
  packetsInPerSecond = 0;
  keyframeRequests = 0;
  private keyframeRequestsPrior = 0;

  constructor(
    readonly config: WorkerConfig,
    readonly emit: EmitFn,
  ) {
    this.timer = setInterval(() => this.tick(), 20);
    this.timer.unref();
  }

  private rtcConfig(): RtcConfig {
    const c: RtcConfig = { iceServers: [] };
    if (this.config.bindAddress) c.bindAddress = this.config.bindAddress;
    if (this.config.portRangeBegin) c.portRangeBegin = this.config.portRangeBegin;
    if (this.config.portRangeEnd) c.portRangeEnd = this.config.portRangeEnd;
    if (this.config.udpMux) c.enableIceUdpMux = true;
    return c;
  }

  private room(sessionId: string): Room {
    let r = this.rooms.get(sessionId);
    if (!r) {
      r = new Room(sessionId, this);
      this.rooms.set(sessionId, r);
    }
    return r;
  }

  private publisher(sessionId: string, publisherId: string): Publisher {
    const p = this.rooms.get(sessionId)?.publishers.get(publisherId);
    if (!p) throw new EngineError('ERR_MEDIA_PUBLISHER_NOT_FOUND', `publisherId "${publisherId}" is not published in session ${sessionId}`);
    return p;
  }

  private subscriber(sessionId: string, subscriberId: string): Subscriber {
    const s = this.rooms.get(sessionId)?.subscribers.get(subscriberId);
    if (!s) throw new EngineError('ERR_MEDIA_SUBSCRIBER_NOT_FOUND', `subscriberId "${subscriberId}" is not subscribed in session ${sessionId}`);
    return s;
  }

  private candidateInit(candidate: string, mid: string): IceCandidateInit {
    const c = announceCandidate(candidate, this.config.publicIp);
    return { candidate: c.startsWith('a=') ? c.slice(2) : c, sdpMid: mid };
  }

  async publish(sessionId: string, publisherId: string, offerSdp: string, audioFallback = false): Promise<{ answerSdp: string }> {
    const room = this.room(sessionId);
    if (room.publishers.has(publisherId)) throw new EngineError('ERR_MEDIA_DUPLICATE_ID', `publisherId "${publisherId}" is already published`);
    let munged: ReturnType<typeof mungePublisherOffer>;
    try {
      munged = mungePublisherOffer(offerSdp);
    } catch (e) {
      if (e instanceof SdpError) throw new EngineError('ERR_MEDIA_INVALID_SDP', e.message);
      throw e;
    }
    const pc = new NdcPeerConnection(`pub-${publisherId}`, this.rtcConfig());
    const pub = new Publisher(publisherId, room, pc, munged.codecs);
    pub.fallbackWanted = audioFallback;
    room.publishers.set(publisherId, pub);
    pc.onLocalCandidate((candidate, mid) => {
      if (!pub.closed) this.emit({ ev: 'pubCandidate', sessionId, publisherId, candidate: this.candidateInit(candidate, mid) });
    });
    pc.onTrack((track) => pub.onTrack(track));
    pc.onStateChange((state) => {
      if (pub.closed) return;
      if (state === 'connected' && !pub.connected) {
        pub.connected = true;
        this.emit({ ev: 'pubEvent', sessionId, publisherId, event: { type: 'connected' } });
      } else if (state === 'failed' || state === 'closed') {
        this.emit({ ev: 'pubEvent', sessionId, publisherId, event: { type: 'closed', reason: 'failed' } });
        pub.close();
        room.publishers.delete(publisherId);
      }
    });
    const answer = new Promise<string>((resolve) => pc.onLocalDescription((sdp) => resolve(sdp)));
    try {
      pc.setRemoteDescription(munged.sdp, 'offer');
    } catch (e) {
      pub.close();
      room.publishers.delete(publisherId);
      throw new EngineError('ERR_MEDIA_INVALID_SDP', `offerSdp was rejected: ${(e as Error).message}`);
    }
    const sdp = await withTimeout(answer, 5000, 'answer');
    return { answerSdp: announceSdp(sdp, this.config.publicIp) };
  }

  pubCandidate(sessionId: string, publisherId: string, c: IceCandidateInit): void {
    const pub = this.publisher(sessionId, publisherId);
    if (!pub.pc) throw new EngineError('ERR_MEDIA_INVALID_STATE', `publisher "${publisherId}" sends plain RTP and takes no candidates`);
    addCandidate(pub.pc, c);
  }

  /**
   * A server-side audio publisher: RTP sent to the returned UDP port (from `host`, the only source
   * accepted) is forwarded like a browser's stream. No RTCP, no NACK: the sender is a local process.
   */
  async publishRtp(sessionId: string, publisherId: string, codec: { pt: number; rtpmap: string; fmtp?: string }, host: string): Promise<{ host: string; port: number }> {
    const room = this.room(sessionId);
    if (room.publishers.has(publisherId)) throw new EngineError('ERR_MEDIA_DUPLICATE_ID', `publisherId "${publisherId}" is already published`);
    const clockRate = Number(/^[^/]+\/(\d+)/.exec(codec.rtpmap)?.[1]);
    if (!Number.isInteger(codec.pt) || codec.pt < 0 || codec.pt > 127 || !(clockRate > 0)) throw new EngineError('ERR_MEDIA_INVALID_OPTION', 'codec needs a payload type 0-127 and an rtpmap "name/clockRate[/channels]"');
    const bindTo = this.config.bindAddress ?? '127.0.0.1';
    const socket = createSocket(bindTo.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, bindTo === '0.0.0.0' ? '127.0.0.1' : bindTo, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => {});
    if (room.publishers.has(publisherId)) {
      socket.close();
      throw new EngineError('ERR_MEDIA_DUPLICATE_ID', `publisherId "${publisherId}" is already published`);
    }
    const pub = new Publisher(publisherId, room, null, { audio: { mid: '0', pt: codec.pt, fmtp: codec.fmtp ?? '', rtpmap: codec.rtpmap, clockRate } });
    pub.rtpSocket = socket;
    pub.connected = true;
    room.publishers.set(publisherId, pub);
    socket.on('message', (buf, rinfo) => {
      if (rinfo.address !== host) return;
      if (!isRtcp(buf)) {
        pub.streams.audio?.onPacket(buf);
        return;
      }
      // Sender reports give taps (recorders) the stream's NTP time.
      for (const pkt of parseRtcp(buf)) if (pkt.type === 'sr' && pkt.ssrc === pub.streams.audio?.ssrc) pub.streams.audio.onSenderReport(pkt);
    });
    const a = socket.address();
    return { host: a.address, port: a.port };
  }

  async subscribe(sessionId: string, subscriberId: string, publisherId: string, audio: boolean, video: boolean): Promise<{ offerSdp: string }> {
    const room = this.room(sessionId);
    const pub = this.publisher(sessionId, publisherId);
    if (room.subscribers.has(subscriberId)) throw new EngineError('ERR_MEDIA_DUPLICATE_ID', `subscriberId "${subscriberId}" is already subscribed`);
    const pc = new NdcPeerConnection(`sub-${subscriberId}`, this.rtcConfig());
    const sub = new Subscriber(subscriberId, room, pub, pc);
    room.subscribers.set(subscriberId, sub);
    pub.subscribers.add(sub);
    const msid = `tokhost-${publisherId}`.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 60) || 'tokhost';
    const cname = `tokhost-${sub.publisher.rtcpSsrc}`;
    if (pub.streams.audio && pub.codecs.audio) {
      const stream = pub.streams.audio;
      const desc = new Audio('0', 'SendOnly');
      const rtpmap = audioRtpmap(pub.codecs.audio);
      if (rtpmap.toLowerCase().startsWith('opus/')) desc.addOpusCodec(pub.codecs.audio.pt, pub.codecs.audio.fmtp || 'minptime=10;useinbandfec=1');
      else desc.addAudioCodec(pub.codecs.audio.pt, rtpmap);
      const leg = new Leg('audio', stream, (b) => track.sendMessageBinary(b));
      desc.addSSRC(leg.ssrc, cname, msid, `${msid}-audio`);
      const track = pc.addTrack(desc);
      sub.tracks.push(track);
      track.onMessage((b) => isRtcp(b) && sub.onRtcp(b));
      leg.wanted = audio;
      sub.audioLeg = leg;
      stream.legs.add(leg);
    }
    if (pub.streams.video && pub.codecs.video) {
      const stream = pub.streams.video;
      const desc = new Video('1', 'SendOnly');
      desc.addVP8Codec(pub.codecs.video.pt);
      const leg = new Leg('video', stream, (b) => track.sendMessageBinary(b));
      desc.addSSRC(leg.ssrc, cname, msid, `${msid}-video`);
      const track = pc.addTrack(desc);
      // 256 packets is ~4 s of 500 kbps video: plenty for NACKs (an RTT or a few), at ~0.3 MB per leg.
      const nack = new RtcpNackResponder(256);
      track.setMediaHandler(nack);
      sub.tracks.push(track);
      sub.handlers.push(nack);
      track.onMessage((b) => isRtcp(b) && sub.onRtcp(b));
      // The first keyframe can only be delivered once DTLS is up: ask for it then.
      track.onOpen(() => leg.restart());
      leg.wanted = video;
      leg.keyframeWaitSince = Date.now();
      sub.videoLeg = leg;
      stream.legs.add(leg);
    }
    pc.onLocalCandidate((candidate, mid) => {
      if (!sub.closed) this.emit({ ev: 'subCandidate', sessionId, subscriberId, candidate: this.candidateInit(candidate, mid) });
    });
    pc.onStateChange((state) => {
      if (sub.closed) return;
      if (state === 'connected' && !sub.connected) {
        sub.connected = true;
        sub.lastRtcpAt = Date.now();
        sub.emit({ type: 'connected' });
      } else if (state === 'failed' || state === 'closed') sub.close('failed');
    });
    const offer = new Promise<string>((resolve) => pc.onLocalDescription((sdp) => resolve(sdp)));
    pc.setLocalDescription();
    const sdp = await withTimeout(offer, 5000, 'offer');
    return { offerSdp: announceSdp(sdp, this.config.publicIp) };
  }

  subAnswer(sessionId: string, subscriberId: string, answerSdp: string): void {
    const sub = this.subscriber(sessionId, subscriberId);
    if (sub.remoteSet) throw new EngineError('ERR_MEDIA_INVALID_STATE', `subscriber "${subscriberId}" already has an answer`);
    try {
      sub.pc.setRemoteDescription(answerSdp, 'answer');
    } catch (e) {
      throw new EngineError('ERR_MEDIA_INVALID_SDP', `answerSdp was rejected: ${(e as Error).message}`);
    }
    sub.remoteSet = true;
    for (const c of sub.pendingCandidates.splice(0)) addCandidate(sub.pc, c);
  }

  subCandidate(sessionId: string, subscriberId: string, c: IceCandidateInit): void {
    const sub = this.subscriber(sessionId, subscriberId);
    // Browsers may trickle before the answer has been relayed; libdatachannel rejects that.
    if (!sub.remoteSet) sub.pendingCandidates.push(c);
    else addCandidate(sub.pc, c);
  }

  subMedia(sessionId: string, subscriberId: string, audio?: boolean, video?: boolean): void {
    const sub = this.subscriber(sessionId, subscriberId);
    for (const [leg, want] of [
      [sub.audioLeg, audio],
      [sub.videoLeg, video],
    ] as const) {
      if (!leg || want === undefined || leg.wanted === want) continue;
      leg.wanted = want;
      if (want) leg.restart();
    }
  }

  pubLoss(sessionId: string, publisherId: string, fraction: number): void {
    const pub = this.publisher(sessionId, publisherId);
    if (pub.streams.audio) pub.streams.audio.lossHook = fraction;
    if (pub.streams.video) pub.streams.video.lossHook = fraction;
  }

  subLoss(sessionId: string, subscriberId: string, fraction: number): void {
    const sub = this.subscriber(sessionId, subscriberId);
    if (sub.audioLeg) sub.audioLeg.lossHook = fraction;
    if (sub.videoLeg) sub.videoLeg.lossHook = fraction;
  }

  pubMute(sessionId: string, publisherId: string, muted: boolean): void {
    const pub = this.publisher(sessionId, publisherId);
    if (pub.audioMuted && !muted) for (const s of pub.subscribers) s.audioLeg?.restart();
    pub.audioMuted = muted;
  }

  async tap(sessionId: string, publisherId: string, tapId: string, host: string, audioPort: number | undefined, videoPort: number | undefined, paused: boolean): Promise<{ sdp: string }> {
    const pub = this.publisher(sessionId, publisherId);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host === '127.0.0.1' || host === 'localhost' ? '127.0.0.1' : undefined, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => {});
    const tap = new Tap(tapId, pub, socket);
    pub.taps.set(tapId, tap);
    const lines = ['v=0', `o=- 0 0 IN IP4 ${host}`, 's=tokhost tap', `c=IN IP4 ${host}`, 't=0 0'];
    const add = (kind: Kind, port: number | undefined) => {
      const stream = pub.streams[kind];
      const codec = pub.codecs[kind];
      if (!stream || !codec || port === undefined) return;
      const send = (b: Buffer) => {
        socket.send(Buffer.from(b), isRtcp(b) ? port + 1 : port, host);
        return true;
      };
      const leg = new Leg(kind, stream, send, stream.ssrc || undefined);
      // A server-side publisher may never send a sender report: its taps do not wait for one.
      leg.requireSr = pub.pc !== null;
      leg.wanted = !paused;
      tap.legs.push(leg);
      stream.legs.add(leg);
      if (!paused) leg.restart();
      if (kind === 'audio') {
        const rtpmap = audioRtpmap(codec as NonNullable<PublisherCodecs['audio']>);
        lines.push(`m=audio ${port} RTP/AVP ${codec.pt}`, `a=rtpmap:${codec.pt} ${rtpmap}`);
        if (rtpmap.toLowerCase().startsWith('opus/')) lines.push(`a=fmtp:${codec.pt} ${codec.fmtp || 'minptime=10;useinbandfec=1'}`);
      }
      else lines.push(`m=video ${port} RTP/AVP ${codec.pt}`, `a=rtpmap:${codec.pt} VP8/90000`);
      lines.push(`a=rtcp:${port + 1}`, 'a=recvonly');
    };
    add('audio', audioPort);
    add('video', videoPort);
    if (tap.legs.length === 0) {
      tap.close();
      throw new EngineError('ERR_MEDIA_INVALID_OPTION', 'tap needs audioPort or videoPort for a kind the publisher sends');
    }
    return { sdp: lines.join('\n') + '\n' };
  }

  tapStart(sessionId: string, tapId: string): void {
    for (const pub of this.rooms.get(sessionId)?.publishers.values() ?? []) {
      const tap = pub.taps.get(tapId);
      if (!tap) continue;
      for (const leg of tap.legs) {
        if (leg.wanted) continue;
        leg.wanted = true;
        leg.restart();
      }
      return;
    }
    throw new EngineError('ERR_MEDIA_INVALID_STATE', `tap ${tapId} is closed`);
  }

  untap(sessionId: string, tapId: string): void {
    for (const pub of this.rooms.get(sessionId)?.publishers.values() ?? []) pub.taps.get(tapId)?.close();
  }

  unpublish(sessionId: string, publisherId: string): void {
    const room = this.rooms.get(sessionId);
    const pub = this.publisher(sessionId, publisherId);
    pub.close();
    room?.publishers.delete(publisherId);
  }

  unsubscribe(sessionId: string, subscriberId: string): void {
    this.subscriber(sessionId, subscriberId).close();
  }

  closeRoom(sessionId: string): void {
    this.rooms.get(sessionId)?.close();
    this.rooms.delete(sessionId);
  }

  shutdown(): void {
    clearInterval(this.timer);
    for (const id of [...this.rooms.keys()]) this.closeRoom(id);
  }

  private tick(): void {
    const now = Date.now();
    this.tickCount++;
    const everySecond = this.tickCount % 50 === 0;
    for (const room of this.rooms.values()) {
      for (const pub of room.publishers.values()) {
        const v = pub.streams.video;
        if (v) {
          v.tickNack(now, pub.rtcpSsrc);
          for (const leg of v.legs) {
            if (leg.active && leg.waitingKeyframe && now - leg.keyframeWaitSince > KEYFRAME_WATCHDOG_MS) {
              leg.keyframeWaitSince = now;
              v.requestKeyframe();
            }
          }
        }
        if (everySecond) {
          for (const s of [pub.streams.audio, pub.streams.video]) {
            const rr = s?.receiverReport(now);
            if (rr) s!.sendRtcp(rr);
          }
          pub.tickFallback(now);
        }
      }
      if (everySecond) {
        for (const sub of [...room.subscribers.values()]) {
          if (sub.connected && now - sub.lastRtcpAt > this.config.rtcpTimeoutMs) sub.close('rtcp-timeout');
        }
      }
    }
  }

  /** Per-second counters; called by the worker's stats timer. */
  stats(intervalMs: number): { worker: Omit<WorkerMetrics, 'pid' | 'eventLoopP99Ms' | 'cpuSeconds' | 'rssBytes'>; sessions: SessionMetrics[] } {
    let publishers = 0;
    let subscribers = 0;
    let pps = 0;
    let bps = 0;
    let lossSum = 0;
    let lossN = 0;
    let packetsIn = 0;
    const sessions: SessionMetrics[] = [];
    for (const room of this.rooms.values()) {
      const f = room.forwarded - room.lastForwarded;
      const b = room.forwardedBytes - room.lastForwardedBytes;
      room.lastForwarded = room.forwarded;
      room.lastForwardedBytes = room.forwardedBytes;
      room.pps = (f * 1000) / intervalMs;
      room.bps = (b * 8 * 1000) / intervalMs;
      let rl = 0;
      let rn = 0;
      for (const s of room.subscribers.values()) {
        if (!s.connected) continue;
        rl += s.lastLoss;
        rn++;
      }
      for (const p of room.publishers.values()) {
        packetsIn += (p.streams.audio?.packetsIn ?? 0) + (p.streams.video?.packetsIn ?? 0);
      }
      publishers += room.publishers.size;
      subscribers += room.subscribers.size;
      pps += room.pps;
      bps += room.bps;
      lossSum += rl;
      lossN += rn;
      sessions.push({ sessionId: room.id, publishers: room.publishers.size, subscribers: room.subscribers.size, packetsPerSecond: room.pps, bitrateBps: room.bps, lossRate: rn ? rl / rn : 0 });
    }
    this.packetsInPerSecond = Math.max(0, ((packetsIn - this.packetsInPrior) * 1000) / intervalMs);
    this.packetsInPrior = packetsIn;
    const kfr = ((this.keyframeRequests - this.keyframeRequestsPrior) * 1000) / intervalMs;
    this.keyframeRequestsPrior = this.keyframeRequests;
    return {
      worker: { keyframeRequestsPerSecond: kfr, rooms: this.rooms.size, publishers, subscribers, packetsPerSecond: pps, packetsInPerSecond: this.packetsInPerSecond, bitrateBps: bps, lossRate: lossN ? lossSum / lossN : 0 },
      sessions,
    };
  }
}

function addCandidate(pc: PeerConnection, c: IceCandidateInit): void {
  const cand = c.candidate.trim();
  if (!cand) return; // end-of-candidates
  const state = pc.state();
  if (state === 'closed' || state === 'failed') return; // the peer is going away; its close event follows
  try {
    pc.addRemoteCandidate(cand.startsWith('candidate:') || cand.startsWith('a=') ? cand : `candidate:${cand}`, c.sdpMid ?? '0');
  } catch (e) {
    throw new EngineError('ERR_MEDIA_INVALID_CANDIDATE', `candidate was rejected (peer ${pc.state()}/${pc.iceState()}/${pc.signalingState()}): ${(e as Error).message}`);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new EngineError('ERR_MEDIA_TIMEOUT', `no local ${what} within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}
