/**
 * Streams of a session: read them and set their layout classes (reference §3.4, objects §4.4).
 */
import type { ListJson, StreamJson } from '@tokhost/protocol';
import { RequestError } from './errors.js';
import type { Transport } from './transport.js';
import { fail, optionalStringArray, optionsObject, requireId } from './validate.js';

/** A published stream. */
export type Stream = StreamJson;

/** One entry of `setStreamClassLists`. */
export interface StreamClassList {
  /** Stream ID. */
  id: string;
  /** Layout classes; `[]` clears them. */
  layoutClassList: string[];
}

/** Properties of `updateStream`. */
export interface StreamProperties {
  /** Layout classes; `[]` clears them. */
  layoutClassList: string[];
}

export function checkClassLists(value: unknown): StreamClassList[] {
  if (!Array.isArray(value)) fail('classLists must be an array of {id, layoutClassList}');
  return value.map((entry: unknown, i) => {
    const o = optionsObject<StreamClassList>(`classLists[${i}]`, entry);
    const id = requireId(`classLists[${i}].id`, o.id);
    const layoutClassList = optionalStringArray(`classLists[${i}].layoutClassList`, o.layoutClassList);
    if (!layoutClassList) fail(`classLists[${i}].layoutClassList must be an array of strings`);
    return { id, layoutClassList };
  });
}

/** Stream operations of one project. */
export class StreamService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/session`;
  }

  #path(sessionId: string, suffix = ''): string {
    return `${this.#base}/${encodeURIComponent(sessionId)}/stream${suffix}`;
  }

  async get(sessionId: string, streamId: string): Promise<Stream> {
    requireId('sessionId', sessionId);
    requireId('streamId', streamId);
    const res = await this.#transport.request({ method: 'GET', path: this.#path(sessionId, `/${encodeURIComponent(streamId)}`) });
    if (res.body === null || typeof res.body !== 'object' || Array.isArray(res.body)) {
      throw new RequestError('Unexpected response from OpenTok: the stream is not a JSON object', { status: res.status, body: res.body });
    }
    return res.body as Stream;
  }

  async list(sessionId: string): Promise<Stream[]> {
    requireId('sessionId', sessionId);
    const res = await this.#transport.request({ method: 'GET', path: this.#path(sessionId) });
    const body = res.body as Partial<ListJson<Stream>> | null;
    return body && Array.isArray(body.items) ? body.items : [];
  }

  async setClassLists(sessionId: string, classLists: StreamClassList[]): Promise<void> {
    requireId('sessionId', sessionId);
    const items = checkClassLists(classLists);
    await this.#transport.request({ method: 'PUT', path: this.#path(sessionId), json: { items } });
  }

  /**
   * Set one stream's layout classes. Sent as a one-item `PUT …/session/{sid}/stream`, the route
   * every SDK and server supports (PHP's per-stream PUT is an older variant).
   */
  async update(sessionId: string, streamId: string, properties: StreamProperties): Promise<void> {
    requireId('sessionId', sessionId);
    requireId('streamId', streamId);
    const o = optionsObject<StreamProperties>('properties', properties);
    const layoutClassList = optionalStringArray('properties.layoutClassList', o.layoutClassList);
    if (!layoutClassList) fail('properties.layoutClassList must be an array of strings');
    await this.#transport.request({ method: 'PUT', path: this.#path(sessionId), json: { items: [{ id: streamId, layoutClassList }] } });
  }
}
