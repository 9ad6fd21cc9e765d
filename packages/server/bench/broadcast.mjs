// `npm run bench:broadcast`: live-streaming figures of one broadcast on this machine.
//
// The server runs in this process with a bench composition: Node writes raw I420 frames at
// 25 fps (640x480) into ONE ffmpeg encoder per composition (x264 veryfast zerolatency, keyframe
// every 2 s, or 1 s for lowLatency; AAC from a sine), exactly where the compositor's frames go.
// Each frame carries the wall clock (ms, 32 bits) as a barcode of 16x16 black/white blocks, so
// latency is read back from the decoded output without OCR. A real RTMP server (nginx with
// libnginx-mod-rtmp) runs on loopback; HLS is played by hls.js in headless Chromium.
//
// Figures:
//  1. time from startBroadcast to hlsStatus `live` (first segment listed) and to RTMP `live`;
//  2. latency, frame into the encoder → frame shown: HLS in hls.js (normal and lowLatency), RTMP
//     pulled from nginx and decoded by ffmpeg (median and p90 of ~10 s of frames);
//  3. CPU (cores, this process + every ffmpeg child) of: the encoder alone; an archive (encoder +
//     fragmented-MP4 remux sink); a broadcast (encoder + HLS + RTMP sinks); archive + broadcast of
//     the same session sharing one encoder; and the same two with an encoder each (no sharing),
//     the same-run baseline of the sharing ratio.
// Targets (issue 10): RTMP live within 3 s; HLS latency below OpenTok's 15–20 s (normal) and
// 4–6 s (lowLatency); archive + broadcast ≤ 1.2× one alone. Bounded to about 3 minutes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasChromium, launchChromium } from '../test/kit/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const W = 640;
const H = 480;
const FPS = 25;
const BITS = 32;
const BLOCK = 16;
const BAR_X = 32;
const BAR_Y = 16;
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 10_000);

const dist = join(here, '..', 'dist');
if (!existsSync(join(dist, 'compose', 'ts-fanout.js'))) {
  console.error('packages/server/dist is missing: run `npm run bench:broadcast` (it builds first)');
  process.exit(2);
}
const { TsFanout } = await import(join(dist, 'compose', 'ts-fanout.js'));
const { RemuxSink } = await import(join(dist, 'compose', 'sinks', 'remux.js'));
const { createServer } = await import('@tokhost/server');

// ------------------------------------------------------------------ frames with a clock barcode
const base = Buffer.alloc((W * H * 3) / 2, 128);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) base[y * W + x] = 40 + ((x + y) % 160);
function frame(now, n) {
  const f = Buffer.from(base);
  // A moving box so the encoder has motion to code, as camera video has.
  const bx = (n * 8) % (W - 96);
  for (let y = 200; y < 296; y++) f.fill(220, y * W + bx, y * W + bx + 96);
  // The barcode: a white band, then BITS blocks, most significant first.
  for (let y = BAR_Y - 8; y < BAR_Y + BLOCK + 8; y++) f.fill(235, y * W, y * W + W);
  const ts = now % 2 ** BITS;
  for (let i = 0; i < BITS; i++) {
    const bit = Math.floor(ts / 2 ** (BITS - 1 - i)) % 2;
    const x0 = BAR_X + i * BLOCK;
    for (let y = BAR_Y; y < BAR_Y + BLOCK; y++) f.fill(bit ? 16 : 235, y * W + x0, y * W + x0 + BLOCK);
  }
  return f;
}
/** Read the barcode from a luma (or grey) plane: the ms timestamp mod 2^32. */
function readBarcode(luma, stride = W) {
  let ts = 0;
  for (let i = 0; i < BITS; i++) {
    const v = luma[(BAR_Y + BLOCK / 2) * stride + BAR_X + i * BLOCK + BLOCK / 2];
    ts = ts * 2 + (v < 128 ? 1 : 0);
  }
  return ts;
}
const latencyOf = (ts, now = Date.now()) => (((now % 2 ** BITS) - ts + 2 ** BITS) % 2 ** BITS);

