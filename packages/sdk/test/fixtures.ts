/**
 * Request/response fixtures from the wire reference §3–§4: one entry per SDK method call, with the
 * exact request it must send, a success reply, and the error class each error status maps to.
 */
import type { OpenTok } from '../src/index.js';
import { sessionIdFor } from './helpers/decode.js';
import type { Reply } from './helpers/recording-server.js';

export const KEY = '4567890';
export const SECRET = 'fixture-secret-0123456789abcdefABCDEF';
export const SID = sessionIdFor(KEY);
export const AID = 'b67d1b6a-1f5c-4c3a-9c7e-2f3a1d9e8c01';
export const BID = '1748b7070a81464c9759c46ad10d3734';
export const STID = '8b732909-0a06-46a2-8ea8-074e64d43422';
export const CID = 'd1f0e2c3-b4a5-4968-8776-655443322110';
export const P = `/v2/project/${KEY}`;

export const ARCHIVE = {
  id: AID,
  status: 'started',
  name: 'n',
  reason: '',
  sessionId: SID,
  projectId: Number(KEY),
  partnerId: Number(KEY),
  createdAt: 1622039724000,
  updatedAt: 1622039724000,
  size: 0,
  duration: 0,
  outputMode: 'composed',
  hasAudio: true,
  hasVideo: false,
  resolution: '1280x720',
  streamMode: 'manual',
  url: null,
  sha256sum: '',
  password: '',
  event: 'archive',
  notarealproperty: 'kept',
};
export const STOPPED_ARCHIVE = { ...ARCHIVE, status: 'stopped', reason: 'user initiated' };
export const BROADCAST = {
  id: BID,
  sessionId: SID,
  projectId: Number(KEY),
  partnerId: Number(KEY),
  createdAt: 1437676551000,
  updatedAt: 1437676551000,
  resolution: '1280x720',
  status: 'started',
  maxDuration: 5400,
  streamMode: 'auto',
  event: 'broadcast',
  broadcastUrls: { hls: 'http://server/fakepath/playlist.m3u8?DVR', rtmp: [{ id: 'r', serverUrl: 'rtmp://a/b', streamName: 'c', status: 'connecting' }] },
};
export const STREAM = { id: STID, videoType: 'camera', name: 'Bob', layoutClassList: ['focus'] };
export const RENDER_ID = '80abaf0d-25a3-4efc-968f-6268d620668d';
export const CAPTIONS_ID = '7c0680fc-6274-4de5-a66f-d0648e8d3ac2';
export const RENDER = {
  id: RENDER_ID,
  sessionId: SID,
  projectId: KEY,
  createdAt: 1437676551000,
  updatedAt: 1437676551000,
  url: 'https://webapp.example.com/page',
  resolution: '1280x720',
  status: 'started',
  streamId: STID,
};
export const CALLBACK = { id: 'cb-1', group: 'connection', event: 'created', url: 'https://example.com/cb', createdAt: 1 };
export const SIP_CALL = { id: 'f5c3a5d1-0000-4000-8000-000000000001', connectionId: CID, streamId: STID, projectId: KEY, sessionId: SID, createdAt: 1, updatedAt: 2 };

/** The error statuses the reference lists. */
export const ERROR_STATUSES = [400, 403, 404, 405, 409, 413, 500] as const;
export type ErrorStatus = (typeof ERROR_STATUSES)[number];
export type ErrorClassName =
  | 'ArgumentError'
  | 'AuthError'
  | 'NotFoundError'
  | 'ArchiveError'
  | 'SignalError'
  | 'ForceDisconnectError'
  | 'SipError'
  | 'CaptionsError'
  | 'RequestError';

export const GENERIC: Record<ErrorStatus, ErrorClassName> = {
  400: 'RequestError',
  403: 'AuthError',
  404: 'NotFoundError',
  405: 'RequestError',
  409: 'RequestError',
  413: 'RequestError',
  500: 'RequestError',
};

