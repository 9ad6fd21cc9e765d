import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyClientToken } from '../../src/auth/client-token.js';
import { createSqliteStore } from '../../src/storage/sqlite.js';
import { projectJwt } from '../rest/harness.js';
import { OfficialOpenTok, settle } from '../rest/opentok-types.js';
import { ensureBuilt, serve, stop } from './spawn.js';
import type { ServeProcess } from './spawn.js';

describe('durability: SIGKILL and restart of the real CLI process', () => {
  let proc: ServeProcess | undefined;
  let dir = '';
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    await stop(proc, 'SIGKILL');
    proc = undefined;
    // Retries: a killed server's media workers may still be closing files in the data dir for a moment.
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('keeps every session, and tokens for them still verify, after kill -9', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-durable-'));
    const dataDir = join(dir, 'data');
    proc = await serve(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const banner = proc.stdout();
    const apiKey = /API key:\s+(\d+)/.exec(banner)?.[1];
    const apiSecret = /API secret:\s+([0-9a-f]{40})/.exec(banner)?.[1];
    expect(apiKey, banner).toBeDefined();
    expect(apiSecret, banner).toBeDefined();
    // The operator token, like the first project's secret, is printed once.
    const operatorToken = /operator token — shown once[^\n]*\n\s+(tho_[A-Za-z0-9_-]+)/.exec(banner)?.[1];
    expect(operatorToken, banner).toBeDefined();

    const ot = new OfficialOpenTok(apiKey!, apiSecret!, proc.url);
    const sessions: string[] = [];
    for (let i = 0; i < 25; i++) {
      const { err, value } = await settle<{ sessionId: string }>((cb) => ot.createSession({ mediaMode: i % 2 ? 'routed' : 'relayed', location: '10.0.0.1' }, cb));
      expect(err).toBeNull();
      sessions.push(value!.sessionId);
    }
    const tokens = sessions.map((s, i) => ot.generateToken(s, { role: 'moderator', data: `user-${i}` }, i % 2 === 0));

    proc.child.kill('SIGKILL');
    expect((await proc.exited).signal).toBe('SIGKILL');

    proc = await serve(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    expect(proc.stdout()).not.toContain('API secret');
    expect(proc.stdout()).not.toContain(operatorToken!);
    expect(proc.stdout()).toContain('operator token: generated at the first start');
    // The token printed at the first start still opens /metrics (asked for here: the request
    // says it came through a proxy).
    const viaProxy = { 'x-forwarded-for': '203.0.113.9' };
    expect((await fetch(`${proc.url}/metrics`, { headers: viaProxy })).status).toBe(401);
    expect((await fetch(`${proc.url}/metrics`, { headers: { ...viaProxy, authorization: `Bearer ${operatorToken!}` } })).status).toBe(200);
    expect(proc.stdout()).toContain(apiKey!);
    for (const sessionId of sessions) {
      const r = await fetch(`${proc.url}/v2/project/${apiKey}/session/${sessionId}/connection`, { headers: { 'x-opentok-auth': projectJwt(apiKey!, apiSecret!) } });
      expect(r.status, sessionId).toBe(200);
      await r.text();
    }
    // The same secret still authenticates the official SDK after the restart.
    const again = new OfficialOpenTok(apiKey!, apiSecret!, proc.url);
    expect((await settle((cb) => again.createSession({}, cb))).err).toBeNull();

    // Tokens made before the crash verify against the restarted server's store.
    const store = createSqliteStore({ dataDir });
    try {
      tokens.forEach((token, i) => {
        const v = verifyClientToken(token, (k) => store.getProject(k));
        expect(v.sessionId).toBe(sessions[i]);
        expect(v.connectionData).toBe(`user-${i}`);
        expect(store.getSession(sessions[i]!)).toMatchObject({ apiKey, mediaMode: i % 2 ? 'routed' : 'relayed', location: '10.0.0.1' });
      });
      expect(store.listSessions(apiKey!).total).toBe(26);
    } finally {
      store.close();
    }

    // A clean stop exits 0.
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 90_000);

  it('seeds exactly the given credentials with --api-key/--api-secret (and from the environment)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-seed-'));
    const key = '46123456';
    const secret = 'abcdefabcdefabcdefabcdefabcdefabcdefabcd';
    proc = await serve(['--port', '0', '--data-dir', join(dir, 'd'), '--api-key', key, '--log-level', 'warn'], { TOKHOST_API_SECRET: secret });
    expect(proc.stdout()).not.toContain(secret);
    const ot = new OfficialOpenTok(key, secret, proc.url);
    expect((await settle((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).err).toBeNull();
  }, 60_000);
});