// ------------------------------------------------------------------ bench compositions (shared encoders)
class BenchCompositions {
  constructor() {
    this.encoders = new Map();
    this.shared = true;
  }
  async acquire(spec) {
    const gop = Math.round((spec.keyframeIntervalSeconds ?? 2) * FPS);
    const key = this.shared ? `${spec.sessionId}/${spec.canvas.width}x${spec.canvas.height}/${gop}` : `${Math.random()}`;
    let enc = this.encoders.get(key);
    if (!enc) {
      enc = startEncoder(gop);
      enc.refs = 0;
      this.encoders.set(key, enc);
    }
    enc.refs++;
    let released = false;
    return {
      output: enc.fanout,
      setLayout() {},
      addStream() {},
      removeStream() {},
      on() {},
      release: async () => {
        if (released) return;
        released = true;
        if (--enc.refs === 0) {
          this.encoders.delete(key);
          await enc.stop();
        }
      },
    };
  }
}

function startEncoder(gop) {
  const fanout = new TsFanout();
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${W}x${H}`, '-framerate', String(FPS), '-i', 'pipe:0', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-b:v', '1000000', '-maxrate', '1000000', '-bufsize', '2000000', '-c:a', 'aac', '-b:a', '96k', '-muxdelay', '0', '-muxpreload', '0', '-flush_packets', '1', '-f', 'mpegts', 'pipe:1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.on('error', () => {});
  child.stdout.on('data', (c) => fanout.write(c));
  child.stdout.on('end', () => fanout.end());
  const t0 = Date.now();
  let n = 0;
  let timer;
  const tick = () => {
    // Frames on a fixed clock, as the compositor does; catch up after a late timer.
    while (t0 + (n * 1000) / FPS <= Date.now()) child.stdin.write(frame(Date.now(), n++));
    timer = setTimeout(tick, Math.max(1, t0 + (n * 1000) / FPS - Date.now()));
  };
  tick();
  return {
    fanout,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        clearTimeout(timer);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('close', resolve);
        child.stdin.end();
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

// ------------------------------------------------------------------ helpers: nginx, CPU, REST
function freePort() {
  return new Promise((resolve) => {
    const s = netServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
async function startNginx(dir) {
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\nerror_log ${dir}/error.log warn;\npid ${dir}/nginx.pid;\nevents { worker_connections 64; }\nrtmp { server { listen 127.0.0.1:${port}; chunk_size 4096; application live { live on; record off; } } }\n`);
  const child = spawn('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'], { stdio: 'ignore' });
  await sleep(400);
  const closed = new Promise((r) => child.once('close', r));
  return { url: `rtmp://127.0.0.1:${port}/live`, pid: child.pid, stop: () => (child.kill('SIGTERM'), closed) };
}

const TICKS = 100; // USER_HZ on Linux
function descendants(root) {
  const kids = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(p));
    } catch {}
  }
  const out = [];
  const walk = (pid) => (kids.get(pid) ?? []).forEach((k) => (out.push(k), walk(k)));
  walk(root);
  return out;
}
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}
/** Cores used by this process and its children (except `exclude`, e.g. nginx) over `ms`. */
async function measureCpu(ms, exclude = []) {
  const pids = descendants(process.pid).filter((p) => !exclude.includes(p));
  const before = new Map(pids.map((p) => [p, cpuTicks(p)]));
  const self0 = process.cpuUsage();
  const t0 = Date.now();
  await sleep(ms);
  const self = process.cpuUsage(self0);
  let ticks = 0;
  for (const [p, b] of before) {
    const a = cpuTicks(p);
    if (a !== undefined && b !== undefined) ticks += a - b;
  }
  const secs = (Date.now() - t0) / 1000;
  return { cores: ticks / TICKS / secs + (self.user + self.system) / 1e6 / secs, node: (self.user + self.system) / 1e6 / secs };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (n, d = 2) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(d));

