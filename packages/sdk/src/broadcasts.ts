/**
 * Live-streaming broadcasts (reference §3.3, objects §4.3).
 */
import { LIMITS } from '@tokhost/protocol';
import type { BroadcastJson, Resolution, StreamMode } from '@tokhost/protocol';
import { settle } from './callback.js';
import type { Callback } from './callback.js';
import { checkComposition, checkListOptions, checkSelection, jsonObject, pageOf } from './composition.js';
import type { ListArchivesOptions, StreamSelectionOptions } from './composition.js';
import type { Transport } from './transport.js';
import { checkLayout, fail, optionalBoolean, optionalInteger, optionalString, optionsObject, put, requireId } from './validate.js';
import type { Layout } from './validate.js';

/** One RTMP target of a broadcast. */
export interface RtmpOutput {
  /** Your label for the target (echoed in status). */
  id?: string;
  /** RTMP server URL, e.g. `rtmp://live.example.com/app`. */
  serverUrl: string;
  /** Stream name / key on that server. */
  streamName: string;
}

/** Where a broadcast goes: HLS and/or up to five RTMP targets. */
export interface BroadcastOutputs {
  /** HLS output; `dvr` and `lowLatency` cannot both be `true`. */
  hls?: { dvr?: boolean; lowLatency?: boolean };
  rtmp?: RtmpOutput[];
}

/** Options of `startBroadcast`. */
export interface BroadcastOptions {
  /** Required: at least one of `hls`, `rtmp`. */
  outputs: BroadcastOutputs;
  /** Maximum duration in seconds, 60–36000 (server default 14400). */
  maxDuration?: number;
  resolution?: Resolution;
  layout?: Layout;
  /** `"auto"` (default) or `"manual"`. */
  streamMode?: StreamMode;
  /** Tag that allows several simultaneous broadcasts of one session. */
  multiBroadcastTag?: string;
  /** Maximum video bitrate, bits per second. */
  maxBitrate?: number;
  hasAudio?: boolean;
  hasVideo?: boolean;
}

/** Options of `listBroadcasts`. */
export type ListBroadcastsOptions = ListArchivesOptions;

/** A broadcast as the API reports it (without the legacy `event`/`partnerId`), with `stop()`. */
export interface Broadcast extends Omit<BroadcastJson, 'event' | 'partnerId'> {
  stop(): Promise<Broadcast>;
  stop(callback: Callback<Broadcast>): void;
}

/** A page of broadcasts; `totalCount` is the server's `count`. */
export interface BroadcastList {
  items: Broadcast[];
  totalCount: number;
}

export function checkBroadcastOptions(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null || typeof value !== 'object') fail('No options given to startBroadcast');
  const o = optionsObject<BroadcastOptions>('options', value);
  const outputsIn = optionsObject<BroadcastOutputs>('outputs', o.outputs);
  if (o.outputs === undefined || (outputsIn.hls === undefined && outputsIn.rtmp === undefined)) {
    fail('outputs must have hls and/or rtmp');
  }
  const outputs: Record<string, unknown> = {};
  if (outputsIn.hls !== undefined) {
    const hlsIn = optionsObject<{ dvr: boolean; lowLatency: boolean }>('outputs.hls', outputsIn.hls);
    const hls: Record<string, unknown> = {};
    const dvr = optionalBoolean('outputs.hls.dvr', hlsIn.dvr);
    const lowLatency = optionalBoolean('outputs.hls.lowLatency', hlsIn.lowLatency);
    if (dvr && lowLatency) fail('Cannot set both dvr and lowLatency on HLS');
    put(hls, 'dvr', dvr);
    put(hls, 'lowLatency', lowLatency);
    outputs['hls'] = hls;
  }
  if (outputsIn.rtmp !== undefined) {
    if (!Array.isArray(outputsIn.rtmp)) fail('outputs.rtmp must be an array');
    if (outputsIn.rtmp.length > LIMITS.rtmpOutputsMax) fail(`outputs.rtmp must have at most ${LIMITS.rtmpOutputsMax} entries`);
    outputs['rtmp'] = outputsIn.rtmp.map((r, i) => {
      const name = `outputs.rtmp[${i}]`;
      const ro = optionsObject<RtmpOutput>(name, r);
      const out: Record<string, unknown> = {};
      put(out, 'id', optionalString(`${name}.id`, ro.id));
      const serverUrl = optionalString(`${name}.serverUrl`, ro.serverUrl);
      const streamName = optionalString(`${name}.streamName`, ro.streamName);
      if (!serverUrl) fail(`${name}.serverUrl is required`);
      if (!streamName) fail(`${name}.streamName is required`);
      out['serverUrl'] = serverUrl;
      out['streamName'] = streamName;
      return out;
    });
  }
  const c = checkComposition(o);
  const body: Record<string, unknown> = { outputs };
  put(body, 'maxDuration', optionalInteger('maxDuration', o.maxDuration, LIMITS.broadcastMaxDurationMin, LIMITS.broadcastMaxDurationMax));
  put(body, 'resolution', c.resolution);
  put(body, 'layout', c.layout);
  put(body, 'multiBroadcastTag', optionalString('multiBroadcastTag', o.multiBroadcastTag));
  put(body, 'maxBitrate', c.maxBitrate);
  put(body, 'hasAudio', c.hasAudio);
  put(body, 'hasVideo', c.hasVideo);
  body['streamMode'] = c.streamMode ?? 'auto';
  return body;
}

