import { RENDER_MAX_DURATION, RENDER_NAME_MAX_LENGTH } from '@tokhost/protocol';
import { ClientTokenError, verifyAnyClientToken } from '../../auth/client-token.js';
import { invalid, TokhostError } from '../../errors.js';
import type { StartRender } from '../../render/service.js';
import { requireNotE2ee, requireSession } from '../../services/sessions.js';
import type { Route, RouteContext } from '../route-table.js';
import { object, optInt, optResolution, optString, paging, reqString, requireOutbound } from '../validate.js';

/** An http(s) URL of at most 2048 characters; the message names `field`. */
function httpUrl(value: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid(field, 'must be an absolute http or https URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(field, 'must be an absolute http or https URL');
  if (u.username || u.password) throw invalid(field, 'must not hold credentials');
  return u;
}

/** Validate a start-render body (reference §3.9) without touching any state. */
export function parseStartRender(value: unknown): StartRender & { urlHost: string; callbackHost?: string } {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const token = reqString(body, 'token', { max: 16_384 });
  const url = reqString(body, 'url', { max: 2048 });
  const target = httpUrl(url, 'url');
  const maxDuration = optInt(body, 'maxDuration', RENDER_MAX_DURATION.min, RENDER_MAX_DURATION.max) ?? RENDER_MAX_DURATION.default;
  const resolution = optResolution(body) ?? '1280x720';
  const statusCallbackUrl = optString(body, 'statusCallbackUrl', { max: 2048 });
  const callback = statusCallbackUrl ? httpUrl(statusCallbackUrl, 'statusCallbackUrl') : undefined;
  let name: string | undefined;
  if (body['properties'] !== undefined && body['properties'] !== null) {
    const properties = object(body['properties'], 'properties');
    const n = properties['name'];
    if (n !== undefined && n !== null) {
      if (typeof n !== 'string') throw invalid('properties.name', 'must be a string');
      if (n.length > RENDER_NAME_MAX_LENGTH) throw invalid('properties.name', `must be at most ${RENDER_NAME_MAX_LENGTH} characters`);
      name = n;
    }
  }
  return {
    sessionId,
    token,
    url,
    maxDuration,
    resolution,
    urlHost: target.hostname.replace(/^\[|\]$/g, ''),
    ...(statusCallbackUrl && callback ? { statusCallbackUrl, callbackHost: callback.hostname.replace(/^\[|\]$/g, '') } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

function service(ctx: RouteContext) {
  if (!ctx.deps.renders) throw new TokhostError('ERR_NOT_IMPLEMENTED', 'Experience Composer is not available on this server', { description: 'This server runs without renders (see docs/render.md)' });
  return ctx.deps.renders;
}

const getRender: Route['handler'] = (ctx) => ({ status: 200, json: service(ctx).get(ctx.project.apiKey, ctx.params.renderId!) });

/** Experience Composer routes (reference §3.9, rows 29–32; docs/render.md). */
export const renderRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v2/project/:key/render',
    summary: 'Start an Experience Composer render: a web page published into the session as a stream',
    success: 202,
    body: {
      sessionId: 'required (a routed session of this project)',
      token: 'publisher token of the session, used by the render to connect (required)',
      url: 'http(s) page to render (required; the outbound policy applies)',
      maxDuration: 'seconds, 60–36000 (default 1800)',
      resolution: 'one of 640x480, 480x640, 1280x720, 720x1280, 1920x1080, 1080x1920 (default 1280x720)',
      statusCallbackUrl: 'http(s) URL that receives the status callbacks',
      properties: '{name}: the published stream name',
    },
    async handler(ctx) {
      const start = parseStartRender(await ctx.json());
      const { deps, project } = ctx;
      await requireOutbound(deps.outbound, 'url', start.urlHost);
      if (start.callbackHost !== undefined) await requireOutbound(deps.outbound, 'statusCallbackUrl', start.callbackHost);
      const session = requireSession(deps.store, project.apiKey, start.sessionId);
      try {
        const verified = await verifyAnyClientToken(start.token, (k) => deps.store.getProject(k), { clockSkewSeconds: deps.config.authClockSkewSeconds, lookupApplication: (id) => deps.store.getApplication(id) });
        if (verified.apiKey !== project.apiKey || verified.sessionId !== session.sessionId) throw invalid('token', 'is not a token for this session');
        if (verified.role === 'subscriber') throw invalid('token', 'must have the publisher (or moderator) role: the render publishes');
      } catch (err) {
        if (err instanceof ClientTokenError) throw new TokhostError('ERR_REQUEST_INVALID', 'Invalid token', { description: err.message, cause: err });
        throw err;
      }
      requireNotE2ee(session, 'Experience Composer');
      if (session.mediaMode !== 'routed') throw new TokhostError('ERR_RENDER_NOT_ROUTED', 'Only routed sessions can have renders', { description: `Session ${session.sessionId} is relayed; Experience Composer publishes through the media router` });
      const { urlHost: _u, callbackHost: _c, ...options } = start;
      const render = service(ctx).start(project, options);
      return { status: 202, json: render };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/render/:renderId',
    summary: 'Get a render',
    success: 200,
    handler: getRender,
  },
  {
    // The PHP SDK reads a render with POST (reference §3, other SDKs): answered as the GET.
    method: 'POST',
    path: '/v2/project/:key/render/:renderId',
    summary: 'Get a render (the PHP SDK reads with POST)',
    success: 200,
    handler: getRender,
  },
  {
    method: 'DELETE',
    path: '/v2/project/:key/render/:renderId',
    summary: 'Stop a render ("Stop Requested")',
    success: 204,
    async handler(ctx) {
      await service(ctx).stop(ctx.project.apiKey, ctx.params.renderId!);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/render',
    summary: 'List renders, newest first',
    success: 200,
    handler(ctx) {
      const { offset, count } = paging(ctx.query);
      const page = service(ctx).list(ctx.project.apiKey, { offset, count });
      return { status: 200, json: { count: page.total, items: page.items.map((r) => r.render) } };
    },
  },
];
