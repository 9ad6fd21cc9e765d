/**
 * Live captions (reference §3.8).
 */
import { CaptionsError, RequestError } from './errors.js';
import type { ErrorMapper, Transport } from './transport.js';
import { details } from './transport.js';
import { fail, optionalBoolean, optionalInteger, optionalString, optionsObject, requireId } from './validate.js';

/** Options of `startCaptions`. */
export interface CaptionsOptions {
  /** Spoken language. Default `"en-US"`. */
  languageCode?: string;
  /**
   * Maximum duration in seconds, at most 14400. Default 14400. The server sets the minimum (300 on
   * OpenTok and Tokhost): a shorter one is sent, as opentok-node sends it, and the server refuses it.
   */
  maxDuration?: number;
  /** Send partial (interim) results too. Default `true`. */
  partialCaptions?: boolean;
  /** URL that receives caption status callbacks (opentok-node does not forward it). */
  statusCallbackUrl?: string;
}

const mapStart: ErrorMapper = (ctx) => (ctx.status === 409 ? new CaptionsError(undefined, details(ctx)) : undefined);

/** Captions operations of one project. */
export class CaptionsService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/captions`;
  }

  /** Start captions; resolves the captions ID. */
  async start(sessionId: string, token: string, options?: CaptionsOptions): Promise<string> {
    requireId('sessionId', sessionId);
    requireId('token', token);
    const o = optionsObject<CaptionsOptions>('options', options);
    const body: Record<string, unknown> = {
      sessionId,
      token,
      languageCode: optionalString('languageCode', o.languageCode) ?? 'en-US',
      maxDuration: optionalInteger('maxDuration', o.maxDuration, 1, 14400) ?? 14400,
      partialCaptions: optionalBoolean('partialCaptions', o.partialCaptions) ?? true,
    };
    const statusCallbackUrl = optionalString('statusCallbackUrl', o.statusCallbackUrl);
    if (statusCallbackUrl !== undefined) {
      if (!/^https?:\/\//i.test(statusCallbackUrl)) fail('statusCallbackUrl must be an http(s) URL');
      body['statusCallbackUrl'] = statusCallbackUrl;
    }
    const res = await this.#transport.request({ method: 'POST', path: this.#base, json: body }, mapStart);
    const id = (res.body as { captionsId?: unknown } | null)?.captionsId;
    if (typeof id !== 'string') throw new RequestError('Unexpected response from OpenTok: no captionsId', { status: res.status, body: res.body });
    return id;
  }

  /** Stop captions. Sent without a body, as every SDK does. */
  async stop(captionsId: string): Promise<true> {
    requireId('captionsId', captionsId);
    await this.#transport.request({ method: 'POST', path: `${this.#base}/${encodeURIComponent(captionsId)}/stop` });
    return true;
  }
}
