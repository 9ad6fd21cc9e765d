import { describe, expect, it } from 'vitest';
import type { RtConnection, RtStream } from '@tokhost/protocol';
import { parseRaptorUri, RaptorTranslator, statusOf, streamJson } from './raptor.js';

const K = '1234';
const S = '1_MX4xMjM0fn4';
const base = `/v2/partner/${K}/session/${S}`;
const self = 'conn-self';
const other: RtConnection = { connectionId: 'conn-other', creationTime: 1, data: 'd' };
const stream = (id: string, connection: RtConnection, more: Partial<RtStream> = {}): RtStream => ({
  streamId: id,
  connection,
  creationTime: 2,
  name: 'cam',
  hasAudio: true,
  hasVideo: true,
  videoType: 'camera',
  videoDimensions: { width: 640, height: 480 },
  frameRate: 30,
  layoutClassList: [],
  ...more,
});
const translator = () => new RaptorTranslator({ apiKey: K, sessionId: S, connectionId: self });

describe('Raptor URIs', () => {
  it.each([
    [`${base}/connection/c1`, { connection: 'c1', resource: 'connection' }],
    [`${base}/stream/st/channel/video1`, { stream: 'st', channel: 'video1', resource: 'stream_channel' }],
    [`${base}/stream/st/subscriber/sub/channel/audio1`, { subscriber: 'sub', resource: 'subscriber_channel' }],
    [`${base}/connection/c1/signal/x`, { connection: 'c1', signal: 'x', resource: 'signal' }],
    [base, { resource: 'session' }],
  ])('%s', (uri, parts) => expect(parseRaptorUri(uri)).toMatchObject({ partner: K, session: S, ...parts }));
  it.each([['/v1/partner/1/session/2'], ['v2/partner/1/session/2'], [`${base}/bogus/x`], [`${base}/stream/a/stream/b`], [`${base}/stream/a b`], [42], [null]])('refuses %s', (uri) => expect(parseRaptorUri(uri)).toBeNull());
});