export interface ExpectedRequest {
  method: string;
  path: string;
  query?: Array<[string, string]>;
  /** JSON body (parsed) or form fields (in order); `undefined` = no body. */
  json?: unknown;
  form?: Array<[string, string]>;
}

export interface Fixture {
  name: string;
  call: (ot: OpenTok) => Promise<unknown>;
  request: ExpectedRequest;
  ok: Reply;
  check: (result: unknown) => void;
  /** Per-status overrides of {@link GENERIC}. */
  errors?: Partial<Record<ErrorStatus, ErrorClassName>>;
}

type Assert = (cond: boolean, what: string) => void;
const assert: Assert = (cond, what) => {
  if (!cond) throw new Error(`fixture check failed: ${what}`);
};
const isUndefined = (r: unknown): void => assert(r === undefined, 'resolves undefined');

const ARCHIVE_ERRORS_START = { 404: 'ArchiveError', 409: 'ArchiveError' } as const;

export const FIXTURES: Fixture[] = [
  {
    name: 'createSession (routed, always, all options)',
    call: (ot) =>
      ot.createSession({ mediaMode: 'routed', archiveMode: 'always', location: '10.1.1.1', archiveName: 'n a', archiveResolution: '1280x720' }),
    request: {
      method: 'POST',
      path: '/session/create',
      form: [
        ['location', '10.1.1.1'],
        ['archiveMode', 'always'],
        ['archiveName', 'n a'],
        ['archiveResolution', '1280x720'],
        ['p2p.preference', 'disabled'],
      ],
    },
    ok: { status: 200, body: [{ session_id: SID, project_id: KEY, partner_id: KEY, create_dt: 'Fri Feb 14 05:14:54 PST 2025', media_server_url: '' }] },
    check: (r) => {
      const s = r as { sessionId: string; mediaMode: string; archiveMode: string; location: string; e2ee: boolean; archiveName: string };
      assert(s.sessionId === SID && s.mediaMode === 'routed' && s.archiveMode === 'always' && s.location === '10.1.1.1', 'session fields');
      assert(s.e2ee === false && s.archiveName === 'n a', 'session e2ee/archiveName');
    },
  },
  {
    name: 'createSession (defaults)',
    call: (ot) => ot.createSession(),
    request: { method: 'POST', path: '/session/create', form: [['archiveMode', 'manual'], ['p2p.preference', 'enabled']] },
    ok: { status: 200, body: [{ session_id: SID }] },
    check: (r) => assert((r as { sessionId: string; mediaMode: string }).mediaMode === 'relayed', 'relayed default'),
  },
  {
    name: 'startArchive',
    call: (ot) =>
      ot.startArchive(SID, {
        name: 'n',
        hasAudio: true,
        hasVideo: false,
        outputMode: 'composed',
        resolution: '1280x720',
        layout: { type: 'custom', stylesheet: 's' },
        streamMode: 'manual',
        multiArchiveTag: 't',
        maxBitrate: 100000,
      }),
    request: {
      method: 'POST',
      path: `${P}/archive`,
      json: {
        sessionId: SID,
        name: 'n',
        hasAudio: true,
        hasVideo: false,
        outputMode: 'composed',
        resolution: '1280x720',
        layout: { type: 'custom', stylesheet: 's' },
        streamMode: 'manual',
        multiArchiveTag: 't',
        maxBitrate: 100000,
      },
    },
    ok: { status: 200, body: ARCHIVE },
    check: (r) => {
      const a = r as typeof ARCHIVE & { stop: unknown };
      assert(a.id === AID && a.status === 'started' && a.notarealproperty === 'kept' && typeof a.stop === 'function', 'archive');
    },
    errors: ARCHIVE_ERRORS_START,
  },
  {
    name: 'stopArchive',
    call: (ot) => ot.stopArchive(AID),
    request: { method: 'POST', path: `${P}/archive/${AID}/stop`, json: {} },
    ok: { status: 200, body: STOPPED_ARCHIVE },
    check: (r) => assert((r as { status: string }).status === 'stopped', 'stopped'),
    errors: { 404: 'ArchiveError', 409: 'ArchiveError' },
  },
  {
    name: 'getArchive',
    call: (ot) => ot.getArchive(AID),
    request: { method: 'GET', path: `${P}/archive/${AID}` },
    ok: { status: 200, body: { ...ARCHIVE, status: 'available', url: 'https://s3/x.mp4' } },
    check: (r) => assert((r as { url: string }).url === 'https://s3/x.mp4', 'url'),
  },
  {
    name: 'deleteArchive',
    call: (ot) => ot.deleteArchive(AID),
    request: { method: 'DELETE', path: `${P}/archive/${AID}` },
    ok: { status: 204 },
    check: isUndefined,
    errors: { 404: 'ArchiveError', 409: 'ArchiveError' },
  },
  {
    name: 'listArchives',
    call: (ot) => ot.listArchives({ offset: 5, count: 10, sessionId: SID }),
    request: { method: 'GET', path: `${P}/archive`, query: [['offset', '5'], ['count', '10'], ['sessionId', SID]] },
    ok: { status: 200, body: { count: 149, items: [ARCHIVE, STOPPED_ARCHIVE] } },
    check: (r) => {
      const l = r as { items: Array<{ id: string }>; totalCount: number };
      assert(l.totalCount === 149 && l.items.length === 2 && l.items[0]!.id === AID, 'list');
    },
  },
  {
    name: 'listArchives (no options)',
    call: (ot) => ot.listArchives(),
    request: { method: 'GET', path: `${P}/archive`, query: [] },
    ok: { status: 200, body: { count: 0, items: [] } },
    check: (r) => assert((r as { totalCount: number }).totalCount === 0, 'empty list'),
  },
  {
    name: 'addArchiveStream',
    call: (ot) => ot.addArchiveStream(AID, STID, { hasAudio: false }),
    request: { method: 'PATCH', path: `${P}/archive/${AID}/streams`, json: { hasAudio: false, hasVideo: true, addStream: STID } },
    ok: { status: 204 },
    check: isUndefined,
    errors: { 400: 'ArgumentError', 404: 'ArchiveError', 405: 'ArchiveError' },
  },
  {
    name: 'removeArchiveStream',
    call: (ot) => ot.removeArchiveStream(AID, STID),
    request: { method: 'PATCH', path: `${P}/archive/${AID}/streams`, json: { removeStream: STID } },
    ok: { status: 204 },
    check: isUndefined,
    errors: { 400: 'ArgumentError', 404: 'ArchiveError', 405: 'ArchiveError' },
  },
  {
    name: 'setArchiveLayout (opentok-node arguments)',
    call: (ot) => ot.setArchiveLayout(AID, 'bestFit', null, 'pip'),
    request: { method: 'PUT', path: `${P}/archive/${AID}/layout`, json: { type: 'bestFit', screenshareType: 'pip' } },
    ok: { status: 200, body: { type: 'bestFit' } },
    check: isUndefined,
  },
  {
    name: 'startBroadcast',
    call: (ot) =>
      ot.startBroadcast(SID, {
        outputs: { hls: { dvr: true }, rtmp: [{ id: 'r', serverUrl: 'rtmp://a/b', streamName: 'c' }] },
        resolution: '1280x720',
        layout: { type: 'bestFit', screenshareType: 'pip' },
        maxDuration: 5400,
        multiBroadcastTag: 'm',
        maxBitrate: 2000000,
      }),
    request: {
      method: 'POST',
      path: `${P}/broadcast`,
      json: {
        outputs: { hls: { dvr: true }, rtmp: [{ id: 'r', serverUrl: 'rtmp://a/b', streamName: 'c' }] },
        resolution: '1280x720',
        layout: { type: 'bestFit', screenshareType: 'pip' },
        maxDuration: 5400,
        multiBroadcastTag: 'm',
        maxBitrate: 2000000,
        sessionId: SID,
        streamMode: 'auto',
      },
    },
    ok: { status: 200, body: BROADCAST },
    check: (r) => {
      const b = r as Record<string, unknown>;
      assert(b['id'] === BID && !('event' in b) && !('partnerId' in b) && typeof b['stop'] === 'function', 'broadcast');
    },
  },
  {
    name: 'stopBroadcast',
    call: (ot) => ot.stopBroadcast(BID),
    request: { method: 'POST', path: `${P}/broadcast/${BID}/stop`, json: {} },
    ok: { status: 200, body: { ...BROADCAST, status: 'stopped', broadcastUrls: null } },
    check: (r) => assert((r as { status: string }).status === 'stopped', 'stopped'),
  },
  {
    name: 'getBroadcast',
    call: (ot) => ot.getBroadcast(BID),
    request: { method: 'GET', path: `${P}/broadcast/${BID}` },
    ok: { status: 200, body: BROADCAST },
    check: (r) => assert((r as { broadcastUrls: { hls: string } }).broadcastUrls.hls.endsWith('?DVR'), 'hls url'),
  },
  {
    name: 'listBroadcasts',
    call: (ot) => ot.listBroadcasts({ offset: 1, count: 2, sessionId: SID }),
    request: { method: 'GET', path: `${P}/broadcast`, query: [['offset', '1'], ['count', '2'], ['sessionId', SID]] },
    ok: { status: 200, body: { count: 7, items: [BROADCAST] } },
    check: (r) => assert((r as { totalCount: number; items: unknown[] }).totalCount === 7, 'count'),
  },
  {
    name: 'updateBroadcastLayout (object)',
    call: (ot) => ot.updateBroadcastLayout(BID, { type: 'custom', stylesheet: 'stream.focus { width: 100%; }' }),
    request: { method: 'PUT', path: `${P}/broadcast/${BID}/layout`, json: { type: 'custom', stylesheet: 'stream.focus { width: 100%; }' } },
    ok: { status: 200 },
    check: isUndefined,
  },
  {
    name: 'setBroadcastLayout (opentok-node arguments)',
    call: (ot) => ot.setBroadcastLayout(BID, 'pip'),
    request: { method: 'PUT', path: `${P}/broadcast/${BID}/layout`, json: { type: 'pip' } },
    ok: { status: 200 },
    check: isUndefined,
  },
  {
    name: 'addBroadcastStream (hasVideo false honoured)',
    call: (ot) => ot.addBroadcastStream(BID, STID, { hasVideo: false }),
    request: { method: 'PATCH', path: `${P}/broadcast/${BID}/streams`, json: { addStream: STID, hasAudio: true, hasVideo: false } },
    ok: { status: 204 },
    check: isUndefined,
  },
  {
    name: 'removeBroadcastStream',
    call: (ot) => ot.removeBroadcastStream(BID, STID),
    request: { method: 'PATCH', path: `${P}/broadcast/${BID}/streams`, json: { removeStream: STID } },
    ok: { status: 204 },
    check: isUndefined,
  },
  {
    name: 'updateStream',
    call: (ot) => ot.updateStream(SID, STID, { layoutClassList: ['focus'] }),
    request: { method: 'PUT', path: `${P}/session/${SID}/stream`, json: { items: [{ id: STID, layoutClassList: ['focus'] }] } },
    ok: { status: 200 },
    check: isUndefined,
  },
  {
    name: 'setStreamClassLists',
    call: (ot) =>
      ot.setStreamClassLists(SID, [
        { id: STID, layoutClassList: ['a', 'b'] },
        { id: 'st-2', layoutClassList: [] },
      ]),
    request: {
      method: 'PUT',
      path: `${P}/session/${SID}/stream`,
      json: {
        items: [
          { id: STID, layoutClassList: ['a', 'b'] },
          { id: 'st-2', layoutClassList: [] },
        ],
      },
    },
    ok: { status: 200 },
    check: isUndefined,
  },
  {
    name: 'getStream',
    call: (ot) => ot.getStream(SID, STID),
    request: { method: 'GET', path: `${P}/session/${SID}/stream/${STID}` },
    ok: { status: 200, body: STREAM },
    check: (r) => assert(JSON.stringify(r) === JSON.stringify(STREAM), 'stream'),
  },
  {
    name: 'listStreams',
    call: (ot) => ot.listStreams(SID),
    request: { method: 'GET', path: `${P}/session/${SID}/stream` },
    ok: { status: 200, body: { count: 1, items: [STREAM] } },
    check: (r) => assert(Array.isArray(r) && (r as Array<{ id: string }>)[0]!.id === STID, 'streams'),
  },
  {
    name: 'listConnections',
    call: (ot) => ot.listConnections(SID),
    request: { method: 'GET', path: `${P}/session/${SID}/connection` },
    ok: {
      status: 200,
      body: { count: 1, projectId: KEY, sessionId: SID, items: [{ connectionId: CID, connectionState: 'Connected', createdAt: 1 }] },
    },
    check: (r) => {
      const l = r as { totalCount: number; items: Array<{ connectionId: string }> };
      assert(l.totalCount === 1 && l.items[0]!.connectionId === CID, 'connections');
    },
  },
  {
    name: 'forceDisconnect',
    call: (ot) => ot.forceDisconnect(SID, CID),
    request: { method: 'DELETE', path: `${P}/session/${SID}/connection/${CID}` },
    ok: { status: 204 },
    check: isUndefined,
    errors: { 404: 'ForceDisconnectError' },
  },
  {
    name: 'forceMuteStream',
    call: (ot) => ot.forceMuteStream(SID, STID),
    request: { method: 'POST', path: `${P}/session/${SID}/stream/${STID}/mute`, json: {} },
    ok: { status: 200, body: {} },
    check: isUndefined,
  },
  {
    name: 'forceMuteAll',
    call: (ot) => ot.forceMuteAll(SID, { excludedStreamIds: ['st-2'] }),
    request: { method: 'POST', path: `${P}/session/${SID}/mute`, json: { excludedStreamIds: ['st-2'], active: true } },
    ok: { status: 200, body: {} },
    check: isUndefined,
  },
  {
    name: 'disableForceMute',
    call: (ot) => ot.disableForceMute(SID),
    request: { method: 'POST', path: `${P}/session/${SID}/mute`, json: { active: false } },
    ok: { status: 200, body: {} },
    check: isUndefined,
  },
  {
    name: 'signal (session)',
    call: (ot) => ot.signal(SID, { type: 'chat', data: 'hi' }),
    request: { method: 'POST', path: `${P}/session/${SID}/signal`, json: { type: 'chat', data: 'hi' } },
    ok: { status: 204 },
    check: isUndefined,
    errors: { 404: 'SignalError', 413: 'SignalError' },
  },
  {
    name: 'signal (connection, seed order)',
    call: (ot) => ot.signal(SID, { type: 'chat', data: 'hi' }, CID),
    request: { method: 'POST', path: `${P}/session/${SID}/connection/${CID}/signal`, json: { type: 'chat', data: 'hi' } },
    ok: { status: 204 },
    check: isUndefined,
    errors: { 404: 'SignalError', 413: 'SignalError' },
  },
  {
    name: 'signal (connection, opentok-node order)',
    call: (ot) => ot.signal(SID, CID, { type: 'chat', data: 'hi' }),
    request: { method: 'POST', path: `${P}/session/${SID}/connection/${CID}/signal`, json: { type: 'chat', data: 'hi' } },
    ok: { status: 204 },
    check: isUndefined,
    errors: { 404: 'SignalError', 413: 'SignalError' },
  },
  {
    name: 'dial',
    call: (ot) =>
      ot.dial(SID, 'T1==token', 'sip:user@sip.example.com;transport=tls', {
        headers: { 'X-Foo': 'bar' },
        auth: { username: 'u', password: 'p' },
        secure: true,
        from: '14155550101@example.com',
        video: true,
        observeForceMute: true,
        streams: ['s1'],
      }),
    request: {
      method: 'POST',
      path: `${P}/dial`,
      json: {
        sessionId: SID,
        token: 'T1==token',
        sip: {
          uri: 'sip:user@sip.example.com;transport=tls',
          headers: { 'X-Foo': 'bar' },
          auth: { username: 'u', password: 'p' },
          secure: true,
          from: '14155550101@example.com',
          video: true,
          observeForceMute: true,
          streams: ['s1'],
        },
      },
    },
    ok: { status: 200, body: SIP_CALL },
    check: (r) => {
      const c = r as typeof SIP_CALL;
      assert(c.id === SIP_CALL.id && c.connectionId === CID && c.streamId === STID, 'sip call');
    },
    errors: { 400: 'SipError', 404: 'SipError', 409: 'SipError' },
  },
  {
    name: 'playDTMF (session)',
    call: (ot) => ot.playDTMF(SID, '1p2#'),
    request: { method: 'POST', path: `${P}/session/${SID}/play-dtmf`, json: { digits: '1p2#' } },
    ok: { status: 200, body: {} },
    check: isUndefined,
    errors: { 400: 'SipError' },
  },
  {
    name: 'playDTMF (connection, seed order)',
    call: (ot) => ot.playDTMF(SID, '*9#', CID),
    request: { method: 'POST', path: `${P}/session/${SID}/connection/${CID}/play-dtmf`, json: { digits: '*9#' } },
    ok: { status: 200, body: {} },
    check: isUndefined,
    errors: { 400: 'SipError' },
  },
  {
    name: 'playDTMF (connection, opentok-node order)',
    call: (ot) =>
      new Promise<void>((resolve, reject) => ot.playDTMF(SID, CID, '*9#', (err) => (err ? reject(err) : resolve()))),
    request: { method: 'POST', path: `${P}/session/${SID}/connection/${CID}/play-dtmf`, json: { digits: '*9#' } },
    ok: { status: 200, body: {} },
    check: isUndefined,
    errors: { 400: 'SipError' },
  },
  {
    name: 'websocketConnect',
    call: (ot) =>
      ot.websocketConnect(SID, 'tok', 'wss://audio.example.com/socket', {
        streams: ['s1'],
        headers: { 'X-Room': 'r' },
        bidirectional: true,
        audioRate: 16000,
      }),
    request: {
      method: 'POST',
      path: `${P}/connect`,
      json: {
        sessionId: SID,
        token: 'tok',
        websocket: { uri: 'wss://audio.example.com/socket', streams: ['s1'], headers: { 'X-Room': 'r' }, bidirectional: true, audioRate: 16000 },
      },
    },
    ok: { status: 200, body: { id: 'ws-1', connectionId: CID } },
    check: (r) => assert((r as { connectionId: string }).connectionId === CID, 'audio connection'),
  },
  {
    name: 'startCaptions (defaults)',
    call: (ot) => ot.startCaptions(SID, 'tok'),
    request: {
      method: 'POST',
      path: `${P}/captions`,
      json: { sessionId: SID, token: 'tok', languageCode: 'en-US', maxDuration: 14400, partialCaptions: true },
    },
    ok: { status: 202, body: { captionsId: CAPTIONS_ID } },
    check: (r) => assert(r === CAPTIONS_ID, 'captions id'),
    errors: { 409: 'CaptionsError' },
  },
  {
    name: 'startCaptions (options)',
    call: (ot) => ot.startCaptions(SID, 'tok', { languageCode: 'en-GB', maxDuration: 300, partialCaptions: false, statusCallbackUrl: 'https://example.com/c' }),
    request: {
      method: 'POST',
      path: `${P}/captions`,
      json: { sessionId: SID, token: 'tok', languageCode: 'en-GB', maxDuration: 300, partialCaptions: false, statusCallbackUrl: 'https://example.com/c' },
    },
    ok: { status: 202, body: { captionsId: CAPTIONS_ID } },
    check: (r) => assert(r === CAPTIONS_ID, 'captions id'),
    errors: { 409: 'CaptionsError' },
  },
  {
    name: 'stopCaptions',
    call: (ot) => ot.stopCaptions(CAPTIONS_ID),
    request: { method: 'POST', path: `${P}/captions/${CAPTIONS_ID}/stop` },
    ok: { status: 202 },
    check: (r) => assert(r === true, 'true'),
  },
  {
    name: 'startRender',
    call: (ot) =>
      ot.startRender({
        sessionId: SID,
        token: 'tok',
        url: 'https://webapp.example.com/page',
        maxDuration: 900,
        resolution: '1920x1080',
        statusCallbackUrl: 'https://example.com/r',
        properties: { name: 'Composer' },
      }),
    request: {
      method: 'POST',
      path: `${P}/render`,
      json: {
        sessionId: SID,
        token: 'tok',
        url: 'https://webapp.example.com/page',
        maxDuration: 900,
        resolution: '1920x1080',
        statusCallbackUrl: 'https://example.com/r',
        properties: { name: 'Composer' },
      },
    },
    ok: { status: 202, body: { ...RENDER, status: 'starting' } },
    check: (r) => assert((r as { id: string; status: string }).status === 'starting', 'render'),
  },
  {
    name: 'getRender',
    call: (ot) => ot.getRender(RENDER_ID),
    request: { method: 'GET', path: `${P}/render/${RENDER_ID}` },
    ok: { status: 200, body: RENDER },
    check: (r) => assert((r as { streamId: string }).streamId === STID, 'render'),
  },
  {
    name: 'stopRender',
    call: (ot) => ot.stopRender(RENDER_ID),
    request: { method: 'DELETE', path: `${P}/render/${RENDER_ID}` },
    ok: { status: 204 },
    check: isUndefined,
  },
  {
    name: 'listRenders',
    call: (ot) => ot.listRenders({ offset: 2, count: 3 }),
    request: { method: 'GET', path: `${P}/render`, query: [['offset', '2'], ['count', '3']] },
    ok: { status: 200, body: { count: 9, items: [RENDER] } },
    check: (r) => {
      const l = r as { items: unknown[]; totalCount: number; count: number };
      assert(l.totalCount === 9 && l.count === 9 && l.items.length === 1, 'renders');
    },
  },
  {
    name: 'registerCallback',
    call: (ot) => ot.registerCallback({ group: 'connection', event: 'created', url: 'https://example.com/cb' }),
    request: { method: 'POST', path: `${P}/callback`, json: { group: 'connection', event: 'created', url: 'https://example.com/cb' } },
    ok: { status: 200, body: CALLBACK },
    check: (r) => assert((r as { id: string; unregister: unknown }).id === 'cb-1' && typeof (r as { unregister: unknown }).unregister === 'function', 'callback'),
  },
  {
    name: 'unregisterCallback',
    call: (ot) => ot.unregisterCallback('cb-1'),
    request: { method: 'DELETE', path: `${P}/callback/cb-1` },
    ok: { status: 204 },
    check: isUndefined,
  },
  {
    name: 'listCallbacks',
    call: (ot) => ot.listCallbacks(),
    request: { method: 'GET', path: `${P}/callback` },
    ok: { status: 200, body: [CALLBACK] },
    check: (r) => assert(Array.isArray(r) && (r as Array<{ url: string }>)[0]!.url === CALLBACK.url, 'callbacks'),
  },
];
