import { LIMITS, STREAM_MODES } from '@tokhost/protocol';
import type { BroadcastJson } from '@tokhost/protocol';
import type { Store } from '../../storage/store.js';
import { linkBase } from '../link-base.js';
import { invalid, TokhostError } from '../../errors.js';
import type { Route, RouteContext } from '../route-table.js';
import { layout, object, optBool, optEnum, optInt, optResolution, optString, projectPaging, reqString, requireOutbound } from '../validate.js';
import { parseStreamChange, requireLiveStream, requireManualStreams } from './archives.js';

function requireBroadcast(store: Store, apiKey: string, broadcastId: string): BroadcastJson {
  const record = store.getBroadcast(apiKey, broadcastId);
  if (!record) throw new TokhostError('ERR_BROADCAST_NOT_FOUND', 'Broadcast not found', { description: `Broadcast ${broadcastId} does not exist in project ${apiKey}` });
  return record.broadcast;
}

function requireStarted(broadcast: BroadcastJson): void {
  if (broadcast.status !== 'started') throw new TokhostError('ERR_BROADCAST_NOT_FOUND', 'Broadcast not found', { description: 'The broadcast has already stopped' });
}

/** `multiBroadcastTag` is echoed by the start response only (reference §4.3). */
function publicJson(b: BroadcastJson): BroadcastJson {
  const { multiBroadcastTag: _tag, ...rest } = b;
  return rest;
}

/** Base of the links handed out (see linkBase: `publicUrl`, else a trusted Host, else the listen URL). */
function baseUrl(ctx: RouteContext): string {
  return linkBase(ctx.req, ctx.deps.config);
}

/** Validate the start-broadcast body (reference §3.3). */
export function parseBroadcastOptions(value: unknown) {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const outputs = body.outputs === undefined ? undefined : object(body.outputs, 'outputs');
  if (!outputs || (outputs.hls === undefined && outputs.rtmp === undefined)) throw invalid('outputs', 'must name hls and/or rtmp outputs');
  let hls: { dvr: boolean; lowLatency: boolean } | undefined;
  if (outputs.hls !== undefined) {
    const h = object(outputs.hls, 'outputs.hls');
    const dvr = optBool(h, 'dvr') ?? false;
    const lowLatency = optBool(h, 'lowLatency') ?? false;
    if (dvr && lowLatency) throw invalid('outputs.hls', 'dvr and lowLatency cannot both be true');
    hls = { dvr, lowLatency };
  }
  const rtmp: Array<{ id?: string; serverUrl: string; streamName: string }> = [];
  if (outputs.rtmp !== undefined) {
    if (!Array.isArray(outputs.rtmp)) throw invalid('outputs.rtmp', 'must be an array');
    if (outputs.rtmp.length > LIMITS.rtmpOutputsMax) throw invalid('outputs.rtmp', `must have at most ${LIMITS.rtmpOutputsMax} entries`);
    outputs.rtmp.forEach((entry: unknown, i: number) => {
      const r = object(entry, `outputs.rtmp[${i}]`);
      const id = optString(r, 'id', { max: 128 });
      const serverUrl = reqString(r, 'serverUrl', { max: 2048, pattern: /^rtmps?:\/\/\S+$/, what: 'must be an rtmp:// or rtmps:// URL' });
      const streamName = reqString(r, 'streamName', { max: 1024, pattern: /^\S+$/, what: 'must not be empty or hold spaces' });
      if (id !== undefined && rtmp.some((o) => o.id === id)) throw invalid(`outputs.rtmp[${i}].id`, 'must be unique');
      rtmp.push({ ...(id !== undefined ? { id } : {}), serverUrl, streamName });
    });
  }
  if (!hls && rtmp.length === 0) throw invalid('outputs', 'must name an hls output and/or at least one rtmp output');
  const maxDuration = optInt(body, 'maxDuration', LIMITS.broadcastMaxDurationMin, LIMITS.broadcastMaxDurationMax);
  const resolution = optResolution(body);
  const broadcastLayout = body.layout === undefined || body.layout === null ? undefined : layout(body.layout);
  const streamMode = optEnum(body, 'streamMode', STREAM_MODES) ?? 'auto';
  const multiBroadcastTag = optString(body, 'multiBroadcastTag', { max: 80 });
  const maxBitrate = optInt(body, 'maxBitrate', 100_000, 6_000_000);
  const hasAudio = optBool(body, 'hasAudio') ?? true;
  const hasVideo = optBool(body, 'hasVideo') ?? true;
  if (!hasAudio && !hasVideo) throw invalid('hasAudio', 'hasAudio and hasVideo cannot both be false');
  return { sessionId, hls, rtmp, maxDuration, resolution, layout: broadcastLayout, streamMode, multiBroadcastTag, maxBitrate, hasAudio, hasVideo };
}

