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
let server: ServeProcess | undefined;

beforeAll(() => ensureBuilt());
afterAll(async () => {
  server?.child.kill('SIGKILL');
  await server?.exited;
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

describe('back-pressure: clients that stop reading', () => {
  it(`cuts ${VICTIMS} non-reading sockets while signals and streams flow to them; the server's RSS stays flat`, { timeout: 120_000 }, async () => {
    // Rate limits are not what this test is about (env, so the same test runs against older builds).
    server = await serve(['--port', '0', '--store', 'memory', '--api-key', apiKey, '--api-secret', apiSecret, '--log-level', 'warn'], {
      TOKHOST_SIGNAL_RATE: '1000000',
      TOKHOST_SIGNAL_BURST: '1000000',
      TOKHOST_RECONNECT_GRACE_MS: '2000',
      // The heartbeat would drop the paused sockets after 10–20 s anyway: keep it out of the way.
      TOKHOST_PING_INTERVAL_MS: '600000',
    });
    const pid = server.child.pid!;
    const opentok = new OpenTok(apiKey, apiSecret, { apiUrl: server.url });
    const sessionId = await new Promise<string>((resolve, reject) => opentok.createSession({ mediaMode: 'relayed' }, (err, s) => (err ? reject(err) : resolve(s!.sessionId))));
    const wsUrl = server.url.replace(/^http/, 'ws') + REALTIME_PATH;

    // The sender reads and drops what it gets, acknowledging as the SDK does.
    let received = 0;
    const answers = new Map<number, (m: { ok: boolean; result?: { streamId?: string } }) => void>();
    let sender: WebSocket;
    const onSenderMessage = (raw: Buffer) => {
      const seq = /^\{"seq":(\d+)/.exec(raw.subarray(0, 32).toString('latin1'))?.[1];
      if (seq && ++received % 50 === 0) sender.send(JSON.stringify({ type: 'ack', seq: Number(seq) }));
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
    for (let i = 0; i < VICTIMS; i++) victims.push(await client(wsUrl, sessionId, opentok.generateToken(sessionId)));
    // Stop reading: the TCP socket under each WebSocket is paused, so the server's writes pile up.
    for (const v of victims) (v as unknown as { _socket: Socket })._socket.pause();
    const closedByServer = victims.map((v) => new Promise<number>((resolve) => v.once('close', (code) => resolve(code))));

    const base = rssMb(pid);
    const samples: number[] = [base];
    const sampler = setInterval(() => samples.push(rssMb(pid)), 500);
    const data = 'x'.repeat(8000);
    const publish = { type: 'publish', name: 'cam', hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 640, height: 480 } };
    const started = Date.now();
    let signals = 0;
    let streamId: string | undefined;
    // Signals of 8000 B to everyone (each is ~168 kB on the wire to the 21 sockets) for 20 s,
    // with a stream published and unpublished every 500 signals.
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
    const peak = Math.max(...samples);
    const end = samples[samples.length - 1]!;
    // Printed only: how much it still grew over the flood's second half (the cuts come once the
    // kernel's socket buffers are full, so the rise may last a while).
    const half = samples[Math.floor(floodSamples / 2)]!;
    const secondHalf = Math.max(...samples.slice(Math.floor(floodSamples / 2))) - half;
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const cuts = Number(/^tokhost_limit_slow_consumer_disconnects_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
    console.log(`back-pressure: connections left on the server: ${/^tokhost_realtime_connections (\d+)/m.exec(metrics)?.[1]}`);
    console.log(`back-pressure: ${signals} signals of 8000 B (${Math.round((signals * 8000 * (VICTIMS + 1)) / 1048576)} MB on the wire to ${VICTIMS + 1} sockets) in ${Date.now() - started} ms`);
    console.log(`back-pressure: server RSS MB every 500 ms: ${samples.join(' ')}`);
    console.log(`back-pressure: server RSS base ${base} MB, peak ${peak} MB (+${peak - base}), after ${end} MB (+${end - base}); growth over the flood's second half ${secondHalf} MB; slow consumers cut: ${cuts}`);
    try {
      expect(cuts).toBe(VICTIMS);
      // Bounded, whatever the flood's length. What growth there is: the session's replay buffer
      // (32 MiB of text and its bytes) kept until the cut connections' grace period ends, and
      // the heap a flood of 8 kB signals needs (a lone sender with no paused clients costs about
      // +50 MB here). Before the fix: +159 MB and +279 MB on two runs, growing with the flood.
      expect(peak - base).toBeLessThan(150);
      expect(end - base).toBeLessThan(150);
      // The sender, which reads, was never cut and still works.
      expect((await request({ type: 'signal', data: 'still here' })).ok).toBe(true);
    } finally {
      sender.terminate();
      for (const v of victims) v.terminate();
      await Promise.race([Promise.all(closedByServer), new Promise((r) => setTimeout(r, 1000))]);
    }
  });
});
