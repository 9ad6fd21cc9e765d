import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@tokhost/cli';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, ROOT } from './spawn.js';

async function run(argv: string[], env: Record<string, string> = {}, cwd = ROOT) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { env, cwd, stdout: (l) => (out += l + '\n'), stderr: (l) => (err += l + '\n') });
  return { code, out, err };
}

describe('tokhost project …', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  beforeAll(() => ensureBuilt(), 120_000);

  it('creates, lists, shows, rotates and sets webhooks', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-cli-'));
    const d = ['--data-dir', dir];
    const created = await run(['project', 'create', '--name', 'Acme', '--json', ...d]);
    expect(created.code).toBe(0);
    const p = JSON.parse(created.out) as { apiKey: string; apiSecret: string; name: string };
    expect(p.apiKey).toMatch(/^[1-9]\d{7}$/);
    expect(p.apiSecret).toMatch(/^[0-9a-f]{40}$/);
    expect(p.name).toBe('Acme');

    const listed = await run(['project', 'list', '--json', ...d]);
    const list = JSON.parse(listed.out) as { apiKey: string; apiSecret?: string }[];
    expect(list.map((x) => x.apiKey)).toEqual([p.apiKey]);
    expect(listed.out).not.toContain(p.apiSecret);

    const shown = await run(['project', 'show', p.apiKey, ...d]);
    expect(shown.out).toContain(p.apiSecret);

    const rotated = JSON.parse((await run(['project', 'rotate-secret', p.apiKey, '--json', ...d])).out) as { apiSecret: string };
    expect(rotated.apiSecret).toMatch(/^[0-9a-f]{40}$/);
    expect(rotated.apiSecret).not.toBe(p.apiSecret);
    expect((await run(['project', 'show', p.apiKey, ...d])).out).toContain(rotated.apiSecret);

    const hook = await run(['project', 'set-webhook', p.apiKey, 'https://example.com/hook', ...d]);
    expect(hook.code).toBe(0);
    expect(hook.out).toContain('https://example.com/hook');
    expect((await run(['project', 'set-webhook', p.apiKey, 'ftp://x', ...d])).code).toBe(1);
    expect((await run(['project', 'set-webhook', p.apiKey, '--clear', ...d])).out).toContain('(none)');

    const seeded = await run(['project', 'create', '--api-key', '123456', '--api-secret', 's'.repeat(40), ...d]);
    expect(seeded.code).toBe(0);
    expect((await run(['project', 'create', '--api-key', '123456', '--api-secret', 's'.repeat(40), ...d])).err).toContain('already exists');
  });

  it('reads the data dir from the environment and from a config file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-cli-'));
    expect((await run(['project', 'create', '--json'], { TOKHOST_DATA_DIR: join(dir, 'env') })).code).toBe(0);
    expect(JSON.parse((await run(['project', 'list', '--json', '--data-dir', join(dir, 'env')])).out)).toHaveLength(1);
    writeFileSync(join(dir, 'tokhost.config.json'), JSON.stringify({ dataDir: 'from-file' }));
    expect((await run(['project', 'create'], {}, dir)).code).toBe(0);
    expect(JSON.parse((await run(['project', 'list', '--json', '--data-dir', join(dir, 'from-file')])).out)).toHaveLength(1);
  });

  it('reports errors with exit codes: unknown project 1, usage 2, every config problem at once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-cli-'));
    expect((await run(['project', 'show', '424242', '--data-dir', dir])).code).toBe(1);
    expect((await run(['project', 'frobnicate', '--data-dir', dir])).code).toBe(2);
    expect((await run(['nope'])).code).toBe(2);
    expect((await run(['serve', '--bogus'])).code).toBe(2);
    const bad = await run(['serve', '--port', '70000', '--host', 'bad host', '--api-key', 'abc', '--rtc-min-port', '2000', '--ice-servers', '[{"urls":"http://x"}]'], { TOKHOST_LOG_LEVEL: 'loud' });
    expect(bad.code).toBe(2);
    for (const field of ['port', 'host', 'apiKey', 'logLevel', 'rtcMinPort and rtcMaxPort', 'iceServers[0].urls', 'apiKey and apiSecret']) expect(bad.err).toContain(field);
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    expect((await run(['serve', '--config', join(dir, 'bad.json')])).err).toContain('bad.json');
  });

  it('the built bin prints usage', () => {
    const r = spawnSync(process.execPath, [BIN, 'help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('tokhost <command>');
    expect(r.stdout).toContain('--data-dir');
  });
});
