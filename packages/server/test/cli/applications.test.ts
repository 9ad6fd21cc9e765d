import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@tokhost/cli';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../kit/server.js';
import type { TokhostServer } from '../../src/create-server.js';
import { ROOT } from './spawn.js';

async function run(argv: string[], cwd = ROOT) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { env: {}, cwd, stdout: (l) => (out += l + '\n'), stderr: (l) => (err += l + '\n') });
  return { code, out, err };
}

/** A REST call with `Authorization: Bearer` signed as `@vonage/video` signs it. */
async function bearerStatus(server: TokhostServer, applicationId: string, privateKeyPem: string): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ application_id: applicationId, jti: randomUUID() }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setIssuedAt(now).setExpirationTime(now + 900).sign(createPrivateKey(privateKeyPem));
  const res = await fetch(`${server.url}/v2/project/${applicationId}/archive`, { headers: { authorization: `Bearer ${jwt}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('tokhost application …', () => {
  let dir = '';
  let server: TokhostServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates (generated or given key), lists, shows, rotates and deletes; a running server sees each change at its next request', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-cli-app-'));
    const d = ['--data-dir', dir];
    const project = JSON.parse((await run(['project', 'create', '--json', ...d])).out) as { apiKey: string };
    server = await startServer({ store: 'sqlite', dataDir: dir });

    const created = await run(['application', 'create', project.apiKey, '--json', ...d]);
    expect(created.code, created.err).toBe(0);
    const app = JSON.parse(created.out) as { applicationId: string; apiKey: string; privateKey: string };
    expect(app.applicationId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(app.apiKey).toBe(project.apiKey);
    expect(app.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPrivateKey(app.privateKey).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(Object.keys(app).sort()).toEqual(['apiKey', 'applicationId', 'privateKey']);
    // The server (another connection to the same SQLite file) accepts it at once.
    expect(await bearerStatus(server, app.applicationId, app.privateKey)).toBe(200);

    // The private key is shown once and never stored.
    const shown = await run(['application', 'show', app.applicationId, ...d]);
    expect(shown.out).toContain('-----BEGIN PUBLIC KEY-----');
    expect(shown.out).not.toContain('PRIVATE');

    // With --public-key: no private key printed.
    const pair = generateKeyPairSync('rsa', { modulusLength: 3072, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    writeFileSync(join(dir, 'pub.pem'), pair.publicKey);
    const given = await run(['application', 'create', project.apiKey, '--public-key', join(dir, 'pub.pem'), '--json', ...d]);
    expect(given.code, given.err).toBe(0);
    const app2 = JSON.parse(given.out) as { applicationId: string; privateKey?: string };
    expect(app2.privateKey).toBeUndefined();
    expect(await bearerStatus(server, app2.applicationId, pair.privateKey)).toBe(200);

    const listed = JSON.parse((await run(['application', 'list', project.apiKey, '--json', ...d])).out) as { applicationId: string }[];
    expect(listed.map((a) => a.applicationId)).toEqual([app.applicationId, app2.applicationId]);
    expect((await run(['application', 'list', '--json', ...d])).out).toContain(app2.applicationId);

    // Rotation: the old key stops working at the next request, the new one works.
    const rotated = JSON.parse((await run(['application', 'rotate-key', app.applicationId, '--json', ...d])).out) as { privateKey: string };
    expect(rotated.privateKey).not.toBe(app.privateKey);
    expect(await bearerStatus(server, app.applicationId, app.privateKey)).toBe(403);
    expect(await bearerStatus(server, app.applicationId, rotated.privateKey)).toBe(200);

    const deleted = await run(['application', 'delete', app.applicationId, ...d]);
    expect(deleted.code).toBe(0);
    expect(await bearerStatus(server, app.applicationId, rotated.privateKey)).toBe(403);
    expect((await run(['application', 'show', app.applicationId, ...d])).code).toBe(1);
    expect((await run(['application', 'delete', app.applicationId, ...d])).err).toContain('does not exist');
  });

  it('refuses short, non-RSA and private keys, unknown projects and missing files with a clear message, creating nothing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-cli-app-'));
    const d = ['--data-dir', dir];
    const project = JSON.parse((await run(['project', 'create', '--json', ...d])).out) as { apiKey: string };
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const short = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const cases: [string, string, RegExp, number][] = [
      ['1024-bit RSA', write('short.pem', short.publicKey), /1024 bits.*at least 2048/, 1],
      ['EC key', write('ec.pem', ec.publicKey), /must be an RSA key/, 1],
      ['private key', write('priv.pem', short.privateKey), /is a private key/, 1],
      ['not PEM', write('junk.pem', 'hello'), /PEM/, 1],
      ['missing file', join(dir, 'nope.pem'), /cannot read/, 2],
    ];
    for (const [name, file, message, code] of cases) {
      const r = await run(['application', 'create', project.apiKey, '--public-key', file, ...d]);
      expect(r.code, name).toBe(code);
      expect(r.err, name).toMatch(message);
    }
    const unknown = await run(['application', 'create', '99999999', ...d]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('Project 99999999 does not exist');
    expect((await run(['application', 'create', ...d])).code).toBe(2);
    expect(JSON.parse((await run(['application', 'list', '--json', ...d])).out)).toEqual([]);
  });
});
