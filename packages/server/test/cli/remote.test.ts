/**
 * Issue 22: the remote `tokhost` commands against a real `tokhost serve` (spawned), the `/` page,
 * `--log-format` and `--metrics-public`. The archive downloaded is a real one: a recording left by
 * a "crash" (an MPEG-TS part made by ffmpeg plus its recording.json) that the server finalises at
 * start, as it does after a real crash; making one with live publishers needs Chromium pages,
 * which the e2e archive test already covers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@tokhost/cli';
import { createSqliteStore } from '@tokhost/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, ROOT, serve, stop } from './spawn.js';
import type { ServeProcess } from './spawn.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg && command -v ffprobe']).status === 0;
const KEY = '1700022';
const SECRET = 'remote-cli-secret-0123456789abcdef';
const ARCHIVE_ID = '22222222-0000-4000-8000-000000000022';

/** Run the built CLI; resolves with its exit code and output (bounded to 30 s). */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: env['CWD'] ?? ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}

/** A data directory holding project KEY and an archive a crash interrupted (finalised at start). */
function seedDataDir(dir: string): void {
  const store = createSqliteStore({ dataDir: dir, backgroundCheckpoint: false, groupCommit: false });
  try {
    store.createProject({ apiKey: KEY, apiSecret: SECRET, name: 'remote', createdAt: Date.now(), webhookUrl: null });
    const createdAt = Date.now() - 60_000;
    const archive = { id: ARCHIVE_ID, status: 'started', name: 'seeded', reason: '', sessionId: 'gone', projectId: Number(KEY), partnerId: Number(KEY), createdAt, updatedAt: createdAt, size: 0, duration: 0, outputMode: 'composed', hasAudio: true, hasVideo: true, sha256sum: '', password: '', resolution: '640x480', streamMode: 'auto', streams: [], url: null };
    store.createArchive({ apiKey: KEY, archive } as never);
  } finally {
    store.close();
  }
  const rec = join(dir, 'recordings', ARCHIVE_ID);
  mkdirSync(rec, { recursive: true });
  const part = join(rec, 'part-0.ts');
  const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '2', '-c:v', 'libx264', '-f', 'mpegts', part]);
  if (made.status !== 0) throw new Error(`ffmpeg failed: ${made.stderr.toString()}`);
  writeFileSync(join(rec, 'recording.json'), JSON.stringify({ archiveId: ARCHIVE_ID, apiKey: KEY, outputMode: 'composed', startedAt: Date.now() - 60_000, parts: [part], files: [] }));
}

