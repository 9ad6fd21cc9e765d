import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticateRequest } from '../auth/rest-auth.js';
import type { RestIdentity } from '../auth/rest-auth.js';
import type { VerifiedJwt } from '../auth/rest-auth.js';
import { errorXml } from '../services/sessions.js';
import { readBody, parseJsonBody } from './body.js';
import { TokhostError } from '../errors.js';
import { isRestError, restAnswer } from './errors.js';
import { buildOpenApi } from './openapi.js';
import { KeyedRateLimiter, limitsFrom } from '../limits.js';
import type { AdminRoute, RestDeps, Route, RouteContext, RouteResult } from './route-table.js';
import type { ProjectRecord } from '../storage/store.js';
import { createRouter, parseTarget, validateParams } from './route-table.js';
import { archiveRoutes } from './routes/archives.js';
import { broadcastRoutes } from './routes/broadcasts.js';
import { acceptsJson, sessionRoutes } from './routes/sessions.js';
import { adminRoutes, liveSessionRoutes } from './routes/admin.js';
import { webhookDeliveryRoutes } from './routes/webhook-deliveries.js';
import { renderRoutes } from './routes/renders.js';
import { sipRoutes } from './routes/sip.js';
import { connectRoutes } from './routes/connect.js';
import { captionsRoutes } from './routes/captions.js';
import { streamRoutes } from './routes/streams.js';
import { thumbnailRoutes } from './routes/thumbnails.js';
import { metricsHistoryRoutes } from './routes/metrics-history.js';

/** Every REST route, in the order of reference §3. */
export const REST_ROUTES: readonly Route[] = [...sessionRoutes, ...archiveRoutes, ...broadcastRoutes, ...streamRoutes, ...thumbnailRoutes, ...sipRoutes, ...connectRoutes, ...captionsRoutes, ...renderRoutes, ...liveSessionRoutes, ...webhookDeliveryRoutes];

/** The operator's routes (`/v2/admin/…`, docs/rest-api.md "Admin API"): the operator token only. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [...adminRoutes, ...metricsHistoryRoutes];

const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: ServerResponse, result: RouteResult): void {
  let payload: string | Buffer | undefined;
  let type: string | undefined;
  if ('bytes' in result) {
    payload = result.bytes;
    type = result.contentType;
  } else if ('json' in result) {
    payload = JSON.stringify(result.json);
    type = result.contentType ?? JSON_TYPE;
  } else if ('text' in result) {
    payload = result.text;
    type = result.contentType;
  }
  // One literal of a fixed shape per answer (this runs for every request).
  const headers: Record<string, string | number> = {
    'cache-control': 'no-store',
    'content-type': type!,
    'content-length': payload !== undefined ? Buffer.byteLength(payload) : 0,
  };
  if (type === undefined) delete headers['content-type'];
  if (payload === undefined && result.status === 204) delete headers['content-length'];
  res.writeHead(result.status, headers);
  res.end(payload);
}

/** What a handler gets; a class so a request costs one object, not one plus two closures. */
class Context implements RouteContext {
  private body: Promise<Buffer> | undefined;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly params: Readonly<Record<string, string>>,
    readonly query: URLSearchParams,
    readonly project: ProjectRecord,
    readonly operator: boolean,
    readonly deps: RestDeps,
  ) {}
  raw(): Promise<Buffer> {
    return (this.body ??= readBody(this.req, this.deps.config.maxBodyBytes, this.res));
  }
  async json(): Promise<unknown> {
    return parseJsonBody(this.req, await this.raw());
  }
}

/**
 * The REST layer: returns a function that answers a request when its path belongs to the REST API
 * (`/v2/…`, `/session/create`, `/openapi.json`) and returns false otherwise, so the caller can
 * hand the request to the realtime layer.
 */
