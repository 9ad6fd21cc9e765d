/**
 * Legacy REST callback registration (reference §3.10). Today callbacks are usually configured per
 * project (Tokhost: `tokhost project set-webhook`); these routes remain for apps that use them.
 */
import { RequestError } from './errors.js';
import { settle } from './callback.js';
import type { Callback } from './callback.js';
import type { Transport } from './transport.js';
import { fail, optionsObject, requireId } from './validate.js';

/** Options of `registerCallback`. */
export interface CallbackOptions {
  /** `"connection"`, `"stream"`, `"archive"` … */
  group: string;
  /** `"created"`, `"destroyed"`, `"status"` … */
  event: string;
  /** http(s) URL the events are POSTed to. */
  url: string;
}

/** A registered callback, with `unregister()`. */
export interface RegisteredCallback {
  id: string;
  group: string;
  event: string;
  url: string;
  createdAt?: number;
  [extra: string]: unknown;
  unregister(): Promise<void>;
  unregister(callback: Callback<void>): void;
}

/** Callback-registration operations of one project. */
export class CallbackService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/callback`;
  }

  #wrap(json: unknown, status: number): RegisteredCallback {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new RequestError('Unexpected response from OpenTok: the callback is not a JSON object', { status, body: json });
    }
    const cb = { ...(json as Record<string, unknown>) } as unknown as RegisteredCallback;
    const id = String((json as Record<string, unknown>)['id']);
    // opentok-node's Callback#unregister calls an undefined function; this one works.
    Object.defineProperty(cb, 'unregister', { value: (done?: Callback<void>) => settle(this.unregister(id), done), enumerable: false });
    return cb;
  }

  async register(options: CallbackOptions): Promise<RegisteredCallback> {
    if (options === undefined || options === null) fail('options must be an object with group, event and url');
    const o = optionsObject<CallbackOptions>('options', options);
    const group = requireId('group', o.group);
    const event = requireId('event', o.event);
    const url = requireId('url', o.url);
    if (!/^https?:\/\//i.test(url)) fail('url must be an http(s) URL');
    const res = await this.#transport.request({ method: 'POST', path: this.#base, json: { group, event, url } });
    return this.#wrap(res.body, res.status);
  }

  async unregister(callbackId: string): Promise<void> {
    requireId('callbackId', callbackId, 'No callback ID given');
    await this.#transport.request({ method: 'DELETE', path: `${this.#base}/${encodeURIComponent(callbackId)}` });
  }

  async list(): Promise<RegisteredCallback[]> {
    const res = await this.#transport.request({ method: 'GET', path: this.#base });
    if (!Array.isArray(res.body)) throw new RequestError('Unexpected response from OpenTok: the callback list is not a JSON array', { status: res.status, body: res.body });
    return res.body.map((item) => this.#wrap(item, res.status));
  }
}
