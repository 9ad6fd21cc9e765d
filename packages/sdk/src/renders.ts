/**
 * Experience Composer renders (reference §3.9, objects §4.6).
 */
import { LIMITS, RESOLUTIONS } from '@tokhost/protocol';
import type { Resolution } from '@tokhost/protocol';
import { RequestError } from './errors.js';
import type { Transport } from './transport.js';
import { fail, optionalInteger, optionalOneOf, optionalString, optionsObject, requireId } from './validate.js';

/** Options of `startRender`. */
export interface RenderOptions {
  sessionId: string;
  token: string;
  /** Page to render into the session (http or https). */
  url: string;
  /** Maximum duration in seconds, 60–36000. Default 1800. */
  maxDuration?: number;
  /** Default `"1280x720"`. */
  resolution?: Resolution;
  /** URL that receives render status callbacks. */
  statusCallbackUrl?: string;
  /** Properties of the published stream (opentok-node does not forward them). */
  properties?: { name?: string };
}

/** A render as the API reports it. */
export interface Render {
  id: string;
  sessionId: string;
  projectId?: string | number;
  createdAt: number;
  updatedAt: number;
  url: string;
  resolution: Resolution;
  status: 'starting' | 'started' | 'stopped' | 'failed' | string;
  streamId?: string;
  reason?: string;
  [extra: string]: unknown;
}

/** A page of renders; `count` repeats `totalCount` under opentok-node's name (its raw body). */
export interface RenderList {
  items: Render[];
  totalCount: number;
  count: number;
}

/** Options of `listRenders`. */
export interface ListRendersOptions {
  offset?: number;
  /** 1–1000. */
  count?: number;
}

function asObject(body: unknown, status: number): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError('Unexpected response from OpenTok: the render is not a JSON object', { status, body });
  }
  return body as Record<string, unknown>;
}

/** Render operations of one project. */
export class RenderService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/render`;
  }

  async start(options: RenderOptions): Promise<Render> {
    if (options === undefined || options === null) fail('options must be an object with sessionId, token and url');
    const o = optionsObject<RenderOptions>('options', options);
    const sessionId = requireId('sessionId', o.sessionId);
    const token = requireId('token', o.token);
    const url = requireId('url', o.url);
    if (!/^https?:\/\//i.test(url)) fail('url must be an http(s) URL');
    const body: Record<string, unknown> = {
      sessionId,
      token,
      url,
      maxDuration: optionalInteger('maxDuration', o.maxDuration, LIMITS.broadcastMaxDurationMin, LIMITS.broadcastMaxDurationMax) ?? 1800,
      resolution: optionalOneOf('resolution', o.resolution, RESOLUTIONS) ?? '1280x720',
    };
    const statusCallbackUrl = optionalString('statusCallbackUrl', o.statusCallbackUrl);
    if (statusCallbackUrl !== undefined) {
      if (!/^https?:\/\//i.test(statusCallbackUrl)) fail('statusCallbackUrl must be an http(s) URL');
      body['statusCallbackUrl'] = statusCallbackUrl;
    }
    if (o.properties !== undefined) {
      const p = optionsObject<{ name: string }>('properties', o.properties);
      const name = optionalString('properties.name', p.name, 200);
      body['properties'] = name === undefined ? {} : { name };
    }
    const res = await this.#transport.request({ method: 'POST', path: this.#base, json: body });
    return asObject(res.body, res.status) as Render;
  }

  async get(renderId: string): Promise<Render> {
    requireId('renderId', renderId);
    const res = await this.#transport.request({ method: 'GET', path: `${this.#base}/${encodeURIComponent(renderId)}` });
    return asObject(res.body, res.status) as Render;
  }

  async stop(renderId: string): Promise<void> {
    requireId('renderId', renderId);
    await this.#transport.request({ method: 'DELETE', path: `${this.#base}/${encodeURIComponent(renderId)}` });
  }

  async list(options?: ListRendersOptions): Promise<RenderList> {
    const o = optionsObject<ListRendersOptions>('options', options);
    const offset = optionalInteger('offset', o.offset, 0, Number.MAX_SAFE_INTEGER);
    const count = optionalInteger('count', o.count, 1, LIMITS.listCountMax);
    const query: Array<[string, string]> = [];
    if (offset) query.push(['offset', String(offset)]);
    if (count) query.push(['count', String(count)]);
    const res = await this.#transport.request({ method: 'GET', path: this.#base, query });
    const json = asObject(res.body, res.status) as { count?: unknown; items?: unknown };
    const items = Array.isArray(json.items) ? (json.items as Render[]) : [];
    const totalCount = typeof json.count === 'number' ? json.count : items.length;
    return { items, totalCount, count: totalCount };
  }
}
