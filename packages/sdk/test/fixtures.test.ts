/**
 * Fixture suite: every SDK method against a loopback recording server, checking the exact request
 * (method, path, query, body, headers, the decoded auth JWT) and the result for 2xx, each error
 * status of the reference, a network failure and a timeout.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as sdk from '../src/index.js';
import { OpenTok, OpenTokError, RequestError } from '../src/index.js';
import { ERROR_STATUSES, FIXTURES, GENERIC, KEY, SECRET } from './fixtures.js';
import type { Fixture } from './fixtures.js';
import { verifyHs256 } from './helpers/decode.js';
import { startRecordingServer } from './helpers/recording-server.js';
import type { RecordedRequest, RecordingServer } from './helpers/recording-server.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

let server: RecordingServer;
let ot: OpenTok;

beforeAll(async () => {
  server = await startRecordingServer();
  ot = new OpenTok(KEY, SECRET, { apiUrl: server.url, timeout: 15_000 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

function checkRequest(f: Fixture, req: RecordedRequest): void {
  const e = f.request;
  expect(req.method).toBe(e.method);
  expect(req.path).toBe(e.path);
  expect(req.query).toEqual(e.query ?? []);
  expect(req.headers['user-agent']).toBe(`OpenTok-Node-SDK/2.23.1 (compatible; Tokhost-Node-SDK/${pkg.version})`);
  expect(req.headers['accept']).toBe('application/json');

  const jwt = verifyHs256(String(req.headers['x-opentok-auth']), SECRET);
  expect(jwt.header).toEqual({ alg: 'HS256', typ: 'JWT' });
  expect(jwt.claimOrder).toEqual(['iss', 'ist', 'iat', 'exp', 'jti']);
  const now = Math.floor(Date.now() / 1000);
  expect(jwt.claims['iss']).toBe(KEY);
  expect(jwt.claims['ist']).toBe('project');
  expect(Math.abs((jwt.claims['iat'] as number) - now)).toBeLessThanOrEqual(5);
  expect(jwt.claims['exp']).toBe((jwt.claims['iat'] as number) + 300);
  expect(jwt.claims['jti']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  if (e.form) {
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect([...new URLSearchParams(req.body)]).toEqual(e.form);
  } else if (e.json !== undefined) {
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual(e.json);
  } else {
    expect(req.headers['content-type']).toBeUndefined();
    expect(req.body).toBe('');
  }
}

/**
 * The same OpenTok object, but every method is called in its callback form (a callback appended to
 * the arguments) and the callback's outcome turned back into a promise for the fixture. The
 * callback form must return undefined. List callbacks get `(err, items, totalCount)`.
 */
function viaCallbacks(target: OpenTok): OpenTok {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function' || prop === 'generateToken') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (typeof args[args.length - 1] === 'function') return method.apply(obj, args);
        return new Promise((resolve, reject) => {
          const returned = method.apply(obj, [
            ...args,
            (err: Error | null, ...results: unknown[]) => {
              if (err) reject(err);
              else if (results.length === 2) resolve({ items: results[0], totalCount: results[1] });
              else resolve(results[0]);
            },
          ]);
          if (returned !== undefined) reject(new Error(`${String(prop)}: the callback form returned ${String(returned)}`));
        });
      };
    },
  });
}

describe.each(FIXTURES.map((f) => [f.name, f] as const))('%s', (_name, f) => {
  it('sends the exact request and maps the 2xx reply', async () => {
    server.reply(f.ok);
    const result = await f.call(ot);
    expect(server.requests).toHaveLength(1);
    checkRequest(f, server.requests[0]!);
    f.check(result);
  });

  it('callback form: same request, same result, errors reach the callback', async () => {
    const cbOt = viaCallbacks(ot);
    server.reply(f.ok);
    const result = await f.call(cbOt);
    expect(server.requests).toHaveLength(1);
    checkRequest(f, server.requests[0]!);
    f.check(result);
    server.reply({ status: 404, body: { code: 404, message: 'gone' } });
    const err = (await f.call(cbOt).catch((e: unknown) => e)) as OpenTokError;
    expect(err).toBeInstanceOf(sdk[f.errors?.[404] ?? GENERIC[404]]);
    expect(err.status).toBe(404);
  });

  it.each(ERROR_STATUSES.map((s) => [s] as const))('maps HTTP %i to the documented error class', async (status) => {
    server.reply({ status, body: { code: 15000 + status, message: `server says ${status}`, description: 'd' } });
    const err = (await f.call(ot).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: unknown) => e,
    )) as OpenTokError;
    const expected = f.errors?.[status] ?? GENERIC[status];
    expect(err).toBeInstanceOf(sdk[expected]);
    expect(err).toBeInstanceOf(OpenTokError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(expected);
    expect(err.status).toBe(status);
    expect(err.statusCode).toBe(status);
    expect(err.serverCode).toBe(15000 + status);
    expect(err.serverMessage).toBe(`server says ${status}`);
    expect(err.body).toEqual({ code: 15000 + status, message: `server says ${status}`, description: 'd' });
    expect(err.code).toMatch(/^ERR_SDK_/);
    expect(server.requests).toHaveLength(1);
  });

  it('rejects with a network RequestError when the connection drops', async () => {
    server.reply({ status: 200, destroy: true });
    const err = await f.call(ot).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect((err as RequestError).code).toBe('ERR_SDK_NETWORK');
    expect((err as RequestError).status).toBeUndefined();
    expect((err as RequestError).cause).toBeDefined();
  });

  it('rejects with a timeout RequestError when the server is too slow', async () => {
    // A server of its own: on a loaded machine the abandoned request can reach the server after
    // this test ended, and must not be recorded as a request of the next test.
    const own = await startRecordingServer();
    try {
      const slow = new OpenTok(KEY, SECRET, { apiUrl: own.url, timeout: 100 });
      own.reply({ ...f.ok, delayMs: 3000 });
      const err = await f.call(slow).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequestError);
      expect((err as RequestError).code).toBe('ERR_SDK_TIMEOUT');
      expect((err as RequestError).message).toContain('100 ms');
    } finally {
      await own.close();
    }
  });
});
