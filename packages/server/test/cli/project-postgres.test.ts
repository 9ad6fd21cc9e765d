// `tokhost project …` on the cluster's PostgreSQL store (a real server started here): what the
// CLI creates, a node on the same database authenticates, and a secret the CLI rotates stops
// working on that node at once.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { runCli } from '@tokhost/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/create-server.js';
import type { TokhostServer } from '../../src/create-server.js';
import { startPostgres } from '../cluster/services.js';
import type { RunningPostgres } from '../cluster/services.js';
import { ensureBuilt, ROOT } from './spawn.js';

type Sdk = { createSession(o: Record<string, unknown>, cb: (err: Error | null, s?: { sessionId: string }) => void): void };
const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string, options?: unknown) => Sdk;
const MASTER = randomBytes(32).toString('hex');

async function run(argv: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { env, cwd: ROOT, stdout: (l) => (out += l + '\n'), stderr: (l) => (err += l + '\n') });
  return { code, out, err };
}
const createSession = (key: string, secret: string, url: string) =>
  new Promise<string>((resolve, reject) => new OpenTok(key, secret, { apiUrl: url }).createSession({}, (e, s) => (e ? reject(e) : resolve(s!.sessionId))));

describe('tokhost project … on PostgreSQL', () => {
  let pg: RunningPostgres;
  let db = '';
  let node: TokhostServer | null = null;
  beforeAll(async () => {
    ensureBuilt();
    pg = await startPostgres();
    db = pg.createDatabase('cli_projects');
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await pg?.stop();
  });

  it('creates, lists, rotates on the database the nodes use; flags or environment', async () => {
    const flags = ['--database-url', db, '--master-key', MASTER];
    const created = await run(['project', 'create', '--name', 'Cluster app', '--json', ...flags]);
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    const p = JSON.parse(created.out) as { apiKey: string; apiSecret: string };

    // The environment works as well as the flags (as for `tokhost serve`).
    const listed = await run(['project', 'list', '--json'], { TOKHOST_DATABASE_URL: db, TOKHOST_MASTER_KEY: MASTER });
    expect((JSON.parse(listed.out) as { apiKey: string }[]).map((x) => x.apiKey)).toEqual([p.apiKey]);
    // Without the master key, a clear error naming it and nothing done.
    const noKey = await run(['project', 'create', '--database-url', db]);
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain('masterKey');
    // A wrong master key cannot read the secret.
    const wrong = await run(['project', 'show', p.apiKey, '--database-url', db, '--master-key', randomBytes(32).toString('hex')]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('The master key does not decrypt');
    expect(wrong.out).not.toContain(p.apiSecret);

    // A node on the same database knows the project at once.
    node = await createServer({ port: 0, host: '127.0.0.1', databaseUrl: db, masterKey: MASTER, logLevel: 'warn' }, { logStream: new Writable({ write: (_c, _e, cb) => cb() }) });
    expect(await createSession(p.apiKey, p.apiSecret, node.url)).toMatch(/^[12]_/);

    // Rotated through the CLI: the running node refuses the old secret and takes the new one.
    const rotated = JSON.parse((await run(['project', 'rotate-secret', p.apiKey, '--json', ...flags])).out) as { apiSecret: string };
    let refused: unknown = null;
    for (let i = 0; i < 50 && refused === null; i++) {
      refused = await createSession(p.apiKey, p.apiSecret, node.url).then(
        () => null,
        (e: unknown) => e,
      );
      if (refused === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(String(refused)).toMatch(/Invalid API key or secret|403|401/);
    expect(await createSession(p.apiKey, rotated.apiSecret, node.url)).toMatch(/^[12]_/);
  });
});
