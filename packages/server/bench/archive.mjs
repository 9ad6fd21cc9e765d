// `npm run bench:archive`: CPU of one composed recording and the time from stop to `available`.
//
// Inputs: camera-like VP8 + Opus WebM clips (640x480, 30 fps, ~800 kbps VP8 as Chromium sends,
// mono Opus), made once with ffmpeg and cached in the temp dir. Each clip is a different moving
// picture (testsrc2, mandelbrot, life, a rotating testsrc2) with temporal noise and a moving
// caption, so x264 and the decoders get real work, not a still frame.
//
// For each case (A: 640x480 canvas with 2 streams, B: 1280x720 with 4; bestFit) it runs, one
// after the other, on the same clips played in real time (`-re`):
//  (i)   Tokhost: the server's own Compositor (per-stream ffmpeg decoders -> I420 blit + PCM mix in
//        this Node process -> one libx264/AAC encoder -> MPEG-TS -> TsFanout) and the archive's
//        ArchiveFileSink (compose/outputs/archive-file.ts) (fragmented MP4), both imported from the BUILT server package
//        (packages/server/dist); at stop: compositor close (encoder flush), sink flush,
//        finalizeComposed (fast-start MP4), probe and sha256, as Archiver.finish/produce do;
//  (ii)  copy baseline: one `ffmpeg -re -i clip -c copy out.webm` per input;
//  (iii) static baseline: one ffmpeg with the same inputs, a fixed xstack of the same bestFit
//        boxes (scale + pad, 25 fps), amix, and the same libx264/AAC settings as Tokhost's encoder.
//
// CPU (cores) = CPU seconds / wall seconds over the same steady-state window in every pipeline
// (from 2 s after start to the stop). CPU seconds = Δ(utime+stime) from /proc/<pid>/stat of every
// process of the pipeline (for Tokhost: every child of this process, found by its ppid, plus
// process.cpuUsage() of this Node process, which does the composition; this process does nothing
// else during the window). A process that starts or ends inside the window would be miscounted,
// so the bench checks that the set of pids is the same at both ends.
//
// The real server path (createServer + startArchive/stopArchive) needs Chromium publishers, too
// heavy to benchmark here: the compositor and sink are the server's own classes, fed from files
// through the decoder's InputSource interface instead of an RTP tap.
//
// Options: --seconds=20 (recorded span per case) --cases=A,B --keep (keep the outputs).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = (p) => join(here, '..', 'dist', p);
const args = benchArgs();
const SECONDS = Number(args.seconds ?? 20);
const CASES = (args.cases ?? 'A,B').split(',');
const KEEP = 'keep' in args;
const PIPELINES = (args.pipelines ?? 'tokhost,copy,static').split(',');
const WARMUP = 2;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (n, d = 3) => n.toFixed(d);
const psi = () => {
  try {
    return /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'latin1'))?.[1] ?? '?';
  } catch {
    return '?';
  }
};
// Load average and the share of time some task waited for a CPU (Linux PSI, last 10 s).
const load = () => `${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (cpu pressure ${psi()}%)`;
const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.log(`  FAIL: ${msg}`);
};

const { Compositor } = await import(dist('compose/compositor.js'));
const { TsFanout } = await import(dist('compose/ts-fanout.js'));
const { defaultMaxBitrate, x264Preset } = await import(dist('compose/encoder.js'));
const { computeLayout } = await import(dist('compose/layout/index.js'));
const { ArchiveFileSink } = await import(dist('compose/outputs/archive-file.js'));
const { finalizeComposed, probeDuration, sha256File } = await import(dist('recording/media-files.js'));
const tools = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };

// ------------------------------------------------------------------------------------ clips
const SOURCES = [
  'testsrc2=size=640x480:rate=30',
  'mandelbrot=size=640x480:rate=30:maxiter=256',
  'life=size=160x120:rate=30:ratio=0.25:mold=8:life_color=#40ff90:death_color=#203a60,scale=640:480:flags=neighbor,format=yuv420p',
  "testsrc2=size=640x480:rate=30,hue=H=2*PI*t/8,rotate=a='0.15*sin(t)':fillcolor=gray",
];
const FREQS = [220, 330, 440, 550];

