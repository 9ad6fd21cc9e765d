// `npm run bench:e2ee`: what end-to-end encryption costs a publisher, and a late subscriber.
//
// One Tokhost server (createServer, memory store, one media worker) with two routed sessions:
// one `e2ee`, one not. Two publishers run at the same time, each in its own headless Chromium
// (fake camera 640x480 at 30 fps, VP8 + Opus, the browser SDK served at /js/tokhost.js), so each
// browser's CPU is one publisher's; a third Chromium holds one subscriber per session. Over the
// same window it reads, from Chromium itself:
//   - CPU seconds per publisher browser (DevTools SystemInfo.getProcessInfo: browser, renderer,
//     GPU and utility processes summed; the renderer alone is where WebRTC encodes and where the
//     SFrame worker encrypts);
//   - the publisher's outbound-rtp stats (frames encoded, bitrate, encode time), to show both
//     publishers did the same work.
// Then it opens late subscribers (alternating e2ee / plain, --late=5 each) and times
// subscribe() → first decoded frame. Prints the figures and the e2ee / plain ratios.
//
// Options: --measure-ms=20000 --late=5. About a minute.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { launchChromium } from '../test/kit/chromium.mjs';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => a.slice(2).split('=')),
);
const MEASURE_MS = Number(args['measure-ms'] ?? 20_000);
const LATE = Number(args['late'] ?? 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const require = createRequire(import.meta.url);
const OpenTok = require('opentok');
const { createServer } = await import('@tokhost/server');

const PAGE = (sdk) => `<!doctype html><meta charset="utf-8"><body><script src="${sdk}"></script><script>
window.run = ({ apiKey, sessionId, token, secret, publish }) => new Promise((resolve, reject) => {
  const s = OT.initSession(apiKey, sessionId, secret ? { encryptionSecret: secret } : {});
  window.firstFrameMs = null;
  s.on('streamCreated', (e) => {
    const t0 = performance.now();
    const sub = s.subscribe(e.stream, document.body, { insertMode: 'append', width: 320, height: 240 }, () => (window.connectedMs = performance.now() - t0));
    const poll = async () => {
      const r = await sub.getRtcStatsReport().catch(() => null);
      let n = 0;
      if (r) r.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') n = x.framesDecoded || 0; });
      if (n > 0) window.firstFrameMs = performance.now() - t0;
      else setTimeout(poll, 10);
    };
    poll();
  });
  s.connect(token, (err) => {
    if (err) return reject(new Error(err.name));
    if (!publish) return resolve();
    window.pub = OT.initPublisher(document.body, { resolution: '640x480', frameRate: 30, insertMode: 'append', width: 160, height: 120 });
    s.publish(window.pub, (e) => (e ? reject(new Error(e.name)) : resolve()));
  });
});
window.outStats = async () => {
  const reports = await window.pub.getRtcStatsReport();
  let o = null;
  reports[0].rtcStatsReport.forEach((x) => {
    if (x.type === 'outbound-rtp' && x.kind === 'video') o = { frames: x.framesEncoded || 0, bytes: x.bytesSent || 0, encodeS: x.totalEncodeTime || 0, width: x.frameWidth, height: x.frameHeight };
  });
  return o;
};
</script>`;

const apiKey = '7' + String(Date.now()).slice(-7);
const apiSecret = randomBytes(20).toString('hex');
const server = await createServer({ port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey, apiSecret, logLevel: 'silent', mediaWorkers: 1 });
const ot = new OpenTok(apiKey, apiSecret, server.url);
const html = PAGE(`${server.url}/js/tokhost.js`);
const origin = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const pageUrl = `http://127.0.0.1:${origin.address().port}/`;
const browsers = [];
const launch = async () => {
  const b = await launchChromium();
  browsers.push(b);
  return b;
};
const SECRET = 'benchmark shared secret';

try {
  const createSession = (e2ee) =>
    new Promise((resolve, reject) => ot.createSession({ mediaMode: 'routed', ...(e2ee ? { e2ee: true } : {}) }, (err, s) => (err ? reject(err) : resolve(s.sessionId))));
  const sessions = { plain: await createSession(false), e2ee: await createSession(true) };
  const open = async (browser, mode, publish) => {
    const page = await browser.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => typeof window.OT === 'object', undefined, { timeout: 10_000 });
    const sessionId = sessions[mode];
    await page.evaluate((o) => window.run(o), { apiKey, sessionId, token: ot.generateToken(sessionId), secret: mode === 'e2ee' ? SECRET : undefined, publish });
    return page;
  };

  const pubBrowser = { plain: await launch(), e2ee: await launch() };
  const subBrowser = await launch();
  const pubPage = { plain: await open(pubBrowser.plain, 'plain', true), e2ee: await open(pubBrowser.e2ee, 'e2ee', true) };
  const subPage = { plain: await open(subBrowser, 'plain', false), e2ee: await open(subBrowser, 'e2ee', false) };
  for (const mode of ['plain', 'e2ee']) {
    for (let i = 0; ; i++) {
      if ((await subPage[mode].evaluate(() => window.firstFrameMs)) !== null) break;
      if (i > 200) throw new Error(`${mode}: the subscriber decodes nothing`);
      await sleep(100);
    }
  }
  // Let bandwidth estimation settle before measuring.
  await sleep(5000);

  const cdp = { plain: await pubBrowser.plain.newBrowserCDPSession(), e2ee: await pubBrowser.e2ee.newBrowserCDPSession() };
  const cpu = async (mode) => {
    const { processInfo } = await cdp[mode].send('SystemInfo.getProcessInfo');
    return { all: processInfo.reduce((s, p) => s + p.cpuTime, 0), renderer: processInfo.filter((p) => p.type === 'renderer').reduce((s, p) => s + p.cpuTime, 0) };
  };
  const snap = async () => {
    const out = {};
    for (const mode of ['plain', 'e2ee']) out[mode] = { cpu: await cpu(mode), out: await pubPage[mode].evaluate(() => window.outStats()), t: performance.now() };
    return out;
  };
  const s0 = await snap();
  await sleep(MEASURE_MS);
  const s1 = await snap();

  const row = {};
  for (const mode of ['plain', 'e2ee']) {
    const sec = (s1[mode].t - s0[mode].t) / 1000;
    const o0 = s0[mode].out;
    const o1 = s1[mode].out;
    row[mode] = {
      cpuPct: ((s1[mode].cpu.all - s0[mode].cpu.all) / sec) * 100,
      rendererPct: ((s1[mode].cpu.renderer - s0[mode].cpu.renderer) / sec) * 100,
      fps: (o1.frames - o0.frames) / sec,
      kbps: ((o1.bytes - o0.bytes) * 8) / sec / 1000,
      encodeMsPerFrame: ((o1.encodeS - o0.encodeS) * 1000) / Math.max(1, o1.frames - o0.frames),
      size: `${o1.width}x${o1.height}`,
    };
  }
  console.log(`\npublisher CPU over the same ${(MEASURE_MS / 1000).toFixed(0)} s (Chromium's SystemInfo.getProcessInfo; % of one core):`);
  console.log('mode   all processes  renderer   video sent                encode ms/frame');
  for (const mode of ['plain', 'e2ee']) {
    const r = row[mode];
    console.log(`${mode.padEnd(6)} ${r.cpuPct.toFixed(1).padStart(8)} %    ${r.rendererPct.toFixed(1).padStart(6)} %   ${r.size} ${r.fps.toFixed(1)} fps ${r.kbps.toFixed(0).padStart(5)} kbit/s   ${r.encodeMsPerFrame.toFixed(2)}`);
  }
  console.log(`ratio e2ee/plain: all processes ${(row.e2ee.cpuPct / row.plain.cpuPct).toFixed(2)}x, renderer ${(row.e2ee.rendererPct / row.plain.rendererPct).toFixed(2)}x (frames sent ${(row.e2ee.fps / row.plain.fps).toFixed(2)}x, bitrate ${(row.e2ee.kbps / row.plain.kbps).toFixed(2)}x)`);

  // Late subscribers: subscribe() → first decoded frame, alternating modes.
  const firstFrame = { plain: [], e2ee: [] };
  // subscribe() → the subscriber's peer connection is up (the part before media).
  const connected = { plain: [], e2ee: [] };
  for (let i = 0; i < LATE; i++) {
    for (const mode of i % 2 === 0 ? ['e2ee', 'plain'] : ['plain', 'e2ee']) {
      const page = await open(subBrowser, mode, false);
      let ms = null;
      for (let j = 0; j < 150 && ms === null; j++) {
        await sleep(100);
        ms = await page.evaluate(() => window.firstFrameMs);
      }
      firstFrame[mode].push(ms ?? NaN);
      connected[mode].push(await page.evaluate(() => window.connectedMs ?? NaN));
      await page.close();
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\nlate subscriber, subscribe() → first decoded frame (${LATE} each, alternating):`);
  for (const mode of ['plain', 'e2ee']) console.log(`${mode.padEnd(6)} median ${median(firstFrame[mode]).toFixed(0)} ms  (${firstFrame[mode].map((x) => x.toFixed(0)).join(', ')} ms); peer connection up after ${median(connected[mode]).toFixed(0)} ms`);
  console.log(`ratio e2ee/plain: ${(median(firstFrame.e2ee) / median(firstFrame.plain)).toFixed(2)}x`);
} finally {
  for (const b of browsers) await b.close().catch(() => undefined);
  await new Promise((r) => origin.close(r));
  await server.close();
}