describe.skipIf(!hasFfmpeg)('tokhost remote commands against a running server', () => {
  let dir = '';
  let server: ServeProcess | undefined;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tokhost-remote-'));
    seedDataDir(join(dir, 'data'));
    server = await serve(['--port', '0', '--data-dir', join(dir, 'data'), '--log-format', 'json']);
    env = { TOKHOST_URL: server.url, TOKHOST_API_KEY: KEY, TOKHOST_API_SECRET: SECRET, HOME: join(dir, 'home') };
  }, 120_000);

  afterAll(async () => {
    await stop(server);
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('creates sessions, tokens, shows, signals and moderates', async () => {
    const created = await cli(['session', 'create', '--routed', '--archive-mode', 'manual', '--json'], env);
    expect(created.code, created.err).toBe(0);
    const session = JSON.parse(created.out) as { sessionId: string; mediaMode: string; archiveMode: string };
    expect(session.sessionId).toMatch(/^[12]_/);
    expect(session).toMatchObject({ mediaMode: 'routed', archiveMode: 'manual' });

    const token = await cli(['token', session.sessionId, '--role', 'moderator', '--data', 'name=ann', '--expire', '600'], env);
    expect(token.code, token.err).toBe(0);
    const claims = JSON.parse(Buffer.from(token.out.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ role: 'moderator', connection_data: 'name=ann', session_id: session.sessionId });
    expect(Number(claims['exp'])).toBeGreaterThan(Date.now() / 1000 + 500);

    const shown = await cli(['session', 'show', session.sessionId, '--json'], env);
    expect(shown.code, shown.err).toBe(0);
    expect(JSON.parse(shown.out)).toEqual({ sessionId: session.sessionId, connections: [], streams: [] });

    const muted = await cli(['mute', session.sessionId, '--all'], env);
    expect(muted.code, muted.err).toBe(0);
    expect(muted.out).toContain('muted every stream');

    // Nobody is connected: the server's refusals come back as exit 1 with its message.
    const gone = await cli(['disconnect', session.sessionId, 'no-such-connection'], env);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/not found/i);
    const signal = await cli(['signal', session.sessionId, '--to', 'no-such-connection', '--type', 'chat', '--data', 'hi'], env);
    expect(signal.code).toBe(1);
    expect(signal.err).toMatch(/tokhost: /);
    const muteOne = await cli(['mute', session.sessionId, 'no-such-stream'], env);
    expect(muteOne.code).toBe(1);
  }, 120_000);

  it('lists, shows, downloads (SHA-256 checked) and deletes a real archive', async () => {
    let shown = { status: '' } as { status: string; sha256sum: string; size: number; outputMode: string };
    const end = Date.now() + 60_000;
    while (shown.status !== 'available' && Date.now() < end) {
      const r = await cli(['archive', 'show', ARCHIVE_ID, '--json'], env);
      expect(r.code, r.err).toBe(0);
      shown = JSON.parse(r.out) as typeof shown;
      if (shown.status !== 'available') await new Promise((r) => setTimeout(r, 500));
    }
    expect(shown.status).toBe('available');
    const list = await cli(['archive', 'list', '--json'], env);
    expect((JSON.parse(list.out) as { items: { id: string }[] }).items.map((a) => a.id)).toEqual([ARCHIVE_ID]);
    expect((await cli(['archive', 'list'], env)).out).toContain(`${ARCHIVE_ID}  available`);

    const file = join(dir, 'archive.mp4');
    const dl = await cli(['archive', 'download', ARCHIVE_ID, '-o', file], env);
    expect(dl.code, dl.err).toBe(0);
    expect(dl.out).toContain('matches the SHA-256 the server gives');
    expect(statSync(file).size).toBe(shown.size);
    expect(createHash('sha256').update(readFileSync(file)).digest('base64')).toBe(shown.sha256sum);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,width', '-of', 'csv=p=0', file], { encoding: 'utf8' });
    expect(probe.status).toBe(0);
    expect(probe.stdout).toContain('video,160');
    // Piped, no progress line is drawn.
    expect(dl.err).toBe('');

    // On a terminal a progress line is drawn (in process, with a terminal's io).
    let drawn = '';
    let printed = '';
    const tty = await runCli(['archive', 'download', ARCHIVE_ID, '-o', join(dir, 'tty.mp4')], {
      env,
      cwd: dir,
      isTTY: true,
      color: false,
      stdout: (l) => (printed += l + '\n'),
      stderr: (l) => (printed += l + '\n'),
      progress: (t) => (drawn += t),
    });
    expect(tty, printed).toBe(0);
    expect(drawn).toContain(`[${'#'.repeat(20)}] 100%  ${shown.size}/${shown.size} bytes`);

    const deleted = await cli(['archive', 'delete', ARCHIVE_ID], env);
    expect(deleted.code, deleted.err).toBe(0);
    expect((await cli(['archive', 'show', ARCHIVE_ID], env)).code).toBe(1);
  }, 120_000);

  it('archive start/stop and broadcast start/stop reach the server; broadcast list/show read', async () => {
    const s = (JSON.parse((await cli(['session', 'create', '--routed', '--json'], env)).out) as { sessionId: string }).sessionId;
    // No client publishes in this session: the server refuses, and the CLI says why with exit 1.
    const started = await cli(['archive', 'start', s, '--name', 'x'], env);
    expect(started.code).toBe(1);
    expect(started.err).toMatch(/tokhost: .+/);
    expect((await cli(['archive', 'stop', '00000000-0000-4000-8000-000000000000'], env)).code).toBe(1);
    const bstart = await cli(['broadcast', 'start', s, '--hls'], env);
    expect(bstart.code).toBe(1);
    expect(bstart.err).toMatch(/tokhost: .+/);
    const blist = await cli(['broadcast', 'list', '--json'], env);
    expect(blist.code, blist.err).toBe(0);
    expect(JSON.parse(blist.out)).toEqual({ items: [], totalCount: 0 });
    expect((await cli(['broadcast', 'show', 'nope'], env)).code).toBe(1);
    expect((await cli(['broadcast', 'stop', 'nope'], env)).code).toBe(1);
  }, 120_000);

  it('login saves a 0600 profile that later commands use; bad arguments exit 2 naming them', async () => {
    const login = await cli(['login', '--url', server!.url, '--api-key', KEY, '--api-secret', SECRET], { HOME: env['HOME']! });
    expect(login.code, login.err).toBe(0);
    const file = join(env['HOME']!, '.config', 'tokhost', 'profiles.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((JSON.parse(readFileSync(file, 'utf8')) as Record<string, { apiKey: string }>)['default']!.apiKey).toBe(KEY);
    const viaProfile = await cli(['broadcast', 'list', '--json'], { HOME: env['HOME']! });
    expect(viaProfile.code, viaProfile.err).toBe(0);
    const wrong = await cli(['login', '--url', server!.url, '--api-key', KEY, '--api-secret', 'wrong-secret-0123456789', '--profile', 'bad'], { HOME: env['HOME']! });
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('login refused');

    const cases: [string[], string][] = [
      [['session', 'create', '--archive-mode', 'sometimes'], '--archive-mode'],
      [['token'], 'token takes <sessionId>'],
      [['token', 's', '--role', 'boss'], '--role'],
      [['token', 's', '--expire', 'soon'], '--expire'],
      [['signal', 's'], '--type and --data'],
      [['mute', 's'], 'mute takes'],
      [['archive', 'frob'], 'unknown archive command'],
      [['broadcast', 'start', 's'], '--hls'],
      [['broadcast', 'start', 's', '--rtmp', 'http://x'], '--rtmp'],
      [['session', 'list', '--bogus'], '--bogus'],
    ];
    for (const [args, named] of cases) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain(named);
    }
    const noUrl = await cli(['archive', 'list'], { HOME: join(dir, 'nobody') });
    expect(noUrl.code).toBe(2);
    expect(noUrl.err).toContain('--url is required');
  }, 180_000);

  it('/ answers a page, or JSON on Accept: application/json', async () => {
    const html = await fetch(`${server!.url}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    const text = await html.text();
    expect(text).toContain('<h1>Tokhost</h1>');
    expect(text).toContain('href="/openapi.json"');
    expect(text).not.toContain('href="/demo"');
    const json = await fetch(`${server!.url}/`, { headers: { accept: 'application/json' } });
    expect(json.headers.get('content-type')).toContain('application/json');
    expect(await json.json()).toMatchObject({ name: 'tokhost', openapi: '/openapi.json' });
    // The OpenAPI document it links to is there.
    expect((await fetch(`${server!.url}/openapi.json`)).status).toBe(200);
  });

  it('piped, the banner comes first and log lines are JSON', () => {
    const lines = server!.stdout().split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^tokhost listening on /);
    const logs = lines.filter((l) => l.startsWith('{'));
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(() => JSON.parse(l)).not.toThrow();
    const firstLog = lines.findIndex((l) => l.startsWith('{'));
    expect(firstLog).toBeGreaterThan(lines.findIndex((l) => l.startsWith('  operator token')));
  });
});

describe('tokhost serve: --log-format pretty, /metrics on a published address, --metrics-public', () => {
  let server: ServeProcess | undefined;
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(() => stop(server));

  it('prints readable log lines with --log-format pretty after the banner', async () => {
    server = await serve(['--port', '0', '--store', 'memory', '--log-format', 'pretty']);
    await fetch(`${server.url}/v2/project/1/archive`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const lines = server.stdout().split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^tokhost listening on /);
    expect(lines.some((l) => l.startsWith('{'))).toBe(false);
    expect(server.stdout()).toMatch(/INFO.*listening/);
    await stop(server);
  }, 60_000);

  it('/metrics needs the operator token on a second loopback address (--host 127.0.0.2), and not with --metrics-public', async () => {
    const published = ['--port', '0', '--store', 'memory', '--host', '127.0.0.2'];
    server = await serve(published);
    const token = /operator token[^\n]*\n\s+(tho_\S+)/.exec(server.stdout())?.[1];
    expect(token).toBeDefined();
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token!}` } })).status).toBe(200);
    await stop(server);
    server = await serve([...published, '--metrics-public']);
    expect(server.stdout()).toContain('/metrics: public');
    const open = await fetch(`${server.url}/metrics`);
    expect(open.status).toBe(200);
    expect(await open.text()).toContain('tokhost_realtime_sessions');
    await stop(server);
  }, 60_000);
});

describe('tokhost operator-token', () => {
  it('makes and prints the token once, then says only its hash is kept', async () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'tokhost-optoken-'));
    try {
      const first = await cli(['operator-token', '--data-dir', dir, '--json'], {});
      expect(first.code, first.err).toBe(0);
      expect(JSON.parse(first.out)).toMatchObject({ source: 'generated', token: expect.stringMatching(/^tho_/) as unknown });
      const again = await cli(['operator-token', '--data-dir', dir], {});
      expect(again.code).toBe(0);
      expect(again.out).toContain('cannot be shown again');
      expect((await cli(['operator-token', 'extra', '--data-dir', dir], {})).code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }, 60_000);
});
