/**
 * The behaviour every media router engine must have. An engine's test file calls
 * `runMediaRouterContract(name, factory)`; the peers are real WebRTC endpoints (node-datachannel)
 * that negotiate with SDP + trickle ICE like browsers do.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaError, metricsText, type MediaRouter } from '../../src/media/index.js';
import { createLossyRelay } from './lossy-relay.js';
import { createTestPublisher, createTestSubscriber, type TestPublisher, type TestSubscriber } from './ndc-peers.js';
import { until } from '../kit/index.js';

export function runMediaRouterContract(name: string, factory: () => Promise<MediaRouter>): void {
  describe(`MediaRouter contract: ${name}`, () => {
    let router: MediaRouter;
    const toClose: { close(): void }[] = [];
    let n = 0;
    const sid = () => `session-${++n}`;

    beforeAll(async () => {
      router = await factory();
    });
    afterAll(async () => {
      for (const p of toClose) p.close();
      await router?.close();
    });

    const pub = async (room: Awaited<ReturnType<MediaRouter['room']>>, id: string): Promise<TestPublisher> => {
      const p = await createTestPublisher(room, id);
      toClose.push(p);
      await until(() => p.connected(), { timeoutMs: 10_000, intervalMs: 20, what: 'publisher connected' });
      return p;
    };
    const sub = async (room: Awaited<ReturnType<MediaRouter['room']>>, id: string, pubId: string, o?: Parameters<typeof createTestSubscriber>[3]): Promise<TestSubscriber> => {
      const s = await createTestSubscriber(room, id, pubId, o);
      toClose.push(s);
      await until(() => s.connected(), { timeoutMs: 10_000, intervalMs: 20, what: 'subscriber connected' });
      return s;
    };

    it('gives one room per session and rejects bad input with named fields', async () => {
      const id = sid();
      const a = await router.room(id);
      expect(await router.room(id)).toBe(a);
      expect(await router.room(sid())).not.toBe(a);
      await expect(a.publish({ publisherId: '', offerSdp: 'v=0', onCandidate: () => {} })).rejects.toMatchObject({ code: 'ERR_MEDIA_INVALID_OPTION', message: expect.stringContaining('publisherId') });
      await expect(a.publish({ publisherId: 'p', offerSdp: 'hello', onCandidate: () => {} })).rejects.toMatchObject({ code: 'ERR_MEDIA_INVALID_SDP', message: expect.stringContaining('offerSdp') });
      await expect(a.setSubscriberAnswer('nobody', 'v=0\r\n')).rejects.toMatchObject({ code: 'ERR_MEDIA_SUBSCRIBER_NOT_FOUND' });
      await expect(a.subscribe({ subscriberId: 's', publisherId: 'nobody', audio: true, video: true, onCandidate: () => {} })).rejects.toMatchObject({
        code: 'ERR_MEDIA_PUBLISHER_NOT_FOUND',
      });
      await expect(a.setSubscriberLoss('x', 2)).rejects.toMatchObject({ code: 'ERR_MEDIA_INVALID_OPTION', message: expect.stringContaining('fraction') });
      await expect(a.tap('x', { host: 'nope', videoPort: 5000 })).rejects.toBeInstanceOf(MediaError);
    });

    // `retry`: the router starts a leg on a keyframe once its DTLS is up on the server side; when
    // the test subscriber installs its SRTP keys a moment later (a loaded machine), it drops that
    // keyframe and the first packet it sees is the next delta frame (a browser would send a PLI;
    // this synthetic subscriber does not). Seen once in five full CI runs; the assertion stays strict.
    it('forwards with per-subscriber SSRCs and sequence numbers; the first video packet is a keyframe', { retry: 2 }, async () => {
      const room = await router.room(sid());
      const p = await pub(room, 'pub-1');
      await expect(createTestPublisher(room, 'pub-1')).rejects.toMatchObject({ code: 'ERR_MEDIA_DUPLICATE_ID' });
      const s1 = await sub(room, 'sub-1', 'pub-1');
      const s2 = await sub(room, 'sub-2', 'pub-1');
      await until(() => s1.video.count > 20 && s2.video.count > 20 && s1.audio.count > 20, { timeoutMs: 10_000, intervalMs: 20, what: 'media at both subscribers' });
      for (const s of [s1, s2]) {
        expect(s.video.firstIsKeyframe).toBe(true);
        expect(s.video.ssrcs.size).toBe(1);
        expect(s.audio.ssrcs.size).toBe(1);
        // SSRCs announced in the router's offer are the ones used, and never the publisher's.
        for (const ssrc of [...s.video.ssrcs, ...s.audio.ssrcs]) {
          expect(s.offerSdp).toContain(`a=ssrc:${ssrc} `);
          expect([p.videoSsrc, p.audioSsrc]).not.toContain(ssrc);
        }
        const seqs = s.video.seqs.slice(0, 20);
        seqs.slice(1).forEach((q, i) => expect((q - seqs[i]!) & 0xffff).toBe(1));
      }
      expect([...s1.video.ssrcs][0]).not.toBe([...s2.video.ssrcs][0]);
      await expect(createTestSubscriber(room, 'sub-1', 'pub-1')).rejects.toMatchObject({ code: 'ERR_MEDIA_DUPLICATE_ID' });
    });

    it('relays subscriber PLI to the publisher and sends receiver reports to it', async () => {
      const room = await router.room(sid());
      const p = await pub(room, 'p');
      const s = await sub(room, 's', 'p');
      await until(() => s.video.count > 10, { timeoutMs: 10_000, intervalMs: 20, what: 'video' });
      const plis = p.rtcp.pli;
      await new Promise((r) => setTimeout(r, 500));
      s.sendPli();
      await until(() => p.rtcp.pli > plis, { timeoutMs: 5000, intervalMs: 20, what: 'PLI at the publisher' });
      // The router also sends receiver reports to the publisher.
      await until(() => p.rtcp.rr > 0, { timeoutMs: 5000, intervalMs: 20, what: 'receiver report' });
    });

    it('repairs loss on a subscriber path from the per-leg NACK history', async () => {
      const room = await router.room(sid());
      await pub(room, 'p');
      const relay = await createLossyRelay(0);
      toClose.push(relay);
      const s = await sub(room, 's', 'p', { audio: false, relay });
      await until(() => s.video.count > 10, { timeoutMs: 10_000, intervalMs: 20, what: 'video through the relay' });
      relay.loss = 0.1;
      // The test peer NACKs every gap it sees; the router must resend from the leg's history.
      // Like a browser, it asks again (up to 4 times) when a retransmission is lost as well.
      const nacked = new Map<number, { tries: number; at: number }>();
      const timer = setInterval(() => {
        const seqs = s.video.seqs;
        const have = new Set(seqs);
        const max = seqs[seqs.length - 1]!;
        const now = Date.now();
        for (let q = (max - 299) & 0xffff; ((max - q) & 0xffff) > 2; q = (q + 1) & 0xffff) {
          if (!have.has(q) && ((q - seqs[0]!) & 0xffff) < 0x8000) {
            const e = nacked.get(q) ?? { tries: 0, at: 0 };
            if (e.tries < 4 && now - e.at > 100) {
              nacked.set(q, { tries: e.tries + 1, at: now });
              s.sendNack(q);
            }
          }
        }
      }, 30);
      try {
        await until(() => relay.dropped >= 5, { timeoutMs: 10_000, intervalMs: 20, what: 'drops' });
        relay.loss = 0;
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        clearInterval(timer);
      }
      const have = new Set(s.video.seqs);
      const repaired = [...nacked.keys()].filter((q) => have.has(q)).length;
      expect(nacked.size).toBeGreaterThan(0);
      expect(repaired / nacked.size).toBeGreaterThan(0.9);
    });

    it('subscribes to audio only / video only, and setSubscriberMedia stops and resumes forwarding', async () => {
      const room = await router.room(sid());
      await pub(room, 'p');
      const audioOnly = await sub(room, 'a', 'p', { video: false });
      const videoOnly = await sub(room, 'v', 'p', { audio: false });
      await until(() => audioOnly.audio.count > 20 && videoOnly.video.count > 20, { timeoutMs: 10_000, intervalMs: 20, what: 'media' });
      expect(audioOnly.video.count).toBe(0);
      expect(videoOnly.audio.count).toBe(0);

      await room.setSubscriberMedia('v', { video: false });
      await new Promise((r) => setTimeout(r, 300));
      const stopped = videoOnly.video.count;
      await new Promise((r) => setTimeout(r, 600));
      expect(videoOnly.video.count).toBe(stopped);
      const lastSeq = videoOnly.video.seqs[videoOnly.video.seqs.length - 1]!;
      await room.setSubscriberMedia('v', { video: true });
      await until(() => videoOnly.video.count > stopped + 5, { timeoutMs: 5000, intervalMs: 20, what: 'video resumed' });
      // Resumed numbering continues where it stopped: the pause is not seen as loss.
      expect(videoOnly.video.seqs[stopped]).toBe((lastSeq + 1) & 0xffff);
    });

    it('force-mute stops the publisher audio for everyone and unmute resumes it', async () => {
      const room = await router.room(sid());
      await pub(room, 'p');
      const s = await sub(room, 's', 'p');
      await until(() => s.audio.count > 10, { timeoutMs: 10_000, intervalMs: 20, what: 'audio' });
      await room.setPublisherAudioMuted('p', true);
      await new Promise((r) => setTimeout(r, 300));
      const muted = s.audio.count;
      await new Promise((r) => setTimeout(r, 500));
      expect(s.audio.count).toBe(muted);
      expect(s.video.count).toBeGreaterThan(0);
      await room.setPublisherAudioMuted('p', false);
      await until(() => s.audio.count > muted + 5, { timeoutMs: 5000, intervalMs: 20, what: 'audio back' });
    });

    it('forwards a server-side RTP publisher (G.711) to subscribers and taps; force-mute applies', async () => {
      const room = await router.room(sid());
      await expect(room.publishRtp({ publisherId: 'sip', audio: { payloadType: 0, rtpmap: 'PCMU' } })).rejects.toMatchObject({ code: 'ERR_MEDIA_INVALID_OPTION', message: expect.stringContaining('rtpmap') });
      await expect(room.publishRtp({ publisherId: 'sip', audio: { payloadType: 200, rtpmap: 'PCMU/8000' } })).rejects.toMatchObject({ code: 'ERR_MEDIA_INVALID_OPTION', message: expect.stringContaining('payloadType') });
      const target = await room.publishRtp({ publisherId: 'sip', audio: { payloadType: 0, rtpmap: 'PCMU/8000' } });
      await expect(room.publishRtp({ publisherId: 'sip', audio: { payloadType: 0, rtpmap: 'PCMU/8000' } })).rejects.toMatchObject({ code: 'ERR_MEDIA_DUPLICATE_ID' });
      expect(target.port).toBeGreaterThan(0);
      const sender = createSocket('udp4');
      await new Promise<void>((r) => sender.bind(0, '127.0.0.1', () => r()));
      const tapSock = createSocket('udp4');
      await new Promise<void>((r) => tapSock.bind(0, '127.0.0.1', () => r()));
      const tapped: Buffer[] = [];
      tapSock.on('message', (b) => tapped.push(b));
      let seq = 1000;
      const payload = Buffer.alloc(160, 0x55);
      const timer = setInterval(() => {
        const h = Buffer.alloc(12);
        h[0] = 0x80;
        h[1] = 0;
        h.writeUInt16BE(seq++ & 0xffff, 2);
        h.writeUInt32BE(seq * 160, 4);
        h.writeUInt32BE(0x1234abcd, 8);
        sender.send(Buffer.concat([h, payload]), target.port, target.host);
      }, 20);
      try {
        const s = await sub(room, 'sip-sub', 'sip', { video: false });
        expect(s.offerSdp).toMatch(/a=rtpmap:0 PCMU\/8000/);
        await until(() => s.audio.count > 10, { timeoutMs: 10_000, intervalMs: 20, what: 'G.711 audio at the subscriber' });
        expect([...s.audio.ssrcs]).not.toContain(0x1234abcd);
        const tap = await room.tap('sip', { host: '127.0.0.1', audioPort: (tapSock.address() as { port: number }).port });
        expect(tap.sdp).toContain('a=rtpmap:0 PCMU/8000');
        await until(() => tapped.length > 5, { timeoutMs: 5000, intervalMs: 20, what: 'tapped RTP' });
        expect(tapped[0]!.subarray(12).equals(payload)).toBe(true);
        await room.setPublisherAudioMuted('sip', true);
        await new Promise((r) => setTimeout(r, 300));
        const muted = s.audio.count;
        await new Promise((r) => setTimeout(r, 400));
        expect(s.audio.count).toBe(muted);
        await room.setPublisherAudioMuted('sip', false);
        await until(() => s.audio.count > muted + 5, { timeoutMs: 5000, intervalMs: 20, what: 'audio back after unmute' });
        await room.unpublish('sip');
        await until(() => s.events.some((e) => e.type === 'closed'), { timeoutMs: 5000, intervalMs: 20, what: 'subscriber closed with the publisher' });
      } finally {
        clearInterval(timer);
        sender.close();
        tapSock.close();
      }
    });

    it('falls back to audio on a lossy subscriber path and restores video when it recovers', async () => {
      const room = await router.room(sid());
      await pub(room, 'p');
      const bad = await sub(room, 'bad', 'p');
      const good = await sub(room, 'good', 'p');
      await until(() => bad.video.count > 10 && good.video.count > 10, { timeoutMs: 10_000, intervalMs: 20, what: 'video' });
      await room.setSubscriberLoss('bad', 0.3);
      await until(() => bad.events.some((e) => e.type === 'videoDisabled'), { timeoutMs: 15_000, intervalMs: 20, what: 'videoDisabled' });
      const types = bad.events.map((e) => e.type);
      expect(types.indexOf('videoDisableWarning')).toBeLessThan(types.indexOf('videoDisabled'));
      expect(bad.events.find((e) => e.type === 'videoDisabled')).toEqual({ type: 'videoDisabled', reason: 'quality' });
      await new Promise((r) => setTimeout(r, 300));
      const v = bad.video.count;
      const a = bad.audio.count;
      const g = good.video.count;
      await new Promise((r) => setTimeout(r, 700));
      expect(bad.video.count).toBe(v);
      expect(bad.audio.count).toBeGreaterThan(a);
      expect(good.video.count).toBeGreaterThan(g);
      expect(good.events.some((e) => e.type === 'videoDisabled')).toBe(false);
      await room.setSubscriberLoss('bad', 0);
      await until(() => bad.events.some((e) => e.type === 'videoEnabled'), { timeoutMs: 15_000, intervalMs: 20, what: 'videoEnabled' });
      await until(() => bad.video.count > v + 10, { timeoutMs: 5000, intervalMs: 20, what: 'video back' });
    });

    it('reports counters and Prometheus text', async () => {
      const id = sid();
      const room = await router.room(id);
      await pub(room, 'p');
      await sub(room, 's', 'p');
      await until(() => (router.metrics().sessions.find((s) => s.sessionId === id)?.packetsPerSecond ?? 0) > 0, { timeoutMs: 5000, intervalMs: 20, what: 'session metrics' });
      const m = router.metrics();
      const s = m.sessions.find((x) => x.sessionId === id)!;
      expect(s).toMatchObject({ publishers: 1, subscribers: 1 });
      expect(m.workers.length).toBeGreaterThan(0);
      expect(m.workers.reduce((a, w) => a + w.subscribers, 0)).toBeGreaterThanOrEqual(1);
      // Session IDs name the tenant's API key: per-session rows only when asked for (metricsSessionLabels).
      const text = metricsText(router);
      expect(text).toContain('# TYPE tokhost_media_worker_forwarded_packets_per_second gauge');
      expect(text).toMatch(/tokhost_media_sessions [1-9]/);
      expect(text).not.toContain(id);
      expect(metricsText(router, { sessionLabels: true })).toMatch(new RegExp(`tokhost_media_session_subscribers\\{session="${id}"\\} 1`));
    });

    it('closing cascades: unpublish closes subscribers, room.close and router.close close everything', async () => {
      const room = await router.room(sid());
      await pub(room, 'p1');
      const s = await sub(room, 's1', 'p1');
      await room.unpublish('p1');
      await until(() => s.events.some((e) => e.type === 'closed'), { timeoutMs: 5000, intervalMs: 20, what: 'subscriber closed' });
      expect(s.events.find((e) => e.type === 'closed')).toEqual({ type: 'closed', reason: 'unpublished' });
      await expect(room.setSubscriberMedia('s1', { video: false })).rejects.toMatchObject({ code: 'ERR_MEDIA_SUBSCRIBER_NOT_FOUND' });
      await pub(room, 'p2');
      await room.close();
      expect(room.closed).toBe(true);
      await expect(room.unpublish('p2')).rejects.toMatchObject({ code: 'ERR_MEDIA_CLOSED' });
      const fresh = await router.room(room.sessionId);
      expect(fresh).not.toBe(room);
    });
  });
}
