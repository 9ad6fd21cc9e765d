import { LiveError } from '../services/live.js';
import { HttpError } from './errors.js';

/** Run a `LiveSessions` call, turning its `LiveError`s into 404s (reference §2.3). */
export function viaLive<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LiveError) {
      const code = err.kind === 'connection-not-found' ? 'ERR_CONNECTION_NOT_FOUND' : err.kind === 'stream-not-found' ? 'ERR_STREAM_NOT_FOUND' : 'ERR_SESSION_NOT_FOUND';
      const message = err.kind === 'connection-not-found' ? 'Connection not found' : err.kind === 'stream-not-found' ? 'Stream not found' : 'Session not found';
      throw new HttpError(code, message, err.message, { cause: err });
    }
    throw err;
  }
}