/** The host of an RTMP server URL (brackets kept off); a URL without one is a 400 naming `field`. */
function rtmpHost(serverUrl: string, field: string): string {
  let host = '';
  try {
    host = new URL(serverUrl).hostname;
  } catch {
    // below
  }
  if (!host) throw invalid(field, 'must be an rtmp:// or rtmps:// URL with a host');
  return host;
}

/** Broadcast routes (reference §3.3, table rows 9–14). */
export const broadcastRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v2/project/:key/broadcast',
    summary: 'Start a live-streaming broadcast (HLS and/or RTMP)',
    success: 200,
    body: {
      sessionId: 'session to broadcast (required)',
      outputs: '{hls?: {dvr?, lowLatency?}, rtmp?: [{id?, serverUrl, streamName}] (≤5)} (required)',
      maxDuration: '60–36000 seconds, default 14400',
      resolution: 'as archives',
      layout: '{type, stylesheet?, screenshareType?}',
      streamMode: 'auto (default) | manual',
      multiBroadcastTag: 'allows several broadcasts of one session',
      maxBitrate: 'bits per second',
    },
    async handler(ctx) {
      const options = parseBroadcastOptions(await ctx.json());
      for (const [i, r] of options.rtmp.entries()) await requireOutbound(ctx.deps.outbound, `outputs.rtmp[${i}].serverUrl`, rtmpHost(r.serverUrl, `outputs.rtmp[${i}].serverUrl`));
      const json = await ctx.deps.broadcasts.start(ctx.project.apiKey, options, baseUrl(ctx));
      return { status: 200, json };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/broadcast/:broadcastId/stop',
    summary: 'Stop a broadcast',
    success: 200,
    async handler(ctx) {
      object(await ctx.json());
      const b = requireBroadcast(ctx.deps.store, ctx.project.apiKey, ctx.params.broadcastId!);
      requireStarted(b);
      return { status: 200, json: publicJson(await ctx.deps.broadcasts.stop(ctx.project.apiKey, b.id)) };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/broadcast/:broadcastId',
    summary: 'Get a broadcast',
    success: 200,
    handler(ctx) {
      return { status: 200, json: publicJson(requireBroadcast(ctx.deps.store, ctx.project.apiKey, ctx.params.broadcastId!)) };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/broadcast',
    summary: 'List broadcasts (query offset, count ≤1000, sessionId); count is the total',
    success: 200,
    handler(ctx) {
      const options = projectPaging(ctx.query, ctx.deps.store, ctx.project.apiKey);
      const p = ctx.deps.store.listBroadcasts(ctx.project.apiKey, options);
      return { status: 200, json: { count: p.total, items: p.items.map((r) => publicJson(r.broadcast)) } };
    },
  },
  {
    method: 'PUT',
    path: '/v2/project/:key/broadcast/:broadcastId/layout',
    summary: 'Set the layout of a broadcast',
    success: 200,
    body: { type: 'layout type', stylesheet: 'custom only', screenshareType: 'bestFit only' },
    async handler(ctx) {
      const l = layout(await ctx.json(), 'layout');
      const b = requireBroadcast(ctx.deps.store, ctx.project.apiKey, ctx.params.broadcastId!);
      requireStarted(b);
      await ctx.deps.broadcasts.setLayout(ctx.project.apiKey, b.id, l);
      return { status: 200, json: publicJson(requireBroadcast(ctx.deps.store, ctx.project.apiKey, b.id)) };
    },
  },
  {
    method: 'PATCH',
    path: '/v2/project/:key/broadcast/:broadcastId/streams',
    summary: 'Add or remove a stream of a manual-mode broadcast',
    success: 204,
    body: { addStream: 'stream ID to add', removeStream: 'stream ID to remove', hasAudio: 'boolean', hasVideo: 'boolean' },
    async handler(ctx) {
      const change = parseStreamChange(await ctx.json());
      const b = requireBroadcast(ctx.deps.store, ctx.project.apiKey, ctx.params.broadcastId!);
      requireManualStreams('broadcast', b.streamMode);
      requireStarted(b);
      if (change.addStream) requireLiveStream(ctx, b.sessionId, change.addStream);
      else if (!(b.streams ?? []).some((s) => s.streamId === change.removeStream)) {
        throw new TokhostError('ERR_STREAM_NOT_FOUND', 'Stream not found', { description: `Stream ${change.removeStream} is not in the broadcast` });
      }
      await ctx.deps.broadcasts.changeStreams(ctx.project.apiKey, b.id, change);
      return { status: 204 };
    },
  },
];
