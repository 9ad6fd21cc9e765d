import { TokhostError, type TokhostErrorCode } from '../errors.js';

/** How the REST edge answers one error code. */
export interface RestMapping {
  /** HTTP status. */
  readonly status: number;
  /** The body's `code` (OpenTok uses `-1` for auth failures, an application code such as 15008, or the status). */
  readonly bodyCode: number;
  /**
   * The body's `message` when it is fixed for the code: the error's own message then goes to
   * `description`. Used for the errors of the areas below the REST layer, whose messages are
   * for operators, while opentok-node surfaces only `message`.
   */
  readonly message?: string;
  /** When the code is answered (the last column of docs/errors.md). */
  readonly when: string;
}

/**
 * The one table mapping each error code the REST API answers with to its HTTP status and body;
 * every other error is a 500 `ERR_INTERNAL`. docs/errors.md is generated from it
 * (test/rest/errors-doc.test.ts).
 */
export const ERROR_TABLE = {
  ERR_AUTH_MISSING: { status: 403, bodyCode: -1, when: 'no `X-OPENTOK-AUTH` / `Authorization: Bearer` / `X-TB-PARTNER-AUTH` header ("No suitable authentication found")' },
  ERR_AUTH_INVALID: {
    status: 403,
    bodyCode: -1,
    when: 'malformed JWT, algorithm other than HS256 (incl. `none`), unknown issuer ("Issuer not found"), bad `iss` ("Invalid issuer format"), bad signature ("Invalid signature"), `ist` other than `project`, lifetime over 300 s, missing `exp`; wrong legacy credentials ("Invalid partner credentials"); Bearer: not RS256, unknown `application_id` ("Issuer not found"), signed by another key, `iss` other than the application, lifetime over 24 h (docs/applications.md)',
  },
  ERR_AUTH_EXPIRED: { status: 403, bodyCode: -1, when: '`exp` in the past, or `iat` in the future, beyond the clock skew' },
  ERR_AUTH_FORBIDDEN: { status: 403, bodyCode: -1, when: "the API key in the path is not the JWT's `iss` (nor one of its project's applications); with Bearer, the path ID is not the token's `application_id`" },
  ERR_REQUEST_INVALID: { status: 400, bodyCode: 400, when: 'a field or path ID fails validation; the message names it (`Invalid archiveMode: …`)' },
  ERR_REQUEST_BODY_TOO_LARGE: { status: 413, bodyCode: 413, when: 'the body exceeds `maxBodyBytes` (default 100 KiB)' },
  ERR_REQUEST_BODY_MALFORMED: { status: 400, bodyCode: 400, when: 'the body is not valid JSON' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, bodyCode: 415, when: 'a JSON route got another `Content-Type` (JSON, `text/plain` and none are accepted)' },
  ERR_NOT_FOUND: { status: 404, bodyCode: 404, when: 'no REST resource at this path' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, bodyCode: 405, when: 'the path exists with other methods (`Allow` header lists them)' },
  ERR_CONFLICT: { status: 409, bodyCode: 409, when: 'a write collided with existing state' },
  ERR_SESSION_NOT_FOUND: { status: 404, bodyCode: 404, when: "the session does not exist in this project (also another project's session)" },
  ERR_SESSION_NOT_ROUTED: { status: 409, bodyCode: 15008, when: 'archive start on a relayed session: "Only routed sessions are allowed to initiate archives."' },
  ERR_SESSION_NO_CLIENTS: { status: 400, bodyCode: 400, when: 'archive or broadcast start on a session with no connected client ("No clients are connected to the session")' },
  ERR_ARCHIVE_NOT_FOUND: { status: 404, bodyCode: 404, when: 'unknown archive ID in this project' },
  ERR_ARCHIVE_IN_PROGRESS: { status: 409, bodyCode: 409, when: 'the session is already recorded without a distinct `multiArchiveTag`' },
  ERR_ARCHIVE_NOT_RECORDING: { status: 409, bodyCode: 409, when: 'stop / stream change of an archive whose status is not `started` or `paused`' },
  ERR_ARCHIVE_STATUS: { status: 409, bodyCode: 409, when: 'delete of an archive still recording; layout of an individual archive' },
  ERR_ARCHIVE_STREAM_MODE: { status: 405, bodyCode: 405, when: 'stream change on an archive or broadcast started with `streamMode: auto`' },
  ERR_BROADCAST_NOT_FOUND: { status: 404, bodyCode: 404, when: 'unknown or already stopped broadcast' },
  ERR_BROADCAST_IN_PROGRESS: { status: 409, bodyCode: 409, when: 'the session already has a broadcast without a distinct `multiBroadcastTag`' },
  ERR_BROADCAST_NOT_ROUTED: { status: 409, bodyCode: 409, when: 'broadcast start on a relayed session' },
  ERR_STREAM_NOT_FOUND: { status: 404, bodyCode: 404, when: 'no such stream in the session' },
  ERR_CONNECTION_NOT_FOUND: { status: 404, bodyCode: 404, when: 'no such connection in the session' },
  ERR_SIGNAL_TOO_LARGE: { status: 413, bodyCode: 413, when: 'signal `type` over 128 characters or `data` over 8 kB' },
  ERR_RENDER_NOT_FOUND: { status: 404, bodyCode: 404, when: 'unknown render ID in this project; stop of a render that is no longer running' },
  ERR_RENDER_NOT_ROUTED: { status: 409, bodyCode: 409, when: 'render start on a relayed session (Experience Composer needs the media router)' },
  ERR_SIP_NOT_ROUTED: { status: 409, bodyCode: 409, when: 'SIP dial into a relayed session' },
  ERR_SESSION_E2EE: {
    status: 409,
    bodyCode: 409,
    when: 'archive start, broadcast start or SIP dial on an end-to-end encrypted (`e2ee`) session: the server cannot decode its media ([e2ee.md](e2ee.md))',
  },
  ERR_NOT_IMPLEMENTED: {
    status: 501,
    bodyCode: 501,
    when: 'every precondition holds but the feature needs a part this server does not have yet (recorder, broadcast composer, SIP gateway) — see `docs/rest-api.md`',
  },
  ERR_INTERNAL: { status: 500, bodyCode: 500, when: 'a bug (logged with its stack, never with secrets), the server shutting down, or a failing part (broadcast compositor)' },
  ERR_OWNER_UNAVAILABLE: { status: 503, bodyCode: 503, when: 'cluster mode: the node that owns the session did not answer a forwarded call (it may be failing over; retry in a few seconds)' },
  ERR_RATE_LIMITED: { status: 429, bodyCode: 429, when: 'more REST signals per second than `restSignalRatePerProject` allows the project (answered with `Retry-After: 1`), or more stream thumbnails decoding at once than the server allows' },
  ERR_THUMBNAIL_UNAVAILABLE: { status: 503, bodyCode: 503, when: 'a stream thumbnail: no picture arrived from the media router in time (the stream sends no video now), or the server is shutting down' },
  ERR_LIMIT_EXCEEDED: {
    status: 429,
    bodyCode: 429,
    when: 'a concurrency limit: archives, broadcasts or SIP calls per session or project, renders per server; the description names the setting (429, not 403: opentok-node turns every 403 into "Invalid API key or secret")',
  },

  // The errors of the areas below the REST layer that a route lets through.
  ERR_LIVE_CONNECTION_NOT_FOUND: { status: 404, bodyCode: 404, message: 'Connection not found', when: 'signal, force disconnect or connection list names a connection not connected to the session' },
  ERR_LIVE_STREAM_NOT_FOUND: { status: 404, bodyCode: 404, message: 'Stream not found', when: 'stream layout, force mute or stream info names a stream not published in the session' },
  ERR_RECORDING_NOT_ACTIVE: { status: 409, bodyCode: 409, message: 'Archive is not currently recording', when: 'stop / layout / stream change of an archive the archiver is not recording' },
  ERR_RECORDING_STREAM_MODE: { status: 405, bodyCode: 405, message: 'Unsupported Stream Mode', when: 'stream change on an archive started with `streamMode: auto`' },
  ERR_RECORDING_NOT_COMPOSED: { status: 409, bodyCode: 409, message: 'Layouts apply to composed archives only', when: 'layout change of an individual archive' },
  ERR_SIP_UNSUPPORTED: { status: 501, bodyCode: 501, message: 'Not supported', when: 'SIP dial asking for a part this server runs without (`sip.video` without the compositor)' },
  ERR_SIP_UNAVAILABLE: { status: 500, bodyCode: 500, message: 'SIP gateway unavailable', when: 'the SIP gateway is shut down or its user agent could not start or send' },
  ERR_CONNECT_NOT_FOUND: { status: 404, bodyCode: 404, when: 'stop of an Audio Connector connection this project does not have live (`POST …/connect/{id}/stop`)' },
  ERR_CONNECT_UNAVAILABLE: { status: 500, bodyCode: 500, message: 'Audio Connector unavailable', when: 'Audio Connector `/connect` while the server is shutting down' },
  ERR_STORE_CONFLICT: { status: 409, bodyCode: 409, message: 'Conflict', when: 'a store write collided with existing state' },
} as const satisfies { readonly [C in TokhostErrorCode]?: RestMapping };

/** The codes the REST API answers with. */
export type RestErrorCode = keyof typeof ERROR_TABLE;

/** An error body, `{code, message, description}` (reference §4.1). */
export interface ErrorBody {
  code: number;
  message: string;
  description: string;
}

/** True when `err` is a server error the REST edge answers with its own status. */
export function isRestError(err: unknown): err is TokhostError<RestErrorCode> {
  return err instanceof TokhostError && Object.hasOwn(ERROR_TABLE, err.code);
}

/** The HTTP answer to `err` per {@link ERROR_TABLE}, or undefined when the table has no row for it (a 500). */
export function restAnswer(err: unknown): { status: number; code: RestErrorCode; body: ErrorBody } | undefined {
  if (!isRestError(err)) return undefined;
  const row: RestMapping = ERROR_TABLE[err.code];
  return { status: row.status, code: err.code, body: { code: row.bodyCode, message: row.message ?? err.message, description: err.description } };
}