describe('Raptor requests → live-state requests', () => {
  it('the own connection create is the join; another connection is refused', () => {
    expect(translator().inbound({ method: 'create', uri: `${base}/connection/${self}`, content: { connectionEventsSuppressed: true, capabilities: ['e2ee'] } })).toEqual({ kind: 'join', connectionId: self, connectionEventsSuppressed: true, encryption: true });
    expect(translator().inbound({ method: 'create', uri: `${base}/connection/someone`, content: {} })).toMatchObject({ kind: 'refuse', status: 400 });
  });

  it('refuses another session, a missing method and unknown resources without a request', () => {
    expect(translator().inbound({ method: 'signal', uri: `/v2/partner/${K}/session/1_other/signal/x` })).toMatchObject({ kind: 'refuse', status: 403 });
    expect(translator().inbound({ uri: `${base}/signal/x` })).toMatchObject({ kind: 'refuse', status: 400 });
    expect(translator().inbound({ method: 'explode', uri: `${base}/stream/x` })).toMatchObject({ kind: 'refuse', status: 400, reason: 'explode on stream is not supported' });
    expect(translator().inbound('not an object')).toMatchObject({ kind: 'refuse' });
  });

  it('stream create is a publish with the client\'s stream ID, flags and dimensions from the channels', () => {
    const r = translator().inbound({ method: 'create', uri: `${base}/stream/st1`, content: { id: 'st1', name: 'cam', channel: [{ id: 'audio1', type: 'audio', active: true }, { id: 'video1', type: 'video', active: false, width: 320, height: 240, frameRate: 15, source: 'screen' }, { id: 'caption1', type: 'data', active: false }] } });
    expect(r).toEqual({ kind: 'request', request: { type: 'publish', name: 'cam', hasAudio: true, hasVideo: false, videoType: 'screen', videoDimensions: { width: 320, height: 240 }, frameRate: 15 }, given: { streamId: 'st1' } });
    const audioOnly = translator().inbound({ method: 'create', uri: `${base}/stream/st2`, content: { channel: [{ id: 'audio1', type: 'audio', active: true }] } });
    expect(audioOnly).toMatchObject({ request: { name: '', hasVideo: false, videoType: null, videoDimensions: null } });
  });

  it('captions: publishCaptions is the caption1 channel of the stream, subscribeToCaptions the subscriber\'s; translation is accepted and ignored', () => {
    const t = translator();
    const created = t.inbound({ method: 'create', uri: `${base}/stream/st3`, content: { channel: [{ id: 'audio1', type: 'audio', active: true }, { id: 'caption1', type: 'data', active: true }] } });
    expect(created).toMatchObject({ kind: 'request', request: { type: 'publish', hasAudio: true, hasCaptions: true } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st3/channel/caption1`, content: { active: false } })).toEqual({ kind: 'request', request: { type: 'streamUpdate', streamId: 'st3', hasCaptions: false } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st/subscriber/sub1/channel/caption1`, content: { active: true } })).toEqual({ kind: 'request', request: { type: 'subscriberMedia', subscriberId: 'sub1', captions: true } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st/subscriber/sub1/channel/caption1`, content: { category: 'fr-FR' } })).toMatchObject({ kind: 'accept' });
  });

  it('stream delete is an unpublish of an own stream, a forceUnpublish of another\'s', () => {
    const t = translator();
    t.published(stream('mine', { connectionId: self, creationTime: 1, data: '' }));
    expect(t.inbound({ method: 'delete', uri: `${base}/stream/mine` })).toMatchObject({ request: { type: 'unpublish', streamId: 'mine' } });
    expect(t.inbound({ method: 'delete', uri: `${base}/stream/theirs` })).toMatchObject({ request: { type: 'forceUnpublish', streamId: 'theirs' } });
  });

  it('channel updates become stream updates; untracked attributes change nothing', () => {
    const t = translator();
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st/channel/video1`, content: { active: false } })).toMatchObject({ request: { type: 'streamUpdate', streamId: 'st', hasVideo: false } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st/channel/audio1`, content: { active: true } })).toMatchObject({ request: { type: 'streamUpdate', hasAudio: true } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st/channel/video1`, content: { width: 1280, height: 720 } })).toMatchObject({ request: { videoDimensions: { width: 1280, height: 720 } } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st/channel/video1`, content: { orientation: 90 } })).toMatchObject({ kind: 'accept' });
  });

  it('subscriber create, delete and channel update; signals to all and to one; force mute forms', () => {
    const t = translator();
    expect(t.inbound({ method: 'create', uri: `${base}/stream/st/subscriber/sub1`, content: { channel: [{ id: 'audio1', type: 'audio', active: true }] } })).toEqual({ kind: 'request', request: { type: 'subscribe', streamId: 'st', audio: true, video: false }, given: { subscriberId: 'sub1' } });
    expect(t.inbound({ method: 'delete', uri: `${base}/stream/st/subscriber/sub1` })).toMatchObject({ request: { type: 'unsubscribe', subscriberId: 'sub1' } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st/subscriber/sub1/channel/video1`, content: { active: false } })).toMatchObject({ request: { type: 'subscriberMedia', subscriberId: 'sub1', video: false } });
    expect(t.inbound({ method: 'signal', uri: `${base}/signal/u1`, content: { type: 'chat', data: 'hi' } })).toEqual({ kind: 'request', request: { type: 'signal', signalType: 'chat', data: 'hi' } });
    expect(t.inbound({ method: 'signal', uri: `${base}/connection/c9/signal/u2`, content: { data: 'x' } })).toEqual({ kind: 'request', request: { type: 'signal', to: 'c9', data: 'x' } });
    expect(t.inbound({ method: 'update', uri: base, content: { reason: 'mute', active: true, exclusion: ['a'] } })).toMatchObject({ request: { type: 'forceMuteAll', excludedStreamIds: ['a'] } });
    expect(t.inbound({ method: 'update', uri: base, content: { reason: 'mute', active: false } })).toMatchObject({ request: { type: 'disableForceMute' } });
    expect(t.inbound({ method: 'update', uri: `${base}/stream/st`, content: { reason: 'mute', active: true } })).toMatchObject({ request: { type: 'forceMuteStream', streamId: 'st' } });
    expect(t.inbound({ method: 'update', uri: base, content: { reason: 'other' } })).toMatchObject({ kind: 'refuse', status: 400 });
  });

  it('relays offer, answer and candidates on a known peer link with the sender\'s end; refuses unknown links', () => {
    const pub = translator();
    pub.outbound({ type: 'subscriberJoined', subscriberId: 'sub1', streamId: 'st', connection: other, iceServers: [] });
    expect(pub.inbound({ method: 'offer', uri: `${base}/stream/st/subscriber/sub1`, content: { sdp: 'v=0' } })).toEqual({ kind: 'request', request: { type: 'sdp', peerId: 'sub1', end: 'publisher', description: { type: 'offer', sdp: 'v=0' } } });
    expect(pub.inbound({ method: 'candidate', uri: `${base}/stream/st/subscriber/sub1`, content: { candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0 } })).toMatchObject({ request: { type: 'ice', end: 'publisher', candidate: { candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0 } } });
    const sub = translator();
    sub.outbound({ type: 'streamCreated', stream: stream('st', other) });
    sub.subscribed('sub2', 'st');
    expect(sub.inbound({ method: 'answer', uri: `${base}/stream/st/subscriber/sub2`, content: { sdp: 'v=0' } })).toMatchObject({ request: { type: 'sdp', end: 'subscriber' } });
    expect(sub.inbound({ method: 'candidate', uri: `${base}/stream/st/subscriber/sub2`, content: { candidate: 'c' } })).toMatchObject({ request: { type: 'ice', end: 'subscriber' } });
    expect(sub.inbound({ method: 'offer', uri: `${base}/stream/st/subscriber/nope`, content: { sdp: 'v=0' } })).toMatchObject({ kind: 'refuse', status: 404 });
    expect(sub.inbound({ method: 'answer', uri: `${base}/stream/st/subscriber/sub2`, content: {} })).toMatchObject({ kind: 'refuse', status: 400 });
  });
});