// ------------------------------------------------------------------ main
const dir = mkdtempSync(join(tmpdir(), 'bench-broadcast-'));
const KEY = '4713';
const SECRET = 'bench-broadcast-secret-0123456789abcdef';
const compositions = new BenchCompositions();
const server = await createServer({ port: 0, outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey: KEY, apiSecret: SECRET, dataDir: join(dir, 'data'), logLevel: 'silent' }, { compositions });
const nginx = await startNginx(dir);
const OpenTok = require('opentok');
const ot = new OpenTok(KEY, SECRET, server.url);
const p = (fn) => new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
const { WebSocket } = await import('ws');
const { REALTIME_PATH } = await import('@tokhost/protocol');
const results = {};
let browser;
let ws;
try {
  const { sessionId } = await p((cb) => ot.createSession({ mediaMode: 'routed' }, cb));
  ws = new WebSocket(server.url.replace('http', 'ws') + REALTIME_PATH);
  await new Promise((r) => ws.once('open', r));
  const connected = new Promise((r) => ws.once('message', r));
  ws.send(JSON.stringify({ type: 'connect', version: 1, apiKey: KEY, sessionId, token: ot.generateToken(sessionId) }));
  await connected;

  browser = hasChromium ? await launchChromium() : undefined;

  /** Start a broadcast; resolve the times to RTMP live and to HLS live (ms from the start call). */
  async function startTimed(options) {
    const t0 = Date.now();
    const b = await p((cb) => ot.startBroadcast(sessionId, options, cb));
    const times = {};
    while (Date.now() - t0 < 20_000 && (times.hls === undefined || (options.outputs.rtmp && times.rtmp === undefined))) {
      const g = await p((cb) => ot.getBroadcast(b.id, cb));
      if (times.hls === undefined && g.broadcastUrls?.hlsStatus === 'live') times.hls = Date.now() - t0;
      if (times.rtmp === undefined && g.broadcastUrls?.rtmp?.every((r) => r.status === 'live')) times.rtmp = Date.now() - t0;
      await sleep(25);
    }
    return { b, url: (await p((cb) => ot.getBroadcast(b.id, cb))).broadcastUrls.hls, times };
  }

  async function hlsLatency(url) {
    if (!browser) return undefined;
    const page = await browser.newPage();
    try {
      await page.setContent(`<video id="v" muted playsinline width="${W}" height="${H}"></video><canvas id="c" width="${W}" height="${BAR_Y + BLOCK}"></canvas>`);
      await page.addScriptTag({ path: require.resolve('hls.js/dist/hls.min.js') });
      return await page.evaluate(
        async ({ src, ms, BITS, BLOCK, BAR_X, BAR_Y, W }) => {
          const v = document.getElementById('v');
          const ctx = document.getElementById('c').getContext('2d', { willReadFrequently: true });
          const hls = new window.Hls();
          hls.loadSource(src);
          hls.attachMedia(v);
          await v.play().catch(() => {});
          const samples = [];
          const startedAt = Date.now();
          await new Promise((resolve) => {
            const onFrame = () => {
              ctx.drawImage(v, 0, 0);
              const px = ctx.getImageData(0, 0, W, BAR_Y + BLOCK).data;
              let ts = 0;
              for (let i = 0; i < BITS; i++) ts = ts * 2 + (px[((BAR_Y + BLOCK / 2) * W + BAR_X + i * BLOCK + BLOCK / 2) * 4] < 128 ? 1 : 0);
              const now = Date.now() % 2 ** BITS;
              if (v.currentTime > 0) samples.push((now - ts + 2 ** BITS) % 2 ** BITS);
              if (samples.length > 0 && Date.now() - startedAt > ms + 3000) return resolve();
              if (Date.now() - startedAt > ms + 25000) return resolve();
              v.requestVideoFrameCallback(onFrame);
            };
            v.requestVideoFrameCallback(onFrame);
          });
          hls.destroy();
          // Drop the first second of playback (the player may still be settling on the live edge).
          return samples.slice(25);
        },
        { src: url, ms: MEASURE_MS, BITS, BLOCK, BAR_X, BAR_Y, W },
      );
    } finally {
      await page.close();
    }
  }

  async function rtmpLatency(url) {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-rw_timeout', '10000000', '-i', url, '-an', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${W}x${H}`, 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const closed = new Promise((r) => child.once('close', r));
    const samples = [];
    let buf = Buffer.alloc(0);
    const size = W * H;
    child.stdout.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= size) {
        samples.push(latencyOf(readBarcode(buf)));
        buf = buf.subarray(size);
      }
    });
    await Promise.race([sleep(MEASURE_MS + 6000), closed]);
    child.kill('SIGINT');
    await closed;
    return samples.slice(25);
  }

  if (!process.env.BENCH_ONLY_REAL) {
  // 1 + 2: normal broadcast, HLS + RTMP.
  console.log('[bench] normal broadcast: HLS (2 s segments) + RTMP to nginx-rtmp…');
  const normal = await startTimed({ outputs: { hls: {}, rtmp: [{ id: 'nginx', serverUrl: nginx.url, streamName: 'bench' }] } });
  results.toHlsLiveMs = normal.times.hls;
  results.toRtmpLiveMs = normal.times.rtmp;
  const [hlsNormal, rtmpLat] = await Promise.all([hlsLatency(normal.url), rtmpLatency(`${nginx.url}/bench`)]);
  results.hlsNormal = hlsNormal;
  results.rtmp = rtmpLat;
  await p((cb) => ot.stopBroadcast(normal.b.id, cb));

  console.log('[bench] lowLatency broadcast: HLS (1 s segments)…');
  const low = await startTimed({ outputs: { hls: { lowLatency: true } } });
  results.toHlsLiveLowMs = low.times.hls;
  results.hlsLow = await hlsLatency(low.url);
  await p((cb) => ot.stopBroadcast(low.b.id, cb));
  await browser?.close();
  browser = undefined;

  // 3: CPU.
  console.log(`[bench] CPU, ${MEASURE_MS / 1000} s windows after a 3 s warm-up…`);
  const spec = { apiKey: KEY, sessionId, canvas: { width: W, height: H }, layout: { type: 'bestFit' }, streamMode: 'auto', hasAudio: true, hasVideo: true };
  const logger = { info() {}, warn() {}, debug() {} };
  const fileSink = (lease, name) => {
    const s = new RemuxSink({ logger, name, outputArgs: ['-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-y', join(dir, `${name}.mp4`)] });
    s.start(lease.output);
    return s;
  };
  const window = async () => (await sleep(3000), measureCpu(MEASURE_MS, [nginx.pid]));
  const bcOptions = { outputs: { hls: {}, rtmp: [{ serverUrl: nginx.url, streamName: 'cpu' }] } };
  {
    const lease = await compositions.acquire(spec);
    results.cpuEncoder = await window();
    const archive = fileSink(lease, 'archive-alone');
    results.cpuArchive = await window();
    await archive.close();
    await lease.release();
  }
  {
    const b = await p((cb) => ot.startBroadcast(sessionId, bcOptions, cb));
    results.cpuBroadcast = await window();
    await p((cb) => ot.stopBroadcast(b.id, cb));
  }
  {
    const lease = await compositions.acquire(spec);
    const archive = fileSink(lease, 'archive-shared');
    const b = await p((cb) => ot.startBroadcast(sessionId, bcOptions, cb));
    results.encodersShared = compositions.encoders.size;
    results.cpuShared = await window();
    await p((cb) => ot.stopBroadcast(b.id, cb));
    await archive.close();
    await lease.release();
  }
  {
    compositions.shared = false;
    const lease = await compositions.acquire(spec);
    const archive = fileSink(lease, 'archive-separate');
    const b = await p((cb) => ot.startBroadcast(sessionId, bcOptions, cb));
    results.encodersSeparate = compositions.encoders.size;
    results.cpuSeparate = await window();
    await p((cb) => ot.stopBroadcast(b.id, cb));
    await archive.close();
    await lease.release();
  }
  }


  async function realPipeline() {
    const out = {};
    const real = await createServer({ port: 0, outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey: KEY, apiSecret: SECRET, dataDir: join(dir, 'real'), logLevel: 'silent', mediaWorkers: 1 });
    const rot = new OpenTok(KEY, SECRET, real.url);
    const pub = await launchChromium();
    const viewer = await launchChromium();
    const exclude = () => [nginx.pid, ...descendants(process.pid).filter((pid) => /chrom/i.test(commOf(pid)))];
    try {
      const { sessionId } = await p((cb) => rot.createSession({ mediaMode: 'routed' }, cb));
      const publish = async (barcode) => {
        const page = await pub.newPage();
        // An http://127.0.0.1 page is a secure context (getUserMedia); about:blank is not.
        await page.goto(`${real.url}/openapi.json`);
        await page.setContent('<div id="me"></div>');
        await page.addScriptTag({ url: `${real.url}/js/tokhost.js` });
        await page.evaluate(
          async ({ apiKey, sessionId, token, serverUrl, barcode, W, H, BITS, BLOCK, BAR_X, BAR_Y }) => {
            const c = document.createElement('canvas');
            c.width = W;
            c.height = H;
            const ctx = c.getContext('2d');
            let n = 0;
            const draw = () => {
              ctx.fillStyle = barcode ? '#606060' : '#3050c0';
              ctx.fillRect(0, 0, W, H);
              ctx.fillStyle = '#e0e0e0';
              ctx.fillRect((n++ * 8) % (W - 96), 200, 96, 96);
              if (barcode) {
                ctx.fillStyle = '#ffffff';
                ctx.fillRect(0, BAR_Y - 8, W, BLOCK + 16);
                const ts = Date.now() % 2 ** BITS;
                ctx.fillStyle = '#000000';
                for (let i = 0; i < BITS; i++) if (Math.floor(ts / 2 ** (BITS - 1 - i)) % 2) ctx.fillRect(BAR_X + i * BLOCK, BAR_Y, BLOCK, BLOCK);
              }
            };
            draw();
            setInterval(draw, 40);
            const track = c.captureStream(25).getVideoTracks()[0];
            const session = window.OT.initSession(apiKey, sessionId, { serverUrl });
            await new Promise((resolve, reject) => session.connect(token, (e) => (e ? reject(e) : resolve())));
            const publisher = window.OT.initPublisher('me', { videoSource: track, resolution: `${W}x${H}`, frameRate: 25, insertDefaultUI: false }, () => {});
            await new Promise((resolve, reject) => session.publish(publisher, (e) => (e ? reject(e) : resolve())));
          },
          { apiKey: KEY, sessionId, token: rot.generateToken(sessionId, { role: 'publisher' }), serverUrl: real.url, barcode, W, H, BITS, BLOCK, BAR_X, BAR_Y },
        );
        return page;
      };
      await publish(true);
      await sleep(2000);
      const timed = async (options) => {
        const t0 = Date.now();
        const b = await p((cb) => rot.startBroadcast(sessionId, options, cb));
        const times = {};
        while (Date.now() - t0 < 20_000 && (times.hls === undefined || (options.outputs.rtmp && times.rtmp === undefined))) {
          const g = await p((cb) => rot.getBroadcast(b.id, cb));
          if (times.hls === undefined && g.broadcastUrls?.hlsStatus === 'live') times.hls = Date.now() - t0;
          if (times.rtmp === undefined && g.broadcastUrls?.rtmp?.every((r) => r.status === 'live')) times.rtmp = Date.now() - t0;
          await sleep(25);
        }
        return { b, url: (await p((cb) => rot.getBroadcast(b.id, cb))).broadcastUrls.hls, times };
      };
      const normal = await timed({ outputs: { hls: {}, rtmp: [{ serverUrl: nginx.url, streamName: 'real' }] } });
      out.toHlsLiveMs = normal.times.hls;
      out.toRtmpLiveMs = normal.times.rtmp;
      const savedBrowser = browser;
      browser = viewer;
      const [hls, rtmp] = await Promise.all([hlsLatency(normal.url), rtmpLatency(`${nginx.url}/real`)]);
      out.hlsNormal = hls;
      out.rtmp = rtmp;
      await p((cb) => rot.stopBroadcast(normal.b.id, cb));
      const low = await timed({ outputs: { hls: { lowLatency: true } } });
      out.toHlsLiveLowMs = low.times.hls;
      out.hlsLow = await hlsLatency(low.url);
      browser = savedBrowser;
      await p((cb) => rot.stopBroadcast(low.b.id, cb));
  
      // CPU with two publishers (bestFit 640x480), Chromium and nginx excluded; router workers included.
      await publish(false);
      await sleep(3000);
      const win = async () => (await sleep(3000), measureCpu(MEASURE_MS, exclude()));
      out.cpuIdle = await win();
      const a = await p((cb) => rot.startArchive(sessionId, { resolution: '640x480' }, cb));
      out.cpuArchive = await win();
      await p((cb) => rot.stopArchive(a.id, cb));
      await sleep(2000);
      const b1 = await p((cb) => rot.startBroadcast(sessionId, { outputs: { hls: {}, rtmp: [{ serverUrl: nginx.url, streamName: 'cpu-real' }] }, resolution: '640x480' }, cb));
      out.cpuBroadcast = await win();
      const a2 = await p((cb) => rot.startArchive(sessionId, { resolution: '640x480' }, cb));
      out.cpuBoth = await win();
      await p((cb) => rot.stopArchive(a2.id, cb));
      await p((cb) => rot.stopBroadcast(b1.id, cb));
    } finally {
      await pub.close();
      await viewer.close();
      await real.close();
    }
    return out;
  }
  function commOf(pid) {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  }

  // 4: the real pipeline: a Chromium publisher whose camera is a canvas drawing the same clock
  // barcode → WebRTC → router → compositor (decoder, layout, encoder) → HLS / RTMP. Its latency
  // is the glass-to-glass figure (the canvas is the glass); a second publisher joins for CPU.
  if (hasChromium && !process.env.BENCH_SKIP_REAL) {
    console.log('[bench] real compositor: canvas publishers in Chromium → router → compositor → HLS/RTMP…');
    results.real = await realPipeline();
  }
} finally {
  ws?.close();
  await browser?.close();
  await server.close();
  await nginx.stop();
  rmSync(dir, { recursive: true, force: true });
}