export function createRestHandler(given: RestDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const rate = limitsFrom(given.config as unknown as Record<string, unknown>).restSignalRatePerProject;
  const deps: RestDeps = { ...given, restSignals: given.restSignals ?? new KeyedRateLimiter(rate, rate * 5) };
  const match = createRouter(REST_ROUTES);
  const matchAdmin = createRouter(ADMIN_ROUTES);
  const openapi = JSON.stringify(buildOpenApi(REST_ROUTES, ADMIN_ROUTES));
  const operator = deps.operator;
  /** The request carries the operator token (checked only for a Bearer header: application JWTs are the other kind). */
  const isOperator = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization;
    return operator !== undefined && typeof h === 'string' && /^bearer /i.test(h) && operator.verify(req.headers);
  };
  const { logger, config, store } = deps;
  const jwtCache = new Map<string, VerifiedJwt>();
  // An X-OPENTOK-AUTH or legacy credential may name an application ID as its issuer (it stands for
  // its project, docs/applications.md); the project secret signs it all the same.
  const lookupProject = (k: string) => store.getProject(k) ?? (k.length === 36 ? projectOfApplication(k) : undefined);
  const projectOfApplication = (id: string) => {
    const app = store.getApplication(id.toLowerCase());
    return app && store.getProject(app.apiKey);
  };
  const authOptions = { lookup: lookupProject, lookupApplication: (id: string) => store.getApplication(id), clockSkewSeconds: config.authClockSkewSeconds, cache: jwtCache };

  return (req, res) => {
    const url = req.url ?? '/';
    let target: ReturnType<typeof parseTarget>;
    try {
      target = parseTarget(url);
    } catch (err) {
      const first = url.split('/').filter(Boolean)[0] ?? '';
      if (first !== 'v2' && first !== 'session' && first !== 'hl') return false;
      finish(req, res, err, Date.now(), undefined);
      return true;
    }
    const { segments, query } = target;
    const first = segments[0];
    const isSessionCreate = first === 'session' && segments[1] === 'create' && segments.length === 2;
    if (first === 'openapi.json' && segments.length === 1 && req.method === 'GET') {
      send(res, { status: 200, text: openapi, contentType: JSON_TYPE });
      return true;
    }
    if (first !== 'v2' && !isSessionCreate) return false;

    void handle(req, res, url, segments, query, isSessionCreate);
    return true;
  };

  // One async function per request (no closures around it): this runs for every REST call.
  async function handle(req: IncomingMessage, res: ServerResponse, url: string, segments: string[], query: URLSearchParams, isSessionCreate: boolean): Promise<void> {
    const started = Date.now();
    let apiKey: string | undefined;
    let result: RouteResult;
    try {
      if (segments[1] === 'admin') {
        result = await handleAdmin(req, res, segments, query);
        send(res, result);
        if (logger.isLevelEnabled('info')) logger.info({ method: req.method, path: pathOnly(url), status: result.status, ms: Date.now() - started, operator: true }, 'request');
        return;
      }
      const m = match(req.method ?? 'GET', segments);
      if (m.kind === 'none') throw new TokhostError('ERR_NOT_FOUND', 'Not Found', { description: `No REST resource at ${req.method} ${segments.join('/')}` });
      if (m.kind === 'method-not-allowed') {
        res.setHeader('allow', m.allow.join(', '));
        throw new TokhostError('ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed', { description: `Allowed: ${m.allow.join(', ')}` });
      }
      let project: ProjectRecord;
      const operatorCall = isOperator(req);
      if (operatorCall) {
        // The operator may act on any project: the path's API key (or application ID) names it.
        if (m.params.key === undefined) throw new TokhostError('ERR_AUTH_FORBIDDEN', 'The operator token names no project', { description: 'With the operator token, call the /v2/project/{apiKey}/… form of the route: the path names the project' });
        validateParams(m.params);
        const named = lookupProject(m.params.key);
        if (!named) throw new TokhostError('ERR_NOT_FOUND', 'Project not found', { description: `No project with API key ${m.params.key}` });
        project = named;
      } else {
        const pending = authenticateRequest(req.headers, authOptions);
        const identity = pending instanceof Promise ? await pending : pending;
        if (m.params.key !== undefined && !pathKeyMatches(m.params.key, identity, store)) {
          throw new TokhostError('ERR_AUTH_FORBIDDEN', 'Invalid issuer', { description: 'The API key or application ID in the path does not match the credentials' });
        }
        validateParams(m.params);
        project = identity.project;
      }
      apiKey = project.apiKey;
      // A body the handler does not read is discarded by node:http once the answer is sent.
      const ctx = new Context(req, res, m.params, query, project, operatorCall, deps);
      if (deps.forward) {
        let forwarded: boolean;
        try {
          forwarded = await deps.forward(req, res, m.route, m.params, project, () => ctx.raw());
        } catch (cause) {
          if (isRestError(cause)) throw cause;
          throw new TokhostError('ERR_OWNER_UNAVAILABLE', 'Session owner unavailable', { description: 'The node running this session did not answer; retry in a few seconds', cause });
        }
        if (forwarded) return;
      }
      result = await m.route.handler(ctx);
    } catch (err) {
      finish(req, res, err, started, apiKey, isSessionCreate && !acceptsJson(req.headers.accept));
      return;
    }
    send(res, result);
    // The log object is built only when it is written (the bench and busy servers log at warn).
    if (logger.isLevelEnabled('info')) logger.info({ method: req.method, path: pathOnly(url), status: result.status, ms: Date.now() - started, apiKey }, 'request');
  }

  /** `/v2/admin/…`: the operator token, or 403 (project credentials are checked only to say which 403). */
  async function handleAdmin(req: IncomingMessage, res: ServerResponse, segments: string[], query: URLSearchParams): Promise<RouteResult> {
    const m = matchAdmin(req.method ?? 'GET', segments);
    if (m.kind === 'none') throw new TokhostError('ERR_NOT_FOUND', 'Not Found', { description: `No REST resource at ${req.method} ${segments.join('/')}` });
    if (m.kind === 'method-not-allowed') {
      res.setHeader('allow', m.allow.join(', '));
      throw new TokhostError('ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed', { description: `Allowed: ${m.allow.join(', ')}` });
    }
    if (!isOperator(req)) {
      const pending = authenticateRequest(req.headers, authOptions);
      if (pending instanceof Promise) await pending;
      throw new TokhostError('ERR_AUTH_FORBIDDEN', 'Operator token required', { description: `${req.method} /${segments.join('/')} needs the operator token (Authorization: Bearer <operator token>); project credentials see only their project` });
    }
    validateParams(m.params);
    return m.route.handler({ req, query, deps });
  }

  function finish(req: IncomingMessage, res: ServerResponse, err: unknown, started: number, apiKey: string | undefined, xml = false): void {
    const url = req.url ?? '/';
    let answer = restAnswer(err);
    if (!answer) {
      logger.error({ err, method: req.method, path: pathOnly(url), apiKey }, 'request failed');
      answer = restAnswer(new TokhostError('ERR_INTERNAL', 'Internal server error', { description: 'The server failed to handle the request', cause: err }))!;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, body } = answer;
    const result: RouteResult = xml ? { status, text: errorXml(body.code, body.message, body.description), contentType: 'text/xml; charset=utf-8' } : { status, json: body };
    send(res, result);
    if (logger.isLevelEnabled('info')) logger.info({ method: req.method, path: pathOnly(url), status, code: answer.code, ms: Date.now() - started, apiKey }, 'request');
  }
}

/**
 * Whose resources a path may name. Application credentials (Bearer) name exactly their
 * application ID, as the Vonage API requires. Key/secret credentials name their API key, or an
 * application ID of their project: an application stands for its project wherever a key is
 * accepted (docs/applications.md).
 */
function pathKeyMatches(key: string, identity: RestIdentity, store?: RestDeps['store']): boolean {
  if (identity.applicationId !== undefined) return key.toLowerCase() === identity.applicationId;
  if (key === identity.project.apiKey) return true;
  return store !== undefined && key.length === 36 && store.getApplication(key.toLowerCase())?.apiKey === identity.project.apiKey;
}

/** The path without the query (never logged: it could carry a caller's data). */
function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)).slice(0, 512);
}
