import { LIMITS, OUTPUT_MODES, STREAM_MODES } from '@tokhost/protocol';
import type { ArchiveJson } from '@tokhost/protocol';
import { linkBase } from '../link-base.js';
import { requireCompositionStart } from '../../services/composition-start.js';
import type { Store } from '../../storage/store.js';
import { limitsFrom } from '../../limits.js';
import { ACTIVE_ARCHIVE_STATUSES } from '../../storage/store.js';
import { signArchiveUrl } from '../../recording/archiver.js';
import { invalid, TokhostError } from '../../errors.js';
import type { Route, RouteContext } from '../route-table.js';
import { layout, object, optBool, optEnum, optInt, optNumber, optResolution, optString, projectPaging, reqString } from '../validate.js';

function requireArchive(store: Store, apiKey: string, archiveId: string): ArchiveJson {
  const record = store.getArchive(apiKey, archiveId);
  if (!record) throw new TokhostError('ERR_ARCHIVE_NOT_FOUND', 'Archive not found', { description: `Archive ${archiveId} does not exist in project ${apiKey}` });
  return record.archive;
}

/** The archive as the API shows it: `url` (signed, expiring) only while `available`. */
export function archiveView(ctx: RouteContext, archive: ArchiveJson): ArchiveJson {
  if (archive.status !== 'available') return { ...archive, url: null };
  const { config } = ctx.deps;
  const base = linkBase(ctx.req, config);
  return { ...archive, url: signArchiveUrl(base, ctx.project.apiKey, ctx.project.apiSecret, archive, config.archiveUrlTtlSeconds) };
}

function requireRecording(archive: ArchiveJson): void {
  if (!ACTIVE_ARCHIVE_STATUSES.includes(archive.status)) throw new TokhostError('ERR_ARCHIVE_NOT_RECORDING', 'Archive is not currently recording', { description: `Archive status is ${archive.status}` });
}

/** Validate the start-archive body (reference §3.2) before looking at any state. */
export function parseArchiveOptions(value: unknown) {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const name = optString(body, 'name', { max: LIMITS.archiveNameMax });
  const hasAudio = optBool(body, 'hasAudio') ?? true;
  const hasVideo = optBool(body, 'hasVideo') ?? true;
  if (!hasAudio && !hasVideo) throw invalid('hasAudio', 'hasAudio and hasVideo cannot both be false');
  const outputMode = optEnum(body, 'outputMode', OUTPUT_MODES) ?? 'composed';
  const resolution = optResolution(body);
  if (resolution && outputMode === 'individual') throw invalid('resolution', 'is only allowed with outputMode composed');
  const archiveLayout = body.layout === undefined || body.layout === null ? undefined : layout(body.layout);
  if (archiveLayout && outputMode === 'individual') throw invalid('layout', 'is only allowed with outputMode composed');
  const streamMode = optEnum(body, 'streamMode', STREAM_MODES) ?? 'auto';
  const multiArchiveTag = optString(body, 'multiArchiveTag', { max: 80 });
  const maxBitrate = optInt(body, 'maxBitrate', 100_000, 6_000_000);
  const quantizationParameter = optNumber(body, 'quantizationParameter', 15, 40);
  if (maxBitrate !== undefined && quantizationParameter !== undefined) throw invalid('maxBitrate', 'cannot be combined with quantizationParameter');
  if ((maxBitrate !== undefined || quantizationParameter !== undefined) && outputMode === 'individual') {
    throw invalid(maxBitrate !== undefined ? 'maxBitrate' : 'quantizationParameter', 'is only allowed with outputMode composed');
  }
  optBool(body, 'hasTranscription');
  return { sessionId, name, hasAudio, hasVideo, outputMode, resolution, layout: archiveLayout, streamMode, multiArchiveTag, maxBitrate, quantizationParameter };
}

/** Validate an add/remove-stream PATCH body (exactly one of addStream/removeStream). */
export function parseStreamChange(value: unknown): { addStream?: string; removeStream?: string; hasAudio: boolean; hasVideo: boolean } {
  const body = object(value);
  const idRule = { max: 128, pattern: /^[A-Za-z0-9_\-.~:]+$/, what: 'must be a stream ID' };
  const addStream = optString(body, 'addStream', idRule);
  const removeStream = optString(body, 'removeStream', idRule);
  if ((addStream === undefined) === (removeStream === undefined)) throw invalid('addStream', 'exactly one of addStream and removeStream is required');
  return { ...(addStream ? { addStream } : {}), ...(removeStream ? { removeStream } : {}), hasAudio: optBool(body, 'hasAudio') ?? true, hasVideo: optBool(body, 'hasVideo') ?? true };
}

/** Stream changes need a composition (archive or broadcast) started with `streamMode: manual`. */
export function requireManualStreams(kind: 'archive' | 'broadcast', streamMode: string): void {
  if (streamMode !== 'manual') throw new TokhostError('ERR_ARCHIVE_STREAM_MODE', 'Unsupported Stream Mode', { description: `The ${kind} was started with streamMode auto` });
}

/** Stream changes need the stream to be published in the archive's session right now. */
export function requireLiveStream(ctx: RouteContext, sessionId: string, streamId: string): void {
  if (!ctx.deps.live.getStream(sessionId, streamId)) throw new TokhostError('ERR_STREAM_NOT_FOUND', 'Stream not found', { description: `Stream ${streamId} is not published in session ${sessionId}` });
}

