/**
 * Option validation: every rule of the public methods has a failing case that rejects with an
 * ArgumentError naming the option, before any request is made; valid boundary cases go through.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArgumentError, OpenTok } from '../src/index.js';
import type { BroadcastOptions, SessionOptions } from '../src/index.js';
import { AID, BID, KEY, SECRET, SID, STID } from './fixtures.js';
import { startRecordingServer } from './helpers/recording-server.js';
import type { RecordingServer } from './helpers/recording-server.js';

let server: RecordingServer;
let ot: OpenTok;
beforeAll(async () => {
  server = await startRecordingServer();
  ot = new OpenTok(KEY, SECRET, { apiUrl: server.url });
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
  server.reply({ status: 200, body: [{ session_id: SID }] });
});

const HLS = { outputs: { hls: {} } };
const rtmp = (n: number): BroadcastOptions => ({
  outputs: { rtmp: Array.from({ length: n }, (_, i) => ({ id: `r${i}`, serverUrl: 'rtmp://a/b', streamName: `s${i}` })) },
});

const failing: Array<[string, (ot: OpenTok) => Promise<unknown>, RegExp]> = [
  // createSession
  ['location not IPv4', (o) => o.createSession({ location: '::1' }), /location.*IPv4/],
  ['location not an address', (o) => o.createSession({ location: 'here' }), /location/],
  ['archiveMode always with relayed', (o) => o.createSession({ archiveMode: 'always' }), /archiveMode.*routed/],
  ['archiveName over 80 characters', (o) => o.createSession({ mediaMode: 'routed', archiveMode: 'always', archiveName: 'n'.repeat(81) }), /archiveName.*80/],
  ['archiveName without always', (o) => o.createSession({ mediaMode: 'routed', archiveName: 'n' }), /archiveName.*always/],
  ['archiveResolution unknown', (o) => o.createSession({ mediaMode: 'routed', archiveMode: 'always', archiveResolution: '800x600' as '640x480' }), /archiveResolution/],
  ['archiveResolution without always', (o) => o.createSession({ mediaMode: 'routed', archiveResolution: '1280x720' }), /archiveResolution.*always/],
  ['e2ee with relayed', (o) => o.createSession({ e2ee: true }), /e2ee.*routed/],
  ['e2ee with always', (o) => o.createSession({ mediaMode: 'routed', archiveMode: 'always', e2ee: true }), /e2ee.*always/],
  ['e2ee not boolean', (o) => o.createSession({ mediaMode: 'routed', e2ee: 'yes' as unknown as boolean }), /e2ee/],
  ['session options not an object', (o) => o.createSession('routed' as unknown as SessionOptions), /options/],
  // archives
  ['startArchive without sessionId', (o) => o.startArchive(''), /^No session ID given$/],
  ['startArchive hasAudio and hasVideo false', (o) => o.startArchive(SID, { hasAudio: false, hasVideo: false }), /hasAudio and hasVideo/],
  ['startArchive outputMode unknown', (o) => o.startArchive(SID, { outputMode: 'mixed' as 'composed' }), /outputMode/],
  ['startArchive resolution unknown', (o) => o.startArchive(SID, { resolution: '1x1' as '640x480' }), /resolution/],
  ['startArchive resolution with individual', (o) => o.startArchive(SID, { outputMode: 'individual', resolution: '640x480' }), /resolution.*composed/],
  ['startArchive layout type unknown', (o) => o.startArchive(SID, { layout: { type: 'grid' as 'pip' } }), /layout\.type/],
  ['startArchive custom layout without stylesheet', (o) => o.startArchive(SID, { layout: { type: 'custom' } }), /layout\.stylesheet/],
  ['startArchive screenshareType without bestFit', (o) => o.startArchive(SID, { layout: { type: 'pip', screenshareType: 'pip' } }), /screenshareType/],
  ['startArchive layout type focus (a class, not a type)', (o) => o.startArchive(SID, { layout: { type: 'focus' as 'pip' } }), /layout\.type/],
  ['startArchive stylesheet with a non-custom type', (o) => o.startArchive(SID, { layout: { type: 'pip', stylesheet: 'stream {}' } }), /layout\.stylesheet is only allowed/],
  ['startArchive screenshareType custom', (o) => o.startArchive(SID, { layout: { type: 'bestFit', screenshareType: 'custom' as 'pip' } }), /layout\.screenshareType/],
  ['startArchive streamMode unknown', (o) => o.startArchive(SID, { streamMode: 'semi' as 'auto' }), /streamMode/],
  ['startArchive name over 80', (o) => o.startArchive(SID, { name: 'n'.repeat(81) }), /name/],
  ['startArchive maxBitrate not an integer', (o) => o.startArchive(SID, { maxBitrate: 1.5 }), /maxBitrate/],
  ['startArchive multiArchiveTag not a string', (o) => o.startArchive(SID, { multiArchiveTag: 1 as unknown as string }), /multiArchiveTag/],
  ['stopArchive without archiveId', (o) => o.stopArchive(''), /^No archive ID given$/],
  ['getArchive with a number as archiveId', (o) => o.getArchive(7 as unknown as string), /^archiveId must be a non-empty string$/],
  ['getArchive without archiveId', (o) => o.getArchive(undefined as unknown as string), /^No archive ID given$/],
  ['deleteArchive without archiveId', (o) => o.deleteArchive(''), /^No archive ID given$/],
  ['listArchives count over 1000', (o) => o.listArchives({ count: 1001 }), /count/],
  ['listArchives count 0', (o) => o.listArchives({ count: 0 }), /count/],
  ['listArchives negative offset', (o) => o.listArchives({ offset: -1 }), /offset/],
  ['listArchives sessionId not a string', (o) => o.listArchives({ sessionId: 3 as unknown as string }), /sessionId/],
  ['addArchiveStream without streamId', (o) => o.addArchiveStream(AID, ''), /^No stream ID given$/],
  ['addArchiveStream hasAudio not boolean', (o) => o.addArchiveStream(AID, STID, { hasAudio: 'no' as unknown as boolean }), /hasAudio/],
  ['removeArchiveStream without streamId', (o) => o.removeArchiveStream(AID, ''), /^No stream ID given$/],
  ['setArchiveLayout unknown type', (o) => o.setArchiveLayout(AID, 'grid' as 'pip'), /type/],
  ['setArchiveLayout screenshareType without bestFit', (o) => o.setArchiveLayout(AID, 'pip', null, 'pip'), /screenshareType/],
  ['setArchiveLayout type focus', (o) => o.setArchiveLayout(AID, 'focus' as 'pip'), /type/],
  ['setArchiveLayout stylesheet with bestFit', (o) => o.setArchiveLayout(AID, 'bestFit', 'stream {}'), /stylesheet/],
  // broadcasts
  ['startBroadcast without options', (o) => o.startBroadcast(SID, undefined as unknown as BroadcastOptions), /^No options given to startBroadcast$/],
  ['startBroadcast without outputs', (o) => o.startBroadcast(SID, { outputs: {} }), /outputs/],
  ['startBroadcast hls dvr and lowLatency', (o) => o.startBroadcast(SID, { outputs: { hls: { dvr: true, lowLatency: true } } }), /dvr.*lowLatency/],
  ['startBroadcast 6 rtmp targets', (o) => o.startBroadcast(SID, rtmp(6)), /rtmp.*5/],
  ['startBroadcast rtmp without serverUrl', (o) => o.startBroadcast(SID, { outputs: { rtmp: [{ serverUrl: '', streamName: 's' }] } }), /serverUrl/],
  ['startBroadcast rtmp without streamName', (o) => o.startBroadcast(SID, { outputs: { rtmp: [{ serverUrl: 'rtmp://a', streamName: '' }] } }), /streamName/],
  ['startBroadcast maxDuration 59', (o) => o.startBroadcast(SID, { ...HLS, maxDuration: 59 }), /maxDuration/],
  ['startBroadcast maxDuration 36001', (o) => o.startBroadcast(SID, { ...HLS, maxDuration: 36001 }), /maxDuration/],
  ['startBroadcast resolution unknown', (o) => o.startBroadcast(SID, { ...HLS, resolution: '2x2' as '640x480' }), /resolution/],
  ['startBroadcast streamMode unknown', (o) => o.startBroadcast(SID, { ...HLS, streamMode: 'x' as 'auto' }), /streamMode/],
  ['startBroadcast layout invalid', (o) => o.startBroadcast(SID, { ...HLS, layout: { type: 'custom' } }), /layout/],
  ['startBroadcast maxBitrate invalid', (o) => o.startBroadcast(SID, { ...HLS, maxBitrate: -1 }), /maxBitrate/],
  ['stopBroadcast without id', (o) => o.stopBroadcast(''), /^No broadcast ID given$/],
  ['getBroadcast without id', (o) => o.getBroadcast(''), /^No broadcast ID given$/],
  ['listBroadcasts count over 1000', (o) => o.listBroadcasts({ count: 5000 }), /count/],
  ['updateBroadcastLayout custom without stylesheet', (o) => o.updateBroadcastLayout(BID, { type: 'custom' }), /stylesheet/],
  ['addBroadcastStream hasVideo not boolean', (o) => o.addBroadcastStream(BID, STID, { hasVideo: 1 as unknown as boolean }), /hasVideo/],
  ['removeBroadcastStream without streamId', (o) => o.removeBroadcastStream(BID, ''), /streamId/],
  // streams and moderation
  ['updateStream without layoutClassList', (o) => o.updateStream(SID, STID, {} as { layoutClassList: string[] }), /layoutClassList/],
  ['setStreamClassLists not an array', (o) => o.setStreamClassLists(SID, {} as unknown as []), /classLists/],
  ['setStreamClassLists entry without id', (o) => o.setStreamClassLists(SID, [{ layoutClassList: [] } as unknown as { id: string; layoutClassList: string[] }]), /classLists\[0\]\.id/],
  ['setStreamClassLists non-string class', (o) => o.setStreamClassLists(SID, [{ id: STID, layoutClassList: [1 as unknown as string] }]), /layoutClassList/],
  ['getStream without streamId', (o) => o.getStream(SID, ''), /streamId/],
  ['listStreams without sessionId', (o) => o.listStreams(''), /sessionId/],
  ['listConnections without sessionId', (o) => o.listConnections(''), /sessionId/],
  ['forceDisconnect without connectionId', (o) => o.forceDisconnect(SID, ''), /^No sessionId or connectionId given to forceDisconnect$/],
  ['forceMuteStream without streamId', (o) => o.forceMuteStream(SID, ''), /streamId/],
  ['forceMuteAll excludedStreamIds not an array', (o) => o.forceMuteAll(SID, { excludedStreamIds: 'st' as unknown as string[] }), /excludedStreamIds/],
  ['disableForceMute without sessionId', (o) => o.disableForceMute(''), /sessionId/],
  // signals
  ['signal type over 128 characters', (o) => o.signal(SID, { type: 'a'.repeat(129), data: 'x' }), /type.*128/],
  ['signal type with a bad character', (o) => o.signal(SID, { type: 'chat room', data: 'x' }), /type/],
  ['signal data over 8 kB', (o) => o.signal(SID, { type: 'chat', data: 'x'.repeat(8193) }), /data.*8192/],
  ['signal data over 8 kB in UTF-8 bytes', (o) => o.signal(SID, { data: 'é'.repeat(4097) }), /data/],
  ['signal data not a string', (o) => o.signal(SID, { data: {} as unknown as string }), /data/],
  ['signal without payload', (o) => o.signal(SID, null, undefined as unknown as { data: string }), /payload/],
  // SIP
  ['dial without token', (o) => o.dial(SID, '', 'sip:a@b'), /^No token given$/],
  ['dial without sipUri', (o) => o.dial(SID, 'tok', ''), /^No SIP URI given$/],
  ['dial header not a string', (o) => o.dial(SID, 'tok', 'sip:a@b', { headers: { 'X-Foo': 1 as unknown as string } }), /headers/],
  ['dial auth without username', (o) => o.dial(SID, 'tok', 'sip:a@b', { auth: { username: '', password: 'p' } }), /auth\.username/],
  ['dial secure not boolean', (o) => o.dial(SID, 'tok', 'sip:a@b', { secure: 'yes' as unknown as boolean }), /secure/],
  ['dial streams not strings', (o) => o.dial(SID, 'tok', 'sip:a@b', { streams: [1 as unknown as string] }), /streams/],
  ['playDTMF bad digits', (o) => o.playDTMF(SID, '12a'), /digits/],
  ['playDTMF empty digits', (o) => o.playDTMF(SID, ''), /digits/],
  // Audio Connector, captions, renders, callbacks
  ['websocketConnect non-WebSocket URI', (o) => o.websocketConnect(SID, 'tok', 'https://a'), /websocketUri/],
  ['websocketConnect audioRate 44100', (o) => o.websocketConnect(SID, 'tok', 'wss://a', { audioRate: 44100 as 8000 }), /audioRate/],
  ['websocketConnect header not a string', (o) => o.websocketConnect(SID, 'tok', 'wss://a', { headers: { a: 1 as unknown as string } }), /headers/],
  ['startCaptions without token', (o) => o.startCaptions(SID, ''), /token/],
  ['startCaptions maxDuration 0', (o) => o.startCaptions(SID, 'tok', { maxDuration: 0 }), /maxDuration/],
  ['startCaptions maxDuration not an integer', (o) => o.startCaptions(SID, 'tok', { maxDuration: 300.5 }), /maxDuration/],
  ['startCaptions maxDuration 14401', (o) => o.startCaptions(SID, 'tok', { maxDuration: 14401 }), /maxDuration/],
  ['startCaptions statusCallbackUrl not http', (o) => o.startCaptions(SID, 'tok', { statusCallbackUrl: 'ftp://x' }), /statusCallbackUrl/],
  ['stopCaptions without id', (o) => o.stopCaptions(''), /captionsId/],
  ['startRender without options', (o) => o.startRender(undefined as unknown as { sessionId: string; token: string; url: string }), /options/],
  ['startRender without url', (o) => o.startRender({ sessionId: SID, token: 'tok', url: '' }), /url/],
  ['startRender url not http', (o) => o.startRender({ sessionId: SID, token: 'tok', url: 'file:///etc/passwd' }), /url/],
  ['startRender maxDuration 59', (o) => o.startRender({ sessionId: SID, token: 'tok', url: 'https://a', maxDuration: 59 }), /maxDuration/],
  ['startRender resolution unknown', (o) => o.startRender({ sessionId: SID, token: 'tok', url: 'https://a', resolution: '1x1' as '640x480' }), /resolution/],
  ['getRender without id', (o) => o.getRender(''), /renderId/],
  ['listRenders count 1001', (o) => o.listRenders({ count: 1001 }), /count/],
  ['registerCallback without group', (o) => o.registerCallback({ group: '', event: 'created', url: 'https://a' }), /group/],
  ['registerCallback url not http', (o) => o.registerCallback({ group: 'connection', event: 'created', url: 'mailto:x' }), /url/],
  ['unregisterCallback without id', (o) => o.unregisterCallback(''), /^No callback ID given$/],
];

describe('validation before any request', () => {
  it.each(failing)('%s', async (_name, call, message) => {
    const err = await call(ot).then(
      () => new Error('resolved'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toMatch(message);
    expect(server.requests).toHaveLength(0);
  });

  it('createSession drops unknown options and does not mutate the caller\'s object', async () => {
    const options = { mediaMode: 'routed', archiveMode: 'always', foo: 'bar' } as SessionOptions;
    const copy = structuredClone(options);
    await ot.createSession(options);
    expect(options).toEqual(copy);
    expect([...new URLSearchParams(server.requests[0]!.body).keys()]).toEqual(['archiveMode', 'p2p.preference']);
  });

  it('startBroadcast does not mutate the caller\'s options; 5 RTMP targets and the maxDuration bounds are accepted', async () => {
    server.reply({ status: 200, body: { id: BID } });
    const options = { ...rtmp(5), maxDuration: 60 };
    const copy = structuredClone(options);
    await ot.startBroadcast(SID, options);
    await ot.startBroadcast(SID, { ...HLS, maxDuration: 36000 });
    expect(options).toEqual(copy);
    expect(server.requests).toHaveLength(2);
  });

  it('constructor checks its arguments', () => {
    expect(() => new OpenTok('', SECRET)).toThrow(ArgumentError);
    expect(() => new OpenTok(KEY, '')).toThrow(/apiSecret/);
    expect(() => new OpenTok(KEY, SECRET, { apiUrl: 'ftp://x' })).toThrow(/apiUrl/);
    expect(() => new OpenTok(KEY, SECRET, { timeout: 0 })).toThrow(/timeout/);
    expect(() => new OpenTok(KEY, SECRET, { uaAddendum: 5 as unknown as string })).toThrow(/uaAddendum/);
    expect(new OpenTok(KEY, SECRET, 'http://127.0.0.1:9/').apiUrl).toBe('http://127.0.0.1:9');
    expect(new OpenTok(KEY, SECRET).apiUrl).toBe('https://api.opentok.com');
  });

  it('signal to a connection validates connectionId', async () => {
    const err = await ot.signal(SID, { data: 'x' }, 5 as unknown as string).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toMatch(/connectionId/);
    expect(server.requests).toHaveLength(0);
  });
});