// ------------------------------------------------------------------ report
const lat = (xs) => (xs && xs.length ? `median ${fmt(pct(xs, 50) / 1000)} s, p90 ${fmt(pct(xs, 90) / 1000)} s (${xs.length} frames)` : 'n/a (no Chromium or no frames)');
const verdict = (ok) => (ok ? 'meets' : 'MISSES');
console.log('\nbench:broadcast (640x480 25 fps, H.264 1 Mbit/s + AAC, one machine, loopback)');
if (results.cpuSeparate) {
console.log(`  startBroadcast → RTMP live:            ${results.toRtmpLiveMs} ms   (target ≤ 3000 ms: ${verdict(results.toRtmpLiveMs <= 3000)})`);
console.log(`  startBroadcast → HLS live (1st seg):   ${results.toHlsLiveMs} ms (normal), ${results.toHlsLiveLowMs} ms (lowLatency)`);
console.log(`  latency HLS normal (hls.js):           ${lat(results.hlsNormal)}   (OpenTok 15–20 s: ${verdict(results.hlsNormal?.length && pct(results.hlsNormal, 50) < 15000)})`);
console.log(`  latency HLS lowLatency (hls.js):       ${lat(results.hlsLow)}   (OpenTok 4–6 s: ${verdict(results.hlsLow?.length && pct(results.hlsLow, 50) < 4000)})`);
console.log(`  latency RTMP (nginx → ffmpeg decode):  ${lat(results.rtmp)}   (OpenTok ≈ 5 s)`);
console.log(`  CPU, cores (this process + ffmpeg children, nginx excluded):`);
console.log(`    encoder alone (composition stand-in):   ${fmt(results.cpuEncoder.cores)}`);
console.log(`    archive (encoder + fMP4 remux):         ${fmt(results.cpuArchive.cores)}`);
console.log(`    broadcast (encoder + HLS + RTMP):       ${fmt(results.cpuBroadcast.cores)}`);
console.log(`    archive + broadcast, one encoder:       ${fmt(results.cpuShared.cores)}   (${results.encodersShared} encoder)`);
console.log(`    archive + broadcast, two encoders:      ${fmt(results.cpuSeparate.cores)}   (${results.encodersSeparate} encoders, baseline)`);
const one = Math.max(results.cpuArchive.cores, results.cpuBroadcast.cores);
console.log(`  shared / max(one alone) = ${fmt(results.cpuShared.cores / one)}×   (target ≤ 1.2×: ${verdict(results.cpuShared.cores / one <= 1.2)})`);
console.log(`  shared / two encoders   = ${fmt(results.cpuShared.cores / results.cpuSeparate.cores)}×`);
}
if (results.real) {
  const r = results.real;
  const pipelineCpu = (x) => fmt(x.cores - r.cpuIdle.cores);
  console.log('\n  real compositor (Chromium canvas publishers → router → compositor → encoder), 640x480:');
  console.log(`    startBroadcast → RTMP live:           ${r.toRtmpLiveMs} ms   (target ≤ 3000 ms: ${verdict(r.toRtmpLiveMs <= 3000)})`);
  console.log(`    startBroadcast → HLS live:            ${r.toHlsLiveMs} ms (normal), ${r.toHlsLiveLowMs} ms (lowLatency)`);
  console.log(`    glass-to-glass HLS normal (hls.js):   ${lat(r.hlsNormal)}   (OpenTok 15–20 s: ${verdict(r.hlsNormal?.length && pct(r.hlsNormal, 50) < 15000)})`);
  console.log(`    glass-to-glass HLS lowLatency:        ${lat(r.hlsLow)}   (OpenTok 4–6 s: ${verdict(r.hlsLow?.length && pct(r.hlsLow, 50) < 6000)})`);
  console.log(`    glass-to-glass RTMP:                  ${lat(r.rtmp)}`);
  console.log(`    CPU, cores (server + router workers + ffmpeg; Chromium, nginx excluded), two publishers:`);
  console.log(`      nothing composed (router only):      ${fmt(r.cpuIdle.cores)}`);
  console.log(`      archive alone:                       ${fmt(r.cpuArchive.cores)}   (+${pipelineCpu(r.cpuArchive)} over router only)`);
  console.log(`      broadcast alone (HLS + RTMP):        ${fmt(r.cpuBroadcast.cores)}   (+${pipelineCpu(r.cpuBroadcast)})`);
  console.log(`      archive + broadcast, same session:   ${fmt(r.cpuBoth.cores)}   (+${pipelineCpu(r.cpuBoth)})`);
  const oneReal = Math.max(r.cpuArchive.cores, r.cpuBroadcast.cores) - r.cpuIdle.cores;
  console.log(`    together / one alone (over router only) = ${fmt((r.cpuBoth.cores - r.cpuIdle.cores) / oneReal)}×   (target ≤ 1.2×: ${verdict((r.cpuBoth.cores - r.cpuIdle.cores) / oneReal <= 1.2)})`);
}
