#!/usr/bin/env node
// Runs the official opentok-web-samples (https://github.com/opentok/opentok-web-samples, not part
// of this repository: fetch them yourself) against a local Tokhost, in headless Chromium, with only
// the OpenTok.js script tag changed to Tokhost's /js/tokhost.js.
//
//   node scripts/web-samples.mjs [--install] /path/to/opentok-web-samples [SampleName …]
//
// Without a path (or when it does not exist) it prints why and exits 0. Needs `npm run build`
// and /usr/bin/chromium. For each sample: a Tokhost server on 127.0.0.1 (random port, in-memory
// store) and a session; the sample's folder served on its own loopback origin with js/config.js
// replaced by that session's API key, session ID and token; two pages opened (two participants).
// It checks, per sample: no page errors, video decoded on both pages (own and the other's), and
// the sample's feature (FEATURE below). --install copies the samples to a scratch folder
// (os.tmpdir()/tokhost-web-samples) and runs `npm install` in each sample that imports
// node_modules (their lockfiles pin tarballs the registry no longer serves, so they are dropped;
// Moderate-Background-Image's ^5 of @vonage/ml-transformers is not published, 6.0.0 is used).
// Files the samples' ML libraries fetch from Vonage's CDN are served from the same files in the
// installed npm packages where a package ships them (MediaPipe face detection); others fail.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const install = argv.includes('--install');
const [pathArg, ...only] = argv.filter((a) => !a.startsWith('--'));
const USAGE = 'usage: node scripts/web-samples.mjs [--install] /path/to/opentok-web-samples [SampleName …]';
if (!pathArg || !existsSync(resolve(pathArg))) {
  console.log(`web-samples: skipped (no samples at ${pathArg ? resolve(pathArg) : '(no path given)'}); ${USAGE}`);
  process.exit(0);
}
const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.log(`web-samples: skipped (no ${CHROMIUM})`);
  process.exit(0);
}

const { createServer } = await import(join(root, 'packages/server/dist/index.js'));
const OpenTok = (await import('opentok')).default;
const { chromiumArgs } = await import(join(root, 'packages/server/test/kit/chromium.mjs'));
const { chromium } = await import('playwright-core');

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml', '.mp4': 'video/mp4', '.webm': 'video/webm', '.mp3': 'audio/mpeg', '.wav': 'audio/wav', '.tflite': 'application/octet-stream' };
const OPENTOK_SCRIPT = /<script[^>]*src="[^"]*(opentok(\.min)?\.js|@opentok\/client[^"]*)"[^>]*><\/script>/i;
/** Where MediaPipe's solution packages load their files from (ml-transformers 4.x): the same files are in the npm package. */
const MEDIAPIPE_CDN = /^https:\/\/d3opqjmqzxf057\.cloudfront\.net\/ml\/mediapipe\/([a-z_]+)\/([0-9.]+)\/([\w.-]+)$/;

const importsNodeModules = (dir) => readFileSync(join(dir, 'index.html'), 'utf8').includes('node_modules') || (existsSync(join(dir, 'js')) && readdirSync(join(dir, 'js')).some((f) => f.endsWith('.js') && readFileSync(join(dir, 'js', f), 'utf8').includes('node_modules/')));

/** --install: a scratch copy of the samples with each sample's npm dependencies installed. */
function installSamples(src) {
  const dest = join(tmpdir(), 'tokhost-web-samples');
  cpSync(src, dest, { recursive: true, filter: (f) => !f.includes('/node_modules') && !f.includes('/.git') });
  for (const name of readdirSync(dest)) {
    const dir = join(dest, name);
    if (!existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'node_modules'))) continue;
    const ownServer = !existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'index.js'));
    if (!ownServer && !importsNodeModules(dir)) continue;
    // The lockfiles pin tarballs (ml-transformers 4.3.4, js-workerizer 1.1.1) the registry no
    // longer serves: resolve the ranges afresh. ml-transformers 5.x is not published; 6.0.0 has the
    // same createVonageMediaProcessor API.
    rmSync(join(dir, 'package-lock.json'), { force: true });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (/^\^5\./.test(pkg.dependencies?.['@vonage/ml-transformers'] ?? '')) pkg.dependencies['@vonage/ml-transformers'] = '6.0.0';
    // End-To-End-Media-Encryption pins opentok 2.15.1, no longer published: its server gets this
    // repository's `opentok` (the official Node SDK) through the shim that points it at Tokhost.
    if (ownServer) delete pkg.dependencies?.opentok;
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    console.log(`web-samples: npm install in ${dir}`);
    try {
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=dev', '--no-package-lock'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    } catch (err) {
      console.log(`web-samples: npm install failed in ${name}: ${String(err.stderr ?? err.message).split('\n').slice(-4).join(' ')}`);
    }
  }
  return dest;
}

