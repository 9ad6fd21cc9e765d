import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the `/` page says about this server. */
export interface HomeInfo {
  /** The demo is served at `/demo` (config `demo`). */
  demo: boolean;
  /** The web console is served at `/console` (config `console`). */
  console: boolean;
}

/** True when the client asks for JSON rather than a page (an `Accept` naming JSON and not HTML). */
function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return /\bapplication\/json\b/i.test(accept) && !/\btext\/html\b/i.test(accept);
}

function page(info: HomeInfo): string {
  const links = [
    ...(info.console ? [['/console', 'Console', 'live sessions, archives, broadcasts, webhooks and charts (sign in with a project key and secret, or the operator token)']] : []),
    ...(info.demo ? [['/demo', 'Demo', 'a video chat in two browser tabs']] : []),
    ['/openapi.json', 'OpenAPI document', 'the REST API (OpenTok-compatible), machine-readable'],
    ['/healthz', 'Health', 'liveness (/readyz: readiness)'],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tokhost</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}code{background:#f2f2f2;padding:0 .25rem}li{margin:.4rem 0}</style>
</head><body>
<h1>Tokhost</h1>
<p>A self-hosted video platform compatible with OpenTok (Vonage Video API): point an OpenTok server SDK at this URL as its <code>apiUrl</code>, and OpenTok.js or <code>@tokhost/client</code> at it from the browser.</p>
<ul>
${links.map(([href, name, what]) => `<li><a href="${href}">${name}</a> — ${what}</li>`).join('\n')}
</ul>
<p>Documentation: the <code>docs/</code> folder of Tokhost (start with <code>README.md</code>; <code>docs/rest-api.md</code>, <code>docs/cli.md</code>, <code>docs/config.md</code>, <code>docs/security.md</code>).</p>
<p>Operate it with the <code>tokhost</code> command: <code>tokhost session create</code>, <code>tokhost archive list</code>, <code>tokhost help</code>.</p>
</body></html>
`;
}

/**
 * Answers `GET|HEAD /`: a small page saying what this server is, with links to the demo (when
 * served), the OpenAPI document and the docs; `Accept: application/json` gets the same as JSON.
 */
export function createHomeHandler(info: HomeInfo): (req: IncomingMessage, res: ServerResponse) => boolean {
  const html = page(info);
  const json = JSON.stringify({ name: 'tokhost', description: 'self-hosted OpenTok-compatible video platform', openapi: '/openapi.json', health: '/healthz', docs: 'docs/ in the Tokhost repository', ...(info.console ? { console: '/console' } : {}), ...(info.demo ? { demo: '/demo' } : {}) });
  return (req, res) => {
    const url = req.url ?? '';
    if (url !== '/' && !url.startsWith('/?')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const [type, body] = wantsJson(req) ? ['application/json; charset=utf-8', json] : ['text/html; charset=utf-8', html];
    res.writeHead(200, { 'content-type': type, vary: 'Accept', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
