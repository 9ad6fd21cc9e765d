/**
 * The realtime client protocol (browser SDK ⇄ server), JSON text frames over one WebSocket.
 *
 * Shape of a conversation:
 * 1. The client opens `ws(s)://<server>/rtc/v1` and sends {@link ConnectRequest} first.
 * 2. The server answers {@link SessionConnectedMessage}, or {@link FatalErrorMessage} and closes.
 * 3. Every later server message carries `seq`, increasing but with gaps (one counter per session:
 *    messages for other connections take numbers too); the client acks the last one it got so
 *    the server can replay what a dropped socket lost when the client resumes from it.
 * 4. Client requests carry `id` (increasing per connection); the server answers each with one
 *    {@link ResponseMessage} and ignores ids it already processed (a resumed client re-sends
 *    requests it got no answer for).
 *
 * Media negotiation is always "offer from the media source": in relayed sessions the publishing
 * browser offers to each subscribing browser (SDP/ICE relayed through the server); in routed
 * sessions the publisher offers to the server and the server offers to each subscriber. A
 * subscriber therefore always receives an offer, whatever the media mode.
 */
import type { MediaMode, Role, VideoType } from './rest.js';
import { signalProblem } from './signal.js';

/** Protocol version; a client sending another version is refused with `ERR_RT_VERSION`. */
export const REALTIME_PROTOCOL_VERSION = 1;
/** WebSocket path of the client protocol. */
export const REALTIME_PATH = '/rtc/v1';

/** A connection as clients see it (OpenTok.js `Connection`). */
export interface RtConnection {
  connectionId: string;
  /** ms since the epoch. */
  creationTime: number;
  /** The token's `connection_data` (`""` when none). */
  data: string;
}

export interface RtVideoDimensions {
  width: number;
  height: number;
}

/** A published stream as clients see it (OpenTok.js `Stream`). */
export interface RtStream {
  streamId: string;
  connection: RtConnection;
  /** ms since the epoch. */
  creationTime: number;
  name: string;
  hasAudio: boolean;
  hasVideo: boolean;
  videoType: VideoType | null;
  videoDimensions: RtVideoDimensions | null;
  frameRate: number | null;
  layoutClassList: string[];
  /**
   * The publisher publishes live captions (OpenTok.js `publishCaptions`, `Stream.hasCaptions`):
   * when the session has captions started, this stream is transcribed. Absent: false.
   */
  hasCaptions?: boolean;
}

export interface RtIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface RtIceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface RtSessionDescription {
  type: 'offer' | 'answer';
  sdp: string;
}

/** Why a connection left the session (OpenTok reasons). */
export type RtConnectionDestroyedReason = 'clientDisconnected' | 'forceDisconnected' | 'networkDisconnected';
/** Why a stream ended (OpenTok reasons). */
export type RtStreamDestroyedReason = 'clientDisconnected' | 'forceDisconnected' | 'forceUnpublished' | 'mediaStopped' | 'networkDisconnected';

// ---------------------------------------------------------------------------------------------
// Client → server

/** First frame on a socket. With `resume`, re-attach to a connection whose socket dropped. */
export interface ConnectRequest {
  type: 'connect';
  version: number;
  apiKey: string;
  sessionId: string;
  token: string;
  resume?: { connectionId: string; resumeKey: string; lastSeq: number };
  /** Client SDK name/version, informational. */
  sdk?: string;
  /**
   * The client accepts frames that hold a JSON array of server messages. The server then
   * coalesces the messages of one event-loop turn into one frame (fewer frames in join storms).
   */
  batch?: boolean;
  /**
   * OpenTok's `connectionEventsSuppressed`: this client gets no `connectionCreated` /
   * `connectionDestroyed` for other clients and an empty `connections` list in
   * `sessionConnected` (for large sessions, where every join would otherwise reach everyone).
   * Streams still name their connection.
   */
  connectionEventsSuppressed?: boolean;
  /**
   * The client holds a valid end-to-end encryption secret (8–256 characters; the secret itself
   * never leaves the browser). Joining an `e2ee` session without it is refused with
   * `ERR_RT_ENCRYPTION_SECRET` (OpenTok.js `OT_INVALID_ENCRYPTION_SECRET`).
   */
  encryption?: boolean;
}

