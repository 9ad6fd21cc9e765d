import { LIMITS, STREAM_MODES } from '@tokhost/protocol';
import type { BroadcastJson } from '@tokhost/protocol';
import { requireNotE2ee, requireSession } from '../../services/sessions.js';
import type { Store } from '../../storage/store.js';
import { HttpError, invalid } from '../errors.js';
import type { Route } from '../router.js';
import { layout, object, optBool, optEnum, optInt, optResolution, optString, projectPaging, reqString } from '../validate.js';
import { parseStreamChange, requireLiveStream } from './archives.js';

const NO_STREAMER = (what: string) =>
  new HttpError('ERR_NOT_IMPLEMENTED', 'Live streaming is not available on this server', `${what}: this Tokhost server has no broadcast composer yet (see docs/rest-api.md)`);

function requireBroadcast(store: Store, apiKey: string, broadcastId: string): BroadcastJson {
  const record = store.getBroadcast(apiKey, broadcastId);
  if (!record) throw new HttpError('ERR_BROADCAST_NOT_FOUND', 'Broadcast not found', `Broadcast ${broadcastId} does not exist in project ${apiKey}`);
  return record.broadcast;
}

function requireStarted(broadcast: BroadcastJson): void {
  if (broadcast.status !== 'started') throw new HttpError('ERR_BROADCAST_NOT_FOUND', 'Broadcast not found', 'The broadcast has already stopped');
}

/** Validate the start-broadcast body (reference §3.3). */
export function parseBroadcastOptions(value: unknown) {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const outputs = body.outputs === undefined ? undefined : object(body.outputs, 'outputs');
  if (!outputs || (outputs.hls === undefined && outputs.rtmp === undefined)) throw invalid('outputs', 'must name hls and/or rtmp outputs');
  if (outputs.hls !== undefined) {
    const hls = object(outputs.hls, 'outputs.hls');
    const dvr = optBool(hls, 'dvr') ?? false;
    const lowLatency = optBool(hls, 'lowLatency') ?? false;
    if (dvr && lowLatency) throw invalid('outputs.hls', 'dvr and lowLatency cannot both be true');
  }
  if (outputs.rtmp !== undefined) {
    if (!Array.isArray(outputs.rtmp)) throw invalid('outputs.rtmp', 'must be an array');
    if (outputs.rtmp.length > LIMITS.rtmpOutputsMax) throw invalid('outputs.rtmp', `must have at most ${LIMITS.rtmpOutputsMax} entries`);
    outputs.rtmp.forEach((entry: unknown, i: number) => {
      const r = object(entry, `outputs.rtmp[${i}]`);
      optString(r, 'id', { max: 128 });
      reqString(r, 'serverUrl', { max: 2048, pattern: /^rtmps?:\/\/\S+$/, what: 'must be an rtmp:// or rtmps:// URL' });
      reqString(r, 'streamName', { max: 1024 });
    });
  }
  const maxDuration = optInt(body, 'maxDuration', LIMITS.broadcastMaxDurationMin, LIMITS.broadcastMaxDurationMax);
  const resolution = optResolution(body);
  const broadcastLayout = body.layout === undefined || body.layout === null ? undefined : layout(body.layout);
  const streamMode = optEnum(body, 'streamMode', STREAM_MODES) ?? 'auto';
  const multiBroadcastTag = optString(body, 'multiBroadcastTag', { max: 80 });
  const maxBitrate = optInt(body, 'maxBitrate', 100_000, 6_000_000);
  const hasAudio = optBool(body, 'hasAudio') ?? true;
  const hasVideo = optBool(body, 'hasVideo') ?? true;
  if (!hasAudio && !hasVideo) throw invalid('hasAudio', 'hasAudio and hasVideo cannot both be false');
  return { sessionId, outputs, maxDuration, resolution, layout: broadcastLayout, streamMode, multiBroadcastTag, maxBitrate, hasAudio, hasVideo };
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
      const { store, live } = ctx.deps;
      const session = requireSession(store, ctx.project.apiKey, options.sessionId);
      requireNotE2ee(session, 'broadcasting');
      if (session.mediaMode !== 'routed') throw new HttpError('ERR_BROADCAST_NOT_ROUTED', 'Only routed sessions can be broadcast');
      const running = store.listBroadcasts(ctx.project.apiKey, { sessionId: session.sessionId, count: 1000 }).items.filter((r) => r.broadcast.status === 'started');
      if (running.some((r) => !options.multiBroadcastTag || !r.broadcast.multiBroadcastTag || r.broadcast.multiBroadcastTag === options.multiBroadcastTag)) {
        throw new HttpError('ERR_BROADCAST_IN_PROGRESS', 'The broadcast has already started for the session', 'Use a distinct multiBroadcastTag');
      }
      if (live.connectionCount(session.sessionId) === 0) {
        throw new HttpError('ERR_SESSION_NO_CLIENTS', 'Session not found', 'No clients are actively connected to the session, so there is nothing to broadcast');
      }
      throw NO_STREAMER('start broadcast');
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
      throw NO_STREAMER('stop broadcast');
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/broadcast/:broadcastId',
    summary: 'Get a broadcast',
    success: 200,
    handler(ctx) {
      return { status: 200, json: requireBroadcast(ctx.deps.store, ctx.project.apiKey, ctx.params.broadcastId!) };
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
      return { status: 200, json: { count: p.total, items: p.items.map((r) => r.broadcast) } };
    },
  },
  {
    method: 'PUT',
    path: '/v2/project/:key/broadcast/:broadcastId/layout',
    summary: 'Set the layout of a broadcast',
    success: 200,
    body: { type: 'layout type', stylesheet: 'custom only', screenshareType: 'bestFit only' },
    async handler(ctx) {
      layout(await ctx.json(), 'layout');
      const b = requireBroadcast(ctx.deps.store, ctx.project.apiKey, ctx.params.broadcastId!);
      requireStarted(b);
      throw NO_STREAMER('set broadcast layout');
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
      if (b.streamMode !== 'manual') throw new HttpError('ERR_ARCHIVE_STREAM_MODE', 'Unsupported Stream Mode', 'The broadcast was started with streamMode auto');
      requireStarted(b);
      requireLiveStream(ctx, b.sessionId, (change.addStream ?? change.removeStream)!);
      throw NO_STREAMER('change broadcast streams');
    },
  },
];
