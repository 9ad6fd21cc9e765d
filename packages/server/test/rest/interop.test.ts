import { decodeSessionId } from '@tokhost/protocol';
import { OpenTok as TokhostOpenTok } from '@tokhost/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyClientToken } from '../../src/auth/client-token.js';
import { KEY_A, SECRET_A, startServer } from './harness.js';
import { OfficialOpenTok, settle } from './opentok-types.js';
import type { Cb, OpenTokCtor, OpenTokLike } from './opentok-types.js';

type Server = Awaited<ReturnType<typeof startServer>>;

/**
 * The interop suite: the unmodified official `opentok` package and `@tokhost/sdk` pointed at an
 * in-process server with their `apiUrl` argument, through their callback APIs.
 */
const CLIENTS: { name: string; ctor: OpenTokCtor }[] = [
  { name: 'opentok (official, 2.23.2)', ctor: OfficialOpenTok },
  { name: '@tokhost/sdk', ctor: TokhostOpenTok as unknown as OpenTokCtor },
];

const MEDIA = [undefined, 'relayed', 'routed'] as const;
const ARCHIVE = [undefined, 'manual', 'always'] as const;
const LOCATION = [undefined, '10.1.2.3'] as const;
const E2EE = [undefined, true, false] as const;

describe.each(CLIENTS)('interop: $name', ({ ctor }) => {
  let server: Server;
  let ot: OpenTokLike;
  beforeAll(async () => {
    server = await startServer({ outboundAllow: ['127.0.0.0/8'] });
    ot = new ctor(KEY_A, SECRET_A, server.url);
  });
  afterAll(() => server.close());

  const create = (opts: Record<string, unknown>) => settle<{ sessionId: string }>((cb) => ot.createSession(opts, cb));

  it('creates sessions with every option combination and stores them faithfully', async () => {
    let created = 0;
    let refused = 0;
    for (const mediaMode of MEDIA)
      for (const archiveMode of ARCHIVE)
        for (const location of LOCATION)
          for (const e2ee of E2EE) {
            const opts: Record<string, unknown> = {};
            if (mediaMode) opts.mediaMode = mediaMode;
            if (archiveMode) opts.archiveMode = archiveMode;
            if (location) opts.location = location;
            if (e2ee !== undefined) opts.e2ee = e2ee;
            // Both SDKs default to relayed media, as the official one does.
            const media = mediaMode ?? 'relayed';
            const archive = archiveMode ?? 'manual';
            const valid = !(archive === 'always' && media === 'relayed') && !(e2ee === true && (media === 'relayed' || archive === 'always'));
            const { err, value } = await create({ ...opts });
            const label = JSON.stringify(opts);
            if (!valid) {
              expect(err, label).toBeTruthy();
              refused++;
              continue;
            }
            expect(err, label).toBeNull();
            const sessionId = value!.sessionId;
            expect(decodeSessionId(sessionId)?.apiKey).toBe(KEY_A);
            expect(server.store.getSession(sessionId), label).toMatchObject({
              apiKey: KEY_A,
              mediaMode: media,
              archiveMode: archive,
              location: location ?? null,
              e2ee: e2ee === true,
            });
            created++;
          }
    expect(created).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(10);
  });

  it('stores archiveName and archiveResolution of always-archived sessions', async () => {
    const { err, value } = await create({ mediaMode: 'routed', archiveMode: 'always', archiveName: 'board meeting', archiveResolution: '1280x720' });
    expect(err).toBeNull();
    expect(server.store.getSession(value!.sessionId)).toMatchObject({ archiveMode: 'always', archiveName: 'board meeting', archiveResolution: '1280x720' });
  });

  it('makes JWT and T1 tokens the server verifier accepts', async () => {
    const { value } = await create({ mediaMode: 'routed' });
    const sessionId = value!.sessionId;
    const lookup = (k: string) => server.store.getProject(k);
    const expireTime = Math.floor(Date.now() / 1000) + 3600;
    for (const legacy of [false, true]) {
      const token = ot.generateToken(sessionId, { role: 'moderator', data: 'name=Ann&x=1', expireTime, initialLayoutClassList: ['focus', 'big'] }, legacy);
      expect(token.startsWith('T1==')).toBe(legacy);
      const verified = verifyClientToken(token, lookup);
      expect(verified).toMatchObject({ format: legacy ? 't1' : 'jwt', apiKey: KEY_A, sessionId, role: 'moderator', connectionData: 'name=Ann&x=1', expiresAt: expireTime });
      expect(verified.initialLayoutClassList).toEqual(['focus', 'big']);
      const plain = verifyClientToken(ot.generateToken(sessionId, undefined, legacy), lookup);
      expect(plain.role).toBe('publisher');
    }
    // A token signed with another secret does not verify.
    const forged = new ctor(KEY_A, 'f'.repeat(40), server.url).generateToken(sessionId);
    expect(() => verifyClientToken(forged, lookup)).toThrow();
  });

  it('gets 403 for a wrong secret and an unknown key', async () => {
    for (const bad of [new ctor(KEY_A, 'f'.repeat(40), server.url), new ctor('99999999', SECRET_A, server.url)]) {
      const { err } = await settle((cb) => bad.createSession({}, cb));
      expect(err?.message).toMatch(/Invalid API key or secret|auth/i);
      const list = await settle((cb) => bad.listArchives({}, cb));
      expect(list.err?.message).toMatch(/Invalid API key or secret|auth/i);
    }
  });

  it('gets 404 for unknown archives and broadcasts, and empty lists', async () => {
    const id = '4f7b3c63-5e0b-4a3c-9c9b-6d1f0d8e2a11';
    for (const fn of [(cb: Cb) => ot.getArchive(id, cb), (cb: Cb) => ot.stopArchive(id, cb), (cb: Cb) => ot.deleteArchive(id, cb)]) {
      const { err } = await settle(fn);
      expect(err?.message).toMatch(/not found/i);
    }
    expect((await settle((cb) => ot.getBroadcast(id, cb))).err?.message).toMatch(/not found/i);
    const archives = await settle<unknown[]>((cb) => ot.listArchives({}, cb));
    expect(archives.err).toBeNull();
    expect(archives.value).toEqual([]);
    const broadcasts = await settle<unknown[]>((cb) => ot.listBroadcasts({}, cb));
    expect(broadcasts.err).toBeNull();
    expect(broadcasts.value).toEqual([]);
  });

  it('refuses archives of relayed sessions (409) and of sessions without clients (400)', async () => {
    const relayed = (await create({ mediaMode: 'relayed' })).value!.sessionId;
    const r1 = await settle((cb) => ot.startArchive(relayed, {}, cb));
    expect(r1.err).toBeTruthy();
    expect(`${r1.err?.message} ${String((r1.extra as Error | undefined)?.message ?? '')}`).toMatch(/Unexpected response|routed|Recording already in progress/i);
    const routed = (await create({ mediaMode: 'routed' })).value!.sessionId;
    const r2 = await settle((cb) => ot.startArchive(routed, { name: 'x' }, cb));
    // 400 (reference §2.3, issue 9): opentok-node shows it as an unexpected response with our message.
    expect(r2.err?.message).toMatch(/No clients are connected to the session/);
    expect(server.store.listArchives(KEY_A).total).toBe(0);
    const b = await settle((cb) => ot.startBroadcast(routed, { outputs: { hls: {} } }, cb));
    expect(b.err).toBeTruthy();
    expect(server.store.listBroadcasts(KEY_A).total).toBe(0);
  });

  it('answers streams, signals and moderation from live state', async () => {
    const sessionId = (await create({ mediaMode: 'routed' })).value!.sessionId;
    const streams = await settle<unknown[]>((cb) => ot.listStreams(sessionId, cb));
    expect(streams.err).toBeNull();
    expect(streams.value).toEqual([]);
    expect((await settle((cb) => ot.getStream(sessionId, 'no-such-stream', cb))).err?.message).toMatch(/not found/i);
    expect((await settle((cb) => ot.signal(sessionId, null, { type: 'chat', data: 'hi' }, cb))).err).toBeNull();
    expect((await settle((cb) => ot.signal(sessionId, 'no-such-connection', { type: 'chat', data: 'hi' }, cb))).err?.message).toMatch(/not found/i);
    expect((await settle((cb) => ot.forceDisconnect(sessionId, 'no-such-connection', cb))).err?.message).toMatch(/not found/i);
    expect((await settle((cb) => ot.forceMuteAll(sessionId, { excludedStreamIds: [] }, cb))).err).toBeNull();
    expect((await settle((cb) => ot.disableForceMute(sessionId, cb))).err).toBeNull();
    expect((await settle((cb) => ot.setStreamClassLists(sessionId, [{ id: 'no-such-stream', layoutClassList: ['focus'] }], cb))).err).toBeTruthy();
  });

  it('validates SIP dials; a valid one answers {id, connectionId, streamId} before the far end does', async () => {
    const relayed = (await create({ mediaMode: 'relayed' })).value!.sessionId;
    const routed = (await create({ mediaMode: 'routed' })).value!.sessionId;
    const d1 = await settle((cb) => ot.dial(relayed, ot.generateToken(relayed), 'sip:a@example.com', {}, cb));
    expect(d1.err).toBeTruthy();
    // Nothing answers on the discard port: the call is still dialling when the response comes.
    const d2 = await settle((cb) => ot.dial(routed, ot.generateToken(routed), 'sip:a@127.0.0.1:9', { headers: { 'X-Foo': 'bar' } }, cb));
    expect(d2.err).toBeNull();
    expect(d2.value).toMatchObject({ id: expect.any(String), connectionId: expect.any(String), streamId: expect.any(String) });
    const d3 = await settle((cb) => ot.dial(routed, ot.generateToken(relayed), 'sip:a@example.com', {}, cb));
    expect(d3.err).toBeTruthy();
  });
});
