/**
 * The media router (SFU) contract. Routed sessions publish to and subscribe from the router; the
 * realtime layer relays SDP and trickle-ICE candidates between browsers and this interface.
 *
 * Negotiation directions: a publisher's browser offers and the router answers (`publish`); for a
 * subscriber the router offers (`subscribe`) and the browser answers (`setSubscriberAnswer`).
 * Candidates gathered by the router are delivered through the `onCandidate` callbacks, never
 * before the call that created the peer has resolved, so the realtime layer can send the SDP
 * first and the candidates after it on the same socket.
 *
 * Engines live beside this file (`ndc/` for node-datachannel) and all run the shared contract
 * suite in `test/media/router.contract.ts`.
 */
export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** An ICE server as handed to browsers (`RTCIceServer`). */
export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Thresholds of the audio fallback (OpenTok's "audio-only fallback" of routed sessions). */
export interface AudioFallbackOptions {
  /** Default true. */
  enabled: boolean;
  /** Smoothed loss (0..1) from the subscriber's receiver reports at which a warning is sent. Default 0.05. */
  warnLoss: number;
  /** Smoothed loss at which video to the subscriber stops. Default 0.12. */
  disableLoss: number;
  /** How long loss must stay at or above `disableLoss` before video stops. Default 2000 ms. */
  disableAfterMs: number;
  /** Loss (measured on the audio that goes on) at or below which the path counts as recovered. Default 0.02. */
  recoverLoss: number;
  /** How long the path must stay recovered before video comes back. Default 3000 ms. */
  recoverAfterMs: number;
  /** Estimated bandwidth (REMB, bits/s) below which video stops as for loss; 0 turns it off. Default 0. */
  minBitrateBps: number;
}

/** A pino-compatible logger (only the methods the router uses). */
export interface MediaLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Options of {@link createMediaRouter}. Validated once; bad values throw `ERR_MEDIA_INVALID_OPTION`. */
export interface MediaRouterOptions {
  /** Media worker processes. Default: the number of CPUs (`os.availableParallelism()`). */
  workers?: number;
  /** Address announced in the router's ICE candidates (a public IP behind 1:1 NAT). Default: none (the bound addresses). */
  publicIp?: string;
  /** Local address the router's ICE sockets bind to. Default: all interfaces. Tests use 127.0.0.1. */
  bindAddress?: string;
  /** UDP port range for media (inclusive), split evenly between workers. Default: 0/0 (any port). */
  rtcMinPort?: number;
  rtcMaxPort?: number;
  /**
   * All peers of a worker share one UDP port (ICE UDP mux): worker i listens on `rtcMinPort + i`
   * (`rtcMinPort` is then required and the range must hold one port per worker). Fewer ports to
   * open in a firewall and less per-peer socket work. Default false.
   */
  udpMux?: boolean;
  /** ICE servers handed to clients (STUN/TURN URLs); the router itself needs none. Default []. */
  iceServers?: IceServerConfig[];
  /** Audio fallback thresholds. */
  audioFallback?: Partial<AudioFallbackOptions>;
  /** Seconds without RTCP from a connected subscriber before its leg is closed. Default 15. */
  rtcpTimeoutSeconds?: number;
  logger?: MediaLogger;
}

export interface MediaRouter {
  /** The room for a routed session, created on first use on the least loaded worker. */
  room(sessionId: string): Promise<MediaRoom>;
  /** ICE servers to hand to clients, as configured. */
  readonly iceServers: readonly IceServerConfig[];
  /** Counters for /metrics (see `metricsText`). */
  metrics(): MediaMetrics;
  readonly closed: boolean;
  /** Closes every room, publisher and subscriber, and stops the workers. */
  close(): Promise<void>;
}

export interface PublishOptions {
  publisherId: string;
  offerSdp: string;
  onCandidate: (c: IceCandidateInit) => void;
  /**
   * The publisher's peer went away (ICE failure, closed by the browser), or, with `audioFallback`,
   * the publisher audio fallback decided (`videoDisableWarning` … `videoEnabled`).
   */
  onEvent?: (event: PublisherMediaEvent) => void;
  /**
   * The publisher audio fallback (OpenTok's `audioFallback.publisher`): the router measures the
   * loss of this publisher's incoming streams and decides with the `audioFallback` thresholds of
   * the router; the decisions arrive as `onEvent`. Default false.
   */
  audioFallback?: boolean;
}

export interface SubscribeOptions {
  subscriberId: string;
  publisherId: string;
  audio: boolean;
  video: boolean;
  onCandidate: (c: IceCandidateInit) => void;
  /** Audio fallback and quality events for this subscriber. */
  onEvent?: (event: SubscriberMediaEvent) => void;
}

/** Options of {@link MediaRoom.publishRtp}. */
export interface RtpPublishOptions {
  publisherId: string;
  /**
   * The audio codec of the RTP that will be sent: payload type and SDP rtpmap
   * (`"PCMU/8000"`, `"PCMA/8000"`, `"opus/48000/2"`). Subscribers get it as is (browsers decode
   * G.711 and Opus), so nothing is transcoded.
   */
  audio: { payloadType: number; rtpmap: string; fmtp?: string };
  /** The only source address accepted (the local process that sends). Default 127.0.0.1. */
  sourceHost?: string;
}

/** Where to send the RTP of a server-side publisher. */
export interface RtpPublisher {
  host: string;
  port: number;
}

/** Where a tap sends plain RTP (and the publisher's sender reports, as RTCP on port+1). */
export interface TapOptions {
  host: string;
  audioPort?: number;
  videoPort?: number;
  /**
   * Create the tap without sending yet, so the receiver (ffmpeg) can be started from `sdp` first
   * and see the sender reports before the first packet. Default false.
   */
  paused?: boolean;
}

export interface MediaTap {
  readonly id: string;
  /** An SDP that ffmpeg (or GStreamer) can read to receive the tapped RTP. */
  readonly sdp: string;
  /** Starts a paused tap: sends the latest sender reports, asks for a keyframe, then forwards. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface MediaRoom {
  readonly sessionId: string;
  readonly closed: boolean;
  /** Accept a publisher's offer. Candidates the router gathers are passed to `onCandidate`. */
  publish(options: PublishOptions): Promise<{ answerSdp: string }>;
  addPublisherCandidate(publisherId: string, candidate: IceCandidateInit): Promise<void>;
  /**
   * A server-side, non-WebRTC publisher (a SIP call): plain RTP (and optional RTCP sender
   * reports) sent over UDP to the returned address is forwarded to subscribers and taps like a
   * browser's stream; force-mute applies. Ends with `unpublish`.
   */
  publishRtp(options: RtpPublishOptions): Promise<RtpPublisher>;
  /** Start forwarding a publisher to a subscriber: the router makes the offer. */
  subscribe(options: SubscribeOptions): Promise<{ offerSdp: string }>;
  setSubscriberAnswer(subscriberId: string, answerSdp: string): Promise<void>;
  addSubscriberCandidate(subscriberId: string, candidate: IceCandidateInit): Promise<void>;
  /** `subscribeToAudio/subscribeToVideo`: false stops the forwarding of that kind. */
  setSubscriberMedia(subscriberId: string, media: { audio?: boolean; video?: boolean }): Promise<void>;
  /** Force-mute: stop (or resume) forwarding the publisher's audio to everyone. */
  setPublisherAudioMuted(publisherId: string, muted: boolean): Promise<void>;
  /** Plain-RTP copy of a publisher's streams over UDP (recording, compositing). */
  tap(publisherId: string, options: TapOptions): Promise<MediaTap>;
  /**
   * Engine loss hook: drop this fraction (0..1) of the packets sent to one subscriber, as a lossy
   * path would. For tests and diagnostics of the audio fallback.
   */
  setSubscriberLoss(subscriberId: string, fraction: number): Promise<void>;
  /**
   * Engine loss hook: drop this fraction (0..1) of one publisher's incoming packets before the
   * router counts them, as a lossy uplink would. For tests of the publisher audio fallback.
   */
  setPublisherLoss(publisherId: string, fraction: number): Promise<void>;
  /** Closes the publisher, its subscribers and taps. */
  unpublish(publisherId: string): Promise<void>;
  unsubscribe(subscriberId: string): Promise<void>;
  close(): Promise<void>;
}

export type SubscriberMediaEvent =
  | { type: 'connected' }
  | { type: 'videoDisableWarning' }
  | { type: 'videoDisableWarningLifted' }
  | { type: 'videoDisabled'; reason: 'quality' }
  | { type: 'videoEnabled'; reason: 'quality' }
  /** The router closed the leg: the peer failed, went silent, or its publisher left. */
  | { type: 'closed'; reason: 'failed' | 'rtcp-timeout' | 'unpublished' };

export type PublisherMediaEvent =
  | { type: 'connected' }
  | { type: 'closed'; reason: 'failed' }
  /** The publisher audio fallback's decisions (only for a publisher published with `audioFallback`). */
  | { type: 'videoDisableWarning' }
  | { type: 'videoDisableWarningLifted' }
  | { type: 'videoDisabled'; reason: 'quality' }
  | { type: 'videoEnabled'; reason: 'quality' };

export interface WorkerMetrics {
  pid: number;
  rooms: number;
  publishers: number;
  subscribers: number;
  /** RTP packets forwarded to subscribers and taps per second. */
  packetsPerSecond: number;
  /** RTP packets received from publishers per second. */
  packetsInPerSecond: number;
  /** Forwarded bits per second. */
  bitrateBps: number;
  /** Mean loss fraction reported by subscribers (0..1). */
  lossRate: number;
  /** Keyframe requests (PLI) sent to publishers per second, after throttling. */
  keyframeRequestsPerSecond: number;
  /** Event-loop delay p99 of the worker over the last interval, ms. */
  eventLoopP99Ms: number;
  /** CPU time used by the worker process, seconds since start. */
  cpuSeconds: number;
  rssBytes: number;
}

export interface SessionMetrics {
  sessionId: string;
  publishers: number;
  subscribers: number;
  packetsPerSecond: number;
  bitrateBps: number;
  lossRate: number;
}

export interface MediaMetrics {
  workers: WorkerMetrics[];
  sessions: SessionMetrics[];
}