/** Broadcast operations of one project. */
export class BroadcastService {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#base = `/v2/project/${encodeURIComponent(apiKey)}/broadcast`;
  }

  #path(broadcastId: string, suffix = ''): string {
    return `${this.#base}/${encodeURIComponent(broadcastId)}${suffix}`;
  }

  #wrap(json: Record<string, unknown>): Broadcast {
    const { event: _event, partnerId: _partnerId, ...rest } = json;
    const broadcast = rest as unknown as Broadcast;
    const id = String(json['id']);
    Object.defineProperty(broadcast, 'stop', { value: (cb?: Callback<Broadcast>) => settle(this.stop(id), cb), enumerable: false });
    return broadcast;
  }

  async start(sessionId: string, options: BroadcastOptions): Promise<Broadcast> {
    requireId('sessionId', sessionId, 'No sessionId given to startBroadcast');
    const { streamMode, ...rest } = checkBroadcastOptions(options);
    const res = await this.#transport.request({ method: 'POST', path: this.#base, json: { ...rest, sessionId, streamMode } });
    return this.#wrap(jsonObject(res, 'the broadcast'));
  }

  async stop(broadcastId: string): Promise<Broadcast> {
    requireId('broadcastId', broadcastId, 'No broadcast ID given');
    const res = await this.#transport.request({ method: 'POST', path: this.#path(broadcastId, '/stop'), json: {} });
    return this.#wrap(jsonObject(res, 'the broadcast'));
  }

  async get(broadcastId: string): Promise<Broadcast> {
    requireId('broadcastId', broadcastId, 'No broadcast ID given');
    const res = await this.#transport.request({ method: 'GET', path: this.#path(broadcastId) });
    return this.#wrap(jsonObject(res, 'the broadcast'));
  }

  async list(options?: ListBroadcastsOptions): Promise<BroadcastList> {
    const query = checkListOptions(options);
    const res = await this.#transport.request({ method: 'GET', path: this.#base, query });
    return pageOf(res, 'the broadcast list', (i) => this.#wrap(i));
  }

  async setLayout(broadcastId: string, layout: Layout): Promise<void> {
    requireId('broadcastId', broadcastId, 'No broadcast ID given');
    const body = checkLayout('layout', layout);
    await this.#transport.request({ method: 'PUT', path: this.#path(broadcastId, '/layout'), json: body });
  }

  async addStream(broadcastId: string, streamId: string, options?: StreamSelectionOptions): Promise<void> {
    requireId('broadcastId', broadcastId, 'No broadcastId given to addBroadcastStream');
    requireId('streamId', streamId, 'No streamId given to addBroadcastStream');
    const { hasAudio, hasVideo } = checkSelection(options);
    // opentok-node sends `hasAudio: x || true`, so it can never leave audio or video out (§3.3).
    await this.#transport.request({ method: 'PATCH', path: this.#path(broadcastId, '/streams'), json: { addStream: streamId, hasAudio, hasVideo } });
  }

  async removeStream(broadcastId: string, streamId: string): Promise<void> {
    requireId('broadcastId', broadcastId, 'No broadcastId given to removeBroadcastStream');
    requireId('streamId', streamId, 'No streamId given to removeBroadcastStream');
    await this.#transport.request({ method: 'PATCH', path: this.#path(broadcastId, '/streams'), json: { removeStream: streamId } });
  }
}
