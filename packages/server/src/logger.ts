import { pino } from 'pino';
import type { Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear, as a second line of defence: the server never
 * logs request headers or bodies, but a future log call must not leak a secret or token.
 */
export const REDACTED_PATHS = [
  'apiSecret',
  '*.apiSecret',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'headers["x-opentok-auth"]',
  'headers["x-tb-partner-auth"]',
  'headers.authorization',
  '*.headers["x-opentok-auth"]',
  '*.headers["x-tb-partner-auth"]',
  '*.headers.authorization',
];

/**
 * Structured JSON logger (pino). `destination` defaults to stdout; tests pass a stream to
 * capture what is logged.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { name: 'tokhost' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
