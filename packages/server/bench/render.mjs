// `npm run bench:render`: CPU and memory of one 1280x720 Experience Composer render against the
// idle server, in the same run.
//
// The server runs in this process (createServer from the BUILT package, memory store, one media
// worker); a page served here on loopback draws a moving gradient (so the tab capture has frames
// to send all the time) and plays a 1 kHz tone. Two windows of --seconds (default 15) each:
//  (i)  idle: the server with one routed session and nothing in it;
//  (ii) render: the same server with one 1280x720 render published into that session (measured
//       from 3 s after it reached `started`).
// CPU (% of one core) = Δ(utime+stime) of this process and every descendant (media workers, the
// render's browser and its renderer, GPU and utility processes, found by ppid in /proc) over the
// window's wall time. Memory = the sum of their RSS at the end of the window (Chromium's processes
// share pages, which RSS counts once per process), and the sum of their PSS (shared pages split
// between the processes that map them: what the render really adds). The ratio render/idle is
// printed last, with the load average: the machine's other work slows the render, not the figures
// of this process tree.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = benchArgs();
const SECONDS = Number(args.seconds ?? 15);
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
const PAGE_SIZE = Number(spawnSync('getconf', ['PAGESIZE']).stdout.toString().trim()) || 4096;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

const { createServer } = await import(join(here, '..', 'dist', 'create-server.js'));
const OpenTok = (await import('opentok')).default;

/** pid → {ppid, ticks, rssBytes} of every process. */
function processes() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), rss: Number(f[21]) * PAGE_SIZE });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
/** Proportional set size of a process, bytes (0 when smaps_rollup cannot be read). */
function pss(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
/** This process and its descendants: CPU ticks, RSS and PSS summed. */
function tree() {
  const all = processes();
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of all) if (!mine.has(pid) && mine.has(p.ppid)) (mine.add(pid), (grew = true));
  }
  let ticks = 0;
  let rss = 0;
  let pssBytes = 0;
  for (const pid of mine) {
    const p = all.get(pid);
    if (p) (ticks += p.ticks), (rss += p.rss), (pssBytes += pss(pid));
  }
  return { ticks, rss, pss: pssBytes, count: mine.size };
}
async function measure(label) {
  const a = tree();
  const t0 = process.hrtime.bigint();
  await sleep(SECONDS * 1000);
  const b = tree();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = ((b.ticks - a.ticks) / CLK_TCK / wall) * 100;
  const mib = b.rss / 1048576;
  const pssMib = b.pss / 1048576;
  console.log(`  ${label.padEnd(22)} CPU ${cpu.toFixed(1).padStart(6)} % of one core   RSS ${mib.toFixed(0).padStart(5)} MiB   PSS ${pssMib.toFixed(0).padStart(5)} MiB   processes ${b.count}   (load average ${load()})`);
  return { cpu, mib, pssMib };
}

const page = `<!doctype html><html><body style="margin:0;overflow:hidden"><canvas id=c></canvas><script>
const c = document.getElementById('c'); c.width = innerWidth; c.height = innerHeight; const g = c.getContext('2d');
(function draw(t) { const h = (t / 20) % 360; const gr = g.createLinearGradient(0, 0, c.width, c.height);
  gr.addColorStop(0, 'hsl(' + h + ',80%,50%)'); gr.addColorStop(1, 'hsl(' + ((h + 180) % 360) + ',80%,50%)');
  g.fillStyle = gr; g.fillRect(0, 0, c.width, c.height); requestAnimationFrame(draw); })(0);
const a = new AudioContext(); const o = a.createOscillator(); o.frequency.value = 1000; o.connect(a.destination); o.start();
</script></body></html>`;
const pages = createHttpServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page));
await new Promise((r) => pages.listen(0, '127.0.0.1', r));
const pageUrl = `http://127.0.0.1:${pages.address().port}/`;

const apiKey = '4' + String(Date.now()).slice(-7);
const apiSecret = randomBytes(20).toString('hex');
const dataDir = mkdtempSync(join(tmpdir(), 'tokhost-bench-render-'));
const server = await createServer({ port: 0, host: '127.0.0.1', store: 'memory', logLevel: 'warn', dataDir, apiKey, apiSecret, mediaWorkers: 1, outboundAllow: ['127.0.0.0/8'] });
const ot = new OpenTok(apiKey, apiSecret, server.url);
const call = (f) => new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));
let code = 0;
try {
  const { sessionId } = await call((cb) => ot.createSession({ mediaMode: 'routed' }, cb));
  console.log(`bench:render — ${SECONDS} s windows, ${os.cpus().length} CPUs`);
  await sleep(2000);
  const idle = await measure('idle server');
  const t0 = Date.now();
  const render = await call((cb) => ot.startRender({ sessionId, token: ot.generateToken(sessionId, { role: 'publisher' }), url: pageUrl, resolution: '1280x720' }, cb));
  let r = render;
  while (r.status === 'starting' && Date.now() - t0 < 120_000) {
    await sleep(250);
    r = await call((cb) => ot.getRender(render.id, cb));
  }
  if (r.status !== 'started') throw new Error(`render did not start: ${r.status} ${r.reason ?? ''}`);
  console.log(`  render started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await sleep(3000);
  const busy = await measure('one 1280x720 render');
  await call((cb) => ot.stopRender(render.id, cb));
  console.log(`  ratio render/idle: CPU ${(busy.cpu / Math.max(idle.cpu, 0.1)).toFixed(1)}x (+${(busy.cpu - idle.cpu).toFixed(1)} % of one core), RSS ${(busy.mib / idle.mib).toFixed(1)}x (+${(busy.mib - idle.mib).toFixed(0)} MiB), PSS ${(busy.pssMib / Math.max(idle.pssMib, 1)).toFixed(1)}x (+${(busy.pssMib - idle.pssMib).toFixed(0)} MiB)`);
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await server.close();
  pages.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
