/**
 * RTP hijack of a SIP call (issue 17, item 2), through createServer and the REST API against
 * scripted far ends on loopback (test/sip/far-end.ts) and a third UDP socket playing the
 * attacker.
 *
 * The attack: a call's RTP leg used to move its remote address to the source of any valid RTP
 * packet, so whoever reached the port received the session's mix and had its own audio mixed in.
 * Now media is accepted only from the address and port of the SDP answer; with `sipRtpLatching`
 * a far end behind NAT may move the call once, early, and only from the SDP's IP.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRest } from './project-rest.js';
import { createServer, type TokhostServer } from '../../src/create-server.js';
import type { SipGateway } from '../../src/sip/gateway.js';
import { ScriptedFarEnd } from './far-end.js';

const { mulaw } = createRequire(import.meta.url)('alawmulaw') as typeof import('alawmulaw');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

/** A UDP socket that sends valid PCMU RTP (a loud 440 Hz tone) and keeps what it receives. */
class RtpSender {
  readonly sock: Socket = createSocket('udp4');
  readonly received: Buffer[] = [];
  sent = 0;
  private seq = 1;
  private ts = 0;
  private phase = 0;
  constructor(private readonly host = '127.0.0.1') {}

  async start(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, this.host, () => r()));
    this.sock.on('message', (b) => this.received.push(b));
  }

  get port(): number {
    return this.sock.address().port;
  }

  /** Sends `count` packets, one every 20 ms, to `port` on 127.0.0.1. */
  async send(port: number, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const s = new Int16Array(160);
      for (let k = 0; k < 160; k++) s[k] = Math.round(12000 * Math.sin(this.phase++ * ((2 * Math.PI * 440) / 8000)));
      const h = Buffer.alloc(12);
      h[0] = 0x80;
      h[1] = 0;
      h.writeUInt16BE(this.seq++ & 0xffff, 2);
      h.writeUInt32BE(this.ts >>> 0, 4);
      h.writeUInt32BE(0x0e71100e, 8);
      this.ts += 160;
      this.sock.send(Buffer.concat([h, Buffer.from(mulaw.encode(s))]), port, '127.0.0.1');
      this.sent++;
      await sleep(20);
    }
  }

  close(): void {
    this.sock.close();
  }
}

function harness(config: { sipRtpLatching: boolean }) {
  const apiKey = (config.sipRtpLatching ? '5' : '6') + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server = undefined as unknown as TokhostServer;
  const api = projectRest(() => server.url, apiKey, apiSecret);
  const h = {
    get server(): TokhostServer {
      return server;
    },
    set server(s: TokhostServer) {
      server = s;
    },
    api,
    session: (): Promise<string> => api.session(),
    closers: [] as { close(): void }[],
    gw: (): SipGateway => h.server.sipGatewayForTesting()!,
    async start() {
      h.server = await createServer({ port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey, apiSecret, logLevel: 'silent', mediaWorkers: 1, sipPort: 0, sipMediaTimeoutSeconds: 60, sipRtpLatching: config.sipRtpLatching });
    },
    async stop() {
      await h.server?.close();
      for (const c of h.closers) c.close();
    },
    async farEnd(o: ConstructorParameters<typeof ScriptedFarEnd>[0]) {
      const f = new ScriptedFarEnd(o);
      await f.start();
      h.closers.push(f);
      return f;
    },
    async sender(host = '127.0.0.1') {
      const s = new RtpSender(host);
      await s.start();
      h.closers.push(s);
      return s;
    },
    async dial(sessionId: string, f: ScriptedFarEnd): Promise<{ id: string; legPort: number }> {
      const r = await h.api.rest('POST', '/dial', { sessionId, token: h.api.token(sessionId), sip: { uri: f.uri } });
      expect(r.status).toBe(200);
      const { id } = r.json as { id: string };
      // Answered and configured: the leg knows the far end's SDP address.
      await until(() => h.gw().callStats(id)?.remote, (x) => x !== undefined, 5000, 'the answer');
      const legPort = Number(/m=audio (\d+)/.exec(f.invite!.body.toString())![1]);
      return { id, legPort };
    },
    async droppedMetric(): Promise<number> {
      const text = await (await fetch(`${h.server.url}/metrics`)).text();
      const m = /^tokhost_sip_rtp_dropped_packets_total\{reason="source"\} (\d+)$/m.exec(text);
      // NaN when the counter is missing: the assertions on it then fail with the other figures printed.
      return m ? Number(m[1]) : NaN;
    },
  };
  return h;
}

