/**
 * The one signal rule (reference §3.5), shared by the REST route, the realtime layer and the SDK:
 * `type` optional, a string of at most {@link LIMITS.signalTypeMax} characters of
 * {@link SIGNAL_TYPE_PATTERN}; `data` optional, a string of at most
 * {@link LIMITS.signalDataMaxBytes} UTF-8 bytes. A `null` type counts as no type (some SDKs send
 * it for an untyped signal); a `null` data is refused, as OpenTok refuses it. Each surface turns
 * the {@link SignalProblem} into its own error (a 400/413, a realtime error, an SDK ArgumentError).
 */
import { LIMITS, SIGNAL_TYPE_PATTERN } from './rest.js';

/** What is wrong with a signal, or `null` from {@link signalProblem} when nothing is. */
export type SignalProblem =
  | { field: 'type' | 'data'; reason: 'not-string' }
  | { field: 'type'; reason: 'too-long'; max: number }
  | { field: 'type'; reason: 'characters' }
  | { field: 'data'; reason: 'too-large'; maxBytes: number };

/** Checks a signal's `type` and `data` (either may be `undefined`: absent). */
export function signalProblem(type: unknown, data: unknown): SignalProblem | null {
  if (type !== undefined && type !== null && typeof type !== 'string') return { field: 'type', reason: 'not-string' };
  if (data !== undefined && typeof data !== 'string') return { field: 'data', reason: 'not-string' };
  if (typeof type === 'string') {
    if (type.length > LIMITS.signalTypeMax) return { field: 'type', reason: 'too-long', max: LIMITS.signalTypeMax };
    if (!SIGNAL_TYPE_PATTERN.test(type)) return { field: 'type', reason: 'characters' };
  }
  if (typeof data === 'string' && utf8Length(data) > LIMITS.signalDataMaxBytes) return { field: 'data', reason: 'too-large', maxBytes: LIMITS.signalDataMaxBytes };
  return null;
}

/** True when the problem is one of size (OpenTok answers 413 for these, 400 for the others). */
export const isSignalTooLarge = (p: SignalProblem): boolean => p.reason === 'too-long' || p.reason === 'too-large';

/** UTF-8 byte length without encoding (no allocation on the signal path; isomorphic). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
