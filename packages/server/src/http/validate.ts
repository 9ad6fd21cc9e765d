import { LAYOUT_TYPES, RESOLUTIONS, SCREENSHARE_LAYOUT_TYPES } from '@tokhost/protocol';
import type { LayoutJson, Resolution } from '@tokhost/protocol';
import { compileStylesheet, LayoutError, MAX_STYLESHEET_LENGTH } from '../compose/layout/index.js';
import { requireSession } from '../services/sessions.js';
import type { Store } from '../storage/store.js';
import { invalid, TokhostError } from '../errors.js';
import { OutboundError } from '../net/outbound.js';
import type { OutboundPolicy } from '../net/outbound.js';

/**
 * Small schema helpers for REST bodies: each names the field in its 400 message. Booleans accept
 * `"true"`/`"false"` strings because the Ruby SDK sends them that way (reference §3.4, §3.6).
 */
export type Json = Record<string, unknown>;

/** The body must be a JSON object. */
export function object(value: unknown, name = 'request body'): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TokhostError('ERR_REQUEST_INVALID', `Invalid ${name}`, { description: `${name} must be a JSON object` });
  return value as Json;
}

export function optString(body: Json, field: string, opts: { max?: number; min?: number; pattern?: RegExp; what?: string } = {}): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  if (opts.min !== undefined && v.length < opts.min) throw invalid(field, `must be at least ${opts.min} characters`);
  if (opts.max !== undefined && v.length > opts.max) throw invalid(field, `must be at most ${opts.max} characters`);
  if (opts.pattern && !opts.pattern.test(v)) throw invalid(field, opts.what ?? 'has an invalid format');
  return v;
}

export function reqString(body: Json, field: string, opts: Parameters<typeof optString>[2] = {}): string {
  const v = optString(body, field, opts);
  if (v === undefined || v === '') throw invalid(field, 'is required');
  return v;
}

export function optBool(body: Json, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(field, 'must be a boolean');
}

export function optInt(body: Json, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return v;
}

export function optNumber(body: Json, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalid(field, `must be a number from ${min} to ${max}`);
  return v;
}

export function optEnum<T extends string>(body: Json, field: string, values: readonly T[]): T | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !values.includes(v as T)) throw invalid(field, `must be one of ${values.join(', ')}`);
  return v as T;
}

export function optResolution(body: Json, field = 'resolution'): Resolution | undefined {
  return optEnum(body, field, RESOLUTIONS);
}

export function optStringArray(body: Json, field: string, opts: { maxItems?: number; maxLength?: number } = {}): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(field, 'must be an array of strings');
  if (opts.maxItems !== undefined && v.length > opts.maxItems) throw invalid(field, `must have at most ${opts.maxItems} items`);
  if (opts.maxLength !== undefined && v.some((x: string) => x.length > opts.maxLength!)) throw invalid(field, `items must be at most ${opts.maxLength} characters`);
  return v as string[];
}

/**
 * A layout `{type, stylesheet?, screenshareType?}` (reference §3.2): `type` one of OpenTok's five
 * (`focus` is a stream class, not a type); `stylesheet` required with `custom` and refused with
 * any other type (an empty one counts as absent, as opentok-node drops it); `screenshareType` only
 * with `bestFit` and never `custom`. A custom stylesheet is compiled here, so one outside
 * OpenTok's CSS subset is refused naming the construct before anything changes.
 */
export function layout(value: unknown, name = 'layout'): LayoutJson {
  const body = object(value, name);
  const field = (f: string): string => `${name}.${f}`;
  const enumOf = <T extends string>(f: string, values: readonly T[]): T | undefined => {
    const v = body[f];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !values.includes(v as T)) throw invalid(field(f), `must be one of ${values.join(', ')}`);
    return v as T;
  };
  const type = enumOf('type', LAYOUT_TYPES);
  if (!type) throw invalid(field('type'), `is required (one of ${LAYOUT_TYPES.join(', ')})`);
  const rawSheet = body['stylesheet'];
  if (rawSheet !== undefined && rawSheet !== null && typeof rawSheet !== 'string') throw invalid(field('stylesheet'), 'must be a string');
  const stylesheet = typeof rawSheet === 'string' && rawSheet !== '' ? rawSheet : undefined;
  const screenshareType = enumOf('screenshareType', SCREENSHARE_LAYOUT_TYPES);
  if (type === 'custom' && (!stylesheet || stylesheet.trim() === '')) throw invalid(field('stylesheet'), 'is required when type is custom');
  if (stylesheet && type !== 'custom') throw invalid(field('stylesheet'), 'is only allowed when type is custom');
  if (screenshareType && type !== 'bestFit') throw invalid(field('screenshareType'), 'is only allowed when type is bestFit');
  if (stylesheet) {
    if (stylesheet.length > MAX_STYLESHEET_LENGTH) throw invalid(field('stylesheet'), `must be at most ${MAX_STYLESHEET_LENGTH} characters`);
    try {
      compileStylesheet(stylesheet);
    } catch (e) {
      if (e instanceof LayoutError) throw invalid(field('stylesheet'), e.message);
      throw e;
    }
  }
  return { type, ...(stylesheet ? { stylesheet } : {}), ...(screenshareType ? { screenshareType } : {}) };
}

/**
 * Paging query of a project's list route. A `sessionId` filter must name a session of this
 * project: another project's session ID is refused like everywhere else, not answered with an
 * empty page.
 */
export function projectPaging(query: URLSearchParams, store: Store, apiKey: string): ReturnType<typeof paging> {
  const options = paging(query);
  if (options.sessionId !== undefined) requireSession(store, apiKey, options.sessionId);
  return options;
}

/** Paging query (`offset`, `count`, `sessionId`) of the list routes. */
export function paging(query: URLSearchParams): { offset: number; count: number; sessionId?: string } {
  const num = (name: string, def: number, min: number, max: number) => {
    const raw = query.get(name);
    if (raw === null || raw === '') return def;
    if (!/^\d{1,7}$/.test(raw)) throw invalid(name, `must be an integer from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw invalid(name, `must be an integer from ${min} to ${max}`);
    return n;
  };
  const sessionId = query.get('sessionId') ?? undefined;
  return { offset: num('offset', 0, 0, 1_000_000), count: num('count', 50, 1, 1000), ...(sessionId ? { sessionId } : {}) };
}

/**
 * Refuse a caller-named target the outbound policy refuses (docs/security.md, Outbound targets):
 * an IP literal at once, a host name after resolving it (every address). A name that does not
 * resolve now passes: the connection fails later and the output or call reports it.
 */
export async function requireOutbound(policy: OutboundPolicy, field: string, host: string): Promise<void> {
  try {
    await policy.resolve(host);
  } catch (err) {
    if (err instanceof OutboundError && err.code === 'ERR_OUTBOUND_REFUSED') {
      throw invalid(field, `names a ${err.rule} address${err.address !== err.host ? ` (${err.host} resolves to ${err.address})` : ''}, which the server's outbound policy refuses (rule: ${err.rule})`);
    }
  }
}
