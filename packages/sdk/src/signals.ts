/**
 * Signals to every client of a session or to one connection (reference §3.5).
 */
import { signalProblem } from '@tokhost/protocol';
import { SignalError } from './errors.js';
import type { ErrorMapper, Transport } from './transport.js';
import { details } from './transport.js';
import { fail, optionsObject, requireId } from './validate.js';

/** A signal's content. */
export interface SignalPayload {
  /** ≤ 128 characters of `A-Z a-z 0-9 - _ ~`. */
  type?: string;
  /** ≤ 8 kB (UTF-8 bytes). */
  data?: string;
}

/** opentok-node's text for a missing session ID or payload. */
const NO_SESSION_OR_PAYLOAD = 'No sessionId or payload given to signal';

export function checkSignalPayload(value: unknown): SignalPayload {
  if (value === undefined || value === null) fail(NO_SESSION_OR_PAYLOAD);
  const o = optionsObject<SignalPayload>('payload', value);
  const problem = signalProblem(o.type, o.data);
  if (problem) {
    switch (problem.reason) {
      case 'not-string':
        return fail(`payload.${problem.field} must be a string`);
      case 'too-long':
        return fail(`payload.type must be at most ${problem.max} characters`);
      case 'characters':
        return fail('payload.type may only contain A-Z, a-z, 0-9, "-", "_" and "~"');
      case 'too-large':
        return fail(`payload.data must be at most ${problem.maxBytes} bytes`);
    }
  }
  return { ...(typeof o.type === 'string' ? { type: o.type } : {}), ...(o.data !== undefined ? { data: o.data } : {}) };
}

const mapSignal: ErrorMapper = (ctx) => {
  if (ctx.status === 404) return new SignalError('Session or Connection not found', details(ctx));
  if (ctx.status === 413) return new SignalError(ctx.serverMessage || 'Signal type or data too large', details(ctx));
  return undefined;
};

/** Signalling of one project. */
export class SignalService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/session`;
  }

  /** Send `payload` to the whole session, or to `connectionId` only. */
  async signal(sessionId: string, payload: SignalPayload, connectionId?: string | null): Promise<void> {
    requireId('sessionId', sessionId, NO_SESSION_OR_PAYLOAD);
    const body = checkSignalPayload(payload);
    let path = `${this.#base}/${encodeURIComponent(sessionId)}`;
    // opentok-node treats any falsy connection ID as "the whole session".
    if (connectionId !== undefined && connectionId !== null && connectionId !== '') path += `/connection/${encodeURIComponent(requireId('connectionId', connectionId))}`;
    await this.#transport.request({ method: 'POST', path: path + '/signal', json: body }, mapSignal);
  }
}
