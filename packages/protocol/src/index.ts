export { base64Decode, base64Encode, base64UrlEncode, utf8Decode, utf8Encode } from './base64.js';
export { RENDER_MAX_DURATION, RENDER_NAME_MAX_LENGTH, RENDER_STATUSES } from './render.js';
export type { RenderJson, RenderStatus } from './render.js';
export { decodeSessionId, encodeSessionId, SESSION_ID_MAX_LENGTH } from './session-id.js';
export type { SessionIdParts } from './session-id.js';
export {
  ARCHIVE_MODES,
  ARCHIVE_STATUSES,
  DTMF_PATTERN,
  LAYOUT_TYPES,
  LIMITS,
  MEDIA_MODES,
  OUTPUT_MODES,
  RESOLUTIONS,
  ROLES,
  SCREENSHARE_LAYOUT_TYPES,
  SIGNAL_TYPE_PATTERN,
  STREAM_MODES,
  VIDEO_TYPES,
} from './rest.js';
export type {
  AdminProjectJson,
  MetricsHistoryJson,
  MetricsSample,
  ArchiveJson,
  ArchiveMode,
  ArchiveStatus,
  BroadcastJson,
  ConnectionJson,
  ConnectionListJson,
  DialRequestJson,
  DialSipJson,
  ErrorBody,
  LayoutJson,
  LayoutType,
  ListJson,
  LiveConnectionJson,
  LiveSessionJson,
  LiveStreamJson,
  MediaMode,
  OutputMode,
  Resolution,
  Role,
  ScreenshareLayoutType,
  RtmpOutputJson,
  SessionCreateItem,
  SessionMonitoringEvent,
  SipCallJson,
  StreamJson,
  StreamMode,
  StreamSelectionJson,
  VideoType,
  WebhookDeliveryJson,
} from './rest.js';
export type { ClientTokenClaims, ProjectAuthClaims, VerifiedToken } from './tokens.js';
export { ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { isSignalTooLarge, signalProblem } from './signal.js';
export type { SignalProblem } from './signal.js';
export { checkSignal, REALTIME_PATH, REALTIME_PROTOCOL_VERSION, RT_CLOSE, RT_ERRORS, rtError } from './realtime.js';
export type {
  AckMessage,
  ClientMessage,
  ClientRequest,
  ConnectRequest,
  ConnectionCreatedMessage,
  ConnectionDestroyedMessage,
  FatalErrorMessage,
  ResponseMessage,
  CaptionReceivedMessage,
  RtConnection,
  RtConnectionDestroyedReason,
  RtError,
  RtErrorCode,
  RtIceCandidate,
  RtIceServer,
  RtPeerEnd,
  RtSessionDescription,
  RtStream,
  RtStreamDestroyedReason,
  RtSubscriberQualityEvent,
  RtVideoDimensions,
  ServerMessage,
  SessionConnectedMessage,
  SessionResumedMessage,
  SignalMessage,
  SubscriberQualityMessage,
  UnsequencedServerMessage,
} from './realtime.js';
