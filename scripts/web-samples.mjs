#!/usr/bin/env node
// Runs the official opentok-web-samples (https://github.com/opentok/opentok-web-samples, not part
// of this repository: fetch them yourself) against a local Tokhost, in headless Chromium, with only
// the OpenTok.js script tag changed to Tokhost's /js/tokhost.js.
//
//   node scripts/web-samples.mjs /path/to/opentok-web-samples [SampleName …]
//
// Without a path (or when it does not exist) it prints why and exits 0. Needs `npm run build`
// and /usr/bin/chromium. For each sample: a Tokhost server on 127.0.0.1 (random port, in-memory
// store) and a session; the sample's folder served on its own loopback origin with js/config.js
// replaced by that session's API key, session ID and token; two pages opened (two participants).
// It reports, per sample, what each page shows: page errors, playing <video> elements (published
// and subscribed), and the sample's own feature where a check is known. Samples whose page
// imports packages from node_modules need `npm install` in their folder first (the report says so).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const samplesDir = process.argv[2] ? resolve(process.argv[2]) : undefined;
if (!samplesDir || !existsSync(samplesDir)) {
  console.log(`web-samples: skipped (no samples at ${samplesDir ?? '(no path given)'}); usage: node scripts/web-samples.mjs /path/to/opentok-web-samples [SampleName …]`);
  process.exit(0);
}
const only = process.argv.slice(3);
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

/** Sample-specific checks (run in each page after the wait); return a short verdict. */
const FEATURE = {
  'Publish-Devices': async (page) => {
    await page.click('#publish-btn').catch(() => undefined);
    await page.waitForTimeout(4000);
    const before = await page.evaluate(() => document.querySelector('#publisher video')?.srcObject?.getVideoTracks()[0]?.getSettings().deviceId ?? null);
    await page.click('#cycle-video-btn').catch(() => undefined);
    await page.waitForTimeout(1500);
    return `publish button → camera ${before ? 'open' : 'not open'}; cycleVideo clicked`;
  },
  'Stereo-Audio': async (page) => {
    await page.click('#publishButton button').catch(() => undefined);
    await page.waitForTimeout(5000);
    return 'publish button clicked';
  },
  Archiving: async (page, i) => {
    if (i !== 0) return 'viewer';
    await page.click('#start').catch(() => undefined);
    await page.waitForTimeout(4000);
    await page.click('#stop').catch(() => undefined);
    await page.waitForTimeout(2000);
    return `archive link: ${(await page.innerHTML('#archiveLink').catch(() => '')) || 'none'}`.slice(0, 160);
  },
  Signaling: async (page) => {
    await page.fill('#msgTxt', 'hello from the samples runner').catch(() => undefined);
    await page.press('#msgTxt', 'Enter').catch(() => undefined);
    await page.waitForTimeout(1500);
    return `history: ${(await page.textContent('#history').catch(() => '')) ?? ''}`.slice(0, 120);
  },
};

