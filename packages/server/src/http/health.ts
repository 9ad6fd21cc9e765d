import type { IncomingMessage, ServerResponse } from 'node:http';

/** One readiness check: `null` when fine, else why not (e.g. `'redis: connection lost'`). */
export type ReadinessCheck = () => string | null;

/**
 * `GET|HEAD /healthz` (liveness: the process answers HTTP; always 200 while it runs) and
 * `GET|HEAD /readyz` (readiness: 200 when every check passes, else 503 with the failing checks, so
 * a load balancer stops sending new clients: the store is open, the node is not draining, and in
 * cluster mode Redis and PostgreSQL are reachable). Bodies are small JSON objects; no
 * authentication, and nothing about projects or sessions is shown.
 */
export function handleHealth(req: IncomingMessage, res: ServerResponse, checks: Readonly<Record<string, ReadinessCheck>>): boolean {
  const url = req.url ?? '';
  const path = url.startsWith('/healthz') ? '/healthz' : url.startsWith('/readyz') ? '/readyz' : null;
  if (path === null || (url.length > path.length && url[path.length] !== '?')) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end();
    return true;
  }
  let status = 200;
  let body: Record<string, unknown> = { status: 'ok' };
  if (path === '/readyz') {
    const failing: Record<string, string> = {};
    for (const [name, check] of Object.entries(checks)) {
      let problem: string | null;
      try {
        problem = check();
      } catch (err) {
        problem = (err as Error).message;
      }
      if (problem !== null) failing[name] = problem;
    }
    if (Object.keys(failing).length > 0) {
      status = 503;
      body = { status: 'unavailable', failing };
    } else body = { status: 'ready', checks: Object.keys(checks) };
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
  return true;
}
