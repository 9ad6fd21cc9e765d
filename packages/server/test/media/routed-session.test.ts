/**
 * The routed-mode adapter drives real WebRTC peers the way the realtime layer will: protocol
 * `sdp`/`ice` shapes in, `end: 'server'` messages out through a sink.
 */
import nodeDataChannel from 'node-datachannel';
import type { Track } from 'node-datachannel';
import type { RtIceCandidate, RtSessionDescription } from '@tokhost/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMediaRouter, MediaError, RoutedSessionMedia, type MediaRouter, type RoutedPeerSink } from '../../src/media/index.js';
import { until } from '../kit/index.js';

const { PeerConnection, Audio, Video } = nodeDataChannel;

describe('RoutedSessionMedia (routed-mode adapter for the realtime layer)', () => {
  let router: MediaRouter;
  const closers: (() => void)[] = [];
  beforeAll(async () => {
    router = await createMediaRouter({ workers: 1, bindAddress: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const c of closers) c();
    await router?.close();
  });

  it('publishes with the offer from the publish request and subscribes with a server offer', async () => {
    const media = await RoutedSessionMedia.open(router, 'routed-1');
    // Publisher "browser": offers, gets the answer and candidates as end:'server' messages for peer link = stream ID.
    const pub = new PeerConnection('pub', { iceServers: [], bindAddress: '127.0.0.1' });
    const v = new Video('0', 'SendOnly');
    v.addVP8Codec(96);
    v.addSSRC(4242, 'c', 's', 'v');
    const track: Track = pub.addTrack(v);
    const a = new Audio('1', 'SendOnly');
    a.addOpusCodec(111);
    a.addSSRC(4243, 'c', 's', 'a');
    const atrack: Track = pub.addTrack(a);
    closers.push(() => {
      track.close();
      atrack.close();
      pub.close();
    });
    const pubOut: { sdp: [string, RtSessionDescription][]; ice: [string, RtIceCandidate][] } = { sdp: [], ice: [] };
    const pubSink: RoutedPeerSink = {
      sdp: (peerId, d) => {
        pubOut.sdp.push([peerId, d]);
        pub.setRemoteDescription(d.sdp, d.type);
        for (const [, c] of pubOut.ice) pub.addRemoteCandidate(c.candidate, c.sdpMid ?? '0');
      },
      ice: (peerId, c) => {
        pubOut.ice.push([peerId, c]);
        if (pubOut.sdp.length) pub.addRemoteCandidate(c.candidate, c.sdpMid ?? '0');
      },
    };
    const pubCands: RtIceCandidate[] = [];
    pub.onLocalCandidate((candidate, mid) => pubCands.push({ candidate, sdpMid: mid }));
    const offer = await new Promise<string>((r) => {
      pub.onLocalDescription((sdp) => r(sdp));
      pub.setLocalDescription();
    });
    const answer = await media.publish('stream-1', { type: 'offer', sdp: offer }, pubSink);
    expect(answer.type).toBe('answer');
    expect(pubOut.sdp[0]?.[0]).toBe('stream-1');
    await until(() => pubCands.length > 0, { timeoutMs: 5000, intervalMs: 20, what: 'publisher candidates' });
    for (const c of pubCands) await media.ice('stream-1', 'publisher', c);
    await media.ice('stream-1', 'publisher', null);
    await until(() => pub.state() === 'connected', { timeoutMs: 10_000, intervalMs: 20, what: 'publisher connected' });
    await until(() => pubOut.ice.length > 0 && pubOut.ice.every(([id]) => id === 'stream-1'), { timeoutMs: 5000, intervalMs: 20, what: 'router candidates for the publisher link' });

    let seq = 0;
    const timer = setInterval(() => {
      const p = Buffer.alloc(40);
      p[0] = 0x80;
      p[1] = 96;
      p.writeUInt16BE(seq++, 2);
      p.writeUInt32BE(seq * 3000, 4);
      p.writeUInt32BE(4242, 8);
      p[12] = 0x10;
      p[13] = seq % 30 === 1 ? 0 : 1;
      try {
        track.sendMessageBinary(p);
      } catch {
        /* closed */
      }
    }, 20);
    closers.push(() => clearInterval(timer));

    // Subscriber "browser": receives the router's offer for peer link = subscriber ID and answers.
    const sub = new PeerConnection('sub', { iceServers: [], bindAddress: '127.0.0.1' });
    const subTracks: Track[] = [];
    let received = 0;
    sub.onTrack((t) => {
      subTracks.push(t);
      t.onMessage((m) => m[1]! < 192 && received++);
    });
    closers.push(() => {
      subTracks.forEach((t) => t.close());
      sub.close();
    });
    const subAnswer = new Promise<string>((r) => sub.onLocalDescription((sdp, type) => type === 'answer' && r(sdp)));
    const subCands: RtIceCandidate[] = [];
    sub.onLocalCandidate((candidate, mid) => subCands.push({ candidate, sdpMid: mid }));
    let remote = false;
    const early: RtIceCandidate[] = [];
    const subSink: RoutedPeerSink = {
      sdp: (peerId, d) => {
        expect(peerId).toBe('sub-1');
        expect(d.type).toBe('offer');
        sub.setRemoteDescription(d.sdp, d.type);
        remote = true;
        for (const c of early) sub.addRemoteCandidate(c.candidate, c.sdpMid ?? '0');
      },
      ice: (_peerId, c) => (remote ? sub.addRemoteCandidate(c.candidate, c.sdpMid ?? '0') : early.push(c)),
    };
    const events: string[] = [];
    await media.subscribe('sub-1', 'stream-1', { audio: true, video: true }, subSink, (e) => events.push(e.type));
    await media.sdp('sub-1', 'subscriber', { type: 'answer', sdp: await subAnswer });
    await until(() => subCands.length > 0, { timeoutMs: 5000, intervalMs: 20, what: 'subscriber candidates' });
    for (const c of subCands) await media.ice('sub-1', 'subscriber', c);
    await until(() => received > 10, { timeoutMs: 10_000, intervalMs: 20, what: 'forwarded video at the subscriber' });
    expect(events).toContain('connected');

    // A publisher never sends SDP in routed sessions.
    await expect(media.sdp('stream-1', 'publisher', { type: 'offer', sdp: offer })).rejects.toBeInstanceOf(MediaError);
    await media.unsubscribe('sub-1');
    await media.unsubscribe('sub-1'); // idempotent
    await media.unpublish('stream-1');
    await media.close();
    expect(media.room.closed).toBe(true);
  });
});
