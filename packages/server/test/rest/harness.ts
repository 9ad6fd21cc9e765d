import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { createServer } from '../../src/create-server.js';
import type { CreateServerDeps, TokhostServer } from '../../src/create-server.js';
import type { ServerConfigInput } from '../../src/config.js';

export const KEY_A = '10000001';
export const SECRET_A = '0123456789abcdef0123456789abcdef01234567';
export const KEY_B = '20000002';
export const SECRET_B = 'fedcba9876543210fedcba9876543210fedcba98';

/** Everything the server logged, for the "no secrets in logs" checks. */
export class LogSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** An in-process server on 127.0.0.1:0 (memory store unless told), with project A seeded and B added. */
export async function startServer(config: ServerConfigInput = {}, deps: CreateServerDeps = {}): Promise<TokhostServer & { logs: LogSink }> {
  const logs = new LogSink();
  // A test file may point every server at PostgreSQL (see rest/postgres-node.test.ts).
  const pg = process.env['TOKHOST_TEST_DATABASE_URL'];
  const storeConfig = pg && !deps.store ? { databaseUrl: pg, masterKey: process.env['TOKHOST_TEST_MASTER_KEY'] } : { store: 'memory' };
  const server = await createServer(
    // A data dir of its own: archives write their recordings there even with the memory store.
    { port: 0, host: '127.0.0.1', ...storeConfig, logLevel: 'info', apiKey: KEY_A, apiSecret: SECRET_A, dataDir: mkdtempSync(join(tmpdir(), 'tokhost-rest-')), sipPort: 0, ...config },
    { logStream: logs, ...deps },
  );
  if (!server.store.getProject(KEY_B)) {
    server.store.createProject({ apiKey: KEY_B, apiSecret: SECRET_B, name: 'B', createdAt: Date.now(), webhookUrl: null });
  }
  return { ...server, logs };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A REST JWT as opentok-node signs it, with overridable header and claims. */
export function projectJwt(
  key: string | number,
  secret: string,
  opts: { header?: Record<string, unknown>; claims?: Record<string, unknown>; now?: number; alg?: string } = {},
): string {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const header = { alg: opts.alg ?? 'HS256', typ: 'JWT', ...opts.header };
  const claims = { iss: key, ist: 'project', iat: now, exp: now + 300, ...opts.claims };
  const data = `${b64(header)}.${b64(claims)}`;
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** One HTTP request with fetch; `auth` defaults to a fresh JWT for project A. */
export async function call(
  server: { url: string },
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string>; auth?: string | null; key?: string; secret?: string } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  const auth = opts.auth === undefined ? projectJwt(opts.key ?? KEY_A, opts.secret ?? SECRET_A) : opts.auth;
  if (auth !== null) headers['x-opentok-auth'] = auth;
  const res = await fetch(server.url + path, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** JSON POST helper. */
export const postJson = (server: { url: string }, path: string, body: unknown, opts: Parameters<typeof call>[3] = {}) =>
  call(server, 'POST', path, { ...opts, body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...opts.headers } });

/** Create a session through the REST API and return its ID. */
export async function createSessionId(server: { url: string }, form = 'p2p.preference=disabled', opts: Parameters<typeof call>[3] = {}): Promise<string> {
  const r = await call(server, 'POST', '/session/create', { ...opts, body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (r.status !== 200) throw new Error(`session create failed: ${r.status} ${r.text}`);
  return (r.json as { session_id: string }[])[0]!.session_id;
}
