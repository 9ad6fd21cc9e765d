/**
 * Archives (reference §3.2, objects §4.2).
 */
import { LIMITS, OUTPUT_MODES, RESOLUTIONS, STREAM_MODES } from '@tokhost/protocol';
import type { ArchiveJson, ListJson, OutputMode, Resolution, StreamMode } from '@tokhost/protocol';
import { settle } from './callback.js';
import type { Callback } from './callback.js';
import { ArchiveError, ArgumentError, NotFoundError, RequestError } from './errors.js';
import type { ErrorMapper, Transport } from './transport.js';
import { details } from './transport.js';
import {
  checkLayout,
  fail,
  optionalBoolean,
  optionalInteger,
  optionalOneOf,
  optionalString,
  optionsObject,
  put,
  requireId,
} from './validate.js';
import type { Layout } from './validate.js';

/** Options of `startArchive`. */
export interface ArchiveOptions {
  /** Archive name (≤ 80 characters). */
  name?: string;
  /** Record audio. Default `true`. Not both `hasAudio` and `hasVideo` may be `false`. */
  hasAudio?: boolean;
  /** Record video. Default `true`. */
  hasVideo?: boolean;
  /** `"composed"` (default, one file) or `"individual"` (one file per stream). */
  outputMode?: OutputMode;
  /** Resolution of a composed archive. Default `"640x480"`. */
  resolution?: Resolution;
  /** Layout of a composed archive. */
  layout?: Layout;
  /** `"auto"` (default: every stream) or `"manual"` (use addArchiveStream). */
  streamMode?: StreamMode;
  /** Tag that allows several simultaneous archives of one session. */
  multiArchiveTag?: string;
  /** Maximum bitrate of a composed archive, bits per second. */
  maxBitrate?: number;
  /** Quantization parameter (15–40) of a composed archive; not with `maxBitrate`. */
  quantizationParameter?: number;
}

/** Options of `listArchives`. */
export interface ListArchivesOptions {
  /** Index of the first archive (0 = most recent). */
  offset?: number;
  /** How many archives, 1–1000 (server default 50). */
  count?: number;
  /** Only archives of this session. */
  sessionId?: string;
}

/** Audio/video selection when adding a stream to a manual-mode archive or broadcast. */
export interface StreamSelectionOptions {
  /** Include the stream's audio. Default `true`. */
  hasAudio?: boolean;
  /** Include the stream's video. Default `true`. */
  hasVideo?: boolean;
}

/** An archive as the API reports it, with `stop()` and `delete()` shortcuts. */
export interface Archive extends ArchiveJson {
  stop(): Promise<Archive>;
  stop(callback: Callback<Archive>): void;
  delete(): Promise<void>;
  delete(callback: Callback<void>): void;
}

/** A page of archives; `totalCount` is the server's `count` (total matching archives). */
export interface ArchiveList {
  items: Archive[];
  totalCount: number;
}

export function checkArchiveOptions(value: unknown): Record<string, unknown> {
  const o = optionsObject<ArchiveOptions>('options', value);
  const out: Record<string, unknown> = {};
  put(out, 'name', optionalString('name', o.name, LIMITS.archiveNameMax));
  const hasAudio = optionalBoolean('hasAudio', o.hasAudio);
  const hasVideo = optionalBoolean('hasVideo', o.hasVideo);
  if (hasAudio === false && hasVideo === false) fail('hasAudio and hasVideo cannot both be false');
  put(out, 'hasAudio', hasAudio);
  put(out, 'hasVideo', hasVideo);
  const outputMode = optionalOneOf('outputMode', o.outputMode, OUTPUT_MODES);
  put(out, 'outputMode', outputMode);
  const resolution = optionalOneOf('resolution', o.resolution, RESOLUTIONS);
  if (resolution !== undefined && outputMode === 'individual') fail('resolution is only allowed with outputMode "composed"');
  put(out, 'resolution', resolution);
  if (o.layout !== undefined) {
    if (outputMode === 'individual') fail('layout is only allowed with outputMode "composed"');
    out['layout'] = checkLayout('layout', o.layout);
  }
  put(out, 'streamMode', optionalOneOf('streamMode', o.streamMode, STREAM_MODES));
  put(out, 'multiArchiveTag', optionalString('multiArchiveTag', o.multiArchiveTag));
  const maxBitrate = optionalInteger('maxBitrate', o.maxBitrate, 1, Number.MAX_SAFE_INTEGER);
  const qp = optionalInteger('quantizationParameter', o.quantizationParameter, 15, 40);
  if (maxBitrate !== undefined && qp !== undefined) fail('maxBitrate and quantizationParameter cannot both be set');
  if ((maxBitrate !== undefined || qp !== undefined) && outputMode === 'individual') {
    fail(`${maxBitrate !== undefined ? 'maxBitrate' : 'quantizationParameter'} is only allowed with outputMode "composed"`);
  }
  put(out, 'maxBitrate', maxBitrate);
  put(out, 'quantizationParameter', qp);
  return out;
}

export function checkListOptions(value: unknown): Array<[string, string]> {
  const o = optionsObject<ListArchivesOptions>('options', value);
  const offset = optionalInteger('offset', o.offset, 0, Number.MAX_SAFE_INTEGER);
  const count = optionalInteger('count', o.count, 1, LIMITS.listCountMax);
  const sessionId = optionalString('sessionId', o.sessionId);
  // opentok-node omits falsy values (offset 0 is never sent) in this order.
  const query: Array<[string, string]> = [];
  if (offset) query.push(['offset', String(offset)]);
  if (count) query.push(['count', String(count)]);
  if (sessionId) query.push(['sessionId', sessionId]);
  return query;
}

