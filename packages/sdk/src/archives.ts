/**
 * Archives (reference §3.2, objects §4.2).
 */
import { LIMITS, OUTPUT_MODES } from '@tokhost/protocol';
import type { ArchiveJson, OutputMode, Resolution, StreamMode } from '@tokhost/protocol';
import { settle } from './callback.js';
import type { Callback } from './callback.js';
import { checkComposition, checkListOptions, checkSelection, jsonObject, pageOf } from './composition.js';
import type { ListArchivesOptions, StreamSelectionOptions } from './composition.js';
import { ArchiveError, ArgumentError, NotFoundError, RequestError } from './errors.js';
import type { ErrorMapper, Transport } from './transport.js';
import { details } from './transport.js';
import { checkLayout, fail, optionalInteger, optionalOneOf, optionalString, optionsObject, put, requireId } from './validate.js';
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
  const c = checkComposition(o);
  const outputMode = optionalOneOf('outputMode', o.outputMode, OUTPUT_MODES);
  const qp = optionalInteger('quantizationParameter', o.quantizationParameter, 15, 40);
  // Archive-only rules: an individual archive has no composition, and one rate control at a time.
  if (outputMode === 'individual') {
    const composedOnly = ([['resolution', c.resolution], ['layout', c.layout], ['maxBitrate', c.maxBitrate], ['quantizationParameter', qp]] as const).find(
      ([, v]) => v !== undefined,
    );
    if (composedOnly) fail(`${composedOnly[0]} is only allowed with outputMode "composed"`);
  }
  if (c.maxBitrate !== undefined && qp !== undefined) fail('maxBitrate and quantizationParameter cannot both be set');
  const out: Record<string, unknown> = {};
  put(out, 'name', optionalString('name', o.name, LIMITS.archiveNameMax));
  put(out, 'hasAudio', c.hasAudio);
  put(out, 'hasVideo', c.hasVideo);
  put(out, 'outputMode', outputMode);
  put(out, 'resolution', c.resolution);
  put(out, 'layout', c.layout);
  put(out, 'streamMode', c.streamMode);
  put(out, 'multiArchiveTag', optionalString('multiArchiveTag', o.multiArchiveTag));
  put(out, 'maxBitrate', c.maxBitrate);
  put(out, 'quantizationParameter', qp);
  return out;
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
    const json = jsonObject(res, 'the archive');
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
    return this.#wrap(jsonObject(res, 'the archive'));
  }

  async get(archiveId: string): Promise<Archive> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    const res = await this.#transport.request({ method: 'GET', path: this.#path(archiveId) }, mapGet);
    return this.#wrap(jsonObject(res, 'the archive'));
  }

  async delete(archiveId: string): Promise<void> {
    requireId('archiveId', archiveId, NO_ARCHIVE_ID);
    await this.#transport.request({ method: 'DELETE', path: this.#path(archiveId) }, mapDelete);
  }

  async list(options?: ListArchivesOptions): Promise<ArchiveList> {
    const query = checkListOptions(options);
    const res = await this.#transport.request({ method: 'GET', path: this.#base, query });
    return pageOf(res, 'the archive list', (i) => this.#wrap(i));
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
