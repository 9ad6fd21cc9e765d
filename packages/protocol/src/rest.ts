/**
 * REST wire shapes of the OpenTok server API (reference §3–§4), shared by the SDK and the server.
 * Field names are the wire names. Optional fields are the ones the cloud omits in some responses.
 */

/** Media modes as the SDK options name them. */
export const MEDIA_MODES = ['relayed', 'routed'] as const;
export type MediaMode = (typeof MEDIA_MODES)[number];

export const ARCHIVE_MODES = ['manual', 'always'] as const;
export type ArchiveMode = (typeof ARCHIVE_MODES)[number];

/** Resolutions accepted for archives, broadcasts and `archiveResolution`. */
export const RESOLUTIONS = ['480x640', '640x480', '720x1280', '1280x720', '1080x1920', '1920x1080'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export const ROLES = ['publisher', 'subscriber', 'publisheronly', 'moderator'] as const;
export type Role = (typeof ROLES)[number];

export const OUTPUT_MODES = ['composed', 'individual'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

export const STREAM_MODES = ['auto', 'manual'] as const;
export type StreamMode = (typeof STREAM_MODES)[number];

/** Layout types of composed archives and broadcasts (`focus` and `full` are stream classes, not types). */
export const LAYOUT_TYPES = ['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation', 'custom'] as const;
export type LayoutType = (typeof LAYOUT_TYPES)[number];
/** Types allowed as `screenshareType` (with `type: bestFit` only): every type but `custom`. */
export const SCREENSHARE_LAYOUT_TYPES = ['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation'] as const;
export type ScreenshareLayoutType = (typeof SCREENSHARE_LAYOUT_TYPES)[number];

export const VIDEO_TYPES = ['camera', 'screen', 'custom'] as const;
export type VideoType = (typeof VIDEO_TYPES)[number];

export const ARCHIVE_STATUSES = ['started', 'paused', 'stopped', 'uploaded', 'available', 'expired', 'failed', 'deleted'] as const;
export type ArchiveStatus = (typeof ARCHIVE_STATUSES)[number];

/** Limits from the OpenTok documentation and SDKs. */
export const LIMITS = {
  /** `archiveName` and archive `name`, characters. */
  archiveNameMax: 80,
  /** Token `data`, characters (the docs' 1000; opentok-node allows 1024). */
  tokenDataMax: 1000,
  /** Token lifetime, seconds (30 days). */
  tokenMaxLifetimeSeconds: 30 * 24 * 3600,
  /** Default token lifetime, seconds (24 h). */
  tokenDefaultLifetimeSeconds: 24 * 3600,
  /** Signal `type`, characters. */
  signalTypeMax: 128,
  /** Signal `data`, bytes (8 kB). */
  signalDataMaxBytes: 8192,
  /** `listArchives`/`listBroadcasts` `count`. */
  listCountMax: 1000,
  listCountDefault: 50,
  /** RTMP outputs per broadcast. */
  rtmpOutputsMax: 5,
  broadcastMaxDurationMin: 60,
  broadcastMaxDurationMax: 36000,
  broadcastMaxDurationDefault: 14400,
  /** Lifetime of an `X-OPENTOK-AUTH` JWT, seconds. */
  restJwtLifetimeSeconds: 300,
} as const;

/** Signal `type`: letters, digits, `-`, `_`, `~`. */
export const SIGNAL_TYPE_PATTERN = /^[A-Za-z0-9\-_~]*$/;
/** DTMF digits: `0-9 * # p`. */
export const DTMF_PATTERN = /^[0-9*#p]+$/;

/** Common error body (§4.1). */
export interface ErrorBody {
  code: number | string;
  message: string;
  description: string;
}

/** One element of the `POST /session/create` JSON array (§3.1). */
export interface SessionCreateItem {
  session_id: string;
  project_id: string;
  partner_id: string;
  create_dt: string;
  media_server_url: string;
  [extra: string]: unknown;
}

export interface LayoutJson {
  type: LayoutType;
  stylesheet?: string;
  screenshareType?: ScreenshareLayoutType;
}

export interface StreamSelectionJson {
  streamId: string;
  hasAudio: boolean;
  hasVideo: boolean;
}

/** Archive object (§4.2). */
export interface ArchiveJson {
  id: string;
  status: ArchiveStatus;
  name: string | null;
  reason: string;
  sessionId: string;
  projectId: number | string;
  partnerId: number | string;
  createdAt: number;
  updatedAt: number;
  size: number;
  duration: number;
  outputMode: OutputMode;
  hasAudio: boolean;
  hasVideo: boolean;
  resolution?: Resolution;
  streamMode: StreamMode;
  streams?: StreamSelectionJson[];
  url: string | null;
  sha256sum: string;
  password: string;
  event?: 'archive';
  maxBitrate?: number;
  multiArchiveTag?: string;
  [extra: string]: unknown;
}

export interface RtmpOutputJson {
  id?: string;
  serverUrl: string;
  streamName: string;
  status?: string;
}

/** Broadcast object (§4.3). */
export interface BroadcastJson {
  id: string;
  sessionId: string;
  projectId: number | string;
  partnerId?: number | string;
  createdAt: number;
  updatedAt: number;
  resolution: Resolution;
  status: 'started' | 'stopped' | string;
  maxDuration: number;
  maxBitrate?: number;
  streamMode: StreamMode;
  hasAudio?: boolean;
  hasVideo?: boolean;
  multiBroadcastTag?: string;
  event?: 'broadcast';
  settings?: { hls?: { lowLatency: boolean; dvr: boolean } };
  streams?: StreamSelectionJson[];
  broadcastUrls: null | { hls?: string; hlsStatus?: string; rtmp?: RtmpOutputJson[] };
  [extra: string]: unknown;
}

/** Stream object (§4.4). */
export interface StreamJson {
  id: string;
  videoType?: VideoType;
  name: string;
  layoutClassList: string[];
}

/** `{count, items}` list envelope. */
export interface ListJson<T> {
  count: number;
  items: T[];
}

/** List-connections item (Java / Vonage SDK shape). */
export interface ConnectionJson {
  connectionId: string;
  connectionState: 'Connecting' | 'Connected' | 'Disconnected';
  createdAt: number;
}

export interface ConnectionListJson extends ListJson<ConnectionJson> {
  projectId: string;
  sessionId: string;
}

/** SIP dial response (§4.5). */
export interface SipCallJson {
  id: string;
  connectionId: string;
  streamId: string;
  projectId?: string;
  sessionId?: string;
  createdAt?: number;
  updatedAt?: number;
}

/**
 * The `sip` object of `POST …/dial` (§3.6): whom to call and how. The server's gateway takes it
 * as validated; the SDK's `DialOptions` are these fields but `uri` (its own argument).
 */
export interface DialSipJson {
  /** The SIP URI to call, e.g. `sip:user@example.com;transport=tls`. */
  uri: string;
  /** Custom SIP headers; every name must start with `X-`. */
  headers?: Record<string, string>;
  /** Digest credentials for the SIP endpoint. */
  auth?: { username: string; password: string };
  /** Encrypt the media (SRTP with SDES keys). Default `false`. */
  secure?: boolean;
  /** Caller, e.g. `"14155550101@example.com"`. */
  from?: string;
  /** Send video too. Default `false`. */
  video?: boolean;
  /** Let force-mute requests mute the SIP call. Default `false`. */
  observeForceMute?: boolean;
  /** Only these streams are sent to the SIP endpoint. */
  streams?: string[];
}

/** Body of `POST …/dial` (§3.6). */
export interface DialRequestJson {
  sessionId: string;
  token: string;
  sip: DialSipJson;
}

/** Session-monitoring webhook body (§6). */
export interface SessionMonitoringEvent {
  sessionId: string;
  projectId: string;
  event: 'connectionCreated' | 'connectionDestroyed' | 'streamCreated' | 'streamDestroyed' | 'sessionCreated' | 'sessionDestroyed';
  timestamp: number;
  connection?: { id: string; createdAt: number; data: string };
  stream?: { id: string; connection: { id: string; createdAt: number; data: string }; createdAt: number; name: string; videoType?: VideoType };
  reason?: string;
}

/** A connection of a live session (admin API, `GET /v2/project/{apiKey}/session`). */
export interface LiveConnectionJson {
  connectionId: string;
  /** The token's connection data. */
  data: string;
  /** Which client holds it: `tokhost` (native protocol), `opentok-js`, `sip` (a call the server holds), `foreign` (another front end). */
  clientKind: string;
  /** When it joined, ms since the epoch. */
  createdAt: number;
}

/** A stream of a live session (admin API). */
export interface LiveStreamJson {
  streamId: string;
  connectionId: string;
  name: string;
  videoType: VideoType | 'custom' | null;
  hasAudio: boolean;
  hasVideo: boolean;
  createdAt: number;
}

/** A session with connections now (admin API). */
export interface LiveSessionJson {
  sessionId: string;
  mediaMode: 'relayed' | 'routed';
  /** When the session was created, ms since the epoch. */
  createdAt: number;
  connections: LiveConnectionJson[];
  streams: LiveStreamJson[];
}

/** What became of a project callback (admin API, `GET /v2/project/{apiKey}/webhook/deliveries`). */
export interface WebhookDeliveryJson {
  id: number;
  /** `connectionCreated`, `streamCreated`, `archive:available`, `broadcast:started`, … */
  event: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** Status code of the last answer; null when no answer came (connection failed, timed out, refused target). */
  lastHttpStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A project as the operator lists it (`GET /v2/admin/projects`): no secret. */
export interface AdminProjectJson {
  apiKey: string;
  name: string;
  createdAt: number;
}

/** One sample of the server's own figures (`GET /v2/admin/metrics/history`, docs/console.md). */
export interface MetricsSample {
  /** When, ms since the epoch. */
  t: number;
  sessions: number;
  connections: number;
  streams: number;
  /** RTP packets the media workers forward per second (their last one-second figures, summed). */
  forwardedPacketsPerSecond: number;
  /** CPU of each media worker since the previous sample, as a fraction of one core (1 = one core busy). */
  workerCpu: { pid: number; cpu: number }[];
  /** Archives being recorded on this node. */
  recordings: number;
  /** Broadcasts running on this node. */
  broadcasts: number;
}

/** `GET /v2/admin/metrics/history`: the samples kept, oldest first. */
export interface MetricsHistoryJson {
  intervalSeconds: number;
  capacity: number;
  samples: MetricsSample[];
}