export function checkSelection(value: unknown): { hasAudio: boolean; hasVideo: boolean } {
  const o = optionsObject<StreamSelectionOptions>('options', value);
  return { hasAudio: optionalBoolean('hasAudio', o.hasAudio) ?? true, hasVideo: optionalBoolean('hasVideo', o.hasVideo) ?? true };
}

function asJsonObject(body: unknown, what: string, status: number): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError(`Unexpected response from OpenTok: ${what} is not a JSON object`, { status, body });
  }
  return body as Record<string, unknown>;
}

const mapStart: ErrorMapper = (ctx) => {
  if (ctx.status === 404) return new ArchiveError('Session not found', details(ctx));
  if (ctx.status === 409) return new ArchiveError('Recording already in progress or session not using OpenTok Media Router', details(ctx));
  return undefined;
};
const mapStop: ErrorMapper = (ctx) => {
  if (ctx.status === 404) return new ArchiveError('Archive not found', details(ctx));
  if (ctx.status === 409) return new ArchiveError(ctx.serverMessage || 'Unknown archive error', details(ctx));
  return undefined;
};
const mapGet: ErrorMapper = (ctx) => (ctx.status === 404 ? new NotFoundError('Archive not found', details(ctx)) : undefined);
const mapDelete: ErrorMapper = (ctx) => {
  if (ctx.status === 404) return new ArchiveError('Archive not found', details(ctx));
  if (ctx.status === 409) return new ArchiveError(ctx.serverMessage || 'Archive cannot be deleted in its current status', details(ctx));
  return undefined;
};
const mapPatch: ErrorMapper = (ctx) => {
  if (ctx.status === 400) return new ArgumentError('Invalid request: ' + JSON.stringify(ctx.body), details(ctx));
  if (ctx.status === 404) return new ArchiveError('Archive or stream not found', details(ctx));
  if (ctx.status === 405) return new ArchiveError('Unsupported Stream Mode', details(ctx));
  return undefined;
};

const NO_ARCHIVE_ID = 'No archive ID given';

/** Archive operations of one project. */
export class ArchiveService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/archive`;
  }

  #path(archiveId: string, suffix = ''): string {
    return `${this.#base}/${encodeURIComponent(archiveId)}${suffix}`;
  }

  #wrap(json: Record<string, unknown>): Archive {
    const archive = { ...json } as unknown as Archive;
    const id = String(json['id']);
    Object.defineProperties(archive, {
      stop: { value: (cb?: Callback<Archive>) => settle(this.stop(id), cb), enumerable: false },
      delete: { value: (cb?: Callback<void>) => settle(this.delete(id), cb), enumerable: false },
    });
    return archive;
  }

  async start(sessionId: string, options?: ArchiveOptions): Promise<Archive> {
    requireId('sessionId', sessionId, 'No session ID given');
    const body = { sessionId, ...checkArchiveOptions(options) };
    const res = await this.#transport.request({ method: 'POST', path: this.#base, json: body }, mapStart);
    const json = asJsonObject(res.body, 'the archive', res.status);
    // opentok-node treats anything but "started" as a failed start; keep that contract.
    if (json['status'] !== 'started') {
      throw new RequestError(`Unexpected response from OpenTok: archive status is ${JSON.stringify(json['status'])}, expected "started"`, {
        status: res.status,
        body: res.body,
      });
    }
    return this.#wrap(json);
  }

  async stop(archiveId: string): Promise<Archive> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    const res = await this.#transport.request({ method: 'POST', path: this.#path(archiveId, '/stop'), json: {} }, mapStop);
    return this.#wrap(asJsonObject(res.body, 'the archive', res.status));
  }

  async get(archiveId: string): Promise<Archive> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    const res = await this.#transport.request({ method: 'GET', path: this.#path(archiveId) }, mapGet);
    return this.#wrap(asJsonObject(res.body, 'the archive', res.status));
  }

  async delete(archiveId: string): Promise<void> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    await this.#transport.request({ method: 'DELETE', path: this.#path(archiveId) }, mapDelete);
  }

  async list(options?: ListArchivesOptions): Promise<ArchiveList> {
    const query = checkListOptions(options);
    const res = await this.#transport.request({ method: 'GET', path: this.#base, query });
    const json = asJsonObject(res.body, 'the archive list', res.status) as Partial<ListJson<Record<string, unknown>>>;
    const items = Array.isArray(json.items) ? json.items.map((i) => this.#wrap(i)) : [];
    return { items, totalCount: typeof json.count === 'number' ? json.count : items.length };
  }

  async addStream(archiveId: string, streamId: string, options?: StreamSelectionOptions): Promise<void> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    requireId('streamId', streamId, 'No stream ID given');
    const { hasAudio, hasVideo } = checkSelection(options);
    await this.#transport.request({ method: 'PATCH', path: this.#path(archiveId, '/streams'), json: { hasAudio, hasVideo, addStream: streamId } }, mapPatch);
  }

  async removeStream(archiveId: string, streamId: string): Promise<void> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    requireId('streamId', streamId, 'No stream ID given');
    await this.#transport.request({ method: 'PATCH', path: this.#path(archiveId, '/streams'), json: { removeStream: streamId } }, mapPatch);
  }

  async setLayout(archiveId: string, layout: Layout): Promise<void> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    const body = checkLayout('layout', layout);
    await this.#transport.request({ method: 'PUT', path: this.#path(archiveId, '/layout'), json: body });
  }
}
