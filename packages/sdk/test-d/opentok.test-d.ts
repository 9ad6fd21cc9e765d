/**
 * Compile-only tests of the public types: Promise and callback overloads, option types, errors.
 */
import { describe, expectTypeOf, it } from 'vitest';
import OpenTokDefault, { ArchiveError, OpenTok, OpenTokError, RequestError, verifyWebhookSignature } from '../src/index.js';
import type {
  Archive,
  ArchiveList,
  AudioConnection,
  RegisteredCallback,
  Render,
  RenderList,
  Broadcast,
  BroadcastList,
  Callback,
  ConnectionList,
  DialOptions,
  OpenTokErrorCode,
  Session,
  SipCall,
  Stream,
} from '../src/index.js';

declare const ot: OpenTok;
const SID = 'sid';

describe('constructor', () => {
  it('accepts options, an apiUrl string or nothing', () => {
    expectTypeOf(OpenTokDefault).toEqualTypeOf<typeof OpenTok>();
    new OpenTok('key', 'secret');
    new OpenTok(123456, 'secret', 'https://api.opentok.com');
    new OpenTok('key', 'secret', { apiUrl: 'http://127.0.0.1:3000', timeout: 5000, uaAddendum: 'app/1', fetch: globalThis.fetch });
    // @ts-expect-error unknown option
    new OpenTok('key', 'secret', { apiURL: 'x' });
    // @ts-expect-error the secret is required
    new OpenTok('key');
  });

  it('is callable without new, and generateJwt returns a string', () => {
    expectTypeOf(OpenTok('key', 'secret')).toEqualTypeOf<OpenTok>();
    expectTypeOf(new OpenTok('3f2504e0-4f89-41d3-9a0c-0305e82c3301', '-----BEGIN PRIVATE KEY-----…').generateJwt()).toEqualTypeOf<string>();
  });
});

describe('Promise overloads', () => {
  it('resolve the documented types', () => {
    expectTypeOf(ot.createSession()).toEqualTypeOf<Promise<Session>>();
    expectTypeOf(ot.createSession({ mediaMode: 'routed', archiveMode: 'always', archiveResolution: '1280x720' })).toEqualTypeOf<Promise<Session>>();
    expectTypeOf(ot.generateToken(SID, { role: 'moderator', expireTime: 1, data: 'd', initialLayoutClassList: ['a'] })).toEqualTypeOf<string>();
    expectTypeOf(ot.generateToken(SID, {}, true)).toEqualTypeOf<string>();
    expectTypeOf(ot.startArchive(SID, { outputMode: 'individual' })).toEqualTypeOf<Promise<Archive>>();
    expectTypeOf(ot.stopArchive('a')).toEqualTypeOf<Promise<Archive>>();
    expectTypeOf(ot.getArchive('a')).toEqualTypeOf<Promise<Archive>>();
    expectTypeOf(ot.deleteArchive('a')).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.listArchives({ count: 5 })).toEqualTypeOf<Promise<ArchiveList>>();
    expectTypeOf(ot.listArchives(0, 10, SID)).toEqualTypeOf<Promise<ArchiveList>>();
    expectTypeOf(ot.addArchiveStream('a', 's', { hasAudio: false })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.setArchiveLayout('a', 'bestFit', null, 'pip')).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.setArchiveLayout('a', { type: 'custom', stylesheet: 'x' })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.startBroadcast(SID, { outputs: { hls: { dvr: true } } })).toEqualTypeOf<Promise<Broadcast>>();
    expectTypeOf(ot.listBroadcasts()).toEqualTypeOf<Promise<BroadcastList>>();
    expectTypeOf(ot.updateBroadcastLayout('b', { type: 'pip' })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.setBroadcastLayout('b', 'pip')).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.getStream(SID, 's')).toEqualTypeOf<Promise<Stream>>();
    expectTypeOf(ot.listStreams(SID)).toEqualTypeOf<Promise<Stream[]>>();
    expectTypeOf(ot.listConnections(SID)).toEqualTypeOf<Promise<ConnectionList>>();
    expectTypeOf(ot.signal(SID, { type: 't', data: 'd' })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.signal(SID, { data: 'd' }, 'conn')).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.signal(SID, null, { data: 'd' })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.dial(SID, 'tok', 'sip:a@b', { secure: false })).toEqualTypeOf<Promise<SipCall>>();
    // One home (protocol's DialSipJson), the same public shape as when the SDK declared it itself: these fields, all optional.
    expectTypeOf<Required<DialOptions>>().toEqualTypeOf<{ headers: Record<string, string>; auth: { username: string; password: string }; secure: boolean; from: string; video: boolean; observeForceMute: boolean; streams: string[] }>();
    expectTypeOf<Record<never, never>>().toExtend<DialOptions>();
    expectTypeOf(ot.playDTMF(SID, '1#')).toEqualTypeOf<Promise<void>>();
    expectTypeOf(ot.websocketConnect(SID, 'tok', 'wss://a', { audioRate: 16000 })).toEqualTypeOf<Promise<AudioConnection>>();
    expectTypeOf(ot.startCaptions(SID, 'tok')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(ot.stopCaptions('c')).toEqualTypeOf<Promise<true>>();
    expectTypeOf(ot.startRender({ sessionId: SID, token: 't', url: 'https://a' })).toEqualTypeOf<Promise<Render>>();
    expectTypeOf(ot.listRenders({ count: 2 })).toEqualTypeOf<Promise<RenderList>>();
    expectTypeOf(ot.registerCallback({ group: 'connection', event: 'created', url: 'https://a' })).toEqualTypeOf<Promise<RegisteredCallback>>();
    expectTypeOf(ot.listCallbacks()).toEqualTypeOf<Promise<RegisteredCallback[]>>();
  });

  it('result objects carry their shortcuts', async () => {
    const a = await ot.getArchive('a');
    expectTypeOf(a.status).toEqualTypeOf<'started' | 'paused' | 'stopped' | 'uploaded' | 'available' | 'expired' | 'failed' | 'deleted'>();
    expectTypeOf(a.stop()).toEqualTypeOf<Promise<Archive>>();
    expectTypeOf(a.delete()).toEqualTypeOf<Promise<void>>();
    const l = await ot.listArchives();
    expectTypeOf(l.items).toEqualTypeOf<Archive[]>();
    expectTypeOf(l.totalCount).toEqualTypeOf<number>();
    const s = await ot.createSession();
    expectTypeOf(s.generateToken).returns.toEqualTypeOf<string>();
  });
});