const samplesDir = install ? installSamples(resolve(pathArg)) : resolve(pathArg);

/** Probes installed in every page: frame statistics of a <video>, audio levels of a stream. */
function pageProbe() {
  window.__probe = {
    frame(video) {
      const c = document.createElement('canvas');
      c.width = 160;
      c.height = 120;
      const ctx = c.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(video, 0, 0, c.width, c.height);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let sum = 0, binary = 0, gray = 0, edges = 0, prev = 0;
      const n = d.length / 4;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
        const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        if ((i / 4) % c.width !== 0) edges += Math.abs(l - prev);
        prev = l;
        sum += l;
        if (l < 24 || l > 231) binary++;
        if (Math.abs(r - g) < 8 && Math.abs(g - b) < 8) gray++;
      }
      return { width: video.videoWidth, height: video.videoHeight, mean: sum / n, binary: binary / n, gray: gray / n, edges: edges / n };
    },
    /** RMS per channel (max over 100 ms windows) of a stream's audio over `ms`. */
    async channels(stream, ms) {
      const ctx = new AudioContext();
      await ctx.resume();
      const split = ctx.createChannelSplitter(2);
      ctx.createMediaStreamSource(stream).connect(split);
      const analysers = [0, 1].map((i) => {
        const a = ctx.createAnalyser();
        a.fftSize = 2048;
        split.connect(a, i);
        return a;
      });
      const peak = [0, 0];
      const buf = new Float32Array(2048);
      const end = performance.now() + ms;
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        analysers.forEach((a, i) => {
          a.getFloatTimeDomainData(buf);
          peak[i] = Math.max(peak[i], Math.sqrt(buf.reduce((s, v) => s + v * v, 0) / buf.length));
        });
      }
      await ctx.close();
      return peak;
    },
    /** Playing videos: { own, other } by whether the element sits in a publisher widget. */
    videos() {
      const playing = [...document.querySelectorAll('video')].filter((v) => v.videoWidth > 0 && !v.paused && v.srcObject);
      return { own: playing.filter((v) => v.closest('.OT_publisher')).length, other: playing.filter((v) => v.closest('.OT_subscriber')).length, all: playing.length };
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}
const subscriberFrame = (page) => page.evaluate(() => { const v = document.querySelector('.OT_subscriber video'); return v && v.videoWidth > 0 ? window.__probe.frame(v) : null; });
const rawCameraFrame = (page) => page.evaluate(async () => {
  const s = await navigator.mediaDevices.getUserMedia({ video: true });
  const v = Object.assign(document.createElement('video'), { srcObject: s, muted: true });
  await v.play();
  await new Promise((r) => setTimeout(r, 500));
  const f = window.__probe.frame(v);
  s.getTracks().forEach((t) => t.stop());
  return f;
});
const pct = (x) => `${(x * 100).toFixed(0)} %`;

/**
 * What each sample's README says it does, checked. Each gets both pages after they joined and
 * returns { ok, note }. `videos` is how many playing videos each page must show (own, other).
 */
