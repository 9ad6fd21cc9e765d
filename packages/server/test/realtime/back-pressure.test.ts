import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { REALTIME_PATH } from '@tokhost/protocol';
import { ensureBuilt, serve } from '../cli/spawn.js';
import type { ServeProcess } from '../cli/spawn.js';

/**
 * The attack of issue 17 item 4: clients join a session and stop reading while signals and
 * stream events flow to them. The server is the real `tokhost serve` in a child process, so the
 * RSS printed is the server's alone (/proc/<pid>/status).
 */
const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string, options?: unknown) => {
  createSession(options: Record<string, unknown>, cb: (err: Error | null, session?: { sessionId: string }) => void): void;
  generateToken(sessionId: string, options?: Record<string, unknown>): string;
};

const VICTIMS = 20;
const apiKey = String(10_000_000 + Math.floor(Math.random() * 80_000_000));
const apiSecret = randomBytes(20).toString('hex');
const servers: ServeProcess[] = [];

beforeAll(() => ensureBuilt());
afterAll(async () => {
  for (const server of servers) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
});

const rssMb = (pid: number): number => Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

/** A client that speaks just enough of the protocol; `read: false` pauses its TCP socket after joining. */
async function client(wsUrl: string, sessionId: string, token: string, onMessage?: (raw: Buffer) => void): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const first = new Promise<Buffer>((resolve) => ws.once('message', resolve));
  ws.send(JSON.stringify({ type: 'connect', version: 1, apiKey, sessionId, token }));
  const hello = JSON.parse((await first).toString()) as { type: string };
  expect(hello.type).toBe('sessionConnected');
  if (onMessage) ws.on('message', onMessage);
  ws.on('error', () => undefined);
  return ws;
}

interface FloodResult {
  base: number;
  peak: number;
  end: number;
  cuts: number;
  signals: number;
  samples: number[];
  secondHalf: number;
}

/**
 * One server, one sender and {@link VICTIMS} other clients, 20 s of 8000 B signals to everyone
 * with a stream published and unpublished every 500 signals. With `paused`, the victims stop
 * reading (their TCP sockets are paused); else they read and acknowledge as the SDK does: the
 * same flood's baseline, measured in the same run.
 */
