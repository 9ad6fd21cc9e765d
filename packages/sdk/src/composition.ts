/**
 * What archives and broadcasts have in common (reference §3.2, §3.3): the composed-output options,
 * stream selection, list paging and the shape of their responses. Each rule lives here once; the
 * two resource modules add only their own (output mode, HLS/RTMP outputs …).
 */
import { LIMITS, RESOLUTIONS, STREAM_MODES } from '@tokhost/protocol';
import type { ListJson, Resolution, StreamMode } from '@tokhost/protocol';
import { RequestError } from './errors.js';
import type { ApiResponse } from './transport.js';
import { checkLayout, fail, optionalBoolean, optionalInteger, optionalOneOf, optionalString, optionsObject } from './validate.js';
import type { Layout } from './validate.js';

/** Options of `listArchives` / `listBroadcasts`. */
export interface ListArchivesOptions {
  /** Index of the first item (0 = most recent). */
  offset?: number;
  /** How many items, 1–1000 (server default 50). */
  count?: number;
  /** Only items of this session. */
  sessionId?: string;
}

/** Audio/video selection when adding a stream to a manual-mode archive or broadcast. */
export interface StreamSelectionOptions {
  /** Include the stream's audio. Default `true`. */
  hasAudio?: boolean;
  /** Include the stream's video. Default `true`. */
  hasVideo?: boolean;
}

/** The options of a composed recording or broadcast that both resources accept. */
export interface CompositionOptions {
  hasAudio?: boolean;
  hasVideo?: boolean;
  resolution?: Resolution;
  layout?: Layout;
  streamMode?: StreamMode;
  maxBitrate?: number;
}

/** The checked {@link CompositionOptions}: each is `undefined` when not given. */
export interface CheckedComposition {
  hasAudio: boolean | undefined;
  hasVideo: boolean | undefined;
  resolution: Resolution | undefined;
  layout: Layout | undefined;
  streamMode: StreamMode | undefined;
  maxBitrate: number | undefined;
}

/** Check the shared options; an `ArgumentError` names the first bad one. */
export function checkComposition(o: Partial<CompositionOptions>): CheckedComposition {
  const hasAudio = optionalBoolean('hasAudio', o.hasAudio);
  const hasVideo = optionalBoolean('hasVideo', o.hasVideo);
  if (hasAudio === false && hasVideo === false) fail('hasAudio and hasVideo cannot both be false');
  return {
    hasAudio,
    hasVideo,
    resolution: optionalOneOf('resolution', o.resolution, RESOLUTIONS),
    layout: o.layout === undefined ? undefined : checkLayout('layout', o.layout),
    streamMode: optionalOneOf('streamMode', o.streamMode, STREAM_MODES),
    maxBitrate: optionalInteger('maxBitrate', o.maxBitrate, 1, Number.MAX_SAFE_INTEGER),
  };
}

/** Query of a list call; opentok-node omits falsy values (offset 0 is never sent), in this order. */
export function checkListOptions(value: unknown): Array<[string, string]> {
  const o = optionsObject<ListArchivesOptions>('options', value);
  const offset = optionalInteger('offset', o.offset, 0, Number.MAX_SAFE_INTEGER);
  const count = optionalInteger('count', o.count, 1, LIMITS.listCountMax);
  const sessionId = optionalString('sessionId', o.sessionId);
  const query: Array<[string, string]> = [];
  if (offset) query.push(['offset', String(offset)]);
  if (count) query.push(['count', String(count)]);
  if (sessionId) query.push(['sessionId', sessionId]);
  return query;
}

/** `hasAudio`/`hasVideo` of an added stream, both defaulting to `true`. */
export function checkSelection(value: unknown): { hasAudio: boolean; hasVideo: boolean } {
  const o = optionsObject<StreamSelectionOptions>('options', value);
  return { hasAudio: optionalBoolean('hasAudio', o.hasAudio) ?? true, hasVideo: optionalBoolean('hasVideo', o.hasVideo) ?? true };
}

/** The response body as a JSON object, else a `RequestError` saying what was expected (`what`). */
export function jsonObject(res: ApiResponse, what: string): Record<string, unknown> {
  const body = res.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError(`Unexpected response from OpenTok: ${what} is not a JSON object`, { status: res.status, body });
  }
  return body as Record<string, unknown>;
}

/** A `{count, items}` list response as `{items, totalCount}`, each item wrapped. */
export function pageOf<T>(res: ApiResponse, what: string, wrap: (item: Record<string, unknown>) => T): { items: T[]; totalCount: number } {
  const json = jsonObject(res, what) as Partial<ListJson<Record<string, unknown>>>;
  const items = Array.isArray(json.items) ? json.items.map(wrap) : [];
  return { items, totalCount: typeof json.count === 'number' ? json.count : items.length };
}
