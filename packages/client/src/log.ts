/**
 * OpenTok.js logging: `OT.setLogLevel(level)` with the levels `OT.NONE` (0) … `OT.SPAM` (6), and
 * `OT.error/warn/info/log/debug(...)`, which print to the console when the level allows them. The
 * default level is `OT.WARN`, as in OpenTok.js.
 */
export const LOG_LEVELS = { NONE: 0, ERROR: 1, WARN: 2, INFO: 3, LOG: 4, DEBUG: 5, SPAM: 6 } as const;

let level: number = LOG_LEVELS.WARN;

/**
 * Set the level (OpenTok.js `OT.setLogLevel`). A value that is not one of the levels logs an
 * error and falls back to `OT.WARN`, like OpenTok.js. Returns the level now in force.
 */
export function setLogLevel(value: number): number {
  if (!Object.values(LOG_LEVELS).includes(value as 0)) {
    emit(LOG_LEVELS.ERROR, 'error', [`OT.setLogLevel: level must be one of ${Object.entries(LOG_LEVELS).map(([k, v]) => `OT.${k} = ${v}`).join(', ')}; using OT.WARN`]);
    level = LOG_LEVELS.WARN;
    return level;
  }
  level = value;
  return level;
}

export function getLogLevel(): number {
  return level;
}

function emit(priority: number, method: 'error' | 'warn' | 'info' | 'log' | 'debug', args: unknown[]): void {
  if (priority > level) return;
  // The console is the output OpenTok.js writes to as well.
  console[method]('OT:', ...args);
}

export const logger = {
  error: (...args: unknown[]) => emit(LOG_LEVELS.ERROR, 'error', args),
  warn: (...args: unknown[]) => emit(LOG_LEVELS.WARN, 'warn', args),
  info: (...args: unknown[]) => emit(LOG_LEVELS.INFO, 'info', args),
  log: (...args: unknown[]) => emit(LOG_LEVELS.LOG, 'log', args),
  debug: (...args: unknown[]) => emit(LOG_LEVELS.DEBUG, 'debug', args),
};