describe('RTP of a SIP call is accepted only from the address the SDP answer named (default)', () => {
  const h = harness({ sipRtpLatching: false });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('a third party sending valid RTP to the leg gets no audio, is not mixed in, and is counted; the far end keeps receiving', async () => {
    const sessionId = await h.session();
    // A sends nothing, so anything its leg hands to the router during the attack is the attacker's.
    const a = await h.farEnd({ send: 'nothing' });
    const b = await h.farEnd({ send: 'silence' });
    const ca = await h.dial(sessionId, a);
    await h.dial(sessionId, b);
    await until(() => [a.received.length, b.received.length], ([x, y]) => x! > 20 && y! > 20, 8000, 'both far ends hear the mix');
    const before = h.gw().callStats(ca.id)!;
    const metricBefore = await h.droppedMetric();
    const aBefore = a.received.length;
    const bBefore = b.received.length;

    const attacker = await h.sender();
    await attacker.send(ca.legPort, 75);
    await sleep(500);

    const after = h.gw().callStats(ca.id)!;
    console.info(
      `[rtp hijack] attacker sent ${attacker.sent} packets, received ${attacker.received.length}; leg dropped ${after.leg.droppedSource - before.leg.droppedSource}; packets to the router ${before.packetsToRouter} -> ${after.packetsToRouter}; ` +
        `far end A received ${a.received.length - aBefore} packets meanwhile; B's level over the last second ${b.levelOver(1000).toFixed(1)} (tone: thousands); /metrics source drops ${metricBefore} -> ${await h.droppedMetric()}`,
    );
    expect(attacker.received).toHaveLength(0);
    expect(after.remote).toEqual({ address: '127.0.0.1', port: a.rtpPort });
    expect(after.packetsToRouter).toBe(before.packetsToRouter);
    expect(after.leg.packetsIn).toBe(before.leg.packetsIn);
    expect(after.leg.droppedSource - before.leg.droppedSource).toBe(attacker.sent);
    expect((await h.droppedMetric()) - metricBefore).toBe(attacker.sent);
    // B hears the session without A's leg carrying anything: silence, not the attacker's tone.
    expect(b.received.length - bBefore).toBeGreaterThan(40);
    expect(b.levelOver(1500)).toBeLessThan(50);
    // A, the real far end, kept getting the call's audio the whole time.
    expect(a.received.length - aBefore).toBeGreaterThan(50);
    await sleep(200);
    expect(a.received.at(-1)!.at).toBeGreaterThan(Date.now() - 200);
  }, 40_000);
});

describe('with sipRtpLatching: one early latch to the SDP host, nothing else', () => {
  const h = harness({ sipRtpLatching: true });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('a far end whose RTP comes from another port of its SDP address is latched once; a later sender on the same host is dropped', async () => {
    const sessionId = await h.session();
    const a = await h.farEnd({ send: 'nothing' });
    const b = await h.farEnd({ send: 'silence' });
    const ca = await h.dial(sessionId, a);
    await h.dial(sessionId, b);
    // A's RTP leaves through a NAT that changed the port: same IP (127.0.0.1), another port.
    const nat = await h.sender();
    await nat.send(ca.legPort, 50);
    await until(() => b.levelOver(400), (l) => l > 1000, 5000, "B hears A's tone through the latched port");
    expect(h.gw().callStats(ca.id)!.remote).toEqual({ address: '127.0.0.1', port: nat.port });
    await until(() => nat.received.length, (n) => n > 10, 3000, 'the call audio goes to the latched port');
    const before = h.gw().callStats(ca.id)!;
    const natReceived = nat.received.length;
    const attacker = await h.sender();
    await attacker.send(ca.legPort, 30);
    await sleep(400);
    const after = h.gw().callStats(ca.id)!;
    expect(attacker.received).toHaveLength(0);
    expect(after.remote).toEqual({ address: '127.0.0.1', port: nat.port });
    expect(after.packetsToRouter).toBe(before.packetsToRouter);
    expect(after.leg.droppedSource - before.leg.droppedSource).toBe(attacker.sent);
    expect(nat.received.length - natReceived).toBeGreaterThan(20);
  }, 40_000);

  it('a sender on another IP (127.0.0.2) is never latched, even first and early', async () => {
    const sessionId = await h.session();
    const a = await h.farEnd({ send: 'nothing' });
    const ca = await h.dial(sessionId, a);
    const other = await h.sender('127.0.0.2');
    await other.send(ca.legPort, 20);
    await sleep(300);
    const s = h.gw().callStats(ca.id)!;
    expect(other.received).toHaveLength(0);
    expect(s.remote).toEqual({ address: '127.0.0.1', port: a.rtpPort });
    expect(s.packetsToRouter).toBe(0);
    expect(s.leg.droppedSource).toBe(other.sent);
  }, 20_000);

  it('once the signalled address has sent its first packets the window is closed: a same-host sender is dropped', async () => {
    const sessionId = await h.session();
    const a = await h.farEnd({ send: 'silence' });
    const ca = await h.dial(sessionId, a);
    await until(() => h.gw().callStats(ca.id)!.leg.packetsIn, (n) => n >= 12, 5000, 'packets from the signalled address');
    const attacker = await h.sender();
    await attacker.send(ca.legPort, 20);
    await sleep(300);
    const s = h.gw().callStats(ca.id)!;
    expect(attacker.received).toHaveLength(0);
    expect(s.remote).toEqual({ address: '127.0.0.1', port: a.rtpPort });
    expect(s.leg.droppedSource).toBe(attacker.sent);
  }, 20_000);
});
