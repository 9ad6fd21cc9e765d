/**
 * Callback style, result objects, response parsing edge cases, configuration (apiUrl forms,
 * uaAddendum, fetch override) and failure delivery (network errors always reach the caller).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveError, AuthError, OpenTok, RequestError } from '../src/index.js';
import type { Archive, FetchLike, Session } from '../src/index.js';
import { AID, ARCHIVE, BID, BROADCAST, CID, KEY, SECRET, SID, STID, STREAM, STOPPED_ARCHIVE } from './fixtures.js';
import { verifyHs256 } from './helpers/decode.js';
import { startRecordingServer } from './helpers/recording-server.js';
import type { RecordingServer } from './helpers/recording-server.js';

let server: RecordingServer;
let ot: OpenTok;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(async () => {
  server = await startRecordingServer();
  ot = new OpenTok(KEY, SECRET, { apiUrl: server.url, timeout: 15_000 });
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server.close();
});
beforeEach(() => server.reset());
afterEach(() => {
  expect(unhandled).toEqual([]);
});

/** Call `fn(cb)` and resolve with the callback's arguments. */
function viaCallback(fn: (cb: (...args: unknown[]) => void) => unknown): Promise<unknown[]> {
  return new Promise((resolve) => {
    const ret = fn((...args) => resolve(args));
    expect(ret).toBeUndefined();
  });
}

describe('callback style', () => {
  it('createSession(options, cb) → (null, session); session.generateToken makes a token for it', async () => {
    server.reply({ status: 200, body: [{ session_id: SID }] });
    const [err, session] = (await viaCallback((cb) => ot.createSession({ mediaMode: 'routed' }, cb))) as [null, Session];
    expect(err).toBeNull();
    expect(session.sessionId).toBe(SID);
    const { claims } = verifyHs256(session.generateToken({ role: 'subscriber' }), SECRET);
    expect(claims['session_id']).toBe(SID);
    expect(claims['role']).toBe('subscriber');
    expect(Object.keys(session)).not.toContain('generateToken');
  });

  it('createSession(cb) with defaults', async () => {
    server.reply({ status: 200, body: [{ session_id: SID }] });
    const [err, session] = (await viaCallback((cb) => ot.createSession(cb))) as [null, Session];
    expect(err).toBeNull();
    expect(session.mediaMode).toBe('relayed');
  });

  it('listArchives(cb) gets (null, items, totalCount) like opentok-node', async () => {
    server.reply({ status: 200, body: { count: 149, items: [ARCHIVE] } });
    const [err, items, total] = await viaCallback((cb) => ot.listArchives(cb));
    expect(err).toBeNull();
    expect((items as Archive[])[0]!.id).toBe(AID);
    expect(total).toBe(149);
    const [, , total2] = await viaCallback((cb) => ot.listBroadcasts({ count: 1 }, cb));
    expect(total2).toBe(149);
  });

  it('void methods call back with (null) only', async () => {
    server.reply({ status: 204 });
    const args = await viaCallback((cb) => ot.signal(SID, CID, { type: 't', data: 'd' }, cb));
    expect(args).toEqual([null]);
  });

  it('errors and validation failures reach the callback', async () => {
    server.reply({ status: 404, body: { code: 404, message: 'nope' } });
    const [err] = await viaCallback((cb) => ot.stopArchive(AID, cb));
    expect(err).toBeInstanceOf(ArchiveError);
    const [err2] = await viaCallback((cb) => ot.startArchive(SID, { hasAudio: false, hasVideo: false }, cb));
    expect((err2 as Error).name).toBe('ArgumentError');
  });

  it('a network failure reaches the callback for every method opentok-node loses it in (§2.2)', async () => {
    server.reply({ status: 200, destroy: true });
    const calls: Array<(cb: (...a: unknown[]) => void) => unknown> = [
      (cb) => ot.startArchive(SID, cb),
      (cb) => ot.getArchive(AID, cb),
      (cb) => ot.deleteArchive(AID, cb),
      (cb) => ot.startBroadcast(SID, { outputs: { hls: {} } }, cb),
      (cb) => ot.signal(SID, null, { data: 'x' }, cb),
      (cb) => ot.forceDisconnect(SID, CID, cb),
    ];
    for (const call of calls) {
      const [err] = await viaCallback(call);
      expect(err).toBeInstanceOf(RequestError);
      expect((err as RequestError).code).toBe('ERR_SDK_NETWORK');
    }
  });

  it('a refused connection is a network RequestError (promise and callback)', async () => {
    const closed = await startRecordingServer();
    const url = closed.url;
    await closed.close();
    const dead = new OpenTok(KEY, SECRET, url);
    const err = await dead.getArchive(AID).catch((e: unknown) => e);
    expect((err as RequestError).code).toBe('ERR_SDK_NETWORK');
    const [err2] = await viaCallback((cb) => dead.listStreams(SID, cb));
    expect((err2 as RequestError).code).toBe('ERR_SDK_NETWORK');
  });
});

