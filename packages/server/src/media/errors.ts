import { TokhostError, type MediaErrorCode } from '../errors.js';

/** Error codes of the media layer. */
export type { MediaErrorCode };

const CODES: ReadonlySet<string> = new Set<MediaErrorCode>([
  'ERR_MEDIA_INVALID_OPTION',
  'ERR_MEDIA_INVALID_SDP',
  'ERR_MEDIA_INVALID_CANDIDATE',
  'ERR_MEDIA_INVALID_STATE',
  'ERR_MEDIA_DUPLICATE_ID',
  'ERR_MEDIA_PUBLISHER_NOT_FOUND',
  'ERR_MEDIA_SUBSCRIBER_NOT_FOUND',
  'ERR_MEDIA_CLOSED',
  'ERR_MEDIA_TIMEOUT',
  'ERR_MEDIA_WORKER',
  'ERR_MEDIA_ENGINE',
]);

/**
 * Every failure of the media router. `code` says what went wrong; bad input names the field in
 * `message`. Errors raised inside a worker process cross IPC as `{ code, message }` and are
 * re-created here.
 */
export class MediaError extends TokhostError<MediaErrorCode> {
  override readonly name = 'MediaError';

  /** Re-creates an error that crossed the worker boundary. */
  static fromWire(e: { code: string; message: string }): MediaError {
    return new MediaError(CODES.has(e.code) ? (e.code as MediaErrorCode) : 'ERR_MEDIA_ENGINE', e.message);
  }
}
