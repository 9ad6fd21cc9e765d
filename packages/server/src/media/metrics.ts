import type { MediaRouter } from './types.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : '0';
}

/**
 * The router's counters in Prometheus text exposition format (version 0.0.4), for `GET /metrics`
 * with `Content-Type: text/plain; version=0.0.4`. Values are the workers' last one-second
 * samples. Per-session families (labelled with session IDs, which name the tenant's API key)
 * only with `sessionLabels: true` (config `metricsSessionLabels`).
 *
 * @example
 * if (req.url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metricsText(router));
 */
export function metricsText(router: MediaRouter, options: { sessionLabels?: boolean } = {}): string {
  const m = router.metrics();
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) out.push(`${name}${labels} ${num(v)}`);
  };
  const wl = (w: { pid: number }, i: number) => `{worker="${i}",pid="${w.pid}"}`;
  family('tokhost_media_worker_rooms', 'gauge', 'Routed sessions placed on the media worker.', m.workers.map((w, i) => [wl(w, i), w.rooms]));
  family('tokhost_media_worker_publishers', 'gauge', 'Published streams on the media worker.', m.workers.map((w, i) => [wl(w, i), w.publishers]));
  family('tokhost_media_worker_subscribers', 'gauge', 'Subscribers on the media worker.', m.workers.map((w, i) => [wl(w, i), w.subscribers]));
  family('tokhost_media_worker_forwarded_packets_per_second', 'gauge', 'RTP packets forwarded per second.', m.workers.map((w, i) => [wl(w, i), w.packetsPerSecond]));
  family('tokhost_media_worker_received_packets_per_second', 'gauge', 'RTP packets received from publishers per second.', m.workers.map((w, i) => [wl(w, i), w.packetsInPerSecond]));
  family('tokhost_media_worker_forwarded_bits_per_second', 'gauge', 'Forwarded bitrate.', m.workers.map((w, i) => [wl(w, i), w.bitrateBps]));
  family('tokhost_media_worker_loss_ratio', 'gauge', 'Mean loss fraction reported by subscribers.', m.workers.map((w, i) => [wl(w, i), w.lossRate]));
  family('tokhost_media_worker_keyframe_requests_per_second', 'gauge', 'Keyframe requests (PLI) sent to publishers per second.', m.workers.map((w, i) => [wl(w, i), w.keyframeRequestsPerSecond]));
  family('tokhost_media_worker_event_loop_p99_seconds', 'gauge', 'Event-loop delay p99 of the worker.', m.workers.map((w, i) => [wl(w, i), w.eventLoopP99Ms / 1000]));
  family('tokhost_media_worker_cpu_seconds_total', 'counter', 'CPU time used by the worker process.', m.workers.map((w, i) => [wl(w, i), w.cpuSeconds]));
  family('tokhost_media_worker_resident_memory_bytes', 'gauge', 'Resident memory of the worker process.', m.workers.map((w, i) => [wl(w, i), w.rssBytes]));
  family('tokhost_media_sessions', 'gauge', 'Routed sessions on the router.', [['', m.sessions.length]]);
  // Session IDs name the tenant's API key: per-session rows only when the operator asks for them.
  if (options.sessionLabels !== true) return out.join('\n') + '\n';
  const sl = (s: { sessionId: string }) => `{session="${esc(s.sessionId)}"}`;
  family('tokhost_media_session_publishers', 'gauge', 'Published streams in the routed session.', m.sessions.map((s) => [sl(s), s.publishers]));
  family('tokhost_media_session_subscribers', 'gauge', 'Subscribers in the routed session.', m.sessions.map((s) => [sl(s), s.subscribers]));
  family('tokhost_media_session_forwarded_packets_per_second', 'gauge', 'RTP packets forwarded per second in the session.', m.sessions.map((s) => [sl(s), s.packetsPerSecond]));
  family('tokhost_media_session_forwarded_bits_per_second', 'gauge', 'Forwarded bitrate in the session.', m.sessions.map((s) => [sl(s), s.bitrateBps]));
  family('tokhost_media_session_loss_ratio', 'gauge', 'Mean loss fraction reported by the session subscribers.', m.sessions.map((s) => [sl(s), s.lossRate]));
  return out.join('\n') + '\n';
}