describe('result objects', () => {
  it('archive.stop() and archive.delete() act on that archive', async () => {
    server.reply({ status: 200, body: ARCHIVE });
    const archive = await ot.getArchive(AID);
    server.reply({ status: 200, body: STOPPED_ARCHIVE });
    const stopped = await archive.stop();
    expect(stopped.status).toBe('stopped');
    server.reply({ status: 204 });
    const [err] = await viaCallback((cb) => archive.delete(cb));
    expect(err).toBeNull();
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v2/project/${KEY}/archive/${AID}`,
      `POST /v2/project/${KEY}/archive/${AID}/stop`,
      `DELETE /v2/project/${KEY}/archive/${AID}`,
    ]);
    expect(JSON.parse(JSON.stringify(archive))).not.toHaveProperty('stop');
  });

  it('broadcast.stop()', async () => {
    server.reply({ status: 200, body: BROADCAST });
    const b = await ot.getBroadcast(BID);
    server.reply({ status: 200, body: { ...BROADCAST, status: 'stopped', broadcastUrls: null } });
    expect((await b.stop()).broadcastUrls).toBeNull();
    expect(server.requests[1]!.path).toBe(`/v2/project/${KEY}/broadcast/${BID}/stop`);
  });

  it('startArchive rejects a reply whose status is not "started"', async () => {
    server.reply({ status: 200, body: { ...ARCHIVE, status: 'failed' } });
    const err = await ot.startArchive(SID).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect((err as Error).message).toMatch(/"failed"/);
  });
});

describe('response parsing', () => {
  it('getStream works whatever the Content-Type (application/json, text/plain, none)', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'text/plain', null]) {
      server.reply({ status: 200, body: JSON.stringify(STREAM), contentType });
      expect(await ot.getStream(SID, STID)).toEqual(STREAM);
    }
  });

  it('createSession reads the XML answer of servers that ignore Accept', async () => {
    server.reply({
      status: 200,
      contentType: 'text/xml',
      body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sessions><Session><session_id>${SID}</session_id><partner_id>${KEY}</partner_id><create_dt>x</create_dt></Session></sessions>`,
    });
    expect((await ot.createSession()).sessionId).toBe(SID);
  });

  it('createSession without a session_id is a RequestError', async () => {
    server.reply({ status: 200, body: [] });
    await expect(ot.createSession()).rejects.toBeInstanceOf(RequestError);
  });

  it('a non-JSON error body becomes serverMessage; an XML error body its <message>', async () => {
    server.reply({ status: 403, body: 'Invalid signature', contentType: 'text/plain' });
    const err = (await ot.listStreams(SID).catch((e: unknown) => e)) as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.serverMessage).toBe('Invalid signature');
    expect(err.message).toBe('Invalid API key or secret: Invalid signature');
    server.reply({ status: 403, contentType: 'text/xml', body: '<errorPayload><code>-1</code><message>Issuer not found</message></errorPayload>' });
    const err2 = (await ot.listStreams(SID).catch((e: unknown) => e)) as AuthError;
    expect(err2.serverMessage).toBe('Issuer not found');
    server.reply({ status: 401 });
    expect(await ot.listStreams(SID).catch((e: unknown) => e)).toBeInstanceOf(AuthError);
  });

  it('any 2xx is success', async () => {
    for (const status of [200, 201, 202, 204]) {
      server.reply({ status, ...(status === 204 ? {} : { body: {} }) });
      await expect(ot.forceMuteStream(SID, STID)).resolves.toBeUndefined();
    }
  });
});

describe('configuration', () => {
  it('uaAddendum is appended to the User-Agent', async () => {
    const o = new OpenTok(KEY, SECRET, { apiUrl: server.url, uaAddendum: 'myapp/1.2' });
    server.reply({ status: 200, body: { count: 0, items: [] } });
    await o.listStreams(SID);
    expect(server.requests[0]!.headers['user-agent']).toMatch(/^OpenTok-Node-SDK\/2\.23\.1 \(compatible; Tokhost-Node-SDK\/\d+\.\d+\.\d+\) myapp\/1\.2$/);
  });

  it('a trailing slash is not doubled and a path prefix is kept', async () => {
    server.reply({ status: 200, body: { count: 0, items: [] } });
    await new OpenTok(KEY, SECRET, server.url + '/').listStreams(SID);
    await new OpenTok(KEY, SECRET, { apiUrl: server.url + '/prefix/' }).listStreams(SID);
    expect(server.requests.map((r) => r.path)).toEqual([`/v2/project/${KEY}/session/${SID}/stream`, `/prefix/v2/project/${KEY}/session/${SID}/stream`]);
  });

  it('a fetch override is used for every request (and sees the full request)', async () => {
    const seen: Array<{ url: string; method: string; body: string | undefined }> = [];
    const fake: FetchLike = async (url, init) => {
      seen.push({ url, method: init.method, body: init.body });
      return { status: 200, headers: new Headers({ 'content-type': 'application/json' }), text: async () => '{"count":0,"items":[]}' };
    };
    const o = new OpenTok(KEY, SECRET, { apiUrl: 'https://video.example', fetch: fake });
    await o.listArchives({ count: 2 });
    await o.forceMuteAll(SID);
    expect(seen).toEqual([
      { url: `https://video.example/v2/project/${KEY}/archive?count=2`, method: 'GET', body: undefined },
      { url: `https://video.example/v2/project/${KEY}/session/${SID}/mute`, method: 'POST', body: '{"active":true}' },
    ]);
  });

  it('a fetch override that throws is a network RequestError with the cause', async () => {
    const boom = new Error('proxy refused');
    const o = new OpenTok(KEY, SECRET, { fetch: async () => Promise.reject(boom) });
    const err = (await o.getBroadcast(BID).catch((e: unknown) => e)) as RequestError;
    expect(err.code).toBe('ERR_SDK_NETWORK');
    expect(err.cause).toBe(boom);
  });

  it('errors are real Error subclasses with name and stack, also exposed as OpenTok statics', () => {
    const e = new OpenTok.ArchiveError('x');
    expect(e).toBeInstanceOf(Error);
    expect(String(e)).toBe('ArchiveError: x');
    expect(e.stack).toContain('ArchiveError');
    expect(OpenTok.AuthError).toBe(AuthError);
  });
});