export interface PublishRequest {
  type: 'publish';
  id: number;
  name: string;
  hasAudio: boolean;
  hasVideo: boolean;
  videoType: VideoType | null;
  videoDimensions: RtVideoDimensions | null;
  frameRate?: number | null;
  /** OpenTok.js `publishCaptions`: transcribe this stream while the session has live captions. Default false. */
  hasCaptions?: boolean;
  /** Routed sessions only: the publisher's offer for the media router. */
  offer?: RtSessionDescription;
  /**
   * Routed sessions only: OpenTok.js `audioFallback.publisher`: the router watches this
   * publisher's uplink loss and sends `publisherQuality`. Default false.
   */
  audioFallback?: boolean;
}
export interface UnpublishRequest { type: 'unpublish'; id: number; streamId: string }
export interface StreamUpdateRequest {
  type: 'streamUpdate';
  id: number;
  streamId: string;
  hasAudio?: boolean;
  hasVideo?: boolean;
  videoDimensions?: RtVideoDimensions;
  /** `publisher.publishCaptions(value)`. */
  hasCaptions?: boolean;
}
export interface SubscribeRequest { type: 'subscribe'; id: number; streamId: string; audio: boolean; video: boolean }
export interface UnsubscribeRequest { type: 'unsubscribe'; id: number; subscriberId: string }
/** `subscribeToAudio/subscribeToVideo`, and `subscribeToCaptions` (`captions`: live captions of the stream, when the session has them). */
export interface SubscriberMediaRequest { type: 'subscriberMedia'; id: number; subscriberId: string; audio?: boolean; video?: boolean; captions?: boolean }
/** SDP for a peer link, identified by `peerId` (the subscriber ID, or the stream ID for a routed publisher). */
/** Which end of a peer link a message comes from (a client may subscribe to its own stream). */
export type RtPeerEnd = 'publisher' | 'subscriber';
export interface SdpRequest { type: 'sdp'; id: number; peerId: string; end: RtPeerEnd; description: RtSessionDescription }
export interface IceRequest { type: 'ice'; id: number; peerId: string; end: RtPeerEnd; candidate: RtIceCandidate | null }
export interface SignalRequest { type: 'signal'; id: number; to?: string; signalType?: string; data?: string }
export interface ForceDisconnectRequest { type: 'forceDisconnect'; id: number; connectionId: string }
export interface ForceUnpublishRequest { type: 'forceUnpublish'; id: number; streamId: string }
export interface ForceMuteStreamRequest { type: 'forceMuteStream'; id: number; streamId: string }
export interface ForceMuteAllRequest { type: 'forceMuteAll'; id: number; excludedStreamIds?: string[] }
export interface DisableForceMuteRequest { type: 'disableForceMute'; id: number }
export interface DisconnectRequest { type: 'disconnect'; id: number }
/** Acknowledges every server message up to `seq` (no response). */
export interface AckMessage { type: 'ack'; seq: number }

export type ClientRequest =
  | PublishRequest
  | UnpublishRequest
  | StreamUpdateRequest
  | SubscribeRequest
  | UnsubscribeRequest
  | SubscriberMediaRequest
  | SdpRequest
  | IceRequest
  | SignalRequest
  | ForceDisconnectRequest
  | ForceUnpublishRequest
  | ForceMuteStreamRequest
  | ForceMuteAllRequest
  | DisableForceMuteRequest
  | DisconnectRequest;
export type ClientMessage = ConnectRequest | ClientRequest | AckMessage;

// ---------------------------------------------------------------------------------------------
// Server → client

export interface SessionConnectedMessage {
  type: 'sessionConnected';
  seq: number;
  version: number;
  sessionId: string;
  /**
   * How media is negotiated: `routed` (publisher offers to the server, the server offers to
   * subscribers) when the server routes this session; otherwise `relayed` (browser to browser).
   */
  mediaMode: MediaMode;
  connection: RtConnection;
  role: Role;
  /** Secret the client presents to resume this connection after a dropped socket. */
  resumeKey: string;
  /** How long the server keeps a dropped connection, ms. */
  reconnectGraceMs: number;
  connections: RtConnection[];
  streams: RtStream[];
  iceServers: RtIceServer[];
  /** Session-wide force-mute is active: publish muted. */
  forceMuteActive: boolean;
  /** The session is end-to-end encrypted (`e2ee`): publishers encrypt, subscribers decrypt. Absent: false. */
  e2ee?: boolean;
  /** Set on a resumed socket: the connection was re-attached, replay follows. */
  resumed?: boolean;
}

/**
 * Answer to a `connect` with `resume`: the connection is re-attached; every message after
 * `resume.lastSeq` is replayed next, then the stream continues.
 */
export interface SessionResumedMessage {
  type: 'sessionResumed';
  seq: 0;
  connectionId: string;
  iceServers: RtIceServer[];
}

