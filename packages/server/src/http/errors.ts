import type { ErrorCode } from '@tokhost/protocol';
import { TokhostError, type ServerRestErrorCode } from '../errors.js';

/** Codes the server answers with: the shared protocol codes plus the server-only ones. */
export type ServerErrorCode = ErrorCode | ServerRestErrorCode;

/**
 * The one table mapping each error code to its HTTP status and the `code` field of the body
 * (OpenTok uses `-1` for auth failures, an application code such as 15008, or the status).
 */
export const ERROR_TABLE: { readonly [C in ServerErrorCode]: { status: number; bodyCode: number } } = {
  ERR_AUTH_MISSING: { status: 403, bodyCode: -1 },
  ERR_AUTH_INVALID: { status: 403, bodyCode: -1 },
  ERR_AUTH_EXPIRED: { status: 403, bodyCode: -1 },
  ERR_AUTH_FORBIDDEN: { status: 403, bodyCode: -1 },
  ERR_REQUEST_INVALID: { status: 400, bodyCode: 400 },
  ERR_REQUEST_BODY_TOO_LARGE: { status: 413, bodyCode: 413 },
  ERR_REQUEST_BODY_MALFORMED: { status: 400, bodyCode: 400 },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, bodyCode: 415 },
  ERR_NOT_FOUND: { status: 404, bodyCode: 404 },
  ERR_METHOD_NOT_ALLOWED: { status: 405, bodyCode: 405 },
  ERR_CONFLICT: { status: 409, bodyCode: 409 },
  ERR_SESSION_NOT_FOUND: { status: 404, bodyCode: 404 },
  ERR_SESSION_NOT_ROUTED: { status: 409, bodyCode: 15008 },
  ERR_SESSION_NO_CLIENTS: { status: 400, bodyCode: 400 },
  ERR_ARCHIVE_NOT_FOUND: { status: 404, bodyCode: 404 },
  ERR_ARCHIVE_IN_PROGRESS: { status: 409, bodyCode: 409 },
  ERR_ARCHIVE_NOT_RECORDING: { status: 409, bodyCode: 409 },
  ERR_ARCHIVE_STATUS: { status: 409, bodyCode: 409 },
  ERR_ARCHIVE_STREAM_MODE: { status: 405, bodyCode: 405 },
  ERR_BROADCAST_NOT_FOUND: { status: 404, bodyCode: 404 },
  ERR_BROADCAST_IN_PROGRESS: { status: 409, bodyCode: 409 },
  ERR_BROADCAST_NOT_ROUTED: { status: 409, bodyCode: 409 },
  ERR_STREAM_NOT_FOUND: { status: 404, bodyCode: 404 },
  ERR_CONNECTION_NOT_FOUND: { status: 404, bodyCode: 404 },
  ERR_SIGNAL_TOO_LARGE: { status: 413, bodyCode: 413 },
  ERR_SIP_NOT_ROUTED: { status: 409, bodyCode: 409 },
  ERR_SESSION_E2EE: { status: 409, bodyCode: 409 },
  ERR_NOT_IMPLEMENTED: { status: 501, bodyCode: 501 },
  ERR_INTERNAL: { status: 500, bodyCode: 500 },
  /** Cluster mode: the node that owns the session did not answer a forwarded call (it may be failing over). */
  ERR_OWNER_UNAVAILABLE: { status: 503, bodyCode: 503 },
};

/**
 * An error the REST layer answers with. The status and the body's `code` come from
 * {@link ERROR_TABLE}; `message` is what opentok-node surfaces, `description` adds detail.
 */
export class HttpError extends TokhostError<ServerErrorCode> {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly bodyCode: number;
  constructor(code: ServerErrorCode, message: string, description: string = message, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(code, message, { cause: options?.cause, description });
    this.status = ERROR_TABLE[code].status;
    this.bodyCode = ERROR_TABLE[code].bodyCode;
    this.headers = options?.headers ?? {};
  }
  readonly headers: Record<string, string>;

  /** `{code, message, description}` (reference §4.1). */
  body(): { code: number; message: string; description: string } {
    return { code: this.bodyCode, message: this.message, description: this.description };
  }
}

/** 400 naming the offending field. */
export const invalid = (field: string, what: string): HttpError => new HttpError('ERR_REQUEST_INVALID', `Invalid ${field}: ${what}`);
