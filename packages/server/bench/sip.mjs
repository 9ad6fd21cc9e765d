// `npm run bench:sip`: many concurrent SIP calls into one routed session.
//
// The far end is sipp (sip-tester) as a UAS answering PCMU and echoing RTP (-rtp_echo), one sipp
// per step. Each call is dialled through the REST API (official `opentok` SDK); the server's SIP
// gateway publishes every leg into the media router, taps every stream of the session back into
// its mixer (jitter buffer + G.711 decode per stream, N-1 mix and encode per leg on a 20 ms
// clock) and sends the mix to sipp, which echoes it back. Steps of 10, 25 and 50 calls; for each:
// CPU of the server process and the media worker per call, the mixer tick p99 (processing time)
// and lateness p99, and packets: sent to the far end, back from it, and lost or dropped inside
// the server (jitter-buffer gaps, late and overflow drops). Baseline measured in the same run:
// the pure DSP cost of one call (jitter buffer, G.711 decode, N-1 mix, encode; offline), so the
// per-call CPU reads as a multiple of the audio work itself.
//
// Targets (issue 12): 50 calls, mixer tick p99 < 20 ms, no packet dropped by the server.
// Options: --steps=10,25,50 --measure-ms=8000. Bounded to about 3 minutes.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchArgs } from './args.mjs';

const args = benchArgs();
const STEPS = (args.steps ?? '10,25,50').split(',').map(Number);
const MEASURE_MS = Number(args['measure-ms'] ?? 8000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const require = createRequire(import.meta.url);
const OpenTok = require('opentok');
const call = (fn) => new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
const p99 = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)] : 0; };
const cpuOfPid = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };

const UAS = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench uas">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[

SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:uas@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=uas 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000

]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
`;

async function baselineDspMsPerCallSecond(server) {
  const { Mixer } = await import('../dist/participant/mixer.js');
  const { createEncoder } = await import('../dist/participant/audio.js');
  const { mulaw } = require('alawmulaw');
  const n = 50;
  const mixer = new Mixer();
  const encoders = [];
  for (let i = 0; i < n; i++) {
    mixer.addInput(`s${i}`, 'PCMU');
    const enc = createEncoder('PCMU');
    encoders.push(enc);
    mixer.addOutput({ id: `o${i}`, exclude: `s${i}`, onFrame: (f) => enc.encode(f) });
  }
  const payload = Buffer.from(mulaw.encode(Int16Array.from({ length: 160 }, (_, k) => Math.round(6000 * Math.sin(k / 3)))));
  const frames = 500; // 10 s of audio, after 2 s of warm-up (JIT)
  for (let k = 0; k < 100; k++) {
    for (let i = 0; i < n; i++) mixer.push(`s${i}`, (k + 60000) & 0xffff, payload);
    mixer.tick();
  }
  const t0 = performance.now();
  for (let k = 100; k < frames + 100; k++) {
    for (let i = 0; i < n; i++) mixer.push(`s${i}`, (k + 60000) & 0xffff, payload);
    mixer.tick();
  }
  const ms = performance.now() - t0;
  mixer.close();
  return ms / n / (frames / 50);
}

async function main() {
  const { createServer } = await import('@tokhost/server');
  const apiKey = '9' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  const server = await createServer({ port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey, apiSecret, logLevel: 'warn', mediaWorkers: 1, sipPort: 0 });
  const ot = new OpenTok(apiKey, apiSecret, server.url);
  const gw = server.sipGatewayForTesting();
  const dir = mkdtempSync(join(os.tmpdir(), 'tokhost-bench-sip-'));
  writeFileSync(join(dir, 'uas.xml'), UAS);
  console.log(`bench:sip — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const baseline = await baselineDspMsPerCallSecond();
  console.log(`baseline (same run): pure DSP of one call (jitter buffer + G.711 decode + N-1 mix + G.711 encode at 8 kHz, 50 legs offline) = ${baseline.toFixed(2)} ms CPU per call-second (${(baseline / 10).toFixed(2)} % of a core)`);
  const rows = [];
  let port = 30000 + Math.floor(Math.random() * 10000) * 2;
  try {
    for (const n of STEPS) {
      port += 4;
      const sipp = spawn('sipp', ['-sf', join(dir, 'uas.xml'), '-i', '127.0.0.1', '-p', String(port), '-mp', String(port + 2), '-m', String(n), '-rtp_echo', '-t', 'u1', '-nostdin', '-timeout', '120s'], { cwd: dir, stdio: 'ignore' });
      const exited = new Promise((r) => sipp.on('exit', (c) => r(c)));
      await sleep(400);
      const sessionId = (await call((cb) => ot.createSession({ mediaMode: 'routed' }, cb))).sessionId;
      const dialed = [];
      for (let i = 0; i < n; i++) dialed.push(await call((cb) => ot.dial(sessionId, ot.generateToken(sessionId, { data: `call=${i}` }), `sip:bench${i}@127.0.0.1:${port}`, {}, cb)));
      const workerPid = (await server.mediaRouterForTesting()).workerPids[0];
      // all answered and media flowing
      const until = Date.now() + 20_000;
      for (;;) {
        const st = gw.stats();
        const mix = st.mixers.find((m) => m.sessionId === sessionId);
        if (mix && mix.stats.inputs >= n && mix.stats.outputs >= n) break;
        if (Date.now() > until) throw new Error(`step ${n}: only ${mix?.stats.inputs ?? 0} inputs / ${mix?.stats.outputs ?? 0} outputs after 20 s`);
        await sleep(200);
      }
      await sleep(1500); // jitter buffers filled, steady state
      const a = gw.stats();
      const mixA = a.mixers.find((m) => m.sessionId === sessionId);
      const cpu0 = process.cpuUsage();
      const w0 = cpuOfPid(workerPid);
      const t0 = performance.now();
      await sleep(MEASURE_MS);
      const elapsed = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const wcpu = cpuOfPid(workerPid) - w0;
      const b = gw.stats();
      const mixB = b.mixers.find((m) => m.sessionId === sessionId);
      const ticks = mixB.stats.tickMs.slice(-Math.round(MEASURE_MS / 20));
      const late = mixB.stats.lateMs.slice(-Math.round(MEASURE_MS / 20));
      const d = (k) => mixB.stats.jitter[k] - mixA.stats.jitter[k];
      const out = b.legs.packetsOut - a.legs.packetsOut;
      const back = b.legs.packetsIn - a.legs.packetsIn;
      const expectedPerStream = (elapsed * 1000) / 20;
      const mainPct = ((cpu.user + cpu.system) / 1e6 / elapsed) * 100;
      const workerPct = (wcpu / elapsed) * 100;
      const row = {
        calls: n,
        mainCpuPct: mainPct,
        workerCpuPct: workerPct,
        cpuPerCallPct: (mainPct + workerPct) / n,
        tickP99: p99(ticks),
        lateP99: p99(late),
        sentPerCallPps: out / n / elapsed,
        echoedPerCallPps: back / n / elapsed,
        mixerReceived: d('received'),
        mixerExpected: Math.round(expectedPerStream * n),
        gaps: d('lost'),
        lateDrops: d('late'),
        overflow: d('overflow'),
        skippedTicks: mixB.stats.skippedTicks - mixA.stats.skippedTicks,
        load: os.loadavg()[0],
      };
      rows.push(row);
      console.log(
        `calls=${n}: CPU server ${mainPct.toFixed(1)} % + media worker ${workerPct.toFixed(1)} % = ${row.cpuPerCallPct.toFixed(2)} % of a core per call (${((row.cpuPerCallPct * 10) / baseline).toFixed(1)}x the pure DSP baseline); ` +
          `mixer tick p99 ${row.tickP99.toFixed(2)} ms (start lateness p99 ${row.lateP99.toFixed(1)} ms); per call ${row.sentPerCallPps.toFixed(1)} pkt/s to sipp, ${row.echoedPerCallPps.toFixed(1)} back; ` +
          `mixer got ${row.mixerReceived} of ~${row.mixerExpected} tapped packets, gaps ${row.gaps}, late drops ${row.lateDrops}, overflow drops ${row.overflow}; ` +
          `mix ticks skipped (process stalled > 200 ms) ${row.skippedTicks}; load average ${row.load.toFixed(1)}`,
      );
      for (const c of dialed) await call((cb) => ot.forceDisconnect(sessionId, c.connectionId, cb)).catch(() => undefined);
      await Promise.race([exited, sleep(10_000)]);
      if (sipp.exitCode === null) sipp.kill('SIGKILL');
      await sleep(500);
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const last = rows.at(-1);
  if (last) {
    const dropped = last.gaps + last.lateDrops + last.overflow;
    console.log(`\nresult: ${last.calls} concurrent calls, mixer tick p99 ${last.tickP99.toFixed(2)} ms (target < 20 ms: ${last.tickP99 < 20 ? 'met' : 'MISSED'}), packets dropped or lost inside the server ${dropped} of ${last.mixerReceived + last.gaps} (target 0: ${dropped === 0 ? 'met' : 'MISSED'}), ${last.skippedTicks} mix ticks skipped, ${last.cpuPerCallPct.toFixed(2)} % of a core per call; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
  }
}

await main();
