// `npm run bench:realtime`: 1,000 protocol clients (Node, no browsers) connect with tokens to
// one session of a real Tokhost server (SQLite store) running in a child process; then one REST
// signal goes to the whole session. Prints connects/s, delivered count, p50/p99 delivery latency and the
// server's memory before and after. Baseline, measured in the same run: a bare `ws` server in a
// child process (no tokens, no protocol) that accepts the same clients and broadcasts one message.
//
// Options: --clients N (default 1000), --concurrency N (connects in flight, default 100),
// --warmup N (clients of an unmeasured run first, per server and mode; default 1000),
// --client lean|ws (load generator: lean raw-TCP WebSocket client, default, or the ws library's),
// --mode both|suppressed|events (Tokhost runs: clients with connectionEventsSuppressed, clients
// that get every connection event, or both one after the other on the same server; default both).
// Environment: BENCH_PROF=dir writes CPU profiles of each connect phase (servers' side),
// BENCH_PERF=1 starts the servers with --perf-basic-prof (for `perf record`), BENCH_SYS=1 prints
// the servers' user/system CPU at each measuring point.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { leanConnect, leanStats } from './lean-ws.mjs';

const require = createRequire(import.meta.url);
const { WebSocket } = require('ws');
// Load generator: `lean` (default; raw TCP + minimal framing, see lean-ws.mjs) or `ws` (the ws library's client).
const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const N = arg('clients', 1000);
const CONCURRENCY = arg('concurrency', 100);
// Clients connected (and closed) first, per server and mode, so the measured run is not the JIT's first.
const WARMUP = arg('warmup', 1000);
// Which Tokhost runs: both (default), suppressed, events.
const MODE = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'both';
/** Set once every client joined: from then on frames are checked for the bench signal. */
let measuring = false;
const CLIENT = process.argv.includes('--client') ? process.argv[process.argv.indexOf('--client') + 1] : 'lean';