/** Sent before the server closes the socket for a fatal reason (auth failure, bad first frame). */
export interface FatalErrorMessage {
  type: 'error';
  error: RtError;
}

export interface ResponseMessage {
  type: 'response';
  seq: number;
  id: number;
  ok: boolean;
  /** Present when `ok`. */
  result?: Record<string, unknown>;
  /** Present when not `ok`. */
  error?: RtError;
}

export interface ConnectionCreatedMessage { type: 'connectionCreated'; seq: number; connection: RtConnection }
/**
 * Several `connectionCreated` in a row, as one message (batch clients only: the server folds
 * consecutive ones of a frame; `seq` is the last one's). Means exactly the same as the
 * `connectionCreated` messages, in this order.
 */
export interface ConnectionsCreatedMessage { type: 'connectionsCreated'; seq: number; connections: RtConnection[] }
/** Several `connectionDestroyed` in a row, as one message (batch clients only; as above). */
export interface ConnectionsDestroyedMessage { type: 'connectionsDestroyed'; seq: number; destroyed: { connection: RtConnection; reason: RtConnectionDestroyedReason }[] }
export interface ConnectionDestroyedMessage { type: 'connectionDestroyed'; seq: number; connection: RtConnection; reason: RtConnectionDestroyedReason }
export interface StreamCreatedMessage { type: 'streamCreated'; seq: number; stream: RtStream }
export interface StreamDestroyedMessage { type: 'streamDestroyed'; seq: number; stream: RtStream; reason: RtStreamDestroyedReason }
export interface StreamPropertyChangedMessage {
  type: 'streamPropertyChanged';
  seq: number;
  streamId: string;
  changedProperty: 'hasAudio' | 'hasVideo' | 'videoDimensions' | 'hasCaptions';
  oldValue: unknown;
  newValue: unknown;
  stream: RtStream;
}
/** Layout class list changed through REST. */
export interface StreamClassListChangedMessage { type: 'streamClassListChanged'; seq: number; stream: RtStream }
/** `from` is `null` for signals sent through the REST API. */
export interface SignalMessage { type: 'signal'; seq: number; from: RtConnection | null; signalType: string; data: string }
/**
 * Relayed sessions: to the publisher, "make a peer link to this subscriber and offer".
 */
export interface SubscriberJoinedMessage {
  type: 'subscriberJoined';
  seq: number;
  subscriberId: string;
  streamId: string;
  connection: RtConnection;
  iceServers: RtIceServer[];
}
/** The peer link `peerId` is gone (unsubscribed, unpublished, disconnected). */
export interface PeerClosedMessage { type: 'peerClosed'; seq: number; peerId: string }
/** SDP from the other end (`end` is the sender's end; `server` in routed sessions). */
export interface SdpMessage { type: 'sdp'; seq: number; peerId: string; end: RtPeerEnd | 'server'; description: RtSessionDescription }
export interface IceMessage { type: 'ice'; seq: number; peerId: string; end: RtPeerEnd | 'server'; candidate: RtIceCandidate | null }
/** To a publisher: its audio was force-muted (`active: true`) or the session-wide mute ended. */
/** A live caption of a stream, to a subscriber that asked for them (`subscribeToCaptions(true)`). */
export interface CaptionReceivedMessage { type: 'captionReceived'; seq: number; subscriberId: string; streamId: string; caption: string; isFinal: boolean }
export interface MuteForcedMessage { type: 'muteForced'; seq: number; streamId: string | null; active: boolean }
/** Session-wide force-mute state changed. */
export interface ForceMuteStateMessage { type: 'forceMuteState'; seq: number; active: boolean }
/** What the media router's audio fallback did to one subscriber's video (routed sessions). */
export type RtSubscriberQualityEvent = 'videoDisableWarning' | 'videoDisableWarningLifted' | 'videoDisabled' | 'videoEnabled';
/**
 * Routed sessions, to the subscribing connection: the router's audio fallback warned about,
 * stopped or resumed the video of subscriber `subscriberId` because of its path's quality. The
 * browser SDK raises the OpenTok.js event of the same name on the Subscriber (`videoDisabled` /
 * `videoEnabled` with `reason: 'quality'`).
 */
export interface SubscriberQualityMessage { type: 'subscriberQuality'; seq: number; subscriberId: string; event: RtSubscriberQualityEvent }
/**
 * Routed sessions, to the publishing connection of a stream published with `audioFallback`: the
 * router's publisher audio fallback warned about its uplink's loss, or asks it to stop or resume
 * sending video. The browser SDK raises the OpenTok.js event of the same name on the Publisher.
 */
