import { LiveError } from '../services/live.js';
import { HttpError } from './errors.js';

/** Run a `LiveSessions` call, turning its `LiveError`s into 404s (reference §2.3). */
export function viaLive<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LiveError) {
      const code = err.code === 'ERR_LIVE_CONNECTION_NOT_FOUND' ? 'ERR_CONNECTION_NOT_FOUND' : err.code === 'ERR_LIVE_STREAM_NOT_FOUND' ? 'ERR_STREAM_NOT_FOUND' : 'ERR_SESSION_NOT_FOUND';
      const message = err.code === 'ERR_LIVE_CONNECTION_NOT_FOUND' ? 'Connection not found' : err.code === 'ERR_LIVE_STREAM_NOT_FOUND' ? 'Stream not found' : 'Session not found';
      throw new HttpError(code, message, err.message, { cause: err });
    }
    throw err;
  }
}
