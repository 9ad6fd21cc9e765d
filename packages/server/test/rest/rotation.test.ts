import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/storage/sqlite.js';
import { BIN, ensureBuilt, ROOT } from '../cli/spawn.js';
import { call, KEY_A, projectJwt, SECRET_A, startServer } from './harness.js';

/** Run the built `tokhost` CLI as its own process. */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const create = (server: { url: string }, auth: { auth?: string; headers?: Record<string, string> } = {}) =>
  call(server, 'POST', '/session/create', { body: 'p2p.preference=disabled', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers }, ...(auth.auth !== undefined ? { auth: auth.auth } : {}) });

// The server caches projects (keyed on SQLite's data_version); a secret rotated by another
// process must still be refused on the very next request.
describe('secret rotation from another process (SQLite store)', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })));
  beforeAll(() => ensureBuilt(), 180_000);

  it('`tokhost project rotate-secret` in its own process: the old secret is refused at once, the new one accepted', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tokhost-rotate-'));
    dirs.push(dataDir);
    const server = await startServer({ store: 'sqlite', dataDir, logLevel: 'warn' });
    try {
      const token = projectJwt(KEY_A, SECRET_A);
      // Twice: the second answer comes from the project and token caches.
      expect((await create(server, { auth: token })).status).toBe(200);
      expect((await create(server, { auth: token })).status).toBe(200);
      expect((await create(server, { auth: '', headers: { 'x-tb-partner-auth': `${KEY_A}:${SECRET_A}` } })).status).toBe(200);

      const r = await cli(['project', 'rotate-secret', KEY_A, '--json', '--data-dir', dataDir]);
      expect(r.code, r.err).toBe(0);
      const rotated = (JSON.parse(r.out) as { apiSecret: string }).apiSecret;
      expect(rotated).not.toBe(SECRET_A);

      expect((await create(server, { auth: token })).status).toBe(403);
      expect((await create(server, { auth: projectJwt(KEY_A, SECRET_A) })).status).toBe(403);
      expect((await create(server, { auth: '', headers: { 'x-tb-partner-auth': `${KEY_A}:${SECRET_A}` } })).status).toBe(403);
      const ok = await create(server, { auth: projectJwt(KEY_A, rotated) });
      expect(ok.status).toBe(200);
      expect((ok.json as { project_id: string }[])[0]!.project_id).toBe(KEY_A);
    } finally {
      await server.close();
    }
  });

  it('a second Store handle on the same directory (as the CLI opens it): each rotation applies to the next request', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tokhost-rotate-'));
    dirs.push(dataDir);
    const server = await startServer({ store: 'sqlite', dataDir, logLevel: 'warn' });
    const other = createSqliteStore({ dataDir, groupCommit: false, backgroundCheckpoint: false });
    try {
      let secret = SECRET_A;
      for (let i = 0; i < 5; i++) {
        const token = projectJwt(KEY_A, secret);
        expect((await create(server, { auth: token })).status).toBe(200);
        const next = String(i).repeat(40);
        other.updateProject(KEY_A, { apiSecret: next });
        expect((await create(server, { auth: token })).status).toBe(403);
        secret = next;
      }
      expect((await create(server, { auth: projectJwt(KEY_A, secret) })).status).toBe(200);
    } finally {
      other.close();
      await server.close();
    }
  });
});