export interface PublisherQualityMessage { type: 'publisherQuality'; seq: number; streamId: string; event: RtSubscriberQualityEvent }
/** The server ends this connection (e.g. force-disconnected); the socket closes after it. */
/**
 * A recording of the session started or stopped (OpenTok.js `archiveStarted` / `archiveStopped`
 * session events). A client that joins while an archive records gets `archiveStarted` right
 * after `sessionConnected`.
 */
export interface ArchiveStartedMessage { type: 'archiveStarted'; seq: number; id: string; name: string }
export interface ArchiveStoppedMessage { type: 'archiveStopped'; seq: number; id: string; name: string }

export interface DisconnectedMessage { type: 'disconnected'; seq: number; reason: RtConnectionDestroyedReason }

export type ServerMessage =
  | SessionConnectedMessage
  | SessionResumedMessage
  | FatalErrorMessage
  | ResponseMessage
  | ConnectionCreatedMessage
  | ConnectionsCreatedMessage
  | ConnectionsDestroyedMessage
  | ConnectionDestroyedMessage
  | StreamCreatedMessage
  | StreamDestroyedMessage
  | StreamPropertyChangedMessage
  | StreamClassListChangedMessage
  | SignalMessage
  | SubscriberJoinedMessage
  | PeerClosedMessage
  | SdpMessage
  | IceMessage
  | MuteForcedMessage
  | CaptionReceivedMessage
  | ForceMuteStateMessage
  | SubscriberQualityMessage
  | PublisherQualityMessage
  | ArchiveStartedMessage
  | ArchiveStoppedMessage
  | DisconnectedMessage;

