/**
 * Error classes of the SDK. The class names are the ones opentok-node exports (`OpenTok.ArchiveError`
 * …) so `instanceof` checks in existing apps keep working; unlike opentok-node they are real `Error`
 * subclasses with a `name`, a typed `code`, the HTTP `status` and the server's own `code`/`message`.
 */

/** Every `code` an SDK error can carry. */
export type OpenTokErrorCode =
  | 'ERR_SDK_ARGUMENT'
  | 'ERR_SDK_AUTH'
  | 'ERR_SDK_NOT_FOUND'
  | 'ERR_SDK_ARCHIVE'
  | 'ERR_SDK_SIGNAL'
  | 'ERR_SDK_FORCE_DISCONNECT'
  | 'ERR_SDK_SIP'
  | 'ERR_SDK_CAPTIONS'
  | 'ERR_SDK_REQUEST'
  | 'ERR_SDK_NETWORK'
  | 'ERR_SDK_TIMEOUT';

/** What the server said, when an error comes from an HTTP response. */
export interface ErrorResponseDetails {
  /** HTTP status code. */
  status?: number;
  /** The `code` field of the server's error body (`-1`, `15008`, …), when it sent one. */
  serverCode?: number | string;
  /** The `message` field of the server's error body, or its raw text when it was not JSON. */
  serverMessage?: string;
  /** The parsed response body (JSON value, or the raw text). */
  body?: unknown;
  /** The underlying error (network failure, abort, JSON parse …). */
  cause?: unknown;
}

/** Base class of every error the SDK raises. */
export class OpenTokError extends Error {
  /** Machine-readable reason, `ERR_SDK_*`. */
  readonly code: OpenTokErrorCode;
  /** HTTP status of the response that caused the error; `undefined` for local and network errors. */
  readonly status: number | undefined;
  /** The server's `code` from its error body (`{"code":…, "message":…}`). */
  readonly serverCode: number | string | undefined;
  /** The server's `message` from its error body. */
  readonly serverMessage: string | undefined;
  /** The parsed response body. */
  readonly body: unknown;

  constructor(code: OpenTokErrorCode, message: string, details: ErrorResponseDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = details.status;
    this.serverCode = details.serverCode;
    this.serverMessage = details.serverMessage;
    this.body = details.body;
  }

  /** Alias of {@link OpenTokError.status} under the name other Node HTTP clients use. */
  get statusCode(): number | undefined {
    return this.status;
  }
}

/** An argument or option failed validation before any request was made (or the server said 400 on a stream PATCH). */
export class ArgumentError extends OpenTokError {
  constructor(message: string, details?: ErrorResponseDetails) {
    super('ERR_SDK_ARGUMENT', message, details);
  }
}

/** The server rejected the credentials (HTTP 401/403). */
export class AuthError extends OpenTokError {
  constructor(message = 'Invalid API key or secret', details?: ErrorResponseDetails) {
    super('ERR_SDK_AUTH', message, details);
  }
}

/** The resource does not exist (HTTP 404) where no more specific class applies. */
export class NotFoundError extends OpenTokError {
  constructor(message = 'Not Found', details?: ErrorResponseDetails) {
    super('ERR_SDK_NOT_FOUND', message, details);
  }
}

/** An archive operation failed for an archive-specific reason (not found, already recording, wrong stream mode). */
export class ArchiveError extends OpenTokError {
  constructor(message: string, details?: ErrorResponseDetails) {
    super('ERR_SDK_ARCHIVE', message, details);
  }
}

/** A signal could not be delivered (session or connection not found, payload too large). */
export class SignalError extends OpenTokError {
  constructor(message: string, details?: ErrorResponseDetails) {
    super('ERR_SDK_SIGNAL', message, details);
  }
}

/** `forceDisconnect` failed because the session or connection was not found. */
export class ForceDisconnectError extends OpenTokError {
  constructor(message: string, details?: ErrorResponseDetails) {
    super('ERR_SDK_FORCE_DISCONNECT', message, details);
  }
}

/** A SIP dial or DTMF request was refused (bad SIP URI/header/digits, session not routed). */
export class SipError extends OpenTokError {
  constructor(message: string, details?: ErrorResponseDetails) {
    super('ERR_SDK_SIP', message, details);
  }
}

/** Live captions could not be started (already running for the session: HTTP 409). */
export class CaptionsError extends OpenTokError {
  constructor(message = 'Live captions have already started for this OpenTok Session', details?: ErrorResponseDetails) {
    super('ERR_SDK_CAPTIONS', message, details);
  }
}

/**
 * Any other failure: an unexpected HTTP status (`code: 'ERR_SDK_REQUEST'`), a network failure
 * (`'ERR_SDK_NETWORK'`, the fetch error in `cause`) or the configured timeout (`'ERR_SDK_TIMEOUT'`).
 */
export class RequestError extends OpenTokError {
  constructor(
    message = 'Unexpected response from OpenTok',
    details?: ErrorResponseDetails,
    code: 'ERR_SDK_REQUEST' | 'ERR_SDK_NETWORK' | 'ERR_SDK_TIMEOUT' = 'ERR_SDK_REQUEST',
  ) {
    super(code, message, details);
  }
}
