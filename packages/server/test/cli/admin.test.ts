/**
 * Issue 22: the `tokhost` commands over the admin API against a real `tokhost serve` (spawned):
 * `load-test` (4 publishers and 8 subscribers for 20 s, routed, real WebRTC) while `session list`
 * shows the streams, `webhook deliveries [--retry]` with a real receiver on loopback, and the
 * offline `operator-token --reset`.
 */
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LiveSessionJson, ListJson, WebhookDeliveryJson } from '@tokhost/protocol';
import { createSqliteStore } from '@tokhost/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, ROOT, serve, stop } from './spawn.js';
import type { ServeProcess } from './spawn.js';

const KEY = '1700023';
const SECRET = 'admin-cli-secret-0123456789abcdef0123';

/** Run the built CLI; resolves with its exit code and output (bounded to `timeoutMs`). */
function cli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tokhost session list, webhook deliveries and load-test against a running server', () => {
  let dir = '';
  let server: ServeProcess | undefined;
  let env: Record<string, string> = {};
  let hook: Server;
  let hookStatus = 500;
  const hookBodies: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    hook = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hookBodies.push(body);
        res.writeHead(hookStatus).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(join(tmpdir(), 'tokhost-admin-cli-'));
    const store = createSqliteStore({ dataDir: join(dir, 'data'), backgroundCheckpoint: false, groupCommit: false });
    try {
      store.createProject({ apiKey: KEY, apiSecret: SECRET, name: 'admin', createdAt: Date.now(), webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` });
    } finally {
      store.close();
    }
    server = await serve(['--port', '0', '--data-dir', join(dir, 'data'), '--log-format', 'json', '--log-level', 'warn', '--outbound-allow', '127.0.0.0/8', '--webhook-retry-delays-ms', '100']);
    env = { TOKHOST_URL: server.url, TOKHOST_API_KEY: KEY, TOKHOST_API_SECRET: SECRET, HOME: join(dir, 'home') };
  }, 60_000);

  afterAll(async () => {
    await stop(server);
    await new Promise((r) => hook?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('load-test: 4 publishers and 8 subscribers for 20 s print their figures and exit 0; session list shows them meanwhile', async () => {
    const run = cli(['load-test', '--publishers', '4', '--subscribers', '8', '--duration', '20s', '--routed', '--json'], env, 100_000);
    // While it runs, the server lists the session with its 12 connections and 4 streams.
    let seen: LiveSessionJson | undefined;
    let text = '';
    let last = '';
    let finished = false;
    void run.then(() => (finished = true));
    // The joins take longer on a loaded machine; the run lasts 20 s after them.
    while (!finished) {
      await sleep(2000);
      const listed = await cli(['session', 'list', '--json'], env);
      expect(listed.code, listed.err).toBe(0);
      last = listed.out;
      const list = JSON.parse(listed.out) as ListJson<LiveSessionJson>;
      seen = list.items.find((s) => s.streams.length === 4 && s.connections.length === 12);
      if (seen) {
        text = (await cli(['session', 'list'], env)).out;
        break;
      }
    }
    expect(seen, `session list showed the load test with its 4 streams; last answer: ${last.slice(0, 500)}; load test: ${(await run).out}${(await run).err}`).toBeDefined();
    expect(seen!.mediaMode).toBe('routed');
    expect(new Set(seen!.connections.map((c) => c.clientKind))).toEqual(new Set(['tokhost']));
    expect(seen!.connections.filter((c) => c.data.startsWith('load-test publisher')).length).toBe(4);
    expect(seen!.streams.every((s) => s.hasAudio && s.hasVideo && s.videoType === 'camera')).toBe(true);
    expect(text).toContain(seen!.sessionId);
    expect(text).toContain('streams (4)');
    expect(text).toMatch(/tokhost\s+since/);

    const done = await run;
    expect(done.code, done.err + done.out).toBe(0);
    const report = JSON.parse(done.out) as {
      sessionId: string;
      durationSeconds: number;
      clients: { expected: number; connected: number; failed: string[] };
      joinMs: { p50: number; p95: number };
      mediaLinks: { expected: number; connected: number };
      mediaConnectMs: { p50: number; p95: number };
      upstream: { packetsPerSecond: number; kbps: number; lossPercent: number | null };
      downstream: { packetsPerSecond: number; kbps: number; lossPercent: number | null };
      measuredSeconds: number;
    };
    expect(report.sessionId).toBe(seen!.sessionId);
    expect(report.clients).toEqual({ expected: 12, connected: 12, failed: [] });
    expect(report.mediaLinks).toEqual({ expected: 36, connected: 36 });
    expect(report.joinMs.p50).toBeGreaterThan(0);
    expect(report.joinMs.p95).toBeGreaterThanOrEqual(report.joinMs.p50);
    expect(report.mediaConnectMs.p95).toBeGreaterThanOrEqual(report.mediaConnectMs.p50);
    expect(report.measuredSeconds).toBeGreaterThanOrEqual(10);
    // 4 publishers × 100 packets/s up; each of 8 subscribers gets all four (a loaded machine may lag a little).
    expect(report.upstream.packetsPerSecond).toBeGreaterThan(250);
    expect(report.downstream.packetsPerSecond).toBeGreaterThan(report.upstream.packetsPerSecond * 6);
    expect(report.downstream.kbps).toBeGreaterThan(report.upstream.kbps * 6);
    expect(report.durationSeconds).toBeGreaterThanOrEqual(20);
    expect(report.downstream.lossPercent).not.toBeNull();
    expect(report.downstream.lossPercent!).toBeLessThan(5);
    expect(report.upstream.lossPercent!).toBeLessThan(5);
    // Once it is over, the clients have left (they disconnect, not just drop): the session is gone from the live list.
    let after: ListJson<LiveSessionJson> = { count: 0, items: [] };
    for (let i = 0; i < 10; i++) {
      after = JSON.parse((await cli(['session', 'list', '--json'], env)).out) as ListJson<LiveSessionJson>;
      if (!after.items.some((s) => s.sessionId === report.sessionId)) break;
      await sleep(500);
    }
    expect(after.items.find((s) => s.sessionId === report.sessionId)).toBeUndefined();
  }, 120_000);

  it('the text report names every figure', async () => {
    const run = await cli(['load-test', '--publishers', '1', '--subscribers', '1', '--duration', '6s'], env, 60_000);
    expect(run.code, run.err + run.out).toBe(0);
    expect(run.out).toMatch(/clients connected\s+2\/2\s+join p50 \d+ ms\s+p95 \d+ ms/);
    expect(run.out).toMatch(/media links up\s+2\/2/);
    expect(run.out).toMatch(/upstream\s+\(sent\)\s+\d+ packets\/s\s+\d+ kbit\/s/);
    expect(run.out).toMatch(/downstream \(received\)\s+[1-9]\d* packets\/s/);
    expect(run.err).toContain('(relayed)');
  }, 60_000);

  it('webhook deliveries lists the callbacks the runs sent; --retry delivers a failed one again', async () => {
    let list: ListJson<WebhookDeliveryJson> = { count: 0, items: [] };
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const r = await cli(['webhook', 'deliveries', '--json', '--count', '5'], env);
      expect(r.code, r.err).toBe(0);
      list = JSON.parse(r.out) as ListJson<WebhookDeliveryJson>;
      if (list.items.some((d) => d.status === 'failed')) break;
      await sleep(500);
    }
    expect(list.count).toBeGreaterThan(12);
    expect(list.items).toHaveLength(5);
    const failed = list.items.find((d) => d.status === 'failed')!;
    expect(failed).toMatchObject({ lastHttpStatus: 500, lastError: 'HTTP 500' });
    expect(failed.attempts).toBeGreaterThanOrEqual(2);
    const text = await cli(['webhook', 'deliveries', '--count', '3'], env);
    expect(text.out).toMatch(/^3 of \d+, newest first/);
    expect(text.out).toMatch(/\b(failed|pending|delivered)\b.*\bhttp:\/\/127\.0\.0\.1:\d+\/hook/);

    hookStatus = 204;
    const retried = await cli(['webhook', 'deliveries', '--retry', String(failed.id)], env);
    expect(retried.code, retried.err).toBe(0);
    expect(retried.out).toContain(`delivery ${failed.id}`);
    let now: WebhookDeliveryJson | undefined;
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      const all = JSON.parse((await cli(['webhook', 'deliveries', '--json', '--count', '1000'], env)).out) as ListJson<WebhookDeliveryJson>;
      now = all.items.find((d) => d.id === failed.id);
      if (now?.status === 'delivered') break;
      await sleep(300);
    }
    expect(now).toMatchObject({ status: 'delivered', lastHttpStatus: 204 });
    const unknown = await cli(['webhook', 'deliveries', '--retry', '99999999'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/404/);
  }, 60_000);

  it('refuses bad arguments with exit 2, naming them', async () => {
    const cases: [string[], RegExp][] = [
      [['load-test', '--duration', '0s'], /--duration/],
      [['load-test', '--publishers', 'x'], /--publishers/],
      [['load-test', '--mode', 'browser'], /--mode/],
      [['webhook', 'deliveries', '--retry', 'abc'], /--retry/],
      [['webhook', 'deliveries', '--count', '0'], /--count/],
      [['webhook', 'nothing'], /unknown webhook command/],
      [['session', 'list', 'extra'], /session list takes no arguments/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
  }, 60_000);
});

describe('tokhost operator-token --reset', () => {
  it('prints a new token once; the running server keeps the old one until it restarts', async () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'tokhost-opreset-'));
    let server: ServeProcess | undefined;
    try {
      server = await serve(['--port', '0', '--data-dir', dir, '--log-format', 'json']);
      const old = /operator token[^\n]*\n\s+(tho_\S+)/.exec(server.stdout())?.[1];
      expect(old).toBeDefined();
      const projects = (s: ServeProcess, token: string) => fetch(`${s.url}/v2/admin/projects`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      expect(await projects(server, old!)).toBe(200);

      const reset = await cli(['operator-token', '--reset', '--data-dir', dir, '--json'], {});
      expect(reset.code, reset.err).toBe(0);
      const fresh = (JSON.parse(reset.out) as { source: string; token: string }).token;
      expect(fresh).toMatch(/^tho_[A-Za-z0-9_-]{43}$/);
      expect(fresh).not.toBe(old);
      const text = await cli(['operator-token', '--reset', '--data-dir', dir], {});
      expect(text.out).toMatch(/shown once/);
      expect(text.out).toMatch(/until it restarts/);
      const newest = /\n\s+(tho_\S+)/.exec(text.out)![1]!;
      // The running server read its token at start.
      expect(await projects(server, old!)).toBe(200);
      expect(await projects(server, newest)).toBe(403);
      await stop(server);
      server = await serve(['--port', '0', '--data-dir', dir, '--log-format', 'json']);
      expect(server.stdout()).not.toContain('tho_');
      expect(await projects(server, newest)).toBe(200);
      expect(await projects(server, old!)).toBe(403);
      expect(await projects(server, fresh)).toBe(403);
      // A token from the configuration cannot be reset.
      const configured = await cli(['operator-token', '--reset', '--data-dir', dir, '--operator-token', 'configured-token-0123456789'], {});
      expect(configured.code).toBe(2);
      expect(configured.err).toMatch(/set in the configuration/);
    } finally {
      await stop(server);
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }, 90_000);
});