describe('live-state messages → Raptor messages', () => {
  it('connections, streams, property changes and signals', () => {
    const t = translator();
    expect(t.outbound({ type: 'connectionCreated', connection: other })).toEqual([{ from: '', message: { method: 'created', uri: `${base}/connection/conn-other`, content: { id: 'conn-other', creationTime: 1, data: 'd' } } }]);
    expect(t.outbound({ type: 'connectionDestroyed', connection: other, reason: 'forceDisconnected' })[0]!.message).toMatchObject({ method: 'deleted', reason: 'forceDisconnected' });
    const st = stream('st', other);
    expect(t.outbound({ type: 'streamCreated', stream: st })[0]!.message).toEqual({ method: 'created', uri: `${base}/stream/st`, content: streamJson(st) });
    expect(streamJson(st)['channel']).toEqual([{ id: 'audio1', type: 'audio', active: true }, { id: 'video1', type: 'video', active: true, source: 'camera', width: 640, height: 480, frameRate: 30, fitMode: 'cover' }, { id: 'caption1', type: 'data', active: false }]);
    expect(t.outbound({ type: 'streamPropertyChanged', streamId: 'st', changedProperty: 'hasVideo', oldValue: true, newValue: false, stream: { ...st, hasVideo: false } })[0]!.message).toEqual({ method: 'updated', uri: `${base}/stream/st/channel/video1`, content: { active: false } });
    expect(t.outbound({ type: 'streamDestroyed', stream: st, reason: 'forceUnpublished' })[0]!.message).toEqual({ method: 'deleted', uri: `${base}/stream/st`, content: {}, reason: 'forceUnpublished' });
    expect(t.outbound({ type: 'signal', from: other, signalType: 'chat', data: 'hi' })[0]).toMatchObject({ from: 'conn-other', message: { method: 'signal', content: { type: 'chat', data: 'hi' } } });
    expect(t.outbound({ type: 'signal', from: null, signalType: 'rest', data: 'x' })[0]).toMatchObject({ from: '', message: { content: { type: 'rest', data: 'x' } } });
  });

  it('a subscriber joining asks the publisher for an offer; SDP and ICE come from the other end; the link closing tells the publisher', () => {
    const t = translator();
    const [go] = t.outbound({ type: 'subscriberJoined', subscriberId: 'sub1', streamId: 'st', connection: other, iceServers: [{ urls: 'stun:x' }] });
    expect(go).toEqual({ from: 'conn-other', message: { method: 'generateoffer', uri: `${base}/stream/st/subscriber/sub1`, content: { peerId: 'sub1', sourceStreamId: 'P2P', iceServers: [{ urls: 'stun:x' }] } } });
    expect(t.outbound({ type: 'sdp', peerId: 'sub1', end: 'subscriber', description: { type: 'answer', sdp: 'v=0' } })).toEqual([{ from: 'conn-other', message: { method: 'answer', uri: `${base}/stream/st/subscriber/sub1`, content: { peerId: 'sub1', sourceStreamId: 'P2P', sdp: 'v=0' } } }]);
    expect(t.outbound({ type: 'ice', peerId: 'sub1', end: 'subscriber', candidate: null })).toEqual([]);
    expect(t.outbound({ type: 'peerClosed', peerId: 'sub1' })[0]!.message).toEqual({ method: 'deleted', uri: `${base}/stream/st/subscriber/sub1`, content: {} });
    expect(t.outbound({ type: 'sdp', peerId: 'sub1', end: 'subscriber', description: { type: 'answer', sdp: 'v=0' } })).toEqual([]);
  });

  it('captions: hasCaptions is the caption1 channel; a caption is a data message on it whose JSON OpenTok.js parses', () => {
    const t = translator();
    const st = { ...stream('st', other), hasCaptions: true };
    expect(streamJson(st)['channel']).toContainEqual({ id: 'caption1', type: 'data', active: true });
    expect(t.outbound({ type: 'streamPropertyChanged', streamId: 'st', changedProperty: 'hasCaptions', oldValue: true, newValue: false, stream: { ...st, hasCaptions: false } })[0]!.message).toEqual({ method: 'updated', uri: `${base}/stream/st/channel/caption1`, content: { active: false } });
    const [out] = t.outbound({ type: 'captionReceived', subscriberId: 'sub1', streamId: 'st', caption: 'hello there', isFinal: true });
    expect(out!.from).toBe('');
    expect(out!.message.method).toBe('data');
    expect(out!.message.uri).toMatch(new RegExp(`^${base}/stream/st/channel/caption1/data/[A-Za-z0-9]+$`));
    const content = out!.message.content as { type: string; data: string };
    expect(content.type).toBe('data');
    expect(JSON.parse(content.data)).toEqual({ streamId: 'st', caption: { text: 'hello there' }, isFinal: true });
  });

  it('moderation, archives and the own disconnect', () => {
    const t = translator();
    expect(t.outbound({ type: 'muteForced', streamId: 'st', active: true })[0]!.message).toEqual({ method: 'update', uri: `${base}/stream/st`, content: { reason: 'mute', active: true, channels: ['audio'] } });
    expect(t.outbound({ type: 'forceMuteState', active: false })[0]!.message).toMatchObject({ method: 'update', uri: base, content: { reason: 'mute', active: false } });
    expect(t.outbound({ type: 'archiveStarted', id: 'a1', name: 'n' })[0]!.message).toEqual({ method: 'created', uri: `${base}/archive/a1`, content: { id: 'a1', name: 'n', status: 'started' } });
    expect(t.outbound({ type: 'disconnected', reason: 'forceDisconnected' })[0]!.message).toEqual({ method: 'deleted', uri: `${base}/connection/${self}`, content: {}, reason: 'forceDisconnected' });
  });

  it('maps refusals to the status codes the client reads', () => {
    expect(statusOf({ code: 'ERR_RT_STREAM_NOT_FOUND' })).toBe(404);
    expect(statusOf({ code: 'ERR_RT_SIGNAL_TOO_LARGE' })).toBe(413);
    expect(statusOf({ code: 'ERR_RT_SIGNAL_RATE' })).toBe(429);
    expect(statusOf({ code: 'ERR_RT_FORCE_DISCONNECT_DENIED' })).toBe(403);
    expect(statusOf({ code: 'ERR_RT_SIGNAL_INVALID' })).toBe(400);
  });
});

