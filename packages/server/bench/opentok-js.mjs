// `npm run bench:opentok-js`: connect-to-first-frame time of the official OpenTok.js against
// Tokhost, and of Tokhost's own browser SDK (@tokhost/client) as the baseline, in the same run.
//
// One Tokhost server (createServer, memory store) with one relayed session made with the official
// `opentok` SDK. A publisher page (@tokhost/client, Chromium's fake camera 320x240) stays in the
// session. Then, alternating, a fresh subscriber page of each kind is opened on an app origin of
// its own: OpenTok.js 2.35.x (unmodified, from node_modules, plus `OT.setProxyUrl(<server>)`) or
// @tokhost/client (loaded from the server's /js/tokhost.js). With the script loaded, the page
// calls `session.connect()`, subscribes to the stream on `streamCreated` and the clock stops when
// the subscriber's <video> has shown its first frame. Page load (parsing the SDK) is not counted.
// Prints median / min / max per client, the median time to the connect() callback (the part
// before media), and the ratio OpenTok.js / @tokhost/client.
//
// Options: --runs=7 (per client). About a minute.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { launchChromium } from '../test/kit/chromium.mjs';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => a.slice(2).split('=')),
);
const RUNS = Number(args['runs'] ?? 7);
const require = createRequire(import.meta.url);
const OpenTok = require('opentok');
const OPENTOK_JS = require.resolve('@opentok/client/dist/js/opentok.js');
const OPENTOK_JS_VERSION = JSON.parse(readFileSync(require.resolve('@opentok/client/package.json'), 'utf8')).version;
const { createServer } = await import('@tokhost/server');

// The same page for both clients (they share the OT API); `proxy` is set for OpenTok.js only.
const PAGE = (sdk, proxy) => `<!doctype html><meta charset="utf-8"><body><div id="pub"></div><div id="subs"></div>
<script src="${sdk}"></script><script>
${proxy ? `OT.setProxyUrl(${JSON.stringify(proxy)});` : ''}
window.firstFrame = ({ apiKey, sessionId, token }) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  let connectedMs = NaN;
  const s = OT.initSession(apiKey, sessionId);
  s.on('streamCreated', (e) => {
    const sub = s.subscribe(e.stream, 'subs', { insertMode: 'append', width: 320, height: 240 }, (err) => err && reject(new Error(err.name)));
    const poll = () => {
      const v = sub.element && sub.element.querySelector('video');
      if (v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0) return resolve({ total: performance.now() - t0, connected: connectedMs });
      if (performance.now() - t0 > 30000) return reject(new Error('no frame within 30 s'));
      setTimeout(poll, 5);
    };
    poll();
  });
  s.connect(token, (err) => (err ? reject(new Error(err.name + ': ' + err.message)) : (connectedMs = performance.now() - t0)));
});
window.publish = ({ apiKey, sessionId, token }) => new Promise((resolve, reject) => {
  const s = OT.initSession(apiKey, sessionId);
  s.connect(token, (err) => {
    if (err) return reject(new Error(err.name));
    const p = OT.initPublisher('pub', { resolution: '320x240', frameRate: 15, insertMode: 'append', width: 160, height: 120 });
    s.publish(p, (e) => (e ? reject(new Error(e.name)) : resolve()));
  });
});
</script>`;

const apiKey = '7' + String(Date.now()).slice(-7);
const apiSecret = randomBytes(20).toString('hex');
const server = await createServer({ port: 0, host: '127.0.0.1', store: 'memory', apiKey, apiSecret, logLevel: 'silent' });
const ot = new OpenTok(apiKey, apiSecret, server.url);
const pages = { otjs: PAGE('/opentok.js', server.url), tokhost: PAGE(`${server.url}/js/tokhost.js`, null) };
const origin = createHttpServer((req, res) => {
  if (req.url === '/opentok.js') return res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600' }).end(readFileSync(OPENTOK_JS));
  res.writeHead(200, { 'content-type': 'text/html' }).end(req.url === '/otjs' ? pages.otjs : pages.tokhost);
});
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const appUrl = `http://127.0.0.1:${origin.address().port}`;
const browser = await launchChromium();

try {
  const sessionId = await new Promise((resolve, reject) => ot.createSession({ mediaMode: 'relayed' }, (err, s) => (err ? reject(err) : resolve(s.sessionId))));
  const context = await browser.newContext();
  const open = async (kind) => {
    const page = await context.newPage();
    await page.goto(`${appUrl}/${kind}`);
    await page.waitForFunction(() => typeof window.OT === 'object', undefined, { timeout: 30_000 });
    return page;
  };
  const publisher = await open('tokhost');
  await publisher.evaluate((o) => window.publish(o), { apiKey, sessionId, token: ot.generateToken(sessionId) });

  const times = { otjs: [], tokhost: [] };
  // connect() → its callback (session info, messaging socket, session state), the first part of the total.
  const connects = { otjs: [], tokhost: [] };
  // One unmeasured run each warms the browser's cache and code cache for both SDKs.
  for (let i = -1; i < RUNS; i++) {
    for (const kind of i % 2 === 0 ? ['otjs', 'tokhost'] : ['tokhost', 'otjs']) {
      const page = await open(kind);
      const r = await page.evaluate((o) => window.firstFrame(o), { apiKey, sessionId, token: ot.generateToken(sessionId) });
      if (i >= 0) {
        times[kind].push(r.total);
        connects[kind].push(r.connected);
      }
      await page.close();
    }
  }
  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  const median = (xs) => { const s = sorted(xs); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  const label = { otjs: `OpenTok.js ${OPENTOK_JS_VERSION}`, tokhost: '@tokhost/client' };
  console.log(`\nconnect() → first video frame shown by the subscriber, relayed session, ${RUNS} runs each (alternating):`);
  for (const kind of ['otjs', 'tokhost']) {
    const s = sorted(times[kind]);
    console.log(`${label[kind].padEnd(18)} median ${median(s).toFixed(0).padStart(5)} ms   min ${s[0].toFixed(0).padStart(5)} ms   max ${s[s.length - 1].toFixed(0).padStart(5)} ms   (${times[kind].map((x) => x.toFixed(0)).join(', ')} ms); connected after ${median(connects[kind]).toFixed(0)} ms (median)`);
  }
  console.log(`ratio OpenTok.js / @tokhost/client (medians): ${(median(times.otjs) / median(times.tokhost)).toFixed(2)}x`);
} finally {
  await browser.close().catch(() => undefined);
  await new Promise((r) => origin.close(r));
  await server.close();
}