async function flood(paused: boolean): Promise<FloodResult> {
  // Rate limits are not what this test is about (env, so the same test runs against older builds).
  const server = await serve(['--port', '0', '--store', 'memory', '--api-key', apiKey, '--api-secret', apiSecret, '--log-level', 'warn'], {
    TOKHOST_SIGNAL_RATE: '1000000',
    TOKHOST_SIGNAL_BURST: '1000000',
    TOKHOST_RECONNECT_GRACE_MS: '2000',
    // The heartbeat would drop the paused sockets after 10–20 s anyway: keep it out of the way.
    TOKHOST_PING_INTERVAL_MS: '600000',
  });
  servers.push(server);
  const pid = server.child.pid!;
  const opentok = new OpenTok(apiKey, apiSecret, { apiUrl: server.url });
  const sessionId = await new Promise<string>((resolve, reject) => opentok.createSession({ mediaMode: 'relayed' }, (err, s) => (err ? reject(err) : resolve(s!.sessionId))));
  const wsUrl = server.url.replace(/^http/, 'ws') + REALTIME_PATH;
  const reader = (ws: () => WebSocket) => {
    let received = 0;
    return (raw: Buffer) => {
      const seq = /^\{"seq":(\d+)/.exec(raw.subarray(0, 32).toString('latin1'))?.[1];
      if (seq && ++received % 50 === 0) ws().send(JSON.stringify({ type: 'ack', seq: Number(seq) }));
    };
  };

  // The sender reads and drops what it gets, acknowledging as the SDK does.
  const answers = new Map<number, (m: { ok: boolean; result?: { streamId?: string } }) => void>();
  let sender: WebSocket;
  const ackSender = reader(() => sender);
  const onSenderMessage = (raw: Buffer) => {
    ackSender(raw);
    if (raw.length > 4000) return;
    const m = JSON.parse(raw.toString()) as { type: string; id?: number; ok: boolean };
    if (m.type === 'response' && m.id !== undefined) answers.get(m.id)?.(m);
  };
  sender = await client(wsUrl, sessionId, opentok.generateToken(sessionId, { role: 'publisher' }), onSenderMessage);
  let nextId = 1;
  const request = (body: object) =>
    new Promise<{ ok: boolean; result?: { streamId?: string } }>((resolve) => {
      const id = nextId++;
      answers.set(id, resolve);
      sender.send(JSON.stringify({ ...body, id }));
    });

  const victims: WebSocket[] = [];
  for (let i = 0; i < VICTIMS; i++) {
    let v: WebSocket;
    v = await client(wsUrl, sessionId, opentok.generateToken(sessionId), paused ? undefined : reader(() => v));
    victims.push(v);
  }
  // Stop reading: the TCP socket under each WebSocket is paused, so the server's writes pile up.
  if (paused) for (const v of victims) (v as unknown as { _socket: Socket })._socket.pause();
  const closedByServer = victims.map((v) => new Promise<number>((resolve) => v.once('close', (code) => resolve(code))));

  const base = rssMb(pid);
  const samples: number[] = [base];
  const sampler = setInterval(() => samples.push(rssMb(pid)), 500);
  const data = 'x'.repeat(8000);
  const publish = { type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } };
  const started = Date.now();
  let signals = 0;
  let streamId: string | undefined;
  try {
    while (Date.now() - started < 20_000) {
      for (let i = 0; i < 50; i++, signals++) sender.send(JSON.stringify({ type: 'signal', id: nextId++, signalType: 'flood', data }));
      if (signals % 500 === 0) {
        if (streamId) await request({ type: 'unpublish', streamId });
        streamId = (await request(publish)).result?.streamId;
      }
      while (sender.bufferedAmount > 1 << 20) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 1));
    }
    const floodSamples = samples.length;
    await new Promise((r) => setTimeout(r, 5000));
    clearInterval(sampler);
    samples.push(rssMb(pid));
    const half = samples[Math.floor(floodSamples / 2)]!;
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const cuts = Number(/^tokhost_limit_slow_consumer_disconnects_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
    // The sender, which reads, was never cut and still works.
    expect((await request({ type: 'signal', data: 'still here' })).ok).toBe(true);
    const label = paused ? 'paused' : 'reading (baseline)';
    console.log(`back-pressure [${label}]: ${signals} signals of 8000 B (${Math.round((signals * 8000 * (VICTIMS + 1)) / 1048576)} MB on the wire to ${VICTIMS + 1} sockets) in ${Date.now() - started} ms; connections left ${/^tokhost_realtime_connections (\d+)/m.exec(metrics)?.[1]}`);
    console.log(`back-pressure [${label}]: server RSS MB every 500 ms: ${samples.join(' ')}`);
    return { base, peak: Math.max(...samples), end: samples[samples.length - 1]!, cuts, signals, samples, secondHalf: Math.max(...samples.slice(Math.floor(floodSamples / 2))) - half };
  } finally {
    clearInterval(sampler);
    sender.terminate();
    for (const v of victims) v.terminate();
    await Promise.race([Promise.all(closedByServer), new Promise((r) => setTimeout(r, 1000))]);
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

describe('back-pressure: clients that stop reading', () => {
  it(`cuts ${VICTIMS} non-reading sockets while signals and streams flow to them; the server's RSS stays at the baseline of the same flood to reading clients`, { timeout: 180_000 }, async () => {
    const baseline = await flood(false);
    const attack = await flood(true);
    const grow = (r: FloodResult) => `base ${r.base} MB, peak ${r.peak} MB (+${r.peak - r.base}), after ${r.end} MB (+${r.end - r.base}), growth over the flood's second half ${r.secondHalf} MB`;
    console.log(`back-pressure: baseline (20 reading clients): ${grow(baseline)}; slow consumers cut: ${baseline.cuts}`);
    console.log(`back-pressure: attack (20 paused clients): ${grow(attack)}; slow consumers cut: ${attack.cuts}`);
    console.log(`back-pressure: attack minus baseline: peak ${attack.peak - attack.base - (baseline.peak - baseline.base)} MB, after ${attack.end - attack.base - (baseline.end - baseline.base)} MB`);
    expect(baseline.cuts).toBe(0);
    expect(attack.cuts).toBe(VICTIMS);
    // What the server holds for the paused clients, beyond what the same flood costs with clients
    // that read: bounded by the send-buffer cut (4 MiB each, once the kernel's buffers are full)
    // and the session's replay buffer (8 MiB). Before the fix the attack grew with the flood
    // (+159 MB and +279 MB on two runs against +50 MB for a sender alone) and kept it.
    // The peak bound is what the rules allow at worst: every victim's queue at the 4 MiB cut plus the
    // 8 MiB replay buffer (88 MiB = 92 MB). A quiet machine stays far below it (+11 MB); a loaded
    // one, where the victims' queues fill faster than the cut is checked, came to +64 MB.
    expect(attack.peak - attack.base - (baseline.peak - baseline.base)).toBeLessThan(Math.ceil(((VICTIMS * 4 + 8) * 1048576) / 1e6));
    expect(attack.end - attack.base - (baseline.end - baseline.base)).toBeLessThan(40);
  });
});