const FEATURE = {
  Archiving: async ({ pages: [p], ot, sessionId }) => {
    await p.click('#start');
    await sleep(5000);
    await p.click('#stop');
    const list = () => new Promise((res, rej) => ot.listArchives({ sessionId }, (e, a) => (e ? rej(e) : res(a))));
    const archive = await until('the archive to be available', async () => (await list()).find((a) => a.status === 'available' && a.size > 0), 45_000).catch(async () => (await list())[0] ?? { status: 'none', duration: 0, size: 0 });
    const link = await p.innerHTML('#archiveLink').catch(() => '');
    return { ok: archive.status === 'available' && archive.duration > 0 && archive.size > 0 && link.includes(archive.id), note: `start/stop buttons → archive ${archive.status}, ${archive.duration} s, ${archive.size} bytes; page links it: ${link.includes(archive.id)}` };
  },
  Signaling: async ({ pages }) => {
    for (const [i, p] of pages.entries()) {
      await p.fill('#msgTxt', `hello from page ${i + 1}`);
      await p.press('#msgTxt', 'Enter');
    }
    const histories = await until('both messages on both pages', async () => {
      const h = await Promise.all(pages.map((p) => p.textContent('#history')));
      return h.every((t) => t.includes('hello from page 1') && t.includes('hello from page 2')) && h;
    }, 10_000).catch(() => Promise.all(pages.map((p) => p.textContent('#history'))));
    const ok = histories.every((t) => t.includes('hello from page 1') && t.includes('hello from page 2'));
    return { ok, note: `messages both ways: ${histories.map((t) => JSON.stringify(t.slice(0, 60))).join(' / ')}` };
  },
  'Publish-Devices': {
    // A page with no session: a local publisher whose devices switch. Chromium's fake capture
    // offers two cameras with this flag (one by default), so cycleVideo has somewhere to go.
    videos: { own: 1, other: 0 },
    browserArgs: ['--use-fake-device-for-media-stream=device-count=2'],
    async run({ pages }) {
      const notes = [];
      let ok = true;
      for (const p of pages) {
        await until('the publish button', () => p.isEnabled('#publish-btn'));
        await p.click('#publish-btn');
        const track = () => p.evaluate(() => { const s = document.querySelector('#publisher video')?.srcObject; const v = s?.getVideoTracks()[0]; const a = s?.getAudioTracks()[0]; return v && v.readyState === 'live' ? { video: v.label, audio: a?.label ?? null, videoCount: document.querySelectorAll('#video-source-select option').length, audioOptions: [...document.querySelectorAll('#audio-source-select option')].map((o) => o.value) } : null; });
        const before = await until('the publisher camera', track);
        await p.click('#cycle-video-btn');
        const afterCycle = await until('cycleVideo to switch the camera', async () => { const t = await track(); return t && t.video !== before.video && t; }, 8000).catch(() => track());
        const otherAudio = before.audioOptions.find((v, i) => i > 0);
        if (otherAudio) await p.selectOption('#audio-source-select', otherAudio);
        const afterAudio = otherAudio ? await until('setAudioSource to switch the microphone', async () => { const t = await track(); return t && t.audio !== before.audio && t; }, 8000).catch(() => track()) : afterCycle;
        const switched = afterCycle?.video !== before.video && (!otherAudio || afterAudio?.audio !== before.audio);
        ok &&= switched;
        notes.push(`camera "${before.video}" → cycleVideo → "${afterCycle?.video}" (${before.videoCount} cameras); mic "${before.audio}" → setAudioSource → "${afterAudio?.audio}"`);
      }
      return { ok, note: notes.join('; ') };
    },
  },
  'Stereo-Audio': {
    async before({ pages }) {
      for (const p of pages) {
        await until('the publish button', () => p.isVisible('#publishButton button'));
        await p.click('#publishButton button');
      }
    },
    async run({ pages: [p1, p2] }) {
      // Page 1 pans its music hard left; page 2 measures the two channels it receives.
      await until('the pan slider', () => p1.isVisible('#panValueSlider'));
      await p1.evaluate(() => { const s = document.querySelector('#panValueSlider'); s.value = '-1'; s.dispatchEvent(new Event('input')); });
      await sleep(1000);
      const [l, r] = await p2.evaluate(() => window.__probe.channels(document.querySelector('#subscriber video').srcObject, 3000));
      const ch = await p2.evaluate(() => document.querySelector('#subscriber video').srcObject.getAudioTracks()[0]?.getSettings().channelCount ?? null);
      return { ok: l > 0.01 && r < l * 0.25, note: `panned left: subscriber RMS left ${l.toFixed(4)}, right ${r.toFixed(4)} (track channelCount ${ch})` };
    },
  },
  'Stream-Filter': async ({ pages: [p1, p2] }) => {
    const before = await until('a subscribed frame', () => subscriberFrame(p2));
    await p1.selectOption('#filter', 'grayscale');
    const after = await until('the grayscale filter at the subscriber', async () => { const f = await subscriberFrame(p2); return f && f.gray > 0.97 && f; }, 10_000).catch(() => subscriberFrame(p2));
    return { ok: before.gray < 0.9 && after.gray > 0.97, note: `grey pixels in the subscribed video: ${pct(before.gray)} with no filter → ${pct(after.gray)} with grayscale` };
  },
  'Basic-Background-Blur': async ({ pages: [, p2] }) => {
    // The fake camera shows no person: the whole picture is background, so blurred it loses edges.
    const raw = await rawCameraFrame(p2);
    const sub = await until('a blurred subscribed frame', async () => { const f = await subscriberFrame(p2); return f && f.edges < raw.edges * 0.6 && f; }, 30_000).catch(() => subscriberFrame(p2));
    return { ok: sub.edges < raw.edges * 0.6, note: `mean horizontal luma gradient: raw camera ${raw.edges.toFixed(1)}, subscribed (videoFilter backgroundBlur) ${sub.edges.toFixed(1)}` };
  },
  'Basic-Video-Transformer': async ({ pages: [, p2] }) => {
    const raw = await rawCameraFrame(p2);
    const sub = await until('a subscribed frame', () => subscriberFrame(p2));
    return { ok: sub.binary > 0.9 && raw.binary < 0.5, note: `black-or-white pixels: raw camera ${pct(raw.binary)}, subscribed (threshold transformer) ${pct(sub.binary)}` };
  },
  'Basic-Audio-Transformer': async ({ pages: [, p2] }) => {
    const [raw] = await p2.evaluate(async () => { const s = await navigator.mediaDevices.getUserMedia({ audio: true }); const r = await window.__probe.channels(s, 3000); s.getTracks().forEach((t) => t.stop()); return r; });
    const [sub] = await p2.evaluate(() => window.__probe.channels(document.querySelector('.OT_subscriber video').srcObject, 3000));
    return { ok: raw > 0.01 && sub < raw * 0.5, note: `audio RMS: raw microphone ${raw.toFixed(4)}, subscribed (100 Hz low-pass transformer) ${sub.toFixed(4)}` };
  },
  'Basic-Video-Zoom': async ({ pages: [, p2] }) => {
    const raw = await rawCameraFrame(p2);
    const sub = await until('a subscribed frame', () => subscriberFrame(p2));
    return { ok: sub.width !== raw.width || sub.height !== raw.height || Math.abs(sub.mean - raw.mean) > 10, note: `raw camera ${raw.width}x${raw.height} (mean luma ${raw.mean.toFixed(0)}), subscribed ${sub.width}x${sub.height} (mean luma ${sub.mean.toFixed(0)})` };
  },
  'Moderate-Background-Blur': {
    cdnModel: true,
    async run({ pages: [p1] }) {
      const connector = await p1.evaluate(() => typeof OT.hasMediaProcessorSupport === 'function' && OT.hasMediaProcessorSupport());
      return { ok: connector, note: `hasMediaProcessorSupport ${connector}; the blur model (tflite-simd.wasm) comes from Vonage's CDN, so the effect cannot show offline` };
    },
  },
  'Moderate-Background-Image': {
    cdnModel: true,
    async run({ pages: [p1] }) {
      const connector = await p1.evaluate(() => typeof OT.hasMediaProcessorSupport === 'function' && OT.hasMediaProcessorSupport());
      return { ok: connector, note: `hasMediaProcessorSupport ${connector}; MediaPipe tasks-vision and its model come from jsDelivr/Google, so the effect cannot show offline` };
    },
  },
  'End-To-End-Media-Encryption': {
    expectedAlert: /properly decrypted|encryption secret mismatch/,
    async before({ pages }) {
      for (const [i, p] of pages.entries()) {
        await p.fill('#name', `page ${i + 1}`);
        await p.fill('#encrypt-key', 'tokhost-samples-secret');
        await p.click('#enter-button');
      }
    },
    async run({ pages: [p1, p2], dialogs }) {
      // Both pages decode each other with the shared secret (checked with the videos). Page 1
      // changes its secret: page 2 cannot decrypt (the sample alerts a mismatch); page 1 changes
      // it back: page 2 decrypts again (the sample alerts 'properly decrypted').
      const e2ee = await p1.evaluate(() => Boolean(session.e2ee));
      const alerted = (re) => () => Promise.resolve(dialogs.some((d) => d.page === 1 && re.test(d.message)));
      const change = async (secret) => { await p1.fill('#new-encrypt-key', secret); await p1.click('#change-button'); };
      await change('another-secret-entirely');
      const mismatch = await until('encryptionSecretMismatch on page 2', alerted(/mismatch/), 20_000).catch(() => false);
      await change('tokhost-samples-secret');
      const match = await until('encryptionSecretMatch on page 2', alerted(/properly decrypted/), 20_000).catch(() => false);
      return { ok: e2ee && mismatch && match, note: `the sample's own server (official opentok SDK via the shim) made an e2ee session (${e2ee}); page 1 changes its secret → page 2 mismatch ${mismatch}; changes it back → match ${match}` };
    },
  },
  'Basic-Captions': {
    speaker: true,
    async run({ pages: [p1, p2] }) {
      await p1.click('#start');
      const caption = await until('a caption on the other page', () => p2.evaluate(() => document.querySelector('.caption-box')?.textContent || null), 60_000).catch(() => null);
      return { ok: Boolean(caption), note: caption ? `caption at the subscriber: "${caption}"` : 'no caption within 60 s' };
    },
  },
};

