import type { RtError } from '@tokhost/protocol';

/**
 * Errors raised to callbacks and `exception` events, with OpenTok.js names and numeric codes
 * (e.g. `OT_AUTHENTICATION_ERROR` / 1004). `tokhostCode` keeps the server's `ERR_RT_*` code.
 */
export class OTError extends Error {
  readonly code: number;
  readonly tokhostCode: string | undefined;
  constructor(name: string, code: number, message: string, options?: { cause?: unknown; tokhostCode?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = name;
    this.code = code;
    this.tokhostCode = options?.tokhostCode;
  }

  static fromWire(e: RtError): OTError {
    return new OTError(e.name, e.otCode, e.message, { tokhostCode: e.code });
  }
}

export const ERRORS = {
  notConnected: (what: string) => new OTError('OT_NOT_CONNECTED', 1010, `${what}: the session is not connected`),
  invalidParameter: (message: string) => new OTError('OT_INVALID_PARAMETER', 1011, message),
  connectFailed: (message: string, cause?: unknown) => new OTError('OT_CONNECT_FAILED', 1006, message, { cause }),
  mediaAccessDenied: (message: string, cause?: unknown) => new OTError('OT_USER_MEDIA_ACCESS_DENIED', 1500, message, { cause }),
  hardwareUnavailable: (message: string, cause?: unknown) => new OTError('OT_HARDWARE_UNAVAILABLE', 1500, message, { cause }),
  /** OpenTok.js's name for a publish that failed after the media was open. */
  unableToPublish: (message: string, cause?: unknown) => new OTError('OT_STREAM_CREATE_FAILED', 1500, message, { cause }),
  /** OpenTok.js uses one name for both ends' ICE failures; the code tells them apart. */
  subscriberIceFailed: (message: string) => new OTError('OT_ICE_WORKFLOW_FAILED', 1554, message),
  publisherIceFailed: (message: string) => new OTError('OT_ICE_WORKFLOW_FAILED', 1553, message),
  notSupported: (message: string) => new OTError('OT_NOT_SUPPORTED', 1011, message),
  timeout: (message: string) => new OTError('OT_TIMEOUT', 1008, message),
};