describe('routed sessions: the media router is the other end', () => {
  const routed = () => {
    const t = translator();
    t.routed = true;
    t.published(stream('mine', { connectionId: self, creationTime: 1, data: '' }));
    t.subscribed('sub1', 'theirs');
    return t;
  };

  it('the publisher offers and trickles on its stream; the subscriber answers and trickles on its subscriber', () => {
    const t = routed();
    expect(t.inbound({ method: 'offer', uri: `${base}/stream/mine`, content: { sdp: 'v=0' } })).toEqual({ kind: 'request', request: { type: 'sdp', peerId: 'mine', end: 'publisher', description: { type: 'offer', sdp: 'v=0' } } });
    expect(t.inbound({ method: 'candidate', uri: `${base}/stream/mine`, content: { candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0 } })).toMatchObject({ request: { type: 'ice', peerId: 'mine', end: 'publisher', candidate: { candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0 } } });
    expect(t.inbound({ method: 'answer', uri: `${base}/stream/theirs/subscriber/sub1`, content: { sdp: 'v=0' } })).toMatchObject({ request: { type: 'sdp', peerId: 'sub1', end: 'subscriber', description: { type: 'answer' } } });
    expect(t.inbound({ method: 'candidate', uri: `${base}/stream/theirs/subscriber/sub1`, content: { candidate: 'candidate:2' } })).toMatchObject({ request: { type: 'ice', peerId: 'sub1', end: 'subscriber' } });
  });

  it('refuses an answer from the publisher, an offer from the subscriber, and a candidate that is not a string', () => {
    const t = routed();
    expect(t.inbound({ method: 'answer', uri: `${base}/stream/mine`, content: { sdp: 'v=0' } })).toMatchObject({ kind: 'refuse', status: 400 });
    expect(t.inbound({ method: 'offer', uri: `${base}/stream/theirs/subscriber/sub1`, content: { sdp: 'v=0' } })).toMatchObject({ kind: 'refuse', status: 400 });
    expect(t.inbound({ method: 'candidate', uri: `${base}/stream/mine`, content: { candidate: 7 } })).toEqual({ kind: 'refuse', status: 400, reason: 'candidate must be a string' });
  });

  it('the router\'s offer to a subscriber and its candidates to the publisher come from the server with sourceStreamId MANTIS', () => {
    const t = routed();
    expect(t.outbound({ type: 'sdp', peerId: 'sub1', end: 'server', description: { type: 'offer', sdp: 'v=0' } })).toEqual([
      { from: '', message: { method: 'offer', uri: `${base}/stream/theirs/subscriber/sub1`, content: { peerId: 'sub1', sourceStreamId: 'MANTIS', sdp: 'v=0' } } },
    ]);
    expect(t.outbound({ type: 'ice', peerId: 'mine', end: 'server', candidate: { candidate: 'candidate:3', sdpMid: null, sdpMLineIndex: 1 } })).toEqual([
      { from: '', message: { method: 'candidate', uri: `${base}/stream/mine`, content: { peerId: 'mine', sourceStreamId: 'MANTIS', candidate: 'candidate:3', sdpMid: '', sdpMLineIndex: 1 } } },
    ]);
    expect(t.outbound({ type: 'ice', peerId: 'unknown', end: 'server', candidate: { candidate: 'c', sdpMid: null, sdpMLineIndex: null } })).toEqual([]);
    // Each generateoffer names a new peer ID (a migrating client makes a new peer connection only
    // for a new one); the answer and the router's candidates carry the latest.
    const ask = t.generateOffer('mine');
    expect(ask).toMatchObject({ method: 'generateoffer', uri: `${base}/stream/mine`, content: { sourceStreamId: 'MANTIS', simulcastEnabled: false } });
    const peerId = (ask.content as { peerId: string }).peerId;
    expect(peerId).toMatch(/^mine~/);
    expect(t.routerAnswer('mine', 'v=0')).toEqual({ method: 'answer', uri: `${base}/stream/mine`, content: { peerId, sdp: 'v=0', sourceStreamId: 'MANTIS' } });
    expect(t.outbound({ type: 'ice', peerId: 'mine', end: 'server', candidate: { candidate: 'candidate:4', sdpMid: '0', sdpMLineIndex: 0 } })[0]!.message.content).toMatchObject({ peerId });
    const again = (t.generateOffer('mine').content as { peerId: string }).peerId;
    expect(again).not.toBe(peerId);
    expect((t.routerAnswer('mine', 'v=0').content as { peerId: string }).peerId).toBe(again);
  });

  it('the audio fallback: warnings on the subscriber\'s video channel (updated disableWarning), video off and on (update active); the warning is lifted before video returns', () => {
    const t = routed();
    const uri = `${base}/stream/theirs/subscriber/sub1/channel/video1`;
    const q = (event: 'videoDisableWarning' | 'videoDisableWarningLifted' | 'videoDisabled' | 'videoEnabled') => t.outbound({ type: 'subscriberQuality', subscriberId: 'sub1', event }).map((o) => o.message);
    expect(q('videoDisableWarning')).toEqual([{ method: 'updated', uri, content: { disableWarning: true } }]);
    expect(q('videoDisableWarningLifted')).toEqual([{ method: 'updated', uri, content: { disableWarning: false } }]);
    expect(q('videoDisableWarningLifted')).toEqual([]);
    expect(q('videoDisableWarning')).toEqual([{ method: 'updated', uri, content: { disableWarning: true } }]);
    expect(q('videoDisabled')).toEqual([{ method: 'update', uri, content: { active: false } }]);
    expect(q('videoEnabled')).toEqual([
      { method: 'updated', uri, content: { disableWarning: false } },
      { method: 'update', uri, content: { active: true } },
    ]);
    expect(q('videoDisabled')).toEqual([{ method: 'update', uri, content: { active: false } }]);
    expect(q('videoEnabled')).toEqual([{ method: 'update', uri, content: { active: true } }]);
    expect(t.outbound({ type: 'subscriberQuality', subscriberId: 'unknown', event: 'videoDisabled' })).toEqual([]);
  });

  it('the subscriber\'s own echo of the fallback (activeReason auto) changes nothing; a user\'s subscribeToVideo still does', () => {
    const t = routed();
    const uri = `${base}/stream/theirs/subscriber/sub1/channel/video1`;
    expect(t.inbound({ method: 'update', uri, content: { active: false, activeReason: 'auto' } })).toMatchObject({ kind: 'accept' });
    expect(t.inbound({ method: 'update', uri, content: { active: false } })).toMatchObject({ kind: 'request', request: { type: 'subscriberMedia', subscriberId: 'sub1', video: false } });
  });

  it('stream class list changes have no OpenTok.js message (its Stream has no class list)', () => {
    const t = routed();
    expect(t.outbound({ type: 'streamClassListChanged', stream: stream('theirs', other, { layoutClassList: ['focus'] }) })).toEqual([]);
  });
});