async function runSample(browser, name) {
  const dir = join(samplesDir, name);
  if (!existsSync(join(dir, 'index.html'))) return { name, verdict: 'not run: no index.html (it has its own server)' };
  const apiKey = String(40000000 + Math.floor(Math.random() * 9999999));
  const apiSecret = randomBytes(20).toString('hex');
  const server = await createServer({ port: 0, host: '127.0.0.1', store: 'memory', logLevel: 'silent', apiKey, apiSecret, outboundAllow: ['127.0.0.0/8'] });
  const ot = new OpenTok(apiKey, apiSecret, server.url);
  const sessionId = await new Promise((res, rej) => ot.createSession({ mediaMode: 'routed' }, (e, s) => (e ? rej(e) : res(s.sessionId))));
  let origin = '';
  const token = () => ot.generateToken(sessionId, { role: 'moderator' });
  const configJs = () => `const SAMPLE_SERVER_BASE_URL = '${origin}'; const API_KEY = '${apiKey}'; const SESSION_ID = '${sessionId}'; const TOKEN = '${token()}';\n`;
  const needsModules = readFileSync(join(dir, 'index.html'), 'utf8').includes('node_modules') || readdirSync(join(dir, 'js')).some((f) => readFileSync(join(dir, 'js', f), 'utf8').includes('node_modules/'));
  const http = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/' || path === '/index.html') {
      const html = readFileSync(join(dir, 'index.html'), 'utf8').replace(OPENTOK_SCRIPT, `<script src="${server.url}/js/tokhost.js"></script>`);
      return res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
    }
    if (path === '/js/config.js') return res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(configJs());
    // The "sample server" the samples ask for (as learning-opentok-node does it), backed by Tokhost.
    const json = (status, body) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/session') return json(200, { apiKey, sessionId, token: token() });
    if (path === '/archive/start' && req.method === 'POST') return void ot.startArchive(sessionId, { name: name }, (e, a) => (e ? json(500, { error: e.message }) : json(200, a)));
    const stop = path.match(/^\/archive\/([^/]+)\/stop$/);
    if (stop && req.method === 'POST') return void ot.stopArchive(stop[1], (e, a) => (e ? json(500, { error: e.message }) : json(200, a)));
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${http.address().port}`;
  const url = `${origin}/`;
  const pages = [];
  const report = { name, errors: [], videos: [], feature: '' };
  try {
    for (let i = 0; i < 2; i++) {
      const page = await browser.newPage();
      page.on('pageerror', (e) => report.errors.push(`page ${i + 1}: ${e.message.split('\n')[0]}`));
      page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && report.errors.push(`page ${i + 1} console: ${m.text().split('\n')[0].slice(0, 160)}`));
      page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && report.errors.push(`page ${i + 1}: HTTP ${r.status()} ${r.url()}`));
      // Loopback only: CDN stylesheets and scripts fail at once instead of hanging the page.
      await page.route('**/*', (route) => (/^(https?|wss?):\/\/127\.0\.0\.1[:/]/.test(route.request().url()) || route.request().url().startsWith('data:') || route.request().url().startsWith('blob:') ? route.continue() : route.abort()));
      page.on('requestfailed', (r) => report.errors.push(`page ${i + 1}: blocked/failed ${r.url().slice(0, 120)}`));
      page.on('dialog', (d) => { report.errors.push(`page ${i + 1} alert: ${d.message().slice(0, 160)}`); void d.dismiss(); });
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      pages.push(page);
      await page.waitForTimeout(2500);
    }
    await pages[0].waitForTimeout(6000);
    for (const [i, page] of pages.entries()) {
      if (FEATURE[name]) report.feature += `page ${i + 1}: ${await FEATURE[name](page, i)}; `;
      report.videos.push(await page.evaluate(() => [...document.querySelectorAll('video')].filter((v) => v.videoWidth > 0 && !v.paused).length));
    }
    const streams = await new Promise((res) => ot.listStreams(sessionId, (e, s) => res(e ? [] : s)));
    report.streams = streams.length;
  } finally {
    for (const p of pages) await p.close().catch(() => undefined);
    await new Promise((r) => http.close(() => r()));
    await server.close();
  }
  const ok = report.errors.length === 0 && report.videos.every((n) => n >= 1);
  report.verdict = `${ok ? 'ran' : 'problems'}: ${report.streams} stream(s) published, playing videos per page ${report.videos.join('/')}${needsModules ? ' (imports node_modules: npm install in the sample first)' : ''}`;
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
    console.log(`${r.name}: ${r.verdict}${r.feature ? `\n  feature: ${r.feature}` : ''}${r.errors?.length ? `\n  ${r.errors.slice(0, 5).join('\n  ')}` : ''}`);
  }
} finally {
  await browser.close();
}
console.log(`\n${results.filter((r) => r.verdict.startsWith('ran')).length} of ${results.length} samples ran without page errors with video playing on both pages`);
