import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import type { KeyedRateLimiter } from '../limits.js';
import type { OutboundPolicy } from '../net/outbound.js';
import type { Thumbnailer } from '../compose/thumbnail.js';
import type { MetricsHistory } from '../services/metrics-history.js';
import type { Archiver } from '../recording/archiver.js';
import type { BroadcastService } from '../services/broadcasts.js';
import type { RenderService } from '../render/service.js';
import type { LiveSessions } from '../live/index.js';
import type { SipGateway } from '../sip/gateway.js';
import type { AudioConnector } from '../connector/audio-connector.js';
import type { CaptionsService } from '../captions/captions.js';
import type { ProjectRecord, Store } from '../storage/store.js';
import type { OperatorAuth } from '../auth/operator.js';
import type { WebhookSender } from '../webhooks/index.js';
import { TokhostError } from '../errors.js';

/** What every route handler can use. */
export interface RestDeps {
  store: Store;
  live: LiveSessions;
  /** The recordings behind the archive routes. */
  archiver: Archiver;
  config: ServerConfig;
  logger: Logger;
  broadcasts: BroadcastService;
  /** Which hosts callers may make the server connect to (RTMP servers, SIP targets). */
  outbound: OutboundPolicy;
  /**
   * The operator token: `Authorization: Bearer <operator token>` may call every project's routes
   * (the path's API key names the project) and the admin routes. Absent: no operator access.
   */
  operator?: OperatorAuth;
  /** The webhook sender (the deliveries' retry). Absent: retry answers 503. */
  webhooks?: WebhookSender;
  /** Stream thumbnails for the console; absent: the thumbnail route answers 501. */
  thumbnails?: Thumbnailer;
  /** The samples behind `GET /v2/admin/metrics/history`; absent: it answers 501. */
  metricsHistory?: MetricsHistory;
  /** Experience Composer (the render routes); absent: they answer 501. */
  renders?: RenderService;
  /** The SIP gateway (`dial`, `play-dtmf`); absent when config `sip` is false. */
  sip?: SipGateway;
  /** The Audio Connector (`/connect`). */
  connector?: AudioConnector;
  /** Live captions (`/captions`). */
  captions?: CaptionsService;
  /** REST signals per project (`restSignalRatePerProject`). Default: made by `createRestHandler`. */
  restSignals?: KeyedRateLimiter;
  /**
   * Cluster mode: run the call on the node that owns its session instead. Resolves true when the
   * request was forwarded and answered; false to handle it here.
   */
  forward?(req: IncomingMessage, res: ServerResponse, route: Route, params: Readonly<Record<string, string>>, project: ProjectRecord, raw: () => Promise<Buffer>): Promise<boolean>;
}

/** A handler's answer. `json` is serialised with `application/json` unless `contentType` says otherwise. */
export type RouteResult =
  | { status: number; json: unknown; contentType?: string }
  | { status: number; text: string; contentType: string }
  | { status: number; bytes: Buffer; contentType: string }
  | { status: number };

/** The request as a handler sees it: validated path parameters, the authenticated project. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  project: ProjectRecord;
  /** The caller holds the operator token (not the project's credentials). */
  operator: boolean;
  deps: RestDeps;
  /** The body parsed as JSON (`{}` when empty), within the size limit. */
  json(): Promise<unknown>;
  /** The raw body, within the size limit. */
  raw(): Promise<Buffer>;
}

/** One REST route. `path` uses `:name` parameters, validated by {@link PARAM_PATTERNS}. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Short description for /openapi.json and docs. */
  summary: string;
  /** Documented success status. */
  success: number;
  /** Body fields for /openapi.json (name → description). */
  body?: Record<string, string>;
  handler(ctx: RouteContext): Promise<RouteResult> | RouteResult;
}

/** What an operator-only route's handler gets: no project, the caller holds the operator token. */
export interface AdminContext {
  req: IncomingMessage;
  query: URLSearchParams;
  deps: RestDeps;
}

