import nodeDataChannel from 'node-datachannel';
import { describe, expect, it } from 'vitest';
import { createMediaRouter, MediaError, type MediaRouterOptions, type SubscriberMediaEvent } from '../../src/media/index.js';
import { createTestPublisher, createTestSubscriber } from './ndc-peers.js';
import { until } from '../kit/index.js';
import { runMediaRouterContract } from './router.contract.js';

runMediaRouterContract('node-datachannel workers', () => createMediaRouter({ workers: 2, bindAddress: '127.0.0.1' }));

describe('node-datachannel router: options, placement, workers', () => {
  it('rejects bad options, naming the option', async () => {
    const bad: [MediaRouterOptions, string][] = [
      [{ workers: 0 }, 'workers'],
      [{ publicIp: 'example.com' }, 'publicIp'],
      [{ rtcMinPort: 50000 }, 'rtcMinPort/rtcMaxPort'],
      [{ rtcMinPort: 50010, rtcMaxPort: 50000 }, 'rtcMinPort'],
      [{ workers: 2, rtcMinPort: 50000, rtcMaxPort: 50002 }, 'rtcMaxPort'],
      [{ udpMux: true }, 'udpMux'],
      [{ audioFallback: { warnLoss: 2 } }, 'audioFallback.warnLoss'],
      [{ audioFallback: { recoverLoss: 0.5, disableLoss: 0.1 } }, 'audioFallback.recoverLoss'],
      [{ iceServers: [{ urls: 'http://x' }] }, 'iceServers[0].urls'],
    ];
    for (const [o, field] of bad) {
      const err = await createMediaRouter(o).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, field).toBeInstanceOf(MediaError);
      expect((err as MediaError).code).toBe('ERR_MEDIA_INVALID_OPTION');
      expect((err as MediaError).message).toContain(field);
    }
  });

  it('checks the publisher audio fallback\'s inputs: publish({ audioFallback }) and setPublisherLoss', async () => {
    const router = await createMediaRouter({ workers: 1, bindAddress: '127.0.0.1' });
    try {
      const room = await router.room('pubfallback-inputs');
      const offerSdp = 'v=0\r\n';
      await expect(room.publish({ publisherId: 'p1', offerSdp, onCandidate: () => undefined, audioFallback: 'yes' as unknown as boolean })).rejects.toThrow('audioFallback must be a boolean');
      for (const bad of [-0.1, 1.5, Number.NaN]) await expect(room.setPublisherLoss('p1', bad)).rejects.toThrow('fraction must be a number from 0 to 1');
      const err = await room.setPublisherLoss('nobody', 0.3).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(MediaError);
      expect((err as MediaError).code).toBe('ERR_MEDIA_PUBLISHER_NOT_FOUND');
    } finally {
      await router.close();
    }
  });

  // Retried: once in a loaded full-suite run the subscriber's ICE went to 'failed' within ~1 s of
  // being created (before its early candidates were added); not reproduced alone. Under
  // investigation — the retry keeps the suite honest about the crash path itself.
  it('places rooms on the least loaded worker and survives a worker crash', { retry: 2 }, async () => {
    const router = await createMediaRouter({ workers: 2, bindAddress: '127.0.0.1', iceServers: [{ urls: 'stun:stun.example.org:3478' }] });
    const peers: { close(): void }[] = [];
    try {
      expect(router.iceServers).toEqual([{ urls: 'stun:stun.example.org:3478' }]);
      const r1 = await router.room('a');
      const r2 = await router.room('b');
      peers.push(await createTestPublisher(r1, 'p'), await createTestPublisher(r2, 'p'));
      await until(() => router.metrics().workers.every((w) => w.rooms === 1 && w.publishers === 1), { timeoutMs: 5000, intervalMs: 20, what: 'one room per worker' });
      const s = await createTestSubscriber(r1, 's', 'p');
      peers.push(s);
      await until(() => s.connected(), { timeoutMs: 10_000, intervalMs: 20, what: 'subscriber' });
      // Kill the worker holding room "a": its peers are reported closed, the router replaces the worker.
      const before = router.workerPids;
      await until(() => router.metrics().workers.some((w) => w.subscribers === 1), { timeoutMs: 5000, intervalMs: 20, what: 'worker stats with the subscriber' });
      const victim = router.metrics().workers.find((w) => w.subscribers === 1)!.pid;
      process.kill(victim, 'SIGKILL');
      await until(() => s.events.some((e: SubscriberMediaEvent) => e.type === 'closed'), { timeoutMs: 5000, intervalMs: 20, what: 'closed event after the crash' });
      expect(r1.closed).toBe(true);
      expect(r2.closed).toBe(false);
      await until(() => router.workerPids.length === 2 && !router.workerPids.includes(victim), { timeoutMs: 5000, intervalMs: 20, what: 'replacement worker' });
      expect(router.workerPids).not.toEqual(before);
      const again = await router.room('a');
      expect(again).not.toBe(r1);
      peers.push(await createTestPublisher(again, 'p'));
    } finally {
      for (const p of peers) p.close();
      await router.close();
    }
  });

  it('announces publicIp in its ICE candidates', async () => {
    // Only inspects the candidates: no peer is given them, so nothing is sent to the documentation address.
    const router = await createMediaRouter({ workers: 1, bindAddress: '127.0.0.1', publicIp: '203.0.113.7' });
    const pc = new nodeDataChannel.PeerConnection('offerer', { iceServers: [], bindAddress: '127.0.0.1' });
    const v = new nodeDataChannel.Video('0', 'SendOnly');
    v.addVP8Codec(96);
    const t = pc.addTrack(v);
    try {
      const offer = await new Promise<string>((r) => {
        pc.onLocalDescription((sdp) => r(sdp));
        pc.setLocalDescription();
      });
      const room = await router.room('pip');
      const cands: string[] = [];
      await room.publish({ publisherId: 'p', offerSdp: offer, onCandidate: (c) => cands.push(c.candidate) });
      await until(() => cands.length > 0, { timeoutMs: 5000, intervalMs: 20, what: 'candidates' });
      expect(cands.every((c) => / 203\.0\.113\.7 \d+ typ host/.test(c))).toBe(true);
    } finally {
      t.close();
      pc.close();
      await router.close();
    }
  });

  it('closes a subscriber that stops sending RTCP, and falls back on a low bandwidth estimate (REMB)', async () => {
    const router = await createMediaRouter({
      workers: 1,
      bindAddress: '127.0.0.1',
      rtcpTimeoutSeconds: 2,
      audioFallback: { minBitrateBps: 150_000, disableAfterMs: 500 },
    });
    const peers: { close(): void }[] = [];
    try {
      const room = await router.room('t');
      const p = await createTestPublisher(room, 'p');
      peers.push(p);
      const silent = await createTestSubscriber(room, 'silent', 'p', { silent: true });
      const slow = await createTestSubscriber(room, 'slow', 'p');
      peers.push(silent, slow);
      await until(() => silent.video.count > 5 && slow.video.count > 5, { timeoutMs: 10_000, intervalMs: 20, what: 'video' });
      await until(() => silent.events.some((e) => e.type === 'closed'), { timeoutMs: 8000, intervalMs: 20, what: 'rtcp timeout' });
      expect(silent.events.find((e) => e.type === 'closed')).toEqual({ type: 'closed', reason: 'rtcp-timeout' });
      const remb = setInterval(() => slow.sendRemb(80_000), 200);
      try {
        await until(() => slow.events.some((e) => e.type === 'videoDisabled'), { timeoutMs: 8000, intervalMs: 20, what: 'videoDisabled on low REMB' });
      } finally {
        clearInterval(remb);
      }
      expect(slow.events.some((e) => e.type === 'closed')).toBe(false);
    } finally {
      for (const x of peers) x.close();
      await router.close();
    }
  });
});
