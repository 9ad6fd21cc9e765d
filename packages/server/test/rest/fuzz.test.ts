import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/storage/store.js';
import { archive } from '../storage/store.contract.js';
import { createSessionId, KEY_A, KEY_B, projectJwt, SECRET_A, SECRET_B, startServer } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;
const RUNS = 5000;

/** Everything the store holds, for the before/after comparison. */
function snapshot(store: Store): unknown {
  return store.listProjects().map((p) => ({
    project: p,
    sessions: store.listSessions(p.apiKey, { count: 100_000 }),
    archives: store.listArchives(p.apiKey, { count: 100_000 }),
    broadcasts: store.listBroadcasts(p.apiKey, { count: 100_000 }),
  }));
}

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

function send(server: Server, agent: Agent, r: Sent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(server.url + '/', { method: r.method, path: r.path, headers: r.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

describe('REST robustness under malformed input (property-based)', () => {
  let server: Server;
  let dir: string;
  let sessionA = '';
  let sessionB = '';
  let archiveB = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-fuzz-'));
    // The real SQLite store: what must stay unchanged is what a deployment keeps.
    server = await startServer({ store: 'sqlite', dataDir: dir, logLevel: 'warn' });
    sessionA = await createSessionId(server, 'p2p.preference=disabled');
    sessionB = await createSessionId(server, 'p2p.preference=disabled', { key: KEY_B, secret: SECRET_B });
    const a = archive(KEY_B, sessionB, Date.now());
    server.store.createArchive({ apiKey: KEY_B, archive: a });
    archiveB = a.id;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it(`answers ${RUNS} malformed requests without a 5xx and leaves the store unchanged`, async () => {
    const before = snapshot(server.store);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const now = Math.floor(Date.now() / 1000);

    const printable = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x21-\x7e]/g, '_'));
    const oddId = fc.oneof(
      fc.constantFrom('..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%2F', '%00', '%ZZ', '%E0%A4%A', '~', '.', 'a'.repeat(300), '1_', '1_!!!', 'null', '-1', '%F0%9F%92%A9'),
      printable,
      fc.uuid(),
      fc.constant(randomUUID()),
    );
    // Another project's real IDs are fair game: every credential variant below is wrong for them.
    const id = fc.oneof(oddId, fc.constant(sessionB), fc.constant(archiveB));
    const key = fc.oneof(fc.constant(KEY_A), fc.constant(KEY_B), printable);
    // Each template with the method its route takes (most of the time) so requests get past
    // routing into auth, ID validation, body parsing and the handlers.
    const t = <A extends unknown[]>(natural: string, arb: fc.Arbitrary<A>, f: (...a: A) => string) =>
      fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constant(natural) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') }), arb.map((a) => f(...a)));
    const target = fc.oneof(
      t('GET', fc.tuple(key, id), (k, i) => `/v2/project/${k}/archive/${i}`),
      t('DELETE', fc.tuple(key, id), (k, i) => `/v2/project/${k}/archive/${i}`),
      t('POST', fc.tuple(key, id), (k, i) => `/v2/project/${k}/archive/${i}/stop`),
      t('PATCH', fc.tuple(key, id), (k, i) => `/v2/project/${k}/archive/${i}/streams`),
      t('PUT', fc.tuple(key, id), (k, i) => `/v2/project/${k}/broadcast/${i}/layout`),
      t('POST', fc.tuple(key, id), (k, i) => `/v2/project/${k}/broadcast/${i}/stop`),
      t('PUT', fc.tuple(key, id), (k, i) => `/v2/project/${k}/session/${i}/stream`),
      t('GET', fc.tuple(key, id, id), (k, s, x) => `/v2/project/${k}/session/${s}/stream/${x}`),
      t('POST', fc.tuple(key, id, id), (k, s, x) => `/v2/project/${k}/session/${s}/stream/${x}/mute`),
      t('DELETE', fc.tuple(key, id, id), (k, s, c) => `/v2/project/${k}/session/${s}/connection/${c}`),
      t('POST', fc.tuple(key, id, id), (k, s, c) => `/v2/project/${k}/session/${s}/connection/${c}/signal`),
      t('POST', fc.tuple(key, id), (k, s) => `/v2/project/${k}/session/${s}/signal`),
      t('POST', fc.tuple(key, id), (k, s) => `/v2/project/${k}/session/${s}/mute`),
      t('POST', fc.tuple(key, id), (k, s) => `/v2/project/${k}/session/${s}/play-dtmf`),
      t('GET', fc.tuple(key, id), (k, s) => `/v2/project/${k}/session/${s}/connection`),
      t('POST', fc.tuple(key), (k) => `/v2/project/${k}/archive`),
      t('POST', fc.tuple(key), (k) => `/v2/project/${k}/broadcast`),
      t('GET', fc.tuple(key, printable), (k, q) => `/v2/project/${k}/broadcast?count=${encodeURIComponent(q)}&offset=-5`),
      t('POST', fc.tuple(key), (k) => `/v2/project/${k}/dial`),
      t('POST', fc.tuple(fc.constantFrom('/session/create', '//session/create', '/hl/session/create')), (p) => p),
      t('GET', fc.tuple(fc.constantFrom('/v2/project/../../etc/passwd', '/v2/partner/%2e%2e/archive', '/v2/project/%2e%2e%2f%2e%2e/archive')), (p) => p),
      t('GET', fc.tuple(fc.array(oddId, { maxLength: 8 })), (parts) => '/v2/' + parts.join('/')),
    );
    type AuthKind = 'none' | 'garbage' | 'alg-none' | 'wrong-secret' | 'expired' | 'future' | 'other-project' | 'legacy-wrong' | 'valid';
    const auth = fc.constantFrom<AuthKind>('none', 'garbage', 'alg-none', 'wrong-secret', 'expired', 'future', 'other-project', 'legacy-wrong', 'valid');
    const body = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.record({ sessionId: fc.oneof(oddId, fc.constant(sessionB), fc.integer()), hasAudio: fc.anything(), outputs: fc.anything(), type: fc.anything(), data: fc.anything(), digits: fc.anything(), items: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.constantFrom('{', '{"a":', '[]', 'null', '"x"', '1e999', '{"__proto__":{"polluted":1}}', '\u0000\u0001'),
      { weight: 1, arbitrary: fc.integer({ min: 100_001, max: 1_200_000 }).map((n) => 'x'.repeat(n)) },
    );
    const contentType = fc.constantFrom(undefined, 'application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16');

    const tokenFor = (kind: AuthKind, pathKey: string): Record<string, string> => {
      const k = /^\d+$/.test(pathKey) ? pathKey : KEY_A;
      const secret = k === KEY_B ? SECRET_B : SECRET_A;
      switch (kind) {
        case 'none':
          return {};
        case 'garbage':
          return { 'x-opentok-auth': 'a.b.c' };
        case 'alg-none':
          return { 'x-opentok-auth': projectJwt(k, secret, { alg: 'none' }).replace(/\.[^.]*$/, '.') };
        case 'wrong-secret':
          return { 'x-opentok-auth': projectJwt(k, 'nope-nope-nope') };
        case 'expired':
          return { 'x-opentok-auth': projectJwt(k, secret, { claims: { iat: now - 1000, exp: now - 600 } }) };
        case 'future':
          return { 'x-opentok-auth': projectJwt(k, secret, { claims: { iat: now + 1000, exp: now + 1200 } }) };
        case 'other-project':
          // Project A's valid credentials, used on project B's resources (or on A's with bad IDs).
          return { 'x-opentok-auth': projectJwt(KEY_A, SECRET_A) };
        case 'legacy-wrong':
          return { 'x-tb-partner-auth': `${k}:${secret}x` };
        case 'valid':
          return { 'x-opentok-auth': projectJwt(KEY_A, SECRET_A) };
      }
    };

    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(target, auth, body, contentType, async ([m, p], a, b, ct) => {
        const pathKey = /^\/v2\/project\/([^/]*)/.exec(p)?.[1] ?? KEY_A;
        let payload = b;
        // A well-authenticated session create with a parseable body would really create a
        // session; keep it malformed so "unchanged" is the right expectation.
        if (p.endsWith('session/create') && (a === 'valid' || a === 'other-project')) payload = `p2p.preference=bogus&${payload ?? ''}`;
        // Project A's credentials may only meet A's own paths together with an odd ID, never a
        // well-formed mutation of A's real state (that would be a valid request, not malformed).
        const headers: Record<string, string> = { accept: 'application/json', ...tokenFor(a, pathKey) };
        if (ct) headers['content-type'] = ct;
        const status = await send(server, agent, { method: m, path: p, headers, ...(payload !== undefined && m !== 'GET' && m !== 'HEAD' ? { body: Buffer.from(payload) } : {}) });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(status, `${m} ${p} auth=${a}`).toBeGreaterThanOrEqual(200);
        expect(status, `${m} ${p} auth=${a}`).toBeLessThan(500);
      }),
      { numRuns: RUNS, seed: 20261122, endOnFailure: true },
    );
    agent.destroy();

    console.log('fuzz status mix', JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0]))));
    const total = [...statuses.values()].reduce((x, y) => x + y, 0);
    expect(total).toBe(RUNS);
    // The mix really exercised the refusals, not just one of them.
    for (const s of [400, 403, 404, 405, 413]) expect(statuses.get(s) ?? 0, `status ${s}`).toBeGreaterThan(0);
    expect(snapshot(server.store)).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Still up and serving.
    const ok = await fetch(`${server.url}/v2/project/${KEY_A}/session/${sessionA}/connection`, { headers: { 'x-opentok-auth': projectJwt(KEY_A, SECRET_A) } });
    expect(ok.status).toBe(200);
  }, 180_000);
});
