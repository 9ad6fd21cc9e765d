import type { ErrorCode, RtErrorCode } from '@tokhost/protocol';

// The one error base of the server. This module imports nothing of the server, so every folder
// can throw these errors without depending on another folder (the REST edge, `http/errors.ts`,
// maps the codes to HTTP answers; realtime sends the `ERR_RT_*` ones to the clients).

/** REST codes of the server beyond the ones the protocol package shares with the SDK. */
export type ServerRestErrorCode = 'ERR_NOT_IMPLEMENTED' | 'ERR_UNSUPPORTED_MEDIA_TYPE' | 'ERR_BROADCAST_NOT_ROUTED' | 'ERR_SESSION_E2EE' | 'ERR_OWNER_UNAVAILABLE' | 'ERR_RATE_LIMITED' | 'ERR_LIMIT_EXCEEDED' | 'ERR_THUMBNAIL_UNAVAILABLE';

/** `LiveSessions`: the connection or stream a call names is not live in the session. */
export type LiveErrorCode = 'ERR_LIVE_CONNECTION_NOT_FOUND' | 'ERR_LIVE_STREAM_NOT_FOUND';

/** Projects (services/projects.ts). */
export type ProjectErrorCode = 'ERR_PROJECT_NOT_FOUND' | 'ERR_PROJECT_EXISTS' | 'ERR_PROJECT_INVALID';

/** Applications (services/applications.ts). */
export type ApplicationErrorCode = 'ERR_APPLICATION_NOT_FOUND' | 'ERR_APPLICATION_INVALID';

/** The archiver (recording/): a change asked of an archive in the wrong state. */
export type RecordingErrorCode = 'ERR_RECORDING_NOT_ACTIVE' | 'ERR_RECORDING_STREAM_MODE' | 'ERR_RECORDING_NOT_COMPOSED';

/** Experience Composer (render/): an unknown or finished render; a render into a relayed session. */
export type RenderErrorCode = 'ERR_RENDER_NOT_FOUND' | 'ERR_RENDER_NOT_ROUTED';

/** The layout engine (compose/layout/). */
export type LayoutErrorCode =
  /** A custom stylesheet is not CSS, or uses a construct outside OpenTok's subset. */
  | 'ERR_LAYOUT_STYLESHEET'
  /** A layout spec or canvas that cannot be laid out (unknown type, missing stylesheet, bad size). */
  | 'ERR_LAYOUT_INVALID';

/** Output sinks of a composition (compose/sinks/). */
export type SinkErrorCode = 'ERR_SINK_SPAWN' | 'ERR_SINK_EXIT' | 'ERR_SINK_STATE';

/** The media router and its engines (media/). */
export type MediaErrorCode =
  | 'ERR_MEDIA_INVALID_OPTION'
  | 'ERR_MEDIA_INVALID_SDP'
  | 'ERR_MEDIA_INVALID_CANDIDATE'
  | 'ERR_MEDIA_INVALID_STATE'
  | 'ERR_MEDIA_DUPLICATE_ID'
  | 'ERR_MEDIA_PUBLISHER_NOT_FOUND'
  | 'ERR_MEDIA_SUBSCRIBER_NOT_FOUND'
  | 'ERR_MEDIA_CLOSED'
  | 'ERR_MEDIA_TIMEOUT'
  | 'ERR_MEDIA_WORKER'
  | 'ERR_MEDIA_ENGINE';

/** The SIP gateway and its user agent (sip/). */
export type SipErrorCode =
  /** A dial request the gateway refuses: a field is wrong (`field` names it). */
  | 'ERR_SIP_DIAL_INVALID'
  /** A dial request needs a part this server runs without. */
  | 'ERR_SIP_UNSUPPORTED'
  /** The gateway is shut down or its user agent cannot run. */
  | 'ERR_SIP_UNAVAILABLE'
  /** A SIP message that cannot be parsed. */
  | 'ERR_SIP_MESSAGE_INVALID'
  /** A SIP message that must not be sent (a value would add or split lines on the wire). */
  | 'ERR_SIP_MESSAGE_UNSENDABLE'
  /** The far end's SDP (answer or re-INVITE offer) is unreadable or accepts nothing usable. */
  | 'ERR_SIP_SDP_INVALID'
  /** A digest challenge that cannot be answered. */
  | 'ERR_SIP_DIGEST_INVALID'
  /** An INVITE that did not connect (`status` holds the SIP status). */
  | 'ERR_SIP_CALL_FAILED';

/** The Audio Connector (connector/): a field it refuses, a WebSocket server it cannot reach, or the connector shut down. */
export type ConnectorErrorCode = 'ERR_CONNECT_INVALID' | 'ERR_CONNECT_FAILED' | 'ERR_CONNECT_UNAVAILABLE' | 'ERR_CONNECT_NOT_FOUND';

/** Stores (storage/). `ERR_STORE_QUERY`: PostgreSQL refused a statement (`sqlState` says why). */
export type StoreErrorCode = 'ERR_STORE_CONFLICT' | 'ERR_STORE_NO_PROJECT' | 'ERR_STORE_CLOSED' | 'ERR_STORE_SCHEMA' | 'ERR_STORE_MASTER_KEY' | 'ERR_STORE_INVALID' | 'ERR_STORE_QUERY';

/** The outbound policy (net/outbound.ts): a caller-chosen target the operator does not allow, or a name that does not resolve. */
export type OutboundErrorCode = 'ERR_OUTBOUND_REFUSED' | 'ERR_OUTBOUND_UNRESOLVED';

/** Server configuration (config.ts). */
export type ConfigErrorCode = 'ERR_CONFIG_INVALID';

/**
 * Every code a server error carries, `ERR_<AREA>_<WHAT>`: the REST codes (mapped to HTTP by
 * `ERROR_TABLE` in http/errors.ts), the realtime codes clients receive (`ERR_RT_*`), and the codes
 * of each area's own errors. A closed union: a new kind of failure gets its code here.
 */
export type TokhostErrorCode =
  | ErrorCode
  | ServerRestErrorCode
  | RtErrorCode
  | LiveErrorCode
  | ProjectErrorCode
  | ApplicationErrorCode
  | RecordingErrorCode
  | RenderErrorCode
  | LayoutErrorCode
  | SinkErrorCode
  | MediaErrorCode
  | SipErrorCode
  | ConnectorErrorCode
  | StoreErrorCode
  | OutboundErrorCode
  | ConfigErrorCode;

export interface TokhostErrorOptions {
  /** The error this one wraps. */
  cause?: unknown;
  /** The REST body's `description`: detail beyond the short, stable `message` (default: the message). */
  description?: string;
}

/**
 * The base of every error the server throws on purpose. `code` says what went wrong (the
 * subclass narrows it to its area's codes), `message` is for people, `cause` keeps the error
 * underneath.
 *
 * @example
 * ```ts
 * throw new TokhostError('ERR_SESSION_NOT_FOUND', 'Session not found', { description: `Session ${id} does not exist in project ${apiKey}` });
 * ```
 */
export class TokhostError<C extends TokhostErrorCode = TokhostErrorCode> extends Error {
  override readonly name: string = 'TokhostError';
  readonly code: C;
  /** Detail for the REST body's `description` (defaults to `message`). */
  readonly description: string;

  constructor(code: C, message: string, options?: TokhostErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.description = options?.description ?? message;
  }
}

/** `ERR_REQUEST_INVALID` naming the offending field: `Invalid <field>: <what>`. */
export const invalid = (field: string, what: string): TokhostError<'ERR_REQUEST_INVALID'> => new TokhostError('ERR_REQUEST_INVALID', `Invalid ${field}: ${what}`);
