/**
 * Routed media end to end with headless Chromium: raw RTCPeerConnection pages (fixtures/peer.html)
 * signalling through a test-only WebSocket bridge to a real router with worker processes.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMediaRouter, type MediaRouter } from '../../src/media/index.js';
import { startBridge, type Bridge } from './fixtures/bridge.mjs';
import { hasChromium, launchChromium, sleep, until } from '../kit/index.js';

interface PeerStats {
  framesDecoded: number;
  audioPackets: number;
  audioSamples: number;
  videoBytesSent: number;
  videoOutbound: number;
  framesSent: number;
  videoPacketsLost: number;
}
interface Tk {
  state: string;
  error: string | null;
  firstFrameMs: number;
  events: { type: string; reason?: string }[];
  stats(): Promise<PeerStats>;
  close(): void;
}
declare global {
  interface Window {
    tk: Tk;
  }
}

const stats = (p: Page) => p.evaluate(() => window.tk.stats());

describe.skipIf(!hasChromium)('routed media with headless Chromium', () => {
  let router: MediaRouter;
  let bridge: Bridge;
  let browser: Browser;
  const pages: Page[] = [];

  beforeAll(async () => {
    router = await createMediaRouter({ workers: 1, bindAddress: '127.0.0.1' });
    bridge = await startBridge(router);
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const p of pages) await p.evaluate(() => window.tk.close()).catch(() => {});
    await browser?.close();
    await bridge?.close();
    await router?.close();
  });

  async function open(query: string): Promise<Page> {
    const page = await browser.newPage();
    pages.push(page);
    await page.goto(`${bridge.url}?${query}`);
    return page;
  }

  async function closePage(page: Page): Promise<void> {
    await page.evaluate(() => window.tk.close()).catch(() => {});
    await page.close();
    pages.splice(pages.indexOf(page), 1);
  }

  it('one publisher, three subscribers: each decodes video and receives audio; one upstream; a late joiner sees a picture fast', async () => {
    const pub = await open('role=pub&session=s1&id=pub1&kbps=500');
    await until(async () => (await stats(pub)).framesSent > 10, { timeoutMs: 15_000, what: 'publisher sending' });
    const upstreamKbps = async () => {
      const a0 = await stats(pub);
      await sleep(2000);
      const a1 = await stats(pub);
      expect(a1.videoOutbound).toBe(1);
      return ((a1.videoBytesSent - a0.videoBytesSent) * 8) / 2000;
    };
    const subs = [await open('role=sub&session=s1&id=a&pub=pub1')];
    await until(async () => (await stats(subs[0]!)).framesDecoded > 20, { timeoutMs: 20_000, what: 'first subscriber decoding' });
    const upWithOne = await upstreamKbps();
    for (const id of ['b', 'c']) subs.push(await open(`role=sub&session=s1&id=${id}&pub=pub1`));
    for (const s of subs) {
      await until(async () => { const x = await stats(s); return x.framesDecoded > 20 && x.audioPackets > 50; }, { timeoutMs: 20_000, what: 'subscriber decoding' });
      expect(await s.evaluate(() => window.tk.error)).toBeNull();
    }
    // A single upstream: one outbound video stream whose bitrate does not grow with the subscribers.
    const upKbps = await upstreamKbps();
    // Three uploads (a mesh) would triple it; the bandwidth estimate may still be ramping, hence the slack.
    expect(upKbps).toBeLessThan(upWithOne * 2 + 100);
    expect(upKbps).toBeLessThan(800);
    // Every subscriber keeps decoding and receiving audio.
    const before = await Promise.all(subs.map(stats));
    await sleep(1000);
    const after = await Promise.all(subs.map(stats));
    after.forEach((s, i) => {
      expect(s.framesDecoded).toBeGreaterThan(before[i]!.framesDecoded);
      expect(s.audioPackets).toBeGreaterThan(before[i]!.audioPackets);
    });
    const m = router.metrics().sessions.find((x) => x.sessionId === 's1');
    expect(m).toMatchObject({ publishers: 1, subscribers: 3 });

    // Late joiner: the router asks the publisher for a keyframe, so the first frame comes quickly.
    const late = await open('role=sub&session=s1&id=late&pub=pub1');
    const ms = await until(async () => { const v = await late.evaluate(() => window.tk.firstFrameMs); return v > 0 && v; }, { timeoutMs: 10_000, what: 'late joiner first frame' });
    console.log(`[media e2e] late joiner first decoded frame ${ms.toFixed(0)} ms after page start; publisher upstream ${upWithOne.toFixed(0)} kbps with 1 subscriber, ${upKbps.toFixed(0)} kbps with 3`);
    expect(ms).toBeLessThan(2500);
    for (const p of [...subs, late]) await closePage(p);
    await closePage(pub);
  }, 90_000);

  it('audio fallback: a lossy subscriber path stops its video (videoDisabled/quality) and keeps audio; video returns when the loss stops', async () => {
    const pub = await open('role=pub&session=s2&id=pub2&kbps=500');
    const bad = await open('role=sub&session=s2&id=bad&pub=pub2');
    const good = await open('role=sub&session=s2&id=good&pub=pub2');
    for (const s of [bad, good]) await until(async () => (await stats(s)).framesDecoded > 20, { timeoutMs: 20_000, what: 'decoding' });
    const room = await router.room('s2');
    await room.setSubscriberLoss('bad', 0.3);
    const evs = await until(async () => { const e = await bad.evaluate(() => window.tk.events); return e.some((x) => x.type === 'videoDisabled') && e; }, { timeoutMs: 20_000, what: 'videoDisabled at the lossy subscriber' });
    const types = evs.map((e) => e.type);
    expect(types.indexOf('videoDisableWarning')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('videoDisableWarning')).toBeLessThan(types.indexOf('videoDisabled'));
    expect(evs.find((e) => e.type === 'videoDisabled')).toEqual({ type: 'videoDisabled', reason: 'quality' });
    await sleep(500);
    const [b0, g0] = await Promise.all([stats(bad), stats(good)]);
    await sleep(1500);
    const [b1, g1] = await Promise.all([stats(bad), stats(good)]);
    expect(b1.framesDecoded - b0.framesDecoded).toBeLessThan(3); // video stopped
    expect(b1.audioPackets).toBeGreaterThan(b0.audioPackets); // audio goes on
    expect(g1.framesDecoded - g0.framesDecoded).toBeGreaterThan(10); // the others keep video
    expect(await good.evaluate(() => window.tk.events.filter((e) => e.type === 'videoDisabled').length)).toBe(0);

    await room.setSubscriberLoss('bad', 0);
    await until(async () => (await bad.evaluate(() => window.tk.events)).some((x) => x.type === 'videoEnabled'), { timeoutMs: 30_000, what: 'videoEnabled' });
    const b2 = await stats(bad);
    await until(async () => (await stats(bad)).framesDecoded > b2.framesDecoded + 10, { timeoutMs: 10_000, what: 'video back' });
    for (const p of [bad, good, pub]) await closePage(p);
  }, 120_000);
});