/** Archive routes (reference §3.2, table rows 2–8). */
export const archiveRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v2/project/:key/archive',
    summary: 'Start an archive',
    success: 200,
    body: {
      sessionId: 'session to record (required)',
      name: 'archive name, ≤80 characters',
      hasAudio: 'boolean, default true',
      hasVideo: 'boolean, default true',
      outputMode: 'composed (default) | individual',
      resolution: 'composed only',
      layout: '{type, stylesheet?, screenshareType?}',
      streamMode: 'auto (default) | manual',
      multiArchiveTag: 'allows several archives of one session',
      maxBitrate: 'bits per second, composed only',
      quantizationParameter: '15–40, composed only',
    },
    async handler(ctx) {
      const options = parseArchiveOptions(await ctx.json());
      const { store, live, config } = ctx.deps;
      const apiKey = ctx.project.apiKey;
      const session = requireCompositionStart({
        kind: 'archive',
        store,
        apiKey,
        sessionId: options.sessionId,
        tag: options.multiArchiveTag,
        running: (s) => ({
          inSession: store
            .listArchives(apiKey, { sessionId: s.sessionId, count: 1000 })
            .items.filter((r) => ACTIVE_ARCHIVE_STATUSES.includes(r.archive.status))
            .map((r) => ({ tag: r.archive.multiArchiveTag })),
          inProject: store.listArchivesByStatus(ACTIVE_ARCHIVE_STATUSES).filter((r) => r.apiKey === apiKey).length,
        }),
        limits: limitsFrom(config as unknown as Record<string, unknown>),
        connectionCount: (id) => live.connectionCount(id),
      });
      const archive = await ctx.deps.archiver.start(ctx.project.apiKey, session, options);
      return { status: 200, json: archiveView(ctx, archive) };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/archive/:archiveId/stop',
    summary: 'Stop an archive',
    success: 200,
    async handler(ctx) {
      object(await ctx.json());
      const archive = requireArchive(ctx.deps.store, ctx.project.apiKey, ctx.params.archiveId!);
      requireRecording(archive);
      const stopped = await ctx.deps.archiver.stop(ctx.project.apiKey, archive.id);
      return { status: 200, json: archiveView(ctx, stopped) };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/archive/:archiveId',
    summary: 'Get an archive',
    success: 200,
    handler(ctx) {
      return { status: 200, json: archiveView(ctx, requireArchive(ctx.deps.store, ctx.project.apiKey, ctx.params.archiveId!)) };
    },
  },
  {
    method: 'DELETE',
    path: '/v2/project/:key/archive/:archiveId',
    summary: 'Delete an archive (status available, uploaded, expired, failed or stopped)',
    success: 204,
    async handler(ctx) {
      const archive = requireArchive(ctx.deps.store, ctx.project.apiKey, ctx.params.archiveId!);
      if (ACTIVE_ARCHIVE_STATUSES.includes(archive.status)) throw new TokhostError('ERR_ARCHIVE_STATUS', 'Archive is still recording', { description: `Stop the archive before deleting it (status ${archive.status})` });
      await ctx.deps.archiver.deleteFile(ctx.project.apiKey, archive);
      ctx.deps.store.deleteArchive(ctx.project.apiKey, archive.id);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/archive',
    summary: 'List archives (query offset, count ≤1000, sessionId); count is the total',
    success: 200,
    handler(ctx) {
      const options = projectPaging(ctx.query, ctx.deps.store, ctx.project.apiKey);
      const p = ctx.deps.store.listArchives(ctx.project.apiKey, options);
      return { status: 200, json: { count: p.total, items: p.items.map((r) => archiveView(ctx, r.archive)) } };
    },
  },
  {
    method: 'PATCH',
    path: '/v2/project/:key/archive/:archiveId/streams',
    summary: 'Add or remove a stream of a manual-mode archive',
    success: 204,
    body: { addStream: 'stream ID to add', removeStream: 'stream ID to remove', hasAudio: 'boolean', hasVideo: 'boolean' },
    async handler(ctx) {
      const change = parseStreamChange(await ctx.json());
      const archive = requireArchive(ctx.deps.store, ctx.project.apiKey, ctx.params.archiveId!);
      requireManualStreams('archive', archive.streamMode);
      requireRecording(archive);
      requireLiveStream(ctx, archive.sessionId, (change.addStream ?? change.removeStream)!);
      const { archiver } = ctx.deps;
      const key = ctx.project.apiKey;
      await (change.addStream ? archiver.addStream(key, archive.id, change.addStream, change) : archiver.removeStream(key, archive.id, change.removeStream!));
      return { status: 204 };
    },
  },
  {
    method: 'PUT',
    path: '/v2/project/:key/archive/:archiveId/layout',
    summary: 'Set the layout of a composed archive',
    success: 200,
    body: { type: 'bestFit | pip | verticalPresentation | horizontalPresentation | custom', stylesheet: 'custom only', screenshareType: 'bestFit only' },
    async handler(ctx) {
      const spec = layout(await ctx.json(), 'layout');
      const archive = requireArchive(ctx.deps.store, ctx.project.apiKey, ctx.params.archiveId!);
      if (archive.outputMode !== 'composed') throw new TokhostError('ERR_ARCHIVE_STATUS', 'Layouts apply to composed archives only');
      requireRecording(archive);
      await ctx.deps.archiver.setLayout(ctx.project.apiKey, archive.id, spec);
      return { status: 200, json: {} };
    },
  },
];