// ----------------------------------------------------------------------------------------------
// Child: a server process (Tokhost or the bare baseline), driven over IPC.
if (process.argv[2] === '--child') {
  const kind = process.argv[3];
  const memory = () => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed };
  };
  // BENCH_PROF=dir: CPU profile of each connect phase only (started and stopped over IPC).
  let profiler = null;
  const profile = async (m) => {
    if (!process.env.BENCH_PROF) return;
    if (m === 'profStart') {
      const { Session } = await import('node:inspector');
      profiler = new Session();
      profiler.connect();
      profiler.post('Profiler.enable');
      profiler.post('Profiler.start');
    } else if (m === 'profStop' && profiler) {
      const { writeFileSync, mkdirSync } = await import('node:fs');
      profiler.post('Profiler.stop', (err, { profile: prof }) => {
        mkdirSync(process.env.BENCH_PROF, { recursive: true });
        writeFileSync(`${process.env.BENCH_PROF}/${kind}-${Date.now()}.cpuprofile`, JSON.stringify(prof));
        profiler.disconnect();
        profiler = null;
      });
    }
  };
  process.on('message', profile);
  const cpu = () => {
    const u = process.cpuUsage();
    if (process.env.BENCH_SYS) console.error(`[${kind}] user ${(u.user / 1000).toFixed(0)} ms, sys ${(u.system / 1000).toFixed(0)} ms`);
    return (u.user + u.system) / 1000;
  };
  if (kind === 'tokhost') {
    const { createServer } = await import('@tokhost/server');
    // The default store (SQLite, as `tokhost serve` runs it), in a throw-away data dir.
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dataDir = mkdtempSync(`${tmpdir()}/tokhost-bench-rt-`);
    process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
    const server = await createServer({ port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], dataDir, apiKey: process.argv[4], apiSecret: process.argv[5], logLevel: 'warn' });
    process.send({ url: server.url });
    process.on('message', async (m) => {
      if (m === 'mem') process.send({ mem: memory(), cpuMs: cpu() });
      if (m === 'close') {
        await server.close();
        process.exit(0);
      }
    });
  } else {
    const { createServer } = await import('node:http');
    const { WebSocketServer } = require('ws');
    const http = createServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
    wss.on('connection', (ws) => ws.once('message', () => ws.send(JSON.stringify({ type: 'hello' }))));
    http.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${http.address().port}` }));
    process.on('message', (m) => {
      if (m === 'mem') process.send({ mem: memory(), cpuMs: cpu() });
      if (m === 'broadcast') {
        const text = JSON.stringify({ type: 'signal', signalType: 'bench', data: 'x' });
        for (const ws of wss.clients) ws.send(text);
        process.send({ broadcast: true });
      }
      if (m === 'close') {
        for (const ws of wss.clients) ws.terminate();
        http.close(() => process.exit(0));
      }
    });
  }
} else {
  await main();
}

function startChild(args) {
  const child = fork(fileURLToPath(import.meta.url), ['--child', ...args], { execArgv: ['--expose-gc', ...(process.env.BENCH_PERF ? ['--perf-basic-prof'] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiters = [];
  child.on('message', (m) => {
    const i = waiters.findIndex((w) => w.key in m);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
  });
  const ask = (msg, key) =>
    new Promise((resolve) => {
      waiters.push({ key, resolve });
      if (msg) child.send(msg);
    });
  return { child, ask, ready: ask(null, 'url') };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Open `n` sockets, `concurrency` at a time; `hello(ws, i)` sends the first frame, `isReady(msg)` says joined. */
async function connectAll(wsUrl, n, concurrency, hello, onMessage) {
  const sockets = new Array(n);
  let next = 0;
  const t0 = performance.now();
  const open = (i, handlers) => {
    if (CLIENT === 'lean') return leanConnect(wsUrl, { onOpen: handlers.open, onText: handlers.message, onError: handlers.error });
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    ws.on('open', () => handlers.open(ws));
    ws.on('error', handlers.error);
    ws.on('message', (raw) => handlers.message(raw));
    return ws;
  };
  const handshakeMs = [];
  const joinMs = [];
  const one = (i) =>
    new Promise((resolve, reject) => {
      let joined = false;
      const started = performance.now();
      let opened = 0;
      const ws = open(i, {
        open: (w) => {
          opened = performance.now();
          handshakeMs.push(opened - started);
          hello(w, i);
        },
        error: reject,
        message: onRaw,
      });
      sockets[i] = ws;
      function onRaw(raw) {
        // The bench measures the server: these clients share its CPU, so they parse only the
        // frames they act on (refusals and the bench signal); for the others they read what
        // they need (join answer, last `seq` to ack) straight from the bytes.
        // Refusals come before the join, the bench signal only once everyone joined (`measuring`).
        if ((measuring && raw.includes('"signalType":"bench"')) || (!joined && raw.includes('"type":"error"'))) {
          const text = raw.toString();
          const msgs = text.charCodeAt(0) === 91 /* [ */ ? JSON.parse(text) : [JSON.parse(text)];
          for (const m of msgs) {
            if (!joined && m.type === 'error') reject(new Error(`client ${i} refused: ${m.error.code} ${m.error.message}`));
            onMessage(ws, i, m);
          }
          return;
        }
        // The join answer is the first message; its type is near the start of the frame.
        if (!joined && (raw.subarray(0, 64).includes('"type":"sessionConnected"') || raw.includes('"type":"hello"'))) {
          joined = true;
          joinMs.push(performance.now() - opened);
          resolve();
        }
        const at = raw.lastIndexOf('{"seq":');
        if (at >= 0) onMessage(ws, i, { seq: parseInt(raw.toString('latin1', at + 7, at + 20), 10) });
      }
    });
  const worker = async () => {
    while (next < n) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  handshakeMs.sort((x, y) => x - y);
  joinMs.sort((x, y) => x - y);
  return { sockets, seconds, handshake: [percentile(handshakeMs, 50), percentile(handshakeMs, 99)], join: [percentile(joinMs, 50), percentile(joinMs, 99)] };
}


/** One Tokhost run: `N` clients join a new session, then one REST signal to all. */
async function runTokhost(srv, ot, url, suppressed, N) {
  const sessionId = await new Promise((resolve, reject) => ot.createSession({ mediaMode: 'relayed' }, (err, s) => (err ? reject(err) : resolve(s.sessionId))));
  const tokens = Array.from({ length: N }, () => ot.generateToken(sessionId, { role: 'publisher' }));
  const beforeInfo = await srv.ask('mem', 'mem');
  srv.child.send('profStart');
  const cpuClient0 = process.cpuUsage();
  const bytes0 = leanStats.bytes;
  const reads0 = leanStats.reads;
  const lastSeq = new Array(N).fill(0);
  const lastAckAt = new Array(N).fill(0);
  const arrivals = [];
  let t0 = 0;
  const wsUrl = url.replace('http', 'ws') + '/rtc/v1';
  const conn = await connectAll(
    wsUrl,
    N,
    CONCURRENCY,
    (ws, i) => ws.send(JSON.stringify({ type: 'connect', version: 1, apiKey: ot.apiKey, sessionId, token: tokens[i], batch: true, ...(suppressed ? { connectionEventsSuppressed: true } : {}) })),
    (ws, i, m) => {
      if (m.seq) {
        lastSeq[i] = m.seq;
        // Acknowledge about as often as the browser SDK does (every 128 messages or 1 s; these
        // clients do not count messages, so: at most every second), so the server can trim its log.
        const now = performance.now();
        if (now - lastAckAt[i] >= 1000) {
          ws.send(JSON.stringify({ type: 'ack', seq: lastSeq[i] }));
          lastAckAt[i] = now;
        }
      }
      if (m.type === 'signal' && m.signalType === 'bench') arrivals.push(performance.now() - t0);
    },
  );
  srv.child.send('profStop');
  // CPU right after the last join (like the baseline's); memory after the fan-out settled.
  const connectedInfo = await srv.ask('mem', 'mem');
  const cc = process.cpuUsage(cpuClient0);
  await new Promise((r) => setTimeout(r, 500));
  conn.sockets.forEach((ws, i) => ws.send(JSON.stringify({ type: 'ack', seq: lastSeq[i] })));
  const joinedInfo = await srv.ask('mem', 'mem');
  const joinBytes = leanStats.bytes - bytes0;
  const joinReads = leanStats.reads - reads0;
  t0 = performance.now();
  measuring = true;
  await new Promise((resolve, reject) => ot.signal(sessionId, null, { type: 'bench', data: 'hello everyone' }, (err) => (err ? reject(err) : resolve())));
  const restMs = performance.now() - t0;
  const deadline = Date.now() + 10_000;
  while (arrivals.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  measuring = false;
  const sorted = arrivals.sort((x, y) => x - y);
  conn.sockets.forEach((ws) => ws.close());
  await new Promise((r) => setTimeout(r, 500));
  const memAfter = (await srv.ask('mem', 'mem')).mem;
  return {
    conn,
    sorted,
    restMs,
    joinBytes,
    joinReads,
    serverCpuMs: connectedInfo.cpuMs - beforeInfo.cpuMs,
    clientCpuMs: (cc.user + cc.system) / 1000,
    memBefore: beforeInfo.mem,
    memJoined: joinedInfo.mem,
    memAfter,
  };
}

async function main() {
  const OpenTok = require('opentok');
  const apiKey = '7' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const mb = (b) => (b / 1048576).toFixed(1);

  // ---- baseline: bare ws server -------------------------------------------------------------
  const base = startChild(['bare']);
  const baseUrl = (await base.ready).url.replace('http', 'ws');
  // Warm-up (JIT) with fewer clients, for the baseline as for Tokhost below.
  if (WARMUP > 0) (await connectAll(baseUrl, WARMUP, CONCURRENCY, (ws) => ws.send('{"type":"connect"}'), () => undefined)).sockets.forEach((ws) => ws.terminate());
  const baseCpu0 = (await base.ask('mem', 'mem')).cpuMs;
  base.child.send('profStart');
  const baseArrivals = [];
  let baseT0 = 0;
  const baseConn = await connectAll(baseUrl, N, CONCURRENCY, (ws) => ws.send('{"type":"connect"}'), (_ws, _i, m) => {
    if (m.type === 'signal') baseArrivals.push(performance.now() - baseT0);
  });
  base.child.send('profStop');
  const baseCpuConnect = (await base.ask('mem', 'mem')).cpuMs - baseCpu0;
  baseT0 = performance.now();
  measuring = true;
  await base.ask('broadcast', 'broadcast');
  const bdeadline = Date.now() + 10_000;
  while (baseArrivals.length < N && Date.now() < bdeadline) await new Promise((r) => setTimeout(r, 5));
  baseConn.sockets.forEach((ws) => ws.terminate());
  await new Promise((r) => {
    base.child.once('exit', r);
    base.child.send('close');
  });
  measuring = false;
  const baseSorted = baseArrivals.sort((x, y) => x - y);

  // ---- Tokhost --------------------------------------------------------------------------------
  const srv = startChild(['tokhost', apiKey, apiSecret]);
  const { url } = await srv.ready;
  const ot = new OpenTok(apiKey, apiSecret, url);
  const baseConnectsPerSec = N / baseConn.seconds;
  const bp50 = percentile(baseSorted, 50);
  const bp99 = percentile(baseSorted, 99);
  console.log(`realtime bench: ${N} clients, ${CONCURRENCY} connecting at a time, one relayed session per run (${CLIENT} client); ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(2)} at start (other processes share these CPUs)`);
  console.log(`  baseline bare ws:    ${baseConnectsPerSec.toFixed(0)} connects/s; server CPU ${baseCpuConnect.toFixed(0)} ms; handshake p50 ${baseConn.handshake[0].toFixed(1)} / p99 ${baseConn.handshake[1].toFixed(1)} ms, first answer p50 ${baseConn.join[0].toFixed(1)} / p99 ${baseConn.join[1].toFixed(1)} ms`);
  console.log(`  baseline broadcast:  delivered ${baseSorted.length}/${N}; p50 ${bp50.toFixed(1)} ms, p99 ${bp99.toFixed(1)} ms`);
  const modes = MODE === 'both' ? ['suppressed', 'events'] : [MODE];
  const verdicts = [];
  for (const mode of modes) if (WARMUP > 0) await runTokhost(srv, ot, url, mode === 'suppressed', WARMUP);
  for (const mode of modes) {
    const r = await runTokhost(srv, ot, url, mode === 'suppressed', N);
    const connectsPerSec = N / r.conn.seconds;
    const p50 = percentile(r.sorted, 50);
    const p99 = percentile(r.sorted, 99);
    console.log(mode === 'suppressed'
      ? `  Tokhost, clients with connectionEventsSuppressed (OpenTok's option for large sessions: no connectionCreated/Destroyed fan-out):`
      : `  Tokhost, default (every join's connectionCreated reaches every client: n² messages, in batched frames):`);
    console.log(`    connects:            ${connectsPerSec.toFixed(0)} connects/s (${r.conn.seconds.toFixed(2)} s for ${N}) → ratio to bare ws ${(connectsPerSec / baseConnectsPerSec).toFixed(2)}`);
    console.log(`    CPU during connects: server ${r.serverCpuMs.toFixed(0)} ms, bench clients ${r.clientCpuMs.toFixed(0)} ms (from the first connect to the last sessionConnected)`);
    if (CLIENT === 'lean') console.log(`    received by clients: ${(r.joinBytes / 1048576).toFixed(1)} MiB in ${r.joinReads} socket reads while joining`);
    console.log(`    connect latency:     handshake p50 ${r.conn.handshake[0].toFixed(1)} / p99 ${r.conn.handshake[1].toFixed(1)} ms, connect→sessionConnected p50 ${r.conn.join[0].toFixed(1)} / p99 ${r.conn.join[1].toFixed(1)} ms`);
    console.log(`    REST signal:         delivered ${r.sorted.length}/${N}; p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (REST call returned after ${r.restMs.toFixed(1)} ms) → p99 ratio to bare broadcast ${(p99 / bp99).toFixed(2)}`);
    console.log(`    server memory:       before ${mb(r.memBefore.rss)} MB RSS / ${mb(r.memBefore.heap)} MB heap; with ${N} clients ${mb(r.memJoined.rss)} / ${mb(r.memJoined.heap)} MB; after they left ${mb(r.memAfter.rss)} / ${mb(r.memAfter.heap)} MB`);
    const ok = r.sorted.length === N && p99 < 100 && connectsPerSec >= 1000;
    verdicts.push(`${mode}: ${ok ? 'met' : 'NOT met'}`);
  }
  srv.child.send('close');
  console.log(`  targets (all delivered, p99 < 100 ms, ≥ 1000 connects/s): ${verdicts.join('; ')}`);
  process.exit(0);
}
