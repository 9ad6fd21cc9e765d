import { createHmac } from 'node:crypto';
import { decodeSessionId, encodeSessionId } from '@tokhost/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createSessionId, KEY_A, KEY_B, postJson, projectJwt, SECRET_A, SECRET_B, startServer } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const UUID = '4f7b3c63-5e0b-4a3c-9c9b-6d1f0d8e2a11';

describe('REST over raw HTTP: what the SDKs never send', () => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer({ maxBodyBytes: 4096 });
  });
  afterAll(() => server.close());

  const expectError = (r: { status: number; json: unknown }, status: number, code?: number) => {
    expect(r.status).toBe(status);
    expect(r.json).toMatchObject({ code: code ?? expect.any(Number), message: expect.any(String), description: expect.any(String) });
  };

  describe('POST /session/create', () => {
    it('answers a one-element JSON array to JSON clients', async () => {
      const r = await call(server, 'POST', '/session/create', { body: 'archiveMode=manual&p2p.preference=enabled', headers: FORM });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      const [item, ...rest] = r.json as Record<string, unknown>[];
      expect(rest).toEqual([]);
      expect(item).toMatchObject({ project_id: KEY_A, partner_id: KEY_A, media_server_url: '', create_dt: expect.stringMatching(/^\w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}$/) });
      const parts = decodeSessionId(item!.session_id as string)!;
      expect(parts.fields[1]).toBe(KEY_A);
      expect(parts.fields[5]).toBe('P');
      expect(Number(parts.createdAt)).toBeGreaterThan(1_700_000_000_000);
    });

    it('answers XML to Ruby (Accept */*) and PHP (no Accept), errors included', async () => {
      for (const accept of ['*/*', '']) {
        const r = await call(server, 'POST', '/session/create', { body: 'p2p.preference=disabled', headers: { ...FORM, accept } });
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toMatch(/^text\/xml/);
        const id = /<session_id>([^<]+)<\/session_id>/.exec(r.text)?.[1];
        expect(r.text).toContain(`<partner_id>${KEY_A}</partner_id>`);
        expect(server.store.getSession(id!)?.mediaMode).toBe('routed');
      }
      const bad = await call(server, 'POST', '/session/create', { body: '', headers: { ...FORM, accept: '*/*' }, auth: 'nope' });
      expect(bad.status).toBe(403);
      expect(bad.text).toMatch(/<errorPayload><code>-1<\/code><message>Invalid token format<\/message>/);
    });

    it('defaults to routed without p2p.preference and accepts PHP api_key and JSON bodies', async () => {
      const id = await createSessionId(server, `api_key=${KEY_A}`);
      expect(server.store.getSession(id)?.mediaMode).toBe('routed');
      const r = await postJson(server, '/session/create', { 'p2p.preference': 'enabled', location: '1.2.3.4' });
      expect(r.status).toBe(200);
      expect(server.store.getSession((r.json as { session_id: string }[])[0]!.session_id)).toMatchObject({ mediaMode: 'relayed', location: '1.2.3.4' });
    });

    it.each([
      ['p2p.preference=maybe', 'p2p.preference'],
      ['archiveMode=sometimes', 'archiveMode'],
      ['archiveMode=always&p2p.preference=enabled', 'archiveMode'],
      ['location=not-an-ip', 'location'],
      ['location=::1', 'location'],
      ['e2ee=yes', 'e2ee'],
      ['e2ee=true&p2p.preference=enabled', 'e2ee'],
      ['e2ee=true&archiveMode=always&p2p.preference=disabled', 'e2ee'],
      ['archiveName=x&archiveMode=manual', 'archiveName'],
      [`archiveName=${'x'.repeat(81)}&archiveMode=always&p2p.preference=disabled`, 'archiveName'],
      ['archiveResolution=1x1&archiveMode=always&p2p.preference=disabled', 'archiveResolution'],
      ['archiveResolution=1280x720', 'archiveResolution'],
      ['api_key=123', 'api_key'],
    ])('400 for %s, naming %s', async (body, field) => {
      const before = server.store.listSessions(KEY_A).total;
      const r = await call(server, 'POST', '/session/create', { body, headers: FORM });
      expectError(r, 400);
      expect((r.json as { message: string }).message).toContain(field);
      expect(server.store.listSessions(KEY_A).total).toBe(before);
    });

    it('tolerates // and the legacy /hl path', async () => {
      for (const path of ['//session/create', '/hl/session/create', '/session/create/']) {
        const r = await call(server, 'POST', path, { body: 'p2p.preference=enabled', headers: FORM });
        expect(r.status, path).toBe(200);
      }
    });
  });

  describe('X-OPENTOK-AUTH', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const list = (auth: string | null, key = KEY_A) => call(server, 'GET', `/v2/project/${key}/archive`, { auth });

    it.each([
      ['opentok-node (iss string, ist, no jti)', () => projectJwt(KEY_A, SECRET_A)],
      ['PHP (iss as a number, jti)', () => projectJwt(Number(KEY_A), SECRET_A, { claims: { jti: 'abc' } })],
      ['Ruby (ist in the header only)', () => projectJwt(KEY_A, SECRET_A, { header: { ist: 'project', typ: undefined }, claims: { ist: undefined } })],
      ['no ist at all', () => projectJwt(KEY_A, SECRET_A, { claims: { ist: undefined } })],
      ['Java (header without typ, 3 min, jti)', () => projectJwt(KEY_A, SECRET_A, { header: { typ: undefined }, claims: { jti: 'x', exp: now() + 180 } })],
      ['iat a little in the future (clock skew)', () => projectJwt(KEY_A, SECRET_A, { claims: { iat: now() + 10, exp: now() + 310 } })],
    ])('accepts %s', async (_name, token) => {
      expect((await list(token())).status).toBe(200);
    });

    const unsigned = () => {
      const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return `${b({ alg: 'none', typ: 'JWT' })}.${b({ iss: KEY_A, ist: 'project', iat: now(), exp: now() + 300 })}.`;
    };
    const hs512 = () => {
      const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const data = `${b({ alg: 'HS512', typ: 'JWT' })}.${b({ iss: KEY_A, ist: 'project', iat: now(), exp: now() + 300 })}`;
      return `${data}.${createHmac('sha512', SECRET_A).update(data).digest('base64url')}`;
    };
    it.each([
      ['missing header', () => null, 'No suitable authentication found'],
      ['alg none (unsigned)', unsigned, undefined],
      ['alg none with a signature', () => projectJwt(KEY_A, SECRET_A, { alg: 'none' }), 'Invalid signature'],
      ['HS512', hs512, 'Invalid signature'],
      ['RS256 header', () => projectJwt(KEY_A, SECRET_A, { alg: 'RS256' }), 'Invalid signature'],
      ['wrong secret', () => projectJwt(KEY_A, SECRET_B), 'Invalid signature'],
      ['unknown issuer', () => projectJwt('99999999', SECRET_A), 'Issuer not found'],
      ['issuer not a key', () => projectJwt('abc def', SECRET_A), 'Invalid issuer format'],
      ['expired', () => projectJwt(KEY_A, SECRET_A, { claims: { iat: now() - 400, exp: now() - 100 } }), 'Token expired'],
      ['issued in the future', () => projectJwt(KEY_A, SECRET_A, { claims: { iat: now() + 200, exp: now() + 400 } }), 'Token not yet valid'],
      ['lifetime over 300 s', () => projectJwt(KEY_A, SECRET_A, { claims: { exp: now() + 600 } }), 'Invalid token'],
      ['no exp', () => projectJwt(KEY_A, SECRET_A, { claims: { exp: undefined } }), 'Invalid token'],
      ['exp as a string', () => projectJwt(KEY_A, SECRET_A, { claims: { exp: String(now() + 100) } }), 'Invalid token'],
      ['ist account', () => projectJwt(KEY_A, SECRET_A, { claims: { ist: 'account' } }), 'Invalid issuer type'],
      ['ist account in the header', () => projectJwt(KEY_A, SECRET_A, { header: { ist: 'account' } }), 'Invalid issuer type'],
      ['garbage', () => 'not-a-jwt', 'Invalid token format'],
      ['four segments', () => projectJwt(KEY_A, SECRET_A) + '.x', 'Invalid token format'],
      ['JSON that is not an object', () => `${Buffer.from('[1]').toString('base64url')}.e30.e30`, 'Invalid token format'],
    ])('refuses %s with 403', async (_name, token, message) => {
      const r = await list(token());
      expectError(r, 403, -1);
      if (message) expect((r.json as { message: string }).message).toBe(message);
    });

    it('stops accepting a token, even a repeated one, once the secret is rotated', async () => {
      const secret = 'c'.repeat(40);
      server.store.createProject({ apiKey: '30000003', apiSecret: secret, name: 'C', createdAt: Date.now(), webhookUrl: null });
      const token = projectJwt('30000003', secret);
      expect((await list(token, '30000003')).status).toBe(200);
      expect((await list(token, '30000003')).status).toBe(200);
      server.store.updateProject('30000003', { apiSecret: 'd'.repeat(40) });
      expectError(await list(token, '30000003'), 403, -1);
      expect((await list(projectJwt('30000003', 'd'.repeat(40)), '30000003')).status).toBe(200);
    });

    it('refuses a key in the path that differs from iss', async () => {
      const r = await list(projectJwt(KEY_A, SECRET_A), KEY_B);
      expectError(r, 403, -1);
    });

    it('accepts the legacy X-TB-PARTNER-AUTH header and refuses a wrong one', async () => {
      const ok = await call(server, 'GET', `/v2/project/${KEY_B}/archive`, { auth: null, headers: { 'x-tb-partner-auth': `${KEY_B}:${SECRET_B}` } });
      expect(ok.status).toBe(200);
      for (const value of [`${KEY_B}:${SECRET_A}`, `${KEY_B}`, `:${SECRET_B}`, `${KEY_A}:${SECRET_A}x`]) {
        const r = await call(server, 'GET', `/v2/project/${KEY_B}/archive`, { auth: null, headers: { 'x-tb-partner-auth': value } });
        expectError(r, 403, -1);
      }
    });

    it('ignores unknown headers such as opentok-node\'s spurious "headers: [object Object]"', async () => {
      expect((await call(server, 'GET', `/v2/project/${KEY_A}/archive`, { headers: { headers: '[object Object]' } })).status).toBe(200);
    });
  });

  describe('bodies, IDs and methods', () => {
    let sessionId = '';
    beforeAll(async () => {
      sessionId = await createSessionId(server, 'p2p.preference=disabled');
    });

    it('413 for a body over the limit, also when chunked', async () => {
      const big = 'x'.repeat(5000);
      expectError(await postJson(server, `/v2/project/${KEY_A}/session/${sessionId}/signal`, { data: big }), 413, 413);
      const chunked = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(`{"data":"${big}"}`));
          c.close();
        },
      });
      const res = await fetch(`${server.url}/v2/project/${KEY_A}/session/${sessionId}/signal`, {
        method: 'POST',
        body: chunked,
        duplex: 'half',
        headers: { 'content-type': 'application/json', 'x-opentok-auth': projectJwt(KEY_A, SECRET_A) },
      } as RequestInit);
      expect(res.status).toBe(413);
      await res.text();
    });

    it('400 for malformed JSON and non-object bodies, 415 for other types', async () => {
      const path = `/v2/project/${KEY_A}/archive`;
      expectError(await call(server, 'POST', path, { body: '{"sessionId":', headers: { 'content-type': 'application/json' } }), 400);
      expectError(await call(server, 'POST', path, { body: '[1,2]', headers: { 'content-type': 'application/json' } }), 400);
      expectError(await call(server, 'POST', path, { body: 'null', headers: { 'content-type': 'application/json' } }), 400);
      expectError(await call(server, 'POST', path, { body: '<x/>', headers: { 'content-type': 'application/xml' } }), 415);
    });

    it('accepts {} and empty bodies on action POSTs', async () => {
      const mute = `/v2/project/${KEY_A}/session/${sessionId}/mute`;
      expect((await postJson(server, mute, {})).status).toBe(200);
      expect((await call(server, 'POST', mute, {})).status).toBe(200);
      expect((await postJson(server, mute, { active: 'false' })).status).toBe(200);
      expect((await postJson(server, mute, { active: 'true', excludedStreams: ['a'] })).status).toBe(200);
      expectError(await postJson(server, mute, { active: 'perhaps' }), 400);
    });

    it('validates IDs in paths: 400 for malformed, 404 for unknown, never a traversal', async () => {
      expectError(await call(server, 'GET', `/v2/project/${KEY_A}/archive/not-a-uuid`), 400);
      expectError(await call(server, 'GET', `/v2/project/${KEY_A}/archive/${UUID}`), 404);
      expectError(await call(server, 'GET', `/v2/project/${KEY_A}/archive/..%2F..%2Fetc%2Fpasswd`), 400);
      expect((await call(server, 'GET', `/v2/project/${KEY_A}/archive/%E0%A4%A`)).status).toBe(400);
      expectError(await call(server, 'GET', `/v2/project/${KEY_A}/session/garbage/stream`), 400);
      const unknown = encodeSessionId({ apiKey: KEY_A, createdAt: Date.now(), random: 'nope' });
      expectError(await call(server, 'GET', `/v2/project/${KEY_A}/session/${unknown}/stream`), 404);
      expectError(await call(server, 'GET', `/v2/project/${KEY_A}/session/1_MX4xMjN-fg/stream`), 400);
      expectError(await call(server, 'DELETE', `/v2/project/${KEY_A}/session/${sessionId}/connection/a%20b`), 400);
      expectError(await call(server, 'GET', `/v2/project/${KEY_A}/nothing-here`), 404);
    });

    it('405 with Allow for a wrong method', async () => {
      const r = await call(server, 'DELETE', `/v2/project/${KEY_A}/archive`);
      expectError(r, 405, 405);
      expect(r.headers.get('allow')).toContain('GET');
    });

    it('validates list paging', async () => {
      expect((await call(server, 'GET', `/v2/project/${KEY_A}/archive?offset=0&count=1000&sessionId=${sessionId}`)).json).toEqual({ count: 0, items: [] });
      for (const q of ['count=0', 'count=1001', 'offset=-1', 'count=abc']) expectError(await call(server, 'GET', `/v2/project/${KEY_A}/broadcast?${q}`), 400);
    });

    it('signals: 413 for a long type or big data, 400 for bad values, 204 when fine', async () => {
      const path = `/v2/project/${KEY_A}/session/${sessionId}/signal`;
      const roomy = await startServer({ maxBodyBytes: 65536 });
      try {
        const sid = await createSessionId(roomy);
        const p = `/v2/project/${KEY_A}/session/${sid}/signal`;
        expectError(await postJson(roomy, p, { type: 't'.repeat(129), data: 'x' }), 413, 413);
        expectError(await postJson(roomy, p, { type: 'chat', data: 'é'.repeat(4097) }), 413, 413);
        expect((await postJson(roomy, p, { type: 't'.repeat(128), data: 'x'.repeat(8192) })).status).toBe(204);
      } finally {
        await roomy.close();
      }
      expectError(await postJson(server, path, { type: 'bad type!' }), 400);
      expectError(await postJson(server, path, { data: null }), 400);
      expectError(await postJson(server, path, { data: 5 }), 400);
      expect((await postJson(server, path, { type: 'chat', data: 'hi' })).status).toBe(204);
    });

    it('archive and broadcast bodies are validated before any state is read', async () => {
      const a = `/v2/project/${KEY_A}/archive`;
      for (const body of [{}, { sessionId }, { sessionId, hasAudio: false, hasVideo: false }, { sessionId, outputMode: 'individual', resolution: '1280x720' }, { sessionId, layout: { type: 'custom' } }, { sessionId, layout: { type: 'pip', screenshareType: 'focus' } }, { sessionId, maxBitrate: 1e6, quantizationParameter: 20 }, { sessionId, streamMode: 'x' }]) {
        const r = await postJson(server, a, body);
        if (Object.keys(body).length === 1 && 'sessionId' in body) {
          expectError(r, 400);
          expect((r.json as { description: string }).description).toMatch(/No clients/);
        } else expectError(r, 400);
      }
      const b = `/v2/project/${KEY_A}/broadcast`;
      for (const body of [{ sessionId }, { sessionId, outputs: {} }, { sessionId, outputs: { hls: { dvr: true, lowLatency: true } } }, { sessionId, outputs: { rtmp: Array(6).fill({ serverUrl: 'rtmp://a/b', streamName: 'c' }) } }, { sessionId, outputs: { rtmp: [{ serverUrl: 'http://a', streamName: 'c' }] } }, { sessionId, outputs: { hls: {} }, maxDuration: 10 }]) {
        expectError(await postJson(server, b, body), 400);
      }
      expectError(await postJson(server, `/v2/project/${KEY_A}/archive/${UUID}/streams`, {}), 405);
    });

    it('lists connections of a session', async () => {
      const r = await call(server, 'GET', `/v2/project/${KEY_A}/session/${sessionId}/connection`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ count: 0, projectId: KEY_A, sessionId, items: [] });
    });

    it('DTMF digits are validated; valid digits to a session without SIP calls change nothing (200)', async () => {
      const p = `/v2/project/${KEY_A}/session/${sessionId}/play-dtmf`;
      expectError(await postJson(server, p, { digits: '12a' }), 400);
      expect((await postJson(server, p, { digits: '12a' })).json).toMatchObject({ message: 'Invalid DTMF Digits' });
      expect((await postJson(server, p, { digits: '1p2#' })).status).toBe(200);
      expectError(await postJson(server, `/v2/project/${KEY_A}/session/${sessionId}/connection/abc/play-dtmf`, { digits: '1' }), 404);
    });
  });

  it('serves /openapi.json describing every route', async () => {
    const r = await call(server, 'GET', '/openapi.json', { auth: null });
    expect(r.status).toBe(200);
    const doc = r.json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v2/project/{key}/archive/{archiveId}/stop');
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    expect(operations).toBe(42);
  });

  it('never logs secrets or tokens', async () => {
    const token = projectJwt(KEY_A, SECRET_A);
    await call(server, 'GET', `/v2/project/${KEY_A}/archive`, { auth: token });
    await call(server, 'GET', `/v2/project/${KEY_B}/archive`, { auth: null, headers: { 'x-tb-partner-auth': `${KEY_B}:${SECRET_B}` } });
    await call(server, 'GET', `/v2/project/${KEY_A}/archive`, { auth: projectJwt(KEY_A, SECRET_B) });
    expect(server.logs.text).toContain('"status":200');
    for (const secret of [SECRET_A, SECRET_B, token, token.split('.')[2]!]) expect(server.logs.text).not.toContain(secret);
  });
});