/** A route of the operator (`/v2/admin/…`): only the operator token may call it. */
export interface AdminRoute {
  method: Route['method'];
  path: string;
  summary: string;
  success: number;
  handler(ctx: AdminContext): Promise<RouteResult> | RouteResult;
}

/**
 * Path parameters and what they must look like. Checked before any handler runs, so no handler
 * ever sees a traversal sequence, a control character or an over-long ID.
 */
export const PARAM_PATTERNS: Record<string, { pattern: RegExp; what: string }> = {
  key: { pattern: /^[0-9A-Za-z-]{1,64}$/, what: 'an API key' },
  sessionId: { pattern: /^[0-9]_[A-Za-z0-9_\-+/=]{1,253}$/, what: 'a session ID' },
  archiveId: { pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'an archive ID (UUID)' },
  broadcastId: { pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'a broadcast ID (UUID)' },
  renderId: { pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'a render ID (UUID)' },
  streamId: { pattern: /^[A-Za-z0-9_\-.~:]{1,128}$/, what: 'a stream ID' },
  connectionId: { pattern: /^[A-Za-z0-9_\-.~:]{1,128}$/, what: 'a connection ID' },
  deliveryId: { pattern: /^[1-9][0-9]{0,15}$/, what: 'a webhook delivery ID (a positive integer)' },
  connectId: { pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'an Audio Connector connection ID (UUID)' },
  captionsId: { pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'a captions ID (UUID)' },
};

interface CompiledRoute<R> {
  route: R;
  segments: string[];
}

/** Result of matching a path against the table. */
export type Match<R = Route> =
  | { kind: 'route'; route: R; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'none' };

/**
 * Split a request target into decoded path segments and the query. Repeated slashes collapse
 * (opentok-node with a trailing-slash `apiUrl` sends `//session/create`), a trailing slash is
 * ignored, and the legacy aliases of reference §1.1 map to their current paths.
 */
export function parseTarget(url: string): { segments: string[]; query: URLSearchParams } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  let segments = path.split('/').filter((s) => s !== '');
  // Most paths hold no escapes; decoding each segment is for the ones that do.
  if (path.includes('%')) {
    try {
      segments = segments.map((s) => decodeURIComponent(s));
    } catch (cause) {
      throw new TokhostError('ERR_REQUEST_INVALID', 'Invalid request path', { description: 'The path holds an invalid percent-encoding', cause });
    }
  }
  if (segments[0] === 'v2' && segments[1] === 'partner') segments[1] = 'project';
  if (segments[0] === 'hl' && segments[1] === 'session' && segments[2] === 'create' && segments.length === 3) segments = ['session', 'create'];
  if (segments[0] === 'v2' && segments[1] === 'project' && segments[3] === 'call' && segments.length === 4) segments[3] = 'dial';
  return { segments, query };
}

/** Compile a route table once; matching is by segment count, then literal/parameter. */
export function createRouter<R extends Pick<Route, 'method' | 'path'>>(routes: readonly R[]): (method: string, segments: string[]) => Match<R> {
  const compiled: CompiledRoute<R>[] = routes.map((route) => ({ route, segments: route.path.split('/').filter(Boolean) }));
  return (method, segments) => {
    const allow: string[] = [];
    for (const c of compiled) {
      if (c.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < c.segments.length; i++) {
        const pat = c.segments[i]!;
        const seg = segments[i]!;
        if (pat.startsWith(':')) params[pat.slice(1)] = seg;
        else if (pat !== seg) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (c.route.method === method) return { kind: 'route', route: c.route, params };
      allow.push(c.route.method);
    }
    return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'none' };
  };
}

/** Check every path parameter against {@link PARAM_PATTERNS}; 400 naming the first bad one. */
export function validateParams(params: Record<string, string>): void {
  for (const [name, value] of Object.entries(params)) {
    const rule = PARAM_PATTERNS[name];
    if (rule && !rule.pattern.test(value)) throw new TokhostError('ERR_REQUEST_INVALID', `Invalid ${name}`, { description: `${name} in the path must be ${rule.what}` });
  }
}
