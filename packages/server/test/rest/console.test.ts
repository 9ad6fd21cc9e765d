/**
 * The console's server side, over real HTTP: the page and its assets (CSP, cache headers), the
 * metrics history admin route, the thumbnail route's refusals, and `--console false`. The console
 * itself runs in Chromium in test/e2e/console.test.ts.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokhostServer } from '../../src/create-server.js';
import { sleep, startServer } from '../kit/index.js';

function projectJwt(apiKey: string, secret: string): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ iss: apiKey, ist: 'project', iat: now, exp: now + 60, jti: randomBytes(8).toString('hex') })}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('console routes', () => {
  const apiKey = '4242';
  const apiSecret = randomBytes(20).toString('hex');
  const operatorToken = `op_${randomBytes(20).toString('hex')}`;
  let server: TokhostServer;

  beforeAll(async () => {
    server = await startServer({ apiKey, apiSecret, operatorToken, metricsHistoryIntervalSeconds: 1 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves the page with a CSP and no caching, and its hashed assets cached for a year', async () => {
    const page = await fetch(`${server.url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await page.text();
    const script = /src="(\/console\/assets\/console-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/console\/assets\/console-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    expect(style, html).toBeDefined();
    const js = await fetch(`${server.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await js.text()).length).toBeGreaterThan(10_000);
    const css = await fetch(`${server.url}${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${server.url}/console/assets/nothing-here.js`)).status).toBe(404);
    const post = await fetch(`${server.url}/console`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('the home page links the console', async () => {
    expect(await (await fetch(`${server.url}/`)).text()).toContain('href="/console"');
    expect(await (await fetch(`${server.url}/`, { headers: { accept: 'application/json' } })).json()).toMatchObject({ console: '/console' });
  });

  it('GET /v2/admin/metrics/history: samples for the operator token, 403 for project credentials', async () => {
    await sleep(2200);
    const res = await fetch(`${server.url}/v2/admin/metrics/history`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { intervalSeconds: number; capacity: number; samples: { t: number; sessions: number; connections: number; streams: number; forwardedPacketsPerSecond: number; workerCpu: unknown[]; recordings: number; broadcasts: number }[] };
    expect(body.intervalSeconds).toBe(1);
    expect(body.capacity).toBe(360);
    expect(body.samples.length).toBeGreaterThanOrEqual(2);
    const last = body.samples.at(-1)!;
    expect(last).toEqual({ t: expect.any(Number), sessions: 0, connections: 0, streams: 0, forwardedPacketsPerSecond: 0, workerCpu: [], recordings: 0, broadcasts: 0 });
    expect(last.t).toBeGreaterThan(body.samples[0]!.t);
    const project = await fetch(`${server.url}/v2/admin/metrics/history`, { headers: { 'x-opentok-auth': projectJwt(apiKey, apiSecret) } });
    expect(project.status).toBe(403);
    expect(((await project.json()) as { description: string }).description).toContain('operator token');
  });

  it('the thumbnail route: 404 for a stream not live, 403 for another project, 400 for a bad stream ID', async () => {
    const headers = { 'x-opentok-auth': projectJwt(apiKey, apiSecret) };
    const created = await fetch(`${server.url}/session/create`, { method: 'POST', headers: { ...headers, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, body: 'p2p.preference=disabled' });
    const sid = ((await created.json()) as { session_id: string }[])[0]!.session_id;
    const missing = await fetch(`${server.url}/v2/project/${apiKey}/session/${encodeURIComponent(sid)}/stream/abc/thumbnail`, { headers });
    expect(missing.status).toBe(404);
    const other = await fetch(`${server.url}/v2/project/99999/session/${encodeURIComponent(sid)}/stream/abc/thumbnail`, { headers });
    expect(other.status).toBe(403);
    const bad = await fetch(`${server.url}/v2/project/${apiKey}/session/${encodeURIComponent(sid)}/stream/${encodeURIComponent('a b')}/thumbnail`, { headers });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('streamId');
  });

  it('console: false answers 404 at /console', async () => {
    const off = await startServer({ console: false });
    try {
      expect((await fetch(`${off.url}/console`)).status).toBe(404);
      expect(await (await fetch(`${off.url}/`)).text()).not.toContain('href="/console"');
    } finally {
      await off.close();
    }
  });
});
