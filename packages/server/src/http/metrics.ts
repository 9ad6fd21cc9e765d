import type { WebhookStats } from '../webhooks/index.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metricsText } from '../media/metrics.js';
import type { MediaRouter } from '../media/types.js';
import type { RealtimeMetrics } from '../realtime/index.js';

/** The content type Prometheus expects for its text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The server's counters in Prometheus text format: the realtime layer's (connections, sessions,
 * streams and subscribers; per live session too with `sessionLabels`) followed by the media
 * router's (`metricsText`), when a router is running. A router not started yet (no routed
 * session so far) is not started by a scrape. Session IDs name the tenant's API key, so they
 * appear only with `sessionLabels: true` (config `metricsSessionLabels`, default false).
 */
export function serverMetricsText(rt: RealtimeMetrics, router: MediaRouter | null, options: { sessionLabels?: boolean } = {}): string {
  const out: string[] = [];
  const family = (name: string, help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of rows) out.push(`${name}${labels} ${v}`);
  };
  const sl = (s: RealtimeMetrics['sessions'][number]) => `{session="${esc(s.sessionId)}",media_mode="${s.mediaMode}"}`;
  family('tokhost_realtime_connections', 'Client connections (WebSocket sessions) on this server.', [['', rt.connections]]);
  family('tokhost_realtime_sessions', 'Sessions with at least one connection.', [['', rt.sessions.length]]);
  const byMode = (pick: (s: RealtimeMetrics['sessions'][number]) => number): [string, number][] =>
    (['relayed', 'routed'] as const).map((mode) => [`{media_mode="${mode}"}`, rt.sessions.reduce((n, s) => n + (s.mediaMode === mode ? pick(s) : 0), 0)]);
  family('tokhost_realtime_streams', 'Published streams on this server.', byMode((s) => s.streams));
  family('tokhost_realtime_subscribers', 'Subscribers on this server.', byMode((s) => s.subscribers));
  // Session IDs name the tenant's API key: per-session rows only when the operator asks for them.
  if (options.sessionLabels === true) {
    family('tokhost_realtime_session_connections', 'Connections in the session.', rt.sessions.map((s) => [sl(s), s.connections]));
    family('tokhost_realtime_session_streams', 'Published streams in the session.', rt.sessions.map((s) => [sl(s), s.streams]));
    family('tokhost_realtime_session_subscribers', 'Subscribers in the session.', rt.sessions.map((s) => [sl(s), s.subscribers]));
  }
  const counter = (name: string, help: string, v: number) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${v}`);
  counter('tokhost_limit_connections_refused_total', 'WebSocket connects refused by maxConnectionsPerToken or maxConnectionsPerProject.', rt.limits.connectionLimit);
  counter('tokhost_limit_signals_refused_total', 'Client signals refused by signalRatePerConnection.', rt.limits.signalRate);
  counter('tokhost_limit_subscriptions_refused_total', 'Subscribes refused (second subscription to a stream, maxSubscriptionsPerConnection).', rt.limits.subscriptions);
  counter('tokhost_limit_slow_consumer_disconnects_total', 'Client sockets cut because their outgoing buffer passed sendBufferMaxBytes.', rt.limits.slowConsumerCuts);
  return out.join('\n') + '\n' + (router && !router.closed ? metricsText(router, options) : '');
}

/** Webhook delivery counters and the ICE candidates the outbound policy refused. */
export function webhookMetricsText(w: WebhookStats, refusedCandidates: number): string {
  const out: string[] = [];
  const counter = (name: string, help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const [labels, v] of rows) out.push(`${name}${labels} ${v}`);
  };
  counter('tokhost_webhook_delivered_total', 'Webhook events delivered (2xx).', [['', w.delivered]]);
  counter('tokhost_webhook_failed_attempts_total', 'Webhook delivery attempts that failed (errors, non-2xx including redirects, timeouts).', [['', w.failedAttempts]]);
  counter('tokhost_webhook_timeouts_total', 'Webhook delivery attempts given up after the timeout.', [['', w.timedOut]]);
  counter(
    'tokhost_webhook_dropped_total',
    'Webhook events dropped: every retry failed, too old, pushed out of a full outbox, or target refused by the outbound policy.',
    Object.entries(w.dropped).map(([reason, n]) => [`{reason="${reason}"}`, n]),
  );
  counter('tokhost_ice_candidates_refused_total', 'ICE candidates of clients dropped by the outbound policy.', [['', refusedCandidates]]);
  return out.join('\n') + '\n';
}

/**
 * Whether a `/metrics` request may be answered: true for the operator token, and without one only
 * while the server is reachable from this machine alone (see {@link servesLoopbackOnly}).
 */
export type MetricsGuard = (req: IncomingMessage) => boolean;

/**
 * True when the server can only be reached from this machine: it listens on 127.0.0.1, ::1 or
 * localhost (not another 127.x address),
 * no `publicUrl` says a reverse proxy publishes it, and the request did not come through a proxy
 * (`Forwarded` / `X-Forwarded-For`). `0.0.0.0` and `::` are not loopback: they accept every
 * interface.
 */
export function servesLoopbackOnly(listenHost: string, publicUrl: string | null, req: IncomingMessage): boolean {
  if (publicUrl !== null || req.headers['forwarded'] !== undefined || req.headers['x-forwarded-for'] !== undefined) return false;
  return ONLY_THIS_MACHINE.has(listenHost);
}

/**
 * Listen addresses whose metrics need no token. Only the usual ones: another 127.x address (a
 * second loopback address, often bound to publish a service through a local proxy or a container
 * port) needs the token, as any non-loopback address does.
 */
const ONLY_THIS_MACHINE = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

const UNAUTHORIZED = JSON.stringify({
  code: 401,
  message: 'Unauthorized',
  description: 'GET /metrics needs the operator token: Authorization: Bearer <operator token>',
});

/** Answers `GET|HEAD /metrics` (401 unless `guard` lets the request through); returns false for any other path. */
export function handleMetrics(req: IncomingMessage, res: ServerResponse, guard: MetricsGuard, text: () => string): boolean {
  // Every request passes here first: compare, do not split.
  const url = req.url ?? '';
  if (!url.startsWith('/metrics') || (url.length > 8 && url[8] !== '?')) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'content-length': 0 }).end();
    return true;
  }
  if (!guard(req)) {
    res.writeHead(401, { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Bearer realm="tokhost operator"', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(UNAUTHORIZED) });
    res.end(req.method === 'HEAD' ? undefined : UNAUTHORIZED);
    return true;
  }
  const body = text();
  res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
