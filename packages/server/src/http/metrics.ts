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
 * The server's counters in Prometheus text format: the realtime layer's (connections, and
 * connections/streams/subscribers per live session) followed by the media router's
 * (`metricsText`), when a router is running. A router not started yet (no routed session so
 * far) is not started by a scrape.
 */
export function serverMetricsText(rt: RealtimeMetrics, router: MediaRouter | null): string {
  const out: string[] = [];
  const family = (name: string, help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of rows) out.push(`${name}${labels} ${v}`);
  };
  const sl = (s: RealtimeMetrics['sessions'][number]) => `{session="${esc(s.sessionId)}",media_mode="${s.mediaMode}"}`;
  family('tokhost_realtime_connections', 'Client connections (WebSocket sessions) on this server.', [['', rt.connections]]);
  family('tokhost_realtime_sessions', 'Sessions with at least one connection.', [['', rt.sessions.length]]);
  family('tokhost_realtime_session_connections', 'Connections in the session.', rt.sessions.map((s) => [sl(s), s.connections]));
  family('tokhost_realtime_session_streams', 'Published streams in the session.', rt.sessions.map((s) => [sl(s), s.streams]));
  family('tokhost_realtime_session_subscribers', 'Subscribers in the session.', rt.sessions.map((s) => [sl(s), s.subscribers]));
  return out.join('\n') + '\n' + (router && !router.closed ? metricsText(router) : '');
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

/** Answers `GET|HEAD /metrics`; returns false for any other path. */
export function handleMetrics(req: IncomingMessage, res: ServerResponse, text: () => string): boolean {
  // Every request passes here first: compare, do not split.
  const url = req.url ?? '';
  if (!url.startsWith('/metrics') || (url.length > 8 && url[8] !== '?')) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'content-length': 0 }).end();
    return true;
  }
  const body = text();
  res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