function makeClip(i, dir, length) {
  const file = join(dir, `cam${i}-${length}s-v${i === 2 ? 2 : 1}.webm`);
  if (existsSync(file) && statSync(file).size > 100_000) return file;
  const font = existsSync(FONT) ? `fontfile=${FONT}:` : '';
  const caption = `drawtext=${font}text='camera ${i} %{pts\\:hms}':fontsize=34:fontcolor=white:box=1:boxcolor=black@0.5:x='mod(t*90\\,w-tw)':y='h*0.7+60*sin(t*1.3)'`;
  const graph = `${SOURCES[i]},noise=alls=10:allf=t+u,${caption},format=yuv420p[v];` + `sine=frequency=${FREQS[i]}:sample_rate=48000,volume=0.3[s];anoisesrc=color=pink:amplitude=0.02:sample_rate=48000:seed=${i + 1}[n];[s][n]amix=inputs=2:normalize=0,asetnsamples=n=960:p=0[a]`;
  const r = spawnSync(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-filter_complex', graph, '-map', '[v]', '-map', '[a]', '-t', String(length),
      // Like Chromium's sender: realtime VP8 at a constant ~800 kbps, keyframes rarely (on PLI).
      '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-minrate', '800k', '-maxrate', '800k', '-bufsize', '800k', '-g', '900', '-auto-alt-ref', '0', '-lag-in-frames', '0',
      '-c:a', 'libopus', '-b:a', '32k', '-ac', '1', `${file}.tmp.webm`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (r.status !== 0) throw new Error(`could not make clip ${i}: ${r.stderr.toString().trim()}`);
  spawnSync('mv', [`${file}.tmp.webm`, file]);
  return file;
}

// ------------------------------------------------------------------------------------ CPU
function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after the name: state(3) ppid(4) ... utime(14) stime(15): index = field - 3
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}
function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}
function childrenOf(ppid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.ppid === ppid) out.push(Number(name));
  }
  return out;
}
function role(pid) {
  const c = cmdline(pid);
  if (c.includes('libx264')) return 'encoder (x264+aac)';
  if (c.includes('yuv4mpegpipe') || c.includes('s16le')) return 'decoders (vp8+opus, scale)';
  if (c.includes('mpegts')) return 'file sink (TS->fMP4 copy)';
  return c.slice(0, 3).join(' ');
}
/** CPU ticks of each pid, plus this process's own CPU (µs) when `self`. */
function sample(pids, self) {
  const ticks = new Map();
  const roles = new Map();
  for (const p of pids) {
    const st = procStat(p);
    if (st) ticks.set(p, st.ticks);
    roles.set(p, role(p));
  }
  const cpu = self ? process.cpuUsage() : null;
  return { at: performance.now(), ticks, roles, self: cpu ? cpu.user + cpu.system : 0 };
}
/** Cores and per-role breakdown between two samples; the pid sets must match. */
function cores(a, b, label) {
  const wall = (b.at - a.at) / 1000;
  const byRole = new Map();
  let total = 0;
  for (const [pid, t0] of a.ticks) {
    const t1 = b.ticks.get(pid);
    if (t1 === undefined) {
      fail(`${label}: process ${pid} (${a.roles.get(pid)}) ended inside the measuring window`);
      continue;
    }
    const s = (t1 - t0) / CLK_TCK;
    total += s;
    const r = a.roles.get(pid);
    byRole.set(r, (byRole.get(r) ?? 0) + s);
  }
  for (const pid of b.ticks.keys()) if (!a.ticks.has(pid)) fail(`${label}: process ${pid} started inside the measuring window`);
  if (b.self || a.self) {
    const s = (b.self - a.self) / 1e6;
    total += s;
    byRole.set('node compositor (blit, mix, pipes)', s);
  }
  return { wall, cpuSeconds: total, cores: total / wall, byRole };
}