let speechWav;
/** A spoken sentence for the samples that need speech (captions): espeak-ng + ffmpeg, when installed. */
function speech() {
  if (speechWav !== undefined) return speechWav;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'tokhost-samples-speech-'));
    execFileSync('espeak-ng', ['-v', 'en-us+f2', '-s', '140', '-w', join(dir, 'raw.wav'), 'hello this is a test of the live captions in the sample']);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(dir, 'raw.wav'), '-af', 'apad=pad_dur=2', '-ar', '48000', '-ac', '1', join(dir, 'speech.wav')]);
    speechWav = join(dir, 'speech.wav');
  } catch {
    speechWav = null;
  }
  return speechWav;
}

async function runSample(browser, name) {
  const dir = join(samplesDir, name);
  const ownServer = !existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'index.js'));
  if (!ownServer && !existsSync(join(dir, 'index.html'))) return { name, verdict: 'not run: no index.html' };
  if (ownServer && !existsSync(join(dir, 'node_modules'))) return { name, verdict: 'not run: it brings its own Node server; run with --install' };
  const spec = typeof FEATURE[name] === 'function' ? { run: FEATURE[name] } : FEATURE[name] ?? {};
  const wantVideos = spec.videos ?? { own: 1, other: 1 };
  const apiKey = String(40000000 + Math.floor(Math.random() * 9999999));
  const apiSecret = randomBytes(20).toString('hex');
  const server = await createServer({ port: 0, host: '127.0.0.1', store: 'memory', logLevel: 'silent', apiKey, apiSecret, outboundAllow: ['127.0.0.0/8'] });
  const ot = new OpenTok(apiKey, apiSecret, server.url);
  let sessionId = await new Promise((res, rej) => ot.createSession({ mediaMode: 'routed' }, (e, s) => (e ? rej(e) : res(s.sessionId))));
  let origin = '';
  const token = () => ot.generateToken(sessionId, { role: 'moderator' });
  const configJs = () => `const SAMPLE_SERVER_BASE_URL = '${origin}'; const API_KEY = '${apiKey}'; const SESSION_ID = '${sessionId}'; const TOKEN = '${token()}';\n`;
  const needsModules = !ownServer && importsNodeModules(dir);
  if (needsModules && !existsSync(join(dir, 'node_modules'))) {
    await server.close();
    return { name, verdict: 'not run: imports node_modules (run with --install, or npm install in the sample)' };
  }
  let sampleOrigin = '';
  const http = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    // A sample with its own server: proxied, its page with the script tag swapped. (A page the
    // browser did not get from a real loopback server may not load /js/tokhost.js: Chromium's
    // local network access checks.)
    if (sampleOrigin) {
      return void fetch(`${sampleOrigin}${req.url}`, { method: req.method }).then(async (r) => {
        const type = r.headers.get('content-type') ?? 'application/octet-stream';
        const body = path === '/' ? (await r.text()).replace(OPENTOK_SCRIPT, `<script src="${server.url}/js/tokhost.js"></script>`) : Buffer.from(await r.arrayBuffer());
        res.writeHead(r.status, { 'Content-Type': type }).end(body);
      }, () => res.writeHead(502).end());
    }
    if (path === '/' || path === '/index.html') {
      const html = readFileSync(join(dir, 'index.html'), 'utf8').replace(OPENTOK_SCRIPT, `<script src="${server.url}/js/tokhost.js"></script>`);
      return res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
    }
    if (path === '/js/config.js') return res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(configJs());
    // The "sample server" the samples ask for (as learning-opentok-node does it), backed by Tokhost.
    const json = (status, body) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    const done = (e, a) => (e ? json(500, { error: e.message }) : json(200, a));
    if (path === '/session') return json(200, { apiKey, sessionId, token: token() });
    if (path === '/archive/start' && req.method === 'POST') return void ot.startArchive(sessionId, { name }, done);
    const stop = path.match(/^\/archive\/([^/]+)\/stop$/);
    if (stop && req.method === 'POST') return void ot.stopArchive(stop[1], done);
    if (path === '/captions/start' && req.method === 'POST') return void ot.startCaptions(sessionId, token(), { languageCode: 'en-US', partialCaptions: true }, (e, id) => done(e, { id }));
    const stopCaptions = path.match(/^\/captions\/([^/]+)\/stop$/);
    if (stopCaptions && req.method === 'POST') return void ot.stopCaptions(stopCaptions[1], (e) => done(e, { id: stopCaptions[1] }));
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  let child;
  if (ownServer) {
    // The sample's own server, with its opentok client pointed at this Tokhost (see the shim).
    child = spawn(process.execPath, ['-r', join(root, 'scripts/web-samples-shim.cjs'), 'index.js'], {
      cwd: dir,
      env: { ...process.env, API_KEY: apiKey, API_SECRET: apiSecret, TOKHOST_URL: server.url, TOKHOST_OPENTOK: createRequire(import.meta.url).resolve('opentok') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('the sample server did not start in 15 s')), 15_000);
      let out = '';
      child.stdout.on('data', (d) => { out += d; const m = out.match(/TOKHOST_SAMPLE_PORT=(\d+)/); if (m) { clearTimeout(t); res(Number(m[1])); } });
      child.once('exit', (code) => { clearTimeout(t); rej(new Error(`the sample server exited (${code})`)); });
    }).catch(async (err) => { child.kill(); await server.close(); throw err; });
    sampleOrigin = `http://127.0.0.1:${port}`;
    sessionId = (await (await fetch(`${sampleOrigin}/session`)).json()).sessionId;
  }
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${http.address().port}`;
  const pages = [];
  const browsers = [];
  const report = { name, errors: [], videos: [], feature: '' };
  const dialogs = [];
  let featureOk = true;
  try {
    const wav = spec.speaker ? speech() : undefined;
    // Page 1 speaks a sentence (captions); or both pages get a browser with the sample's own flags.
    if (spec.speaker && wav) browsers.push(await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs({ audio: wav }) }));
    if (spec.browserArgs) browsers.push(await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs({ args: spec.browserArgs }) }));
    for (let i = 0; i < 2; i++) {
      const page = await (spec.browserArgs ? browsers[0] : i === 0 && browsers[0] ? browsers[0] : browser).newPage();
      await page.addInitScript(pageProbe);
      page.on('pageerror', (e) => report.errors.push(`page ${i + 1}: ${e.message.split('\n')[0]}`));
      page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && !spec.expectedAlert?.test(m.text()) && report.errors.push(`page ${i + 1} console: ${m.text().split('\n')[0].slice(0, 160)}`));
      page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && report.errors.push(`page ${i + 1}: HTTP ${r.status()} ${r.url()}`));
      // Loopback only: CDN stylesheets and scripts fail at once instead of hanging the page; MediaPipe
      // files come from the installed npm package that ships them.
      await page.route('**/*', (route) => {
        const url = route.request().url();
        const mp = url.match(MEDIAPIPE_CDN);
        const local = mp && join(dir, 'node_modules', '@mediapipe', mp[1], mp[3]);
        if (local && existsSync(local)) return route.fulfill({ path: local, headers: { 'Access-Control-Allow-Origin': '*' } });
        return /^(https?|wss?):\/\/127\.0\.0\.1[:/]/.test(url) || url.startsWith('data:') || url.startsWith('blob:') ? route.continue() : route.abort();
      });
      page.on('requestfailed', (r) => report.errors.push(`page ${i + 1}: blocked/failed ${r.url().slice(0, 120)}`));
      page.on('dialog', (d) => {
        dialogs.push({ page: i, message: d.message() });
        if (!spec.expectedAlert?.test(d.message())) report.errors.push(`page ${i + 1} alert: ${d.message().slice(0, 160)}`);
        void d.dismiss();
      });
      await page.goto(`${origin}/`, { waitUntil: 'domcontentloaded' });
      pages.push(page);
    }
    if (spec.before) await spec.before({ pages, ot, sessionId, dialogs });
    // Both pages show their own video and the other's (when the sample publishes and subscribes).
    const enough = (v) => v.own >= wantVideos.own && v.other >= wantVideos.other;
    if (spec.speaker && !wav) report.feature = 'not checked: needs espeak-ng and ffmpeg for a spoken sentence';
    if (wantVideos.own + wantVideos.other > 0 && !spec.videos) await until('video on both pages', async () => (await Promise.all(pages.map((p) => p.evaluate(() => window.__probe.videos())))).every(enough), 20_000).catch(() => undefined);
    if (spec.run && !(spec.speaker && !wav)) {
      const r = await spec.run({ pages, ot, sessionId, dialogs }).catch((err) => ({ ok: false, note: `check failed: ${err.message.split('\n')[0]}` }));
      featureOk = r.ok;
      report.feature = `${!r.ok ? 'NOT verified' : spec.cdnModel ? 'calls work (the effect needs a CDN model)' : 'verified'}: ${r.note}`;
    }
    const videos = await Promise.all(pages.map((p) => p.evaluate(() => window.__probe.videos())));
    report.videos = videos.map((v) => `${v.own}+${v.other}`);
    report.videosOk = videos.every(enough);
    const streams = await new Promise((res) => ot.listStreams(sessionId, (e, s) => res(e ? [] : s)));
    report.streams = streams.length;
  } finally {
    for (const p of pages) await p.close().catch(() => undefined);
    for (const b of browsers) await b.close().catch(() => undefined);
    if (child) {
      child.kill();
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
    }
    await new Promise((r) => http.close(() => r()));
    await server.close();
  }
  // The two samples whose ML library loads its model from a CDN fail those fetches offline (and only those).
  const errors = spec.cdnModel ? report.errors.filter((e) => !/blocked\/failed https:|Failed to fetch|loadTFLite/.test(e)) : report.errors;
  const ok = errors.length === 0 && report.videosOk && featureOk;
  report.verdict = `${ok ? 'ran' : 'problems'}: ${report.streams} stream(s) published; playing videos per page (own+other) ${report.videos.join(', ')}`;
  return report;
}

const names = readdirSync(samplesDir).filter((n) => statSync(join(samplesDir, n)).isDirectory() && !n.startsWith('.') && (only.length === 0 || only.includes(n)));
const launch = () => chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs() });
let browser = await launch();
const results = [];
try {
  for (const name of names) {
    // A crashed browser (memory on a busy machine) must not fail the samples after it.
    if (!browser.isConnected()) browser = await launch();
    const r = await runSample(browser, name).catch((err) => ({ name, verdict: `runner error: ${err.message}` }));
    results.push(r);
    console.log(`${r.name}: ${r.verdict}${r.feature ? `\n  feature ${r.feature}` : ''}${r.errors?.length ? `\n  ${r.errors.slice(0, 5).join('\n  ')}` : ''}`);
  }
} finally {
  await browser.close();
}
console.log(`\n${results.filter((r) => r.verdict.startsWith('ran')).length} of ${results.length} samples ran: no page errors, video on both pages, feature verified where checked`);
