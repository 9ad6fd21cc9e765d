import { signalProblem } from '@tokhost/protocol';
import { requireSession } from '../../services/sessions.js';
import { invalid, TokhostError } from '../../errors.js';
import type { Route, RouteContext } from '../route-table.js';
import { object, optBool, optStringArray } from '../validate.js';

const CLASS_LIST = { maxItems: 64, maxLength: 256 };

/** Validate a signal body: the protocol's one signal rule, as REST errors (413 for sizes, else 400). */
export function parseSignal(value: unknown): { type?: string; data?: string } {
  const body = object(value);
  const { type, data } = body;
  const problem = signalProblem(type, data);
  if (problem) {
    switch (problem.reason) {
      case 'not-string':
        throw invalid(problem.field, 'must be a string');
      case 'characters':
        throw invalid('type', 'may hold only letters, digits, -, _ and ~');
      case 'too-long':
        throw new TokhostError('ERR_SIGNAL_TOO_LARGE', 'Signal type too long', { description: `type must be at most ${problem.max} characters` });
      case 'too-large':
        throw new TokhostError('ERR_SIGNAL_TOO_LARGE', 'Signal data too large', { description: `data must be at most ${problem.maxBytes} bytes` });
    }
  }
  return { ...(typeof type === 'string' ? { type } : {}), ...(typeof data === 'string' ? { data } : {}) };
}

/**
 * The Content-Type of `GET …/session/{sid}/stream/{streamId}`, by SDK (docs/rest-api.md):
 * opentok-node (User-Agent `OpenTok-Node-SDK/…`, key/secret and Vonage mode alike) calls
 * JSON.parse on the already-parsed body when it is typed application/json (reference §2.1), so it
 * gets the JSON text as text/plain. Every other client gets application/json: the Ruby SDK
 * (HTTParty) and `@vonage/video` (vetch) parse by type and fail on text/plain, PHP decodes the
 * body whatever its type, `@tokhost/sdk` reads either.
 */
export function streamContentType(userAgent: string | undefined): string {
  return userAgent !== undefined && userAgent.startsWith('OpenTok-Node-SDK/') ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
}

/** A project may send `restSignalRatePerProject` REST signals per second (burst 5 × that): else 429. */
function admitRestSignal(ctx: RouteContext): void {
  const limiter = ctx.deps.restSignals;
  if (!limiter || limiter.take(ctx.project.apiKey, performance.now())) return;
  ctx.res.setHeader('retry-after', '1');
  throw new TokhostError('ERR_RATE_LIMITED', 'Too many signals', { description: `At most ${limiter.rate} REST signals per second per project (restSignalRatePerProject)` });
}

/** Stream, moderation and signaling routes (reference §3.4–§3.5, rows 15–22). */
export const streamRoutes: Route[] = [
  {
    method: 'PUT',
    path: '/v2/project/:key/session/:sessionId/stream',
    summary: 'Set the layout class lists of streams',
    success: 200,
    body: { items: '[{id, layoutClassList: string[]}] (required)' },
    async handler(ctx) {
      const body = object(await ctx.json());
      if (!Array.isArray(body.items) || body.items.length === 0) throw invalid('items', 'must be a non-empty array');
      if (body.items.length > 1000) throw invalid('items', 'must have at most 1000 entries');
      const items = body.items.map((entry: unknown, i: number) => {
        const item = object(entry, `items[${i}]`);
        if (typeof item.id !== 'string' || !/^[A-Za-z0-9_\-.~:]{1,128}$/.test(item.id)) throw invalid(`items[${i}].id`, 'must be a stream ID');
        const layoutClassList = optStringArray(item, 'layoutClassList', CLASS_LIST);
        if (!layoutClassList) throw invalid(`items[${i}].layoutClassList`, 'is required');
        return { id: item.id, layoutClassList };
      });
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      ctx.deps.live.setStreamClassLists(session.sessionId, items);
      return { status: 200 };
    },
  },
  {
    method: 'PUT',
    path: '/v2/project/:key/session/:sessionId/stream/:streamId',
    summary: 'Set the layout class list of one stream (older API, used by the PHP SDK)',
    success: 200,
    body: { layoutClassList: 'string[] (required)' },
    async handler(ctx) {
      const body = object(await ctx.json());
      const layoutClassList = optStringArray(body, 'layoutClassList', CLASS_LIST);
      if (!layoutClassList) throw invalid('layoutClassList', 'is required');
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      ctx.deps.live.setStreamClassLists(session.sessionId, [{ id: ctx.params.streamId!, layoutClassList }]);
      return { status: 200 };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/session/:sessionId/stream/:streamId',
    summary: 'Get a stream (application/json; text/plain to opentok-node, which parses this answer twice)',
    success: 200,
    handler(ctx) {
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      const stream = ctx.deps.live.getStream(session.sessionId, ctx.params.streamId!);
      if (!stream) throw new TokhostError('ERR_STREAM_NOT_FOUND', 'Stream not found', { description: `Stream ${ctx.params.streamId} is not in the session` });
      return { status: 200, text: JSON.stringify(stream), contentType: streamContentType(ctx.req.headers['user-agent']) };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/session/:sessionId/stream',
    summary: 'List the streams of a session',
    success: 200,
    handler(ctx) {
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      const items = ctx.deps.live.listStreams(session.sessionId);
      return { status: 200, json: { count: items.length, items } };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/stream/:streamId/mute',
    summary: 'Force-mute the audio of one stream',
    success: 200,
    async handler(ctx) {
      object(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      ctx.deps.live.forceMuteStream(session.sessionId, ctx.params.streamId!);
      return { status: 200, json: {} };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/mute',
    summary: 'Force-mute all streams (active true, excludedStreamIds) or end it (active false)',
    success: 200,
    body: { active: 'boolean (string accepted), default true', excludedStreamIds: 'stream IDs to leave alone (excludedStreams accepted too)' },
    async handler(ctx) {
      const body = object(await ctx.json());
      const active = optBool(body, 'active') ?? true;
      const excluded = [...(optStringArray(body, 'excludedStreamIds', { maxItems: 1000, maxLength: 128 }) ?? []), ...(optStringArray(body, 'excludedStreams', { maxItems: 1000, maxLength: 128 }) ?? [])];
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      if (active) ctx.deps.live.forceMuteAll(session.sessionId, excluded);
      else ctx.deps.live.disableForceMute(session.sessionId);
      return { status: 200, json: {} };
    },
  },
  {
    method: 'DELETE',
    path: '/v2/project/:key/session/:sessionId/connection/:connectionId',
    summary: 'Force a connection to disconnect',
    success: 204,
    handler(ctx) {
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      ctx.deps.live.forceDisconnect(session.sessionId, ctx.params.connectionId!);
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/signal',
    summary: 'Signal every connection of a session',
    success: 204,
    body: { type: 'signal type, ≤128 characters of [A-Za-z0-9-_~]', data: 'string, ≤8 kB' },
    async handler(ctx) {
      const signal = parseSignal(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      admitRestSignal(ctx);
      ctx.deps.live.signal(session.sessionId, null, signal);
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/connection/:connectionId/signal',
    summary: 'Signal one connection',
    success: 204,
    body: { type: 'signal type', data: 'string, ≤8 kB' },
    async handler(ctx) {
      const signal = parseSignal(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      admitRestSignal(ctx);
      ctx.deps.live.signal(session.sessionId, ctx.params.connectionId!, signal);
      return { status: 204 };
    },
  },
];