/** Server message without its `seq` (what server code builds before sequencing). */
export type UnsequencedServerMessage = ServerMessage extends infer M ? (M extends { seq: number } ? Omit<M, 'seq'> : M) : never;

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Realtime error codes, each with the OpenTok.js error name and numeric code the browser SDK
 * raises (OpenTok's where one exists).
 */
export const RT_ERRORS = {
  ERR_RT_TOKEN_MALFORMED: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  ERR_RT_TOKEN_SIGNATURE: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  ERR_RT_TOKEN_EXPIRED: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  /** The token's creation (`iat`, `nbf`, `create_time`) lies in the future beyond the clock skew. */
  ERR_RT_TOKEN_NOT_YET_VALID: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  /** The token's expiry is more than 30 days after its creation (OpenTok's maximum). */
  ERR_RT_TOKEN_LIFETIME: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  ERR_RT_TOKEN_PROJECT: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  ERR_RT_TOKEN_SESSION: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  ERR_RT_TOKEN_ROLE: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  ERR_RT_TOKEN_SCOPE: { otName: 'OT_AUTHENTICATION_ERROR', otCode: 1004 },
  ERR_RT_SESSION_INVALID: { otName: 'OT_INVALID_SESSION_ID', otCode: 1005 },
  ERR_RT_VERSION: { otName: 'OT_CONNECT_FAILED', otCode: 1006 },
  ERR_RT_PROTOCOL: { otName: 'OT_CONNECT_FAILED', otCode: 1006 },
  ERR_RT_RESUME_FAILED: { otName: 'OT_CONNECT_FAILED', otCode: 1006 },
  /**
   * Cluster mode: the connection lived on a node that is gone; the session now lives on another.
   * The client joins again with its token (a new connection) and publishes its streams again.
   */
  ERR_RT_SESSION_MOVED: { otName: 'OT_CONNECT_FAILED', otCode: 1006 },
  ERR_RT_BAD_REQUEST: { otName: 'OT_INVALID_PARAMETER', otCode: 1011 },
  ERR_RT_PERMISSION_DENIED: { otName: 'OT_PERMISSION_DENIED', otCode: 1500 },
  ERR_RT_SUBSCRIBE_DENIED: { otName: 'OT_PERMISSION_DENIED', otCode: 1501 },
  ERR_RT_FORCE_DISCONNECT_DENIED: { otName: 'OT_PERMISSION_DENIED', otCode: 1520 },
  ERR_RT_FORCE_UNPUBLISH_DENIED: { otName: 'OT_PERMISSION_DENIED', otCode: 1530 },
  ERR_RT_FORCE_MUTE_DENIED: { otName: 'OT_PERMISSION_DENIED', otCode: 1540 },
  ERR_RT_STREAM_NOT_FOUND: { otName: 'OT_NOT_FOUND', otCode: 404 },
  ERR_RT_CONNECTION_NOT_FOUND: { otName: 'OT_NOT_FOUND', otCode: 404 },
  ERR_RT_SIGNAL_INVALID: { otName: 'OT_INVALID_PARAMETER', otCode: 400 },
  ERR_RT_SIGNAL_TOO_LARGE: { otName: 'OT_INVALID_PARAMETER', otCode: 413 },
  /** A media request (publish, subscribe) the router could not serve: OpenTok.js's name for a stream it could not create. */
  ERR_RT_MEDIA: { otName: 'OT_STREAM_CREATE_FAILED', otCode: 1500 },
  // OpenTok.js publishes no numeric code for this one; 1011 is its invalid-parameter code.
  ERR_RT_ENCRYPTION_SECRET: { otName: 'OT_INVALID_ENCRYPTION_SECRET', otCode: 1011 },
  ERR_RT_INTERNAL: { otName: 'OT_UNEXPECTED_SERVER_RESPONSE', otCode: 2001 },
  /**
   * Connect refused by a connection limit (per token or per project; the message names it).
   * OpenTok's "connection limit exceeded" session error, 1027 in its SDKs.
   */
  ERR_RT_CONNECTION_LIMIT: { otName: 'OT_CONNECTION_LIMIT_EXCEEDED', otCode: 1027 },
  /**
   * A signal over the connection's rate (`signalRatePerConnection`, burst `signalBurstPerConnection`).
   * OpenTok documents no signal rate error; 429 follows the HTTP-style codes of its other signal
   * errors (400, 404, 413) and the REST answer for the same limit.
   */
  ERR_RT_SIGNAL_RATE: { otName: 'OT_RATE_LIMIT_EXCEEDED', otCode: 429 },
  /** A second subscribe to a stream the connection already subscribes to. */
  ERR_RT_ALREADY_SUBSCRIBED: { otName: 'OT_INVALID_PARAMETER', otCode: 1011 },
  /** A subscribe over `maxSubscriptionsPerConnection`. */
  ERR_RT_SUBSCRIBE_LIMIT: { otName: 'OT_STREAM_LIMIT_EXCEEDED', otCode: 1027 },
} as const satisfies Record<string, { otName: string; otCode: number }>;
export type RtErrorCode = keyof typeof RT_ERRORS;

/** Error payload on the wire. */
export interface RtError {
  code: RtErrorCode;
  /** OpenTok.js error name, e.g. `OT_AUTHENTICATION_ERROR`. */
  name: string;
  /** OpenTok.js numeric code, e.g. 1004. */
  otCode: number;
  message: string;
}

/** Build the wire error for a code. */
export function rtError(code: RtErrorCode, message: string): RtError {
  const e = RT_ERRORS[code];
  return { code, name: e.otName, otCode: e.otCode, message };
}

/** WebSocket close codes the server uses (4000–4999 are application codes). */
export const RT_CLOSE = {
  /** Token or session refused; do not retry. */
  authFailed: 4001,
  /** Protocol violation or unsupported version; do not retry. */
  protocolError: 4002,
  /** Resume refused (grace period over); do not retry the resume. */
  resumeFailed: 4003,
  /** Connection ended by the server (force-disconnect) or by the client's `disconnect`. */
  ended: 4004,
  /** The same connection resumed on another socket. */
  replaced: 4005,
  /** Connect refused by a connection limit (`ERR_RT_CONNECTION_LIMIT`); do not retry at once. */
  limitExceeded: 4006,
  /**
   * The client stopped reading: its outgoing buffer passed the server's bound
   * (`sendBufferMaxBytes`). The connection stays for the grace period: the client may resume.
   */
  slowConsumer: 4007,
} as const;

/** The signal rule ({@link signalProblem}) as the realtime layer's error, or `null`. */
export function checkSignal(signalType: unknown, data: unknown): RtError | null {
  const p = signalProblem(signalType, data);
  if (p === null) return null;
  switch (p.reason) {
    case 'not-string':
      return rtError('ERR_RT_SIGNAL_INVALID', `signal ${p.field} must be a string`);
    case 'too-long':
      return rtError('ERR_RT_SIGNAL_TOO_LARGE', `signal type is longer than ${p.max} characters`);
    case 'characters':
      return rtError('ERR_RT_SIGNAL_INVALID', 'signal type may hold only letters, digits, "-", "_" and "~"');
    case 'too-large':
      return rtError('ERR_RT_SIGNAL_TOO_LARGE', `signal data is larger than ${p.maxBytes} bytes`);
  }
}