// ------------------------------------------------------------------------------------ output checks
function ffprobeJson(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height,nb_frames,avg_frame_rate:format=duration,size', '-of', 'json', file]);
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr.toString().trim()}`);
  return JSON.parse(r.stdout.toString());
}
function topLevelAtoms(file) {
  const fd = openSync(file, 'r');
  const atoms = [];
  const size = statSync(file).size;
  let pos = 0;
  const h = Buffer.alloc(16);
  while (pos + 8 <= size && atoms.length < 50) {
    readSync(fd, h, 0, 16, pos);
    let len = h.readUInt32BE(0);
    const type = h.toString('latin1', 4, 8);
    if (len === 1) len = Number(h.readBigUInt64BE(8));
    else if (len === 0) len = size - pos;
    atoms.push(type);
    if (len < 8) break;
    pos += len;
  }
  closeSync(fd);
  return atoms;
}
/** Luma mean and standard deviation of the centre half of each box in one decoded frame. */
function boxLuma(file, at, width, height, boxes) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-ss', String(at), '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { maxBuffer: 64 << 20 });
  if (r.status !== 0 || r.stdout.length !== width * height) throw new Error(`could not decode a frame at ${at} s: ${r.stderr.toString().trim()}`);
  return boxes.map((b) => {
    let n = 0;
    let sum = 0;
    let sq = 0;
    for (let y = b.y + Math.floor(b.height / 4); y < b.y + Math.floor((3 * b.height) / 4); y++)
      for (let x = b.x + Math.floor(b.width / 4); x < b.x + Math.floor((3 * b.width) / 4); x++) {
        const v = r.stdout[y * width + x];
        n++;
        sum += v;
        sq += v * v;
      }
    const mean = sum / n;
    return { mean, sd: Math.sqrt(Math.max(0, sq / n - mean * mean)) };
  });
}
function meanVolume(file) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', file, '-map', '0:a:0', '-af', 'volumedetect', '-f', 'null', '-']);
  const m = /mean_volume: (-?[\d.]+) dB/.exec(r.stderr.toString());
  return m ? Number(m[1]) : -Infinity;
}

/** The output checked as a person would: codecs, size, duration, fast start, pictures, sound. */
function checkOutput(label, file, { width, height, span, boxes, fps }) {
  const p = ffprobeJson(file);
  const v = p.streams.find((s) => s.codec_type === 'video');
  const a = p.streams.find((s) => s.codec_type === 'audio');
  const duration = Number(p.format.duration);
  const atoms = topLevelAtoms(file);
  console.log(`  ${label} output: ${v?.codec_name} ${v?.width}x${v?.height} ${v?.avg_frame_rate} fps, ${v?.nb_frames} frames + ${a?.codec_name}; ${fmt(duration, 2)} s, ${(Number(p.format.size) / 1e6).toFixed(2)} MB; atoms ${atoms.join(',')}`);
  if (v?.codec_name !== 'h264') fail(`${label}: video is ${v?.codec_name}, not h264`);
  if (a?.codec_name !== 'aac') fail(`${label}: audio is ${a?.codec_name}, not aac`);
  if (v?.width !== width || v?.height !== height) fail(`${label}: video is ${v?.width}x${v?.height}, not ${width}x${height}`);
  if (span !== undefined && !(Math.abs(duration - span) <= 1)) fail(`${label}: duration ${fmt(duration, 2)} s is not within 1 s of the recorded ${fmt(span, 2)} s`);
  if (v && Number(v.nb_frames) < duration * fps * 0.97)
    fail(`${label}: ${v.nb_frames} frames in ${fmt(duration, 2)} s at ${fps} fps: frames are missing (the pipeline did not keep real time: its CPU figure is not valid)`);
  if (span !== undefined && atoms.indexOf('moov') > atoms.indexOf('mdat')) fail(`${label}: not fast-start (moov after mdat)`);
  const lumas = boxLuma(file, Math.max(1, duration / 2), width, height, boxes);
  console.log(`  ${label} frame at ${fmt(duration / 2, 1)} s, luma mean/sd per box: ${lumas.map((l) => `${l.mean.toFixed(0)}/${l.sd.toFixed(0)}`).join('  ')}`);
  lumas.forEach((l, i) => {
    if (l.sd < 8) fail(`${label}: box ${i} looks empty (luma sd ${l.sd.toFixed(1)})`);
  });
  const vol = meanVolume(file);
  console.log(`  ${label} audio mean volume ${vol} dB`);
  if (!(vol > -40)) fail(`${label}: audio is silent (${vol} dB)`);
}

// ------------------------------------------------------------------------------------ pipelines
const waitExit = (child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r)));
const ff = (argv) => spawn('ffmpeg', ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });

async function runTokhost(c, clips, dir) {
  const fanout = new TsFanout();
  const warnings = [];
  const compositor = new Compositor({
    width: c.width,
    height: c.height,
    hasAudio: true,
    hasVideo: true,
    layout: { type: 'bestFit' },
    onOutput: (chunk) => fanout.write(chunk),
    logger: { warn: (o, m) => warnings.push(`${m} ${JSON.stringify(o)}`), debug: () => undefined },
  });
  let recorderError = null;
  const recorder = new ArchiveFileSink({ dir, ffmpegPath: 'ffmpeg', hasVideo: true, hasAudio: true, logger: { info: () => undefined, warn: () => undefined, debug: () => undefined } });
  recorder.on('failed', (r) => (recorderError = r));
  fanout.onHoldChange((held) => compositor.setOutputHeld(held));
  recorder.start(fanout);
  compositor.on('failed', (r) => fail(`compositor failed: ${r}`));
  const t0 = performance.now();
  for (let i = 0; i < clips.length; i++) {
    await compositor.addStream(
      { streamId: `stream${i}`, connectionId: `conn${i}`, videoType: 'camera', layoutClassList: [], order: i, audio: true, video: true },
      { inputArgs: ['-re', '-i', clips[i]], close: async () => {} },
    );
  }
  await sleep(WARMUP * 1000 - (performance.now() - t0));
  const pids = childrenOf(process.pid);
  const s0 = sample(pids, true);
  await sleep(SECONDS * 1000 - (performance.now() - t0));
  const s1 = sample(pids, true);
  // Stop -> available, as Archiver.finish + produce: release (compositor close = encoder flush,
  // output end), sink flush, fast-start MP4, probe, sha256.
  const stopAt = performance.now();
  const span = compositor.outputSeconds;
  await compositor.close();
  fanout.end();
  await recorder.close();
  const parts = recorder.parts;
  const flushed = performance.now();
  const out = join(dir, 'archive.mp4');
  await finalizeComposed(tools, parts, out);
  const probed = await probeDuration(tools, out);
  const sha = await sha256File(out);
  const availableAt = performance.now();
  if (recorderError) fail(`file sink: ${recorderError}`);
  for (const w of warnings) fail(`compositor warning: ${w}`);
  return {
    cpu: cores(s0, s1, 'tokhost'),
    pids: pids.length,
    span,
    out,
    probed,
    sha,
    wallSeconds: (stopAt - t0) / 1000,
    flushSeconds: (flushed - stopAt) / 1000,
    finalSeconds: (availableAt - flushed) / 1000,
    availableSeconds: (availableAt - stopAt) / 1000,
  };
}

async function runChildren(label, spawnAll) {
  const t0 = performance.now();
  const children = spawnAll();
  const errs = children.map((ch) => {
    let e = '';
    ch.stderr.on('data', (d) => (e = (e + d).slice(-2000)));
    return () => e;
  });
  await sleep(WARMUP * 1000 - (performance.now() - t0));
  const pids = children.map((ch) => ch.pid);
  const s0 = sample(pids, false);
  await sleep(SECONDS * 1000 - (performance.now() - t0));
  const s1 = sample(pids, false);
  for (const ch of children) ch.kill('SIGINT'); // ffmpeg finishes its file on SIGINT
  await Promise.all(children.map(waitExit));
  children.forEach((ch, i) => {
    if (ch.exitCode !== 0 && ch.exitCode !== 255) fail(`${label}: ffmpeg exited ${ch.exitCode ?? ch.signalCode}: ${errs[i]().trim()}`);
  });
  return { cpu: cores(s0, s1, label), pids: pids.length };
}

function staticGraph(c, boxes) {
  const parts = boxes.map((b, i) => `[${i}:v]fps=25,scale=w=${b.width}:h=${b.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,pad=${b.width}:${b.height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1[v${i}]`);
  const layout = boxes.map((b) => `${b.x}_${b.y}`).join('|');
  const audio = boxes.map((_, i) => `[${i}:a]`).join('');
  return `${parts.join(';')};${boxes.map((_, i) => `[v${i}]`).join('')}xstack=inputs=${boxes.length}:layout=${layout}[v];${audio}amix=inputs=${boxes.length}:normalize=0,aformat=sample_rates=48000:channel_layouts=mono[a]`;
}

// ------------------------------------------------------------------------------------ main
console.log(`bench:archive — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, ${spawnSync('ffmpeg', ['-version']).stdout.toString().split('\n')[0]}`);
console.log(`load average at start: ${load()}`);
const clipDir = join(tmpdir(), 'tokhost-bench-archive-clips');
mkdirSync(clipDir, { recursive: true });
// Clips outlast the recording (the decoders read them once); one length for all runs up to 20 s keeps the cache.
const clipLength = Math.max(24, SECONDS + 4);
const tClips = performance.now();
const allClips = [0, 1, 2, 3].map((i) => makeClip(i, clipDir, clipLength));
for (const f of allClips) {
  const p = ffprobeJson(f);
  const v = p.streams.find((s) => s.codec_type === 'video');
  const a = p.streams.find((s) => s.codec_type === 'audio');
  console.log(`input ${f}: ${v.codec_name} ${v.width}x${v.height} + ${a.codec_name}, ${fmt(Number(p.format.duration), 1)} s, ${((Number(p.format.size) * 8) / Number(p.format.duration) / 1000).toFixed(0)} kbit/s`);
}
console.log(`inputs ready in ${fmt((performance.now() - tClips) / 1000, 1)} s (cached in ${clipDir})`);
console.log(`method: cores = CPU seconds (Δ utime+stime of /proc/<pid>/stat of each ffmpeg, + process.cpuUsage() of this Node process for Tokhost) / wall seconds, over the same window t=${WARMUP}..${SECONDS} s of every pipeline; clock ticks ${CLK_TCK}/s.`);
console.log('stop->available is measured on the compositor and file sink of the server (not through createServer + startArchive/stopArchive, which needs Chromium publishers: too heavy for a benchmark here).\n');

const CASE_DEFS = {
  A: { name: 'A: 640x480, 2 streams', width: 640, height: 480, streams: 2, target: 0.35 },
  B: { name: 'B: 1280x720, 4 streams', width: 1280, height: 720, streams: 4, target: 0.8 },
};
const results = [];
const work = mkdtempSync(join(tmpdir(), 'tokhost-bench-archive-'));
try {
  for (const key of CASES) {
    const c = CASE_DEFS[key];
    if (!c) throw new Error(`unknown case ${key} (A or B)`);
    const clips = allClips.slice(0, c.streams);
    const boxes = computeLayout(
      { type: 'bestFit' },
      clips.map((_, i) => ({ streamId: `stream${i}`, connectionId: `conn${i}`, videoType: 'camera', layoutClassList: [], order: i })),
      { width: c.width, height: c.height },
    );
    console.log(`== case ${c.name} (bestFit boxes ${boxes.map((b) => `${b.width}x${b.height}+${b.x}+${b.y}`).join(' ')}); load average ${load()}`);
    const dir = join(work, key);
    mkdirSync(dir);

    const tok = await runTokhost(c, clips, dir);
    console.log(`  (i)   Tokhost compositor + file sink: ${fmt(tok.cpu.cores)} cores (${fmt(tok.cpu.cpuSeconds, 2)} CPU s / ${fmt(tok.cpu.wall, 2)} s, ${tok.pids} ffmpeg + this node); load ${load()}`);
    for (const [r, s] of [...tok.cpu.byRole].sort((x, y) => y[1] - x[1])) console.log(`          ${r.padEnd(36)} ${fmt(s / tok.cpu.wall)} cores`);

    const copy = PIPELINES.includes('copy') ? await runChildren('copy', () => clips.map((clip, i) => ff(['-re', '-i', clip, '-map', '0', '-c', 'copy', '-y', join(dir, `copy${i}.webm`)]))) : null;
    if (copy) console.log(`  (ii)  ffmpeg -c copy, one per input:  ${fmt(copy.cpu.cores)} cores (${fmt(copy.cpu.cpuSeconds, 2)} CPU s / ${fmt(copy.cpu.wall, 2)} s, ${copy.pids} ffmpeg); load ${load()}`);

    const rate = defaultMaxBitrate(c.width, c.height);
    const staticOut = join(dir, 'static.mp4');
    const stat = !PIPELINES.includes('static') ? null : await runChildren('static', () => [
      ff([
        ...clips.flatMap((clip) => ['-re', '-i', clip]),
        '-filter_complex', staticGraph(c, boxes), '-map', '[v]', '-map', '[a]',
        // The same encoder settings as compose/encoder.ts (defaults: CRF 23 capped at the resolution's bitrate).
        '-c:v', 'libx264', '-preset', x264Preset(c.width, c.height), '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-threads', '2', '-crf', '23', '-maxrate', String(rate), '-bufsize', String(rate * 2),
        '-c:a', 'aac', '-b:a', '96k', '-y', staticOut,
      ]),
    ]);
    if (stat) console.log(`  (iii) static ffmpeg xstack+amix+x264: ${fmt(stat.cpu.cores)} cores (${fmt(stat.cpu.cpuSeconds, 2)} CPU s / ${fmt(stat.cpu.wall, 2)} s, 1 ffmpeg); load ${load()}`);
    if (stat && copy) console.log(`  ratios: Tokhost / static ffmpeg = ${fmt(tok.cpu.cores / stat.cpu.cores, 2)}x, Tokhost / copy = ${fmt(tok.cpu.cores / copy.cpu.cores, 1)}x`);
    console.log(`  stop -> available: ${fmt(tok.availableSeconds, 2)} s for ${fmt(tok.span, 2)} s recorded = ${fmt((100 * tok.availableSeconds) / tok.span, 1)}% of the duration (encoder + sink flush ${fmt(tok.flushSeconds, 2)} s, fast-start MP4 + probe + sha256 ${fmt(tok.finalSeconds, 2)} s); sha256 ${tok.sha}`);
    for (const [label, file, span] of [['Tokhost', tok.out, tok.span], ...(stat ? [['static', staticOut, undefined]] : [])]) {
      try {
        checkOutput(label, file, { width: c.width, height: c.height, span, boxes, fps: 25 });
      } catch (err) {
        fail(`${label}: ${err.message}`);
      }
    }
    results.push({ c, tok, copy, stat });
    console.log('');
  }
} finally {
  if (!KEEP) rmSync(work, { recursive: true, force: true });
  else console.log(`outputs kept in ${work}`);
}

console.log(`== targets (load average at end: ${load()}, ${os.cpus().length} CPUs)`);
for (const { c, tok, stat, copy } of results) {
  const ok = tok.cpu.cores <= c.target;
  console.log(`  ${c.name}: ${fmt(tok.cpu.cores)} cores <= ${c.target}: ${ok ? 'met' : 'MISSED'} (static ffmpeg ${stat ? fmt(stat.cpu.cores) : '-'}, copy ${copy ? fmt(copy.cpu.cores) : '-'})`);
  const frac = tok.availableSeconds / tok.span;
  console.log(`  ${c.name}: available ${fmt(tok.availableSeconds, 2)} s after stop <= ${fmt(tok.span / 4, 2)} s (a quarter of ${fmt(tok.span, 2)} s): ${frac <= 0.25 ? 'met' : 'MISSED'}`);
}
if (failures.length) {
  console.log(`\n${failures.length} check(s) FAILED:`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(1);
}
