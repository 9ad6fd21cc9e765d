export { base64Decode, base64Encode, base64UrlEncode, utf8Decode, utf8Encode } from './base64.js';
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
  SIGNAL_TYPE_PATTERN,
  STREAM_MODES,
  VIDEO_TYPES,
} from './rest.js';
export type {
  ArchiveJson,
  ArchiveMode,
  ArchiveStatus,
  BroadcastJson,
  ConnectionJson,
  ConnectionListJson,
  DialRequestJson,
  ErrorBody,
  LayoutJson,
  LayoutType,
  ListJson,
  MediaMode,
  OutputMode,
  Resolution,
  Role,
  RtmpOutputJson,
  SessionCreateItem,
  SessionMonitoringEvent,
  SipCallJson,
  StreamJson,
  StreamMode,
  StreamSelectionJson,
  VideoType,
} from './rest.js';
export type { ClientTokenClaims, ProjectAuthClaims, VerifiedToken } from './tokens.js';
export { ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
