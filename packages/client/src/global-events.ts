import type { OTError } from './errors.js';
import { EventEmitter } from './events.js';
import { logger } from './log.js';

/** The emitter behind `OT.on` / `OT.once` / `OT.off` (OpenTok.js dispatches every `exception` there). */
export const otEvents = new EventEmitter();

/**
 * Report an error as OpenTok.js does: an `exception` event (`code`, `message`, `title`, and the
 * `error` itself) on `target` (a Session or Publisher, when there is one) and on `OT`.
 */
export function raiseException(target: EventEmitter | undefined, err: OTError): void {
  const props = { code: err.code, message: err.message, title: err.name, error: err };
  logger.error(`${err.name} (${err.code}): ${err.message}`);
  target?.emit('exception', props);
  otEvents.emit('exception', { ...props, target });
}
