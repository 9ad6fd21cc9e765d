/**
 * Moderation: disconnect clients, force-mute streams, list connections (reference §3.4–§3.5 and
 * "Endpoints used by other SDKs").
 */
import type { ConnectionJson, ConnectionListJson } from '@tokhost/protocol';
import { ForceDisconnectError } from './errors.js';
import type { ErrorMapper, Transport } from './transport.js';
import { details } from './transport.js';
import { optionalStringArray, optionsObject, requireId } from './validate.js';

/** Options of `forceMuteAll`. */
export interface ForceMuteAllOptions {
  /** Streams that stay unmuted. */
  excludedStreamIds?: string[];
}

/** A connection of a session. */
export type Connection = ConnectionJson;

/** The connections of a session; `totalCount` is the server's `count`. */
export interface ConnectionList {
  items: Connection[];
  totalCount: number;
}

const mapDisconnect: ErrorMapper = (ctx) =>
  ctx.status === 404 ? new ForceDisconnectError('Session or Connection not found', details(ctx)) : undefined;

/** Moderation operations of one project. */
export class ModerationService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/session`;
  }

  #path(sessionId: string, suffix: string): string {
    return `${this.#base}/${encodeURIComponent(sessionId)}${suffix}`;
  }

  async forceDisconnect(sessionId: string, connectionId: string): Promise<void> {
    requireId('sessionId', sessionId, 'No sessionId or connectionId given to forceDisconnect');
    requireId('connectionId', connectionId, 'No sessionId or connectionId given to forceDisconnect');
    await this.#transport.request({ method: 'DELETE', path: this.#path(sessionId, `/connection/${encodeURIComponent(connectionId)}`) }, mapDisconnect);
  }

  async forceMuteStream(sessionId: string, streamId: string): Promise<void> {
    requireId('sessionId', sessionId);
    requireId('streamId', streamId);
    await this.#transport.request({ method: 'POST', path: this.#path(sessionId, `/stream/${encodeURIComponent(streamId)}/mute`), json: {} });
  }

  async forceMuteAll(sessionId: string, options?: ForceMuteAllOptions): Promise<void> {
    requireId('sessionId', sessionId);
    const o = optionsObject<ForceMuteAllOptions & { excudedStreamIds?: string[] }>('options', options);
    // opentok-node documents the misspelt `excudedStreamIds`; accept it from apps written for it.
    const excluded = optionalStringArray('excludedStreamIds', o.excludedStreamIds ?? o.excudedStreamIds);
    const body: Record<string, unknown> = {};
    if (excluded !== undefined) body['excludedStreamIds'] = excluded;
    body['active'] = true;
    await this.#transport.request({ method: 'POST', path: this.#path(sessionId, '/mute'), json: body });
  }

  async disableForceMute(sessionId: string): Promise<void> {
    requireId('sessionId', sessionId);
    await this.#transport.request({ method: 'POST', path: this.#path(sessionId, '/mute'), json: { active: false } });
  }

  async listConnections(sessionId: string): Promise<ConnectionList> {
    requireId('sessionId', sessionId);
    const res = await this.#transport.request({ method: 'GET', path: this.#path(sessionId, '/connection') });
    const body = res.body as Partial<ConnectionListJson> | null;
    const items = body && Array.isArray(body.items) ? body.items : [];
    return { items, totalCount: body && typeof body.count === 'number' ? body.count : items.length };
  }
}