describe('callback overloads', () => {
  it('return void and type the callback arguments', () => {
    expectTypeOf(ot.createSession((err, session) => {
      expectTypeOf(err).toEqualTypeOf<Error | null>();
      expectTypeOf(session).toEqualTypeOf<Session | undefined>();
    })).toEqualTypeOf<void>();
    expectTypeOf(ot.createSession({ mediaMode: 'routed' }, () => undefined)).toEqualTypeOf<void>();
    expectTypeOf(ot.startArchive(SID, (_err, archive) => expectTypeOf(archive).toEqualTypeOf<Archive | undefined>())).toEqualTypeOf<void>();
    expectTypeOf(ot.startArchive(SID, { name: 'n' }, () => undefined)).toEqualTypeOf<void>();
    expectTypeOf(ot.listArchives((_err, items, total) => {
      expectTypeOf(items).toEqualTypeOf<Archive[] | undefined>();
      expectTypeOf(total).toEqualTypeOf<number | undefined>();
    })).toEqualTypeOf<void>();
    expectTypeOf(ot.listBroadcasts({ count: 1 }, (_err, items) => expectTypeOf(items).toEqualTypeOf<Broadcast[] | undefined>())).toEqualTypeOf<void>();
    expectTypeOf(ot.signal(SID, 'conn', { data: 'x' }, () => undefined)).toEqualTypeOf<void>();
    expectTypeOf(ot.signal(SID, null, { data: 'x' }, () => undefined)).toEqualTypeOf<void>();
    expectTypeOf(ot.playDTMF(SID, 'conn', '1', () => undefined)).toEqualTypeOf<void>();
    expectTypeOf(ot.setArchiveLayout('a', 'pip', () => undefined)).toEqualTypeOf<void>();
    expectTypeOf(ot.setBroadcastLayout('b', 'bestFit', null, 'pip', () => undefined)).toEqualTypeOf<void>();
    expectTypeOf(ot.dial(SID, 't', 'sip:x', (_e, call) => expectTypeOf(call).toEqualTypeOf<SipCall | undefined>())).toEqualTypeOf<void>();
    expectTypeOf(ot.forceDisconnect(SID, 'c', () => undefined)).toEqualTypeOf<void>();
    const cb: Callback<Stream[]> = () => undefined;
    expectTypeOf(ot.listStreams(SID, cb)).toEqualTypeOf<void>();
    expectTypeOf(ot.startCaptions(SID, 'tok', {}, (_e, id) => expectTypeOf(id).toEqualTypeOf<string | undefined>())).toEqualTypeOf<void>();
    expectTypeOf(ot.listRenders((_e, list) => expectTypeOf(list).toEqualTypeOf<RenderList | undefined>())).toEqualTypeOf<void>();
    expectTypeOf(ot.listCallbacks((_e, list) => expectTypeOf(list).toEqualTypeOf<RegisteredCallback[] | undefined>())).toEqualTypeOf<void>();
    // @ts-expect-error audioRate is 8000 or 16000
    void ot.websocketConnect(SID, 'tok', 'wss://a', { audioRate: 44100 });
  });

  it('reject wrong option values and shapes', () => {
    // @ts-expect-error unknown media mode
    void ot.createSession({ mediaMode: 'p2p' });
    // @ts-expect-error unknown role
    ot.generateToken(SID, { role: 'admin' });
    // @ts-expect-error unknown resolution
    void ot.startArchive(SID, { resolution: '800x600' });
    // @ts-expect-error outputs is required
    void ot.startBroadcast(SID, { maxDuration: 60 });
    // @ts-expect-error rtmp entries need serverUrl and streamName
    void ot.startBroadcast(SID, { outputs: { rtmp: [{ id: 'x' }] } });
    // @ts-expect-error layout type must be a known one
    void ot.setArchiveLayout('a', 'grid');
    // @ts-expect-error the callback's result is an Archive, not a string
    ot.getArchive('a', (_e: Error | null, r?: string) => r);
  });
});

describe('errors and helpers', () => {
  it('typed error classes', () => {
    const e = new ArchiveError('x');
    expectTypeOf(e).toMatchTypeOf<OpenTokError>();
    expectTypeOf(e.code).toEqualTypeOf<OpenTokErrorCode>();
    expectTypeOf(e.status).toEqualTypeOf<number | undefined>();
    expectTypeOf(e.serverCode).toEqualTypeOf<number | string | undefined>();
    expectTypeOf(e.serverMessage).toEqualTypeOf<string | undefined>();
    expectTypeOf(OpenTok.RequestError).toEqualTypeOf<typeof RequestError>();
    expectTypeOf(verifyWebhookSignature).returns.toEqualTypeOf<boolean>();
    expectTypeOf(verifyWebhookSignature).parameter(0).toEqualTypeOf<string | Buffer>();
  });
});
