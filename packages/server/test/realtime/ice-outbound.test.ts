/**
 * Issue 17 item 3, ICE: candidates a client names in a routed session are dropped when the outbound
 * policy refuses their address (in the publish offer and trickled), so the media router never sends
 * connectivity checks there; with the address allowed they go through.
 */
import nodeDataChannel from 'node-datachannel';
import { describe, expect, it } from 'vitest';
import { startHarness, TestClient } from './harness.js';

const { PeerConnection, Audio } = nodeDataChannel;
const publishBody = { type: 'publish', name: 'cam', hasAudio: true, hasVideo: false, videoType: 'camera' };

/** A real offer from node-datachannel, with host candidates on loopback. */
async function offer(): Promise<{ sdp: string; close(): void }> {
  const pc = new PeerConnection('ice-outbound', { iceServers: [], bindAddress: '127.0.0.1' });
  const a = new Audio('0', 'SendOnly');
  a.addOpusCodec(111, 'minptime=10;useinbandfec=1');
  a.addSSRC(4242, 'test', 'stream', 'a');
  pc.addTrack(a);
  const gathered = new Promise<void>((r) => pc.onGatheringStateChange((s) => s === 'complete' && r()));
  pc.setLocalDescription();
  await gathered;
  return { sdp: pc.localDescription()!.sdp, close: () => pc.close() };
}

describe('ICE candidates and the outbound policy', () => {
  it.each([
    ['no allow-list: loopback, link-local and metadata candidates are dropped', [] as string[], true],
    ['iceAllow 127.0.0.0/8: loopback candidates reach the router', ['127.0.0.0/8'], false],
  ])('%s', async (_name, iceAllow, refused) => {
    // This test's server config names its lists explicitly (the harness default allows loopback).
    const h = await startHarness({ outboundAllow: [], iceAllow });
    const peer = await offer();
    try {
      expect(peer.sdp).toMatch(/a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 /i);
      const sid = h.createSession('routed');
      const { client } = await TestClient.connect(h, sid, h.opentok.generateToken(sid));
      const pub = await client.request({ ...publishBody, offer: { type: 'offer', sdp: peer.sdp } });
      expect(pub.ok).toBe(true);
      const inSdp = h.realtime.refusedCandidates();
      expect(inSdp > 0).toBe(refused);
      const streamId = String(pub.result!['streamId']);
      for (const address of ['169.254.169.254', '127.0.0.1', '10.0.0.9']) {
        const r = await client.request({ type: 'ice', peerId: streamId, end: 'publisher', candidate: { candidate: `candidate:9 1 udp 2122260223 ${address} 80 typ host`, sdpMid: '0' } });
        expect(r.ok, address).toBe(true);
      }
      // The metadata and private addresses are refused either way; loopback only without the list.
      expect(h.realtime.refusedCandidates() - inSdp).toBe(refused ? 3 : 2);
      client.close();
    } finally {
      peer.close();
      await h.close();
    }
  });
});
