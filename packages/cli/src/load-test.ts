/**
 * `tokhost load-test`: N publishers and M subscribers in one new session, for a while, then the
 * figures (as `lk load-test` does for LiveKit). Protocol mode: each client is a Node process-local
 * client of Tokhost's own realtime protocol (WebSocket) with real WebRTC from node-datachannel
 * (libdatachannel): ICE, DTLS-SRTP, RTCP. Publishers send synthetic VP8 (50 packets/s, a key
 * frame every second or on PLI) and Opus-sized audio (50 packets/s); subscribers subscribe to
 * every publisher and count what arrives, by RTP sequence number.
 */
import nodeDataChannel from 'node-datachannel';
import type { PeerConnection, RtcConfig, Track } from 'node-datachannel';
import { WebSocket } from 'ws';
import { REALTIME_PATH, REALTIME_PROTOCOL_VERSION } from '@tokhost/protocol';
import type { RtIceCandidate, RtIceServer, RtSessionDescription, RtStream } from '@tokhost/protocol';

const { PeerConnection: PC, Audio, Video, RtcpReceivingSession } = nodeDataChannel;

/** What a load test does. */
export interface LoadTestOptions {
  url: string;
  apiKey: string;
  sessionId: string;
  mediaMode: 'routed' | 'relayed';
  /** A client token per client (role publisher; `data` names the client). */
  token(kind: 'publisher' | 'subscriber', index: number): string;
  publishers: number;
  subscribers: number;
  durationMs: number;
  /** Called once every client has joined (or failed to), with the time left. */
  onJoined?(): void;
}

/** The figures, as printed (`--json` prints this object). */
export interface LoadTestReport {
  sessionId: string;
  mediaMode: 'routed' | 'relayed';
  durationSeconds: number;
  clients: { expected: number; connected: number; failed: string[] };
  /** WebSocket open to `sessionConnected`, ms. */
  joinMs: { p50: number; p95: number; max: number };
  /** Peer links (one per publisher, plus one per subscriber and publisher) that reached `connected`. */
  mediaLinks: { expected: number; connected: number };
  /** Link creation to ICE + DTLS `connected`, ms. */
  mediaConnectMs: { p50: number; p95: number; max: number };
  /** Publishers to the server (routed) or to their subscribers (relayed). `lossPercent` from the receivers' RTCP reports. */
  upstream: { packetsPerSecond: number; kbps: number; lossPercent: number | null };
  /** Subscribers' receipt: packets/s and bitrate summed over every subscriber; loss from RTP sequence numbers. */
  downstream: { packetsPerSecond: number; kbps: number; lossPercent: number | null };
  /** Over how long the rates were measured: from every link connected (or 5 s in) to the end, s. */
  measuredSeconds: number;
}

const VIDEO_PT = 96;
const AUDIO_PT = 111;
const isRtcp = (b: Buffer) => b.length >= 2 && b[1]! >= 192 && b[1]! <= 223;

function percentiles(values: number[]): { p50: number; p95: number; max: number } {
  if (values.length === 0) return { p50: 0, p95: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(s[s.length - 1]!) };
}

/** libdatachannel's ICE server strings from the protocol's (`turn:user:pass@host:port`). */
function iceConfig(servers: RtIceServer[], loopback: boolean): RtcConfig {
  const iceServers: string[] = [];
  for (const s of servers) {
    for (const u of Array.isArray(s.urls) ? s.urls : [s.urls]) {
      if (u.startsWith('stun:')) iceServers.push(u);
      else if (/^turns?:/.test(u) && s.username && s.credential) iceServers.push(u.replace(/^(turns?:)/, `$1${encodeURIComponent(s.username)}:${encodeURIComponent(s.credential)}@`));
    }
  }
  return { iceServers, ...(loopback ? { bindAddress: '127.0.0.1' } : {}) };
}

/** Counters shared by every client of the run. */
class Totals {
  sentPackets = 0;
  sentBytes = 0;
  recvPackets = 0;
  recvBytes = 0;
  /** Receive side, per track: RTP sequence bookkeeping (extended, RFC 3550 A.1 style). */
  readonly received = new Set<{ first: number; max: number; cycles: number; count: number }>();
  /** Send side, per SSRC: the latest receiver report (cumulative lost, extended highest sequence) and the first sequence sent. */
  readonly reports = new Map<number, { first: number; lost: number; highest: number }>();
  readonly joinMs: number[] = [];
  readonly mediaMs: number[] = [];
  mediaConnected = 0;
}

/** One realtime connection: requests by id, acks, messages to a handler. */
class RtClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();
  private lastSeq = 0;
  private acked = 0;
  private readonly ackTimer: NodeJS.Timeout;
  onMessage: (m: Record<string, unknown>) => void = () => undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString());
      } catch {
        return;
      }
      for (const m of (Array.isArray(parsed) ? parsed : [parsed]) as Record<string, unknown>[]) {
        if (typeof m['seq'] === 'number' && m['seq'] > this.lastSeq) this.lastSeq = m['seq'];
        if (m['type'] === 'response' && typeof m['id'] === 'number') {
          this.waiting.get(m['id'])?.(m);
          this.waiting.delete(m['id']);
        } else this.onMessage(m);
      }
    });
    // Acknowledge what arrived, so the server can drop it from the session's replay buffer.
    this.ackTimer = setInterval(() => {
      if (this.lastSeq > this.acked && ws.readyState === ws.OPEN) {
        this.acked = this.lastSeq;
        ws.send(JSON.stringify({ type: 'ack', seq: this.acked }));
      }
    }, 250);
  }

  /** Open the socket and join; resolves with the client and its `sessionConnected`, or rejects with the server's error. */
  static async join(o: LoadTestOptions, token: string): Promise<{ client: RtClient; hello: Record<string, unknown> }> {
    const wsUrl = `${o.url.replace(/^http/, 'ws')}${REALTIME_PATH}?session=${encodeURIComponent(o.sessionId)}`;
    const ws = new WebSocket(wsUrl, { handshakeTimeout: 10_000 });
    const client = new RtClient(ws);
    try {
      const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no sessionConnected within 15 s')), 15_000);
        ws.once('error', (err) => reject(err));
        ws.once('close', (code, reason) => reject(new Error(`socket closed (${code} ${reason.toString()})`)));
        client.onMessage = (m) => {
          if (m['type'] === 'sessionConnected') {
            clearTimeout(timer);
            resolve(m);
          } else if (m['type'] === 'error') {
            clearTimeout(timer);
            const e = m['error'] as { code?: string; message?: string } | undefined;
            reject(new Error(`${e?.code ?? 'error'}: ${e?.message ?? ''}`));
          }
        };
        ws.once('open', () => ws.send(JSON.stringify({ type: 'connect', version: REALTIME_PROTOCOL_VERSION, apiKey: o.apiKey, sessionId: o.sessionId, token, sdk: 'tokhost-load-test' })));
      });
      ws.removeAllListeners('close');
      ws.removeAllListeners('error');
      ws.on('error', () => undefined);
      return { client, hello };
    } catch (err) {
      client.close();
      throw err;
    }
  }

  send(msg: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** A request whose answer nobody waits for (ICE, SDP): ids must still increase per connection. */
  fire(body: Record<string, unknown>): void {
    this.send({ ...body, id: this.nextId++ });
  }

  request(body: Record<string, unknown>, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer to ${String(body['type'])} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m['ok'] === true) resolve((m['result'] as Record<string, unknown> | undefined) ?? {});
        else {
          const e = m['error'] as { code?: string; message?: string } | undefined;
          reject(new Error(`${String(body['type'])} refused: ${e?.code ?? ''} ${e?.message ?? ''}`));
        }
      });
      this.send({ ...body, id });
    });
  }

  close(): void {
    clearInterval(this.ackTimer);
    this.ws.terminate();
  }
}

/** A peer link's ICE: remote candidates wait for the remote description. */
function candidateQueue(pc: PeerConnection): { add(c: RtIceCandidate | null): void; ready(): void } {
  let queue: RtIceCandidate[] | null = [];
  const add = (c: RtIceCandidate | null) => {
    if (!c || !c.candidate) return;
    if (queue) queue.push(c);
    else
      try {
        pc.addRemoteCandidate(c.candidate, c.sdpMid ?? '0');
      } catch {
        // A candidate libdatachannel cannot use (another address family): the others will do.
      }
  };
  return {
    add,
    ready() {
      const q = queue ?? [];
      queue = null;
      q.forEach(add);
    },
  };
}

/** A sending peer link: synthetic VP8 and audio RTP while open; PLI asks for a key frame; RRs give upstream loss. */
class SendLink {
  readonly pc: PeerConnection;
  private readonly audio: Track;
  private readonly video: Track;
  private readonly audioSsrc = (0x1000 + Math.floor(Math.random() * 0x7fffff)) >>> 0;
  private readonly videoSsrc = (0x2000000 + Math.floor(Math.random() * 0x7fffff)) >>> 0;
  private seqA = Math.floor(Math.random() * 30000);
  private seqV = Math.floor(Math.random() * 30000);
  private n = 0;
  private keyframeDue = true;
  readonly ice: ReturnType<typeof candidateQueue>;

  constructor(name: string, config: RtcConfig, totals: Totals) {
    const created = Date.now();
    this.pc = new PC(name, config);
    const a = new Audio('0', 'SendOnly');
    a.addOpusCodec(AUDIO_PT, 'minptime=10;useinbandfec=1');
    a.addSSRC(this.audioSsrc, 'load-test', 'stream', 'a');
    const v = new Video('1', 'SendOnly');
    v.addVP8Codec(VIDEO_PT);
    v.addSSRC(this.videoSsrc, 'load-test', 'stream', 'v');
    this.audio = this.pc.addTrack(a);
    this.video = this.pc.addTrack(v);
    totals.reports.set(this.audioSsrc, { first: this.seqA, lost: 0, highest: this.seqA - 1 });
    totals.reports.set(this.videoSsrc, { first: this.seqV, lost: 0, highest: this.seqV - 1 });
    const onRtcp = (b: Buffer) => {
      for (let off = 0; off + 4 <= b.length && isRtcp(b.subarray(off)); ) {
        const pt = b[off + 1]!;
        const fmt = b[off]! & 0x1f;
        const len = (b.readUInt16BE(off + 2) + 1) * 4;
        if (pt === 206 && fmt === 1) this.keyframeDue = true;
        // Receiver report (201) or the report blocks of a sender report (200): cumulative lost, extended highest sequence.
        if (pt === 201 || pt === 200) {
          const blocks = off + (pt === 201 ? 8 : 28);
          for (let i = 0; i < fmt && blocks + i * 24 + 12 <= off + len; i++) {
            const at = blocks + i * 24;
            const r = totals.reports.get(b.readUInt32BE(at));
            if (r) {
              r.lost = b.readUInt32BE(at + 4) & 0xffffff;
              // Extended highest sequence: the first one sent is below 65536, so no cycle is missed.
              r.highest = b.readUInt32BE(at + 8);
            }
          }
        }
        off += len;
      }
    };
    this.audio.onMessage(onRtcp);
    this.video.onMessage(onRtcp);
    this.pc.onStateChange((state) => {
      if (state === 'connected') {
        totals.mediaConnected++;
        totals.mediaMs.push(Date.now() - created);
      }
    });
    this.ice = candidateQueue(this.pc);
  }

  /** One 20 ms tick: a video and an audio packet. */
  tick(totals: Totals): void {
    if (!this.video.isOpen()) return;
    this.n++;
    const key = this.keyframeDue || this.n % 50 === 0;
    this.keyframeDue = false;
    const v = Buffer.alloc(12 + 2 + 250);
    v[0] = 0x80;
    v[1] = 0x80 | VIDEO_PT;
    v.writeUInt16BE(this.seqV++ & 0xffff, 2);
    v.writeUInt32BE((this.n * 1800) >>> 0, 4);
    v.writeUInt32BE(this.videoSsrc, 8);
    v[12] = 0x10; // VP8 descriptor: start of partition 0
    v[13] = key ? 0x00 : 0x01; // VP8 frame tag: P bit 0 = key frame
    const a = Buffer.alloc(12 + 80);
    a[0] = 0x80;
    a[1] = AUDIO_PT;
    a.writeUInt16BE(this.seqA++ & 0xffff, 2);
    a.writeUInt32BE((this.n * 960) >>> 0, 4);
    a.writeUInt32BE(this.audioSsrc, 8);
    try {
      if (this.video.sendMessageBinary(v)) {
        totals.sentPackets++;
        totals.sentBytes += v.length;
      }
      if (this.audio.isOpen() && this.audio.sendMessageBinary(a)) {
        totals.sentPackets++;
        totals.sentBytes += a.length;
      }
    } catch {
      // The link closed between the check and the send.
    }
  }

  close(): void {
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }
}

/** A receiving peer link: answers an offer, counts RTP by sequence number, sends receiver reports. */
class RecvLink {
  readonly pc: PeerConnection;
  private readonly held: object[] = [];
  readonly ice: ReturnType<typeof candidateQueue>;

  constructor(name: string, config: RtcConfig, offerSdp: string, onAnswer: (sdp: string) => void, onCandidate: (c: RtIceCandidate) => void, totals: Totals) {
    const created = Date.now();
    this.pc = new PC(name, config);
    this.pc.onTrack((t) => {
      const handler = new RtcpReceivingSession();
      t.setMediaHandler(handler);
      // Held here: a track or handler nothing in JS refers to is collected, and its callbacks stop.
      this.held.push(t, handler);
      const st = { first: -1, max: 0, cycles: 0, count: 0 };
      totals.received.add(st);
      t.onMessage((b) => {
        if (b.length < 12 || isRtcp(b)) return;
        totals.recvPackets++;
        totals.recvBytes += b.length;
        const seq = b.readUInt16BE(2);
        st.count++;
        if (st.first < 0) {
          st.first = seq;
          st.max = seq;
        } else if (((seq - st.max) & 0xffff) < 0x8000 && seq !== st.max) {
          if (seq < st.max) st.cycles += 0x10000;
          st.max = seq;
        }
      });
    });
    this.pc.onStateChange((state) => {
      if (state === 'connected') {
        totals.mediaConnected++;
        totals.mediaMs.push(Date.now() - created);
      }
    });
    this.pc.onLocalDescription((sdp, type) => {
      if (type === 'answer') onAnswer(sdp);
    });
    this.pc.onLocalCandidate((candidate, mid) => onCandidate({ candidate, sdpMid: mid }));
    this.ice = candidateQueue(this.pc);
    this.pc.setRemoteDescription(offerSdp, 'offer');
    this.ice.ready();
  }

  close(): void {
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Run a load test against a session that exists already; resolves with the figures once
 * `durationMs` has passed (counted from the start of the joins) and every client is closed.
 */
export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestReport> {
  const totals = new Totals();
  const loopback = /^https?:\/\/(127\.|localhost|\[::1\])/.test(o.url);
  const clients: RtClient[] = [];
  const sendLinks: SendLink[] = [];
  const recvLinks: RecvLink[] = [];
  const failed: string[] = [];
  const routed = o.mediaMode === 'routed';
  const started = Date.now();

  const joinOne = async (kind: 'publisher' | 'subscriber', i: number) => {
    const t0 = Date.now();
    const joined = await RtClient.join(o, o.token(kind, i));
    totals.joinMs.push(Date.now() - t0);
    clients.push(joined.client);
    const config = iceConfig((joined.hello['iceServers'] as RtIceServer[] | undefined) ?? [], loopback);
    return { ...joined, config };
  };

  const publisher = async (i: number) => {
    const { client, config } = await joinOne('publisher', i);
    const links = new Map<string, SendLink>();
    const publish = { type: 'publish', name: `load-test-${i}`, hasAudio: true, hasVideo: true, videoType: 'camera', videoDimensions: { width: 320, height: 240 }, frameRate: 25 };
    const timer = setInterval(() => links.forEach((l) => l.tick(totals)), 20);
    client.ws.once('close', () => clearInterval(timer));
    if (routed) {
      const link = new SendLink(`pub-${i}`, config, totals);
      sendLinks.push(link);
      let streamId: string | null = null;
      const early: RtIceCandidate[] = [];
      link.pc.onLocalCandidate((candidate, mid) => {
        const c = { candidate, sdpMid: mid };
        if (streamId) client.fire({ type: 'ice', peerId: streamId, end: 'publisher', candidate: c });
        else early.push(c);
      });
      const offer = new Promise<string>((resolve) => link.pc.onLocalDescription((sdp, type) => type === 'offer' && resolve(sdp)));
      link.pc.setLocalDescription();
      // The router's candidates may come in the same read as the answer, before the await below
      // resumes: they are kept until the stream ID is known.
      const serverIce: { peerId: string; candidate: RtIceCandidate | null }[] = [];
      client.onMessage = (m) => {
        if (m['type'] !== 'ice') return;
        if (streamId === null) serverIce.push({ peerId: String(m['peerId']), candidate: m['candidate'] as RtIceCandidate | null });
        else if (m['peerId'] === streamId) link.ice.add(m['candidate'] as RtIceCandidate | null);
      };
      const result = await client.request({ ...publish, offer: { type: 'offer', sdp: await offer } });
      streamId = String(result['streamId']);
      const answer = result['answer'] as RtSessionDescription | string;
      link.pc.setRemoteDescription(typeof answer === 'string' ? answer : answer.sdp, 'answer');
      for (const c of serverIce.splice(0)) if (c.peerId === streamId) link.ice.add(c.candidate);
      link.ice.ready();
      for (const c of early.splice(0)) client.fire({ type: 'ice', peerId: streamId, end: 'publisher', candidate: c });
      links.set(streamId, link);
    } else {
      // Relayed: one peer link per subscriber, offered when the server says one joined.
      client.onMessage = (m) => {
        const peerId = String(m['peerId'] ?? m['subscriberId'] ?? '');
        if (m['type'] === 'subscriberJoined') {
          const link = new SendLink(`pub-${i}-${peerId}`, iceConfig((m['iceServers'] as RtIceServer[] | undefined) ?? [], loopback), totals);
          sendLinks.push(link);
          links.set(peerId, link);
          link.pc.onLocalCandidate((candidate, mid) => client.fire({ type: 'ice', peerId, end: 'publisher', candidate: { candidate, sdpMid: mid } }));
          link.pc.onLocalDescription((sdp, type) => type === 'offer' && client.fire({ type: 'sdp', peerId, end: 'publisher', description: { type: 'offer', sdp } }));
          link.pc.setLocalDescription();
        } else if (m['type'] === 'sdp' && (m['description'] as RtSessionDescription | undefined)?.type === 'answer') {
          const link = links.get(peerId);
          if (!link) return;
          link.pc.setRemoteDescription((m['description'] as RtSessionDescription).sdp, 'answer');
          link.ice.ready();
        } else if (m['type'] === 'ice') links.get(peerId)?.ice.add(m['candidate'] as RtIceCandidate | null);
        else if (m['type'] === 'peerClosed') {
          links.get(peerId)?.close();
          links.delete(peerId);
        }
      };
      await client.request(publish);
    }
  };

  const subscriber = async (i: number) => {
    const { client, hello, config } = await joinOne('subscriber', i);
    const links = new Map<string, RecvLink>();
    const early = new Map<string, RtIceCandidate[]>();
    const subscribed = new Set<string>();
    const subscribe = (stream: RtStream) => {
      if (subscribed.has(stream.streamId)) return;
      subscribed.add(stream.streamId);
      client.request({ type: 'subscribe', streamId: stream.streamId, audio: true, video: true }).catch(() => undefined);
    };
    client.onMessage = (m) => {
      const peerId = String(m['peerId'] ?? '');
      if (m['type'] === 'streamCreated') subscribe(m['stream'] as RtStream);
      else if (m['type'] === 'sdp' && (m['description'] as RtSessionDescription | undefined)?.type === 'offer' && !links.has(peerId)) {
        const link = new RecvLink(
          `sub-${i}-${peerId}`,
          config,
          (m['description'] as RtSessionDescription).sdp,
          (sdp) => client.fire({ type: 'sdp', peerId, end: 'subscriber', description: { type: 'answer', sdp } }),
          (c) => client.fire({ type: 'ice', peerId, end: 'subscriber', candidate: c }),
          totals,
        );
        recvLinks.push(link);
        links.set(peerId, link);
        for (const c of early.get(peerId) ?? []) link.ice.add(c);
        early.delete(peerId);
      } else if (m['type'] === 'ice') {
        const link = links.get(peerId);
        if (link) link.ice.add(m['candidate'] as RtIceCandidate | null);
        else if (m['candidate']) early.set(peerId, [...(early.get(peerId) ?? []), m['candidate'] as RtIceCandidate]);
      }
    };
    for (const s of (hello['streams'] as RtStream[] | undefined) ?? []) subscribe(s);
  };

  const attempt = (kind: 'publisher' | 'subscriber', i: number, run: (i: number) => Promise<void>) =>
    run(i).catch((err: unknown) => {
      failed.push(`${kind} ${i}: ${(err as Error).message}`);
    });
  // Subscribers first, then the publishers: every subscribe then follows a streamCreated, as in a meeting.
  await Promise.all(Array.from({ length: o.subscribers }, (_, i) => attempt('subscriber', i, subscriber)));
  await Promise.all(Array.from({ length: o.publishers }, (_, i) => attempt('publisher', i, publisher)));
  o.onJoined?.();

  const expectedLinks = routed ? o.publishers + o.publishers * o.subscribers : 2 * o.publishers * o.subscribers;
  const end = started + o.durationMs;
  // Rates are measured once every link is up (or 5 s in, whichever comes first), to the end.
  const steadyBy = Math.min(end - 1000, Date.now() + 5000);
  while (Date.now() < steadyBy && totals.mediaConnected < expectedLinks) await sleep(100);
  const mark = { t: Date.now(), sent: totals.sentPackets, sentBytes: totals.sentBytes, recv: totals.recvPackets, recvBytes: totals.recvBytes };
  await sleep(Math.max(0, end - Date.now()));
  const elapsed = Math.max(0.001, (Date.now() - mark.t) / 1000);
  const rate = (n: number) => Math.round(n / elapsed);
  const kbps = (bytes: number) => Math.round((bytes * 8) / elapsed / 1000);

  let expected = 0;
  let got = 0;
  for (const st of totals.received) {
    if (st.first < 0) continue;
    expected += st.cycles + st.max - st.first + 1;
    got += st.count;
  }
  let upExpected = 0;
  let upLost = 0;
  for (const r of totals.reports.values()) {
    const n = r.highest - r.first + 1;
    if (n <= 0) continue;
    upExpected += n;
    upLost += r.lost;
  }
  const report: LoadTestReport = {
    sessionId: o.sessionId,
    mediaMode: o.mediaMode,
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    clients: { expected: o.publishers + o.subscribers, connected: totals.joinMs.length, failed },
    joinMs: percentiles(totals.joinMs),
    mediaLinks: { expected: expectedLinks, connected: totals.mediaConnected },
    mediaConnectMs: percentiles(totals.mediaMs),
    upstream: { packetsPerSecond: rate(totals.sentPackets - mark.sent), kbps: kbps(totals.sentBytes - mark.sentBytes), lossPercent: upExpected > 0 ? round2((100 * upLost) / upExpected) : null },
    downstream: { packetsPerSecond: rate(totals.recvPackets - mark.recv), kbps: kbps(totals.recvBytes - mark.recvBytes), lossPercent: expected > 0 ? round2((100 * Math.max(0, expected - got)) / expected) : null },
    measuredSeconds: Math.round(elapsed * 10) / 10,
  };
  for (const c of clients) c.close();
  for (const l of [...sendLinks, ...recvLinks]) l.close();
  await sleep(200);
  return report;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round2 = (x: number) => Math.round(x * 100) / 100;

/** The report as text lines. */
export function formatLoadTest(r: LoadTestReport): string {
  const loss = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)} %`);
  return [
    `load test: ${r.clients.expected} clients on ${r.mediaMode} session ${r.sessionId}, ${r.durationSeconds} s`,
    `  clients connected   ${r.clients.connected}/${r.clients.expected}   join p50 ${r.joinMs.p50} ms  p95 ${r.joinMs.p95} ms  max ${r.joinMs.max} ms`,
    `  media links up      ${r.mediaLinks.connected}/${r.mediaLinks.expected}   connect p50 ${r.mediaConnectMs.p50} ms  p95 ${r.mediaConnectMs.p95} ms  max ${r.mediaConnectMs.max} ms`,
    `  upstream   (sent)      ${String(r.upstream.packetsPerSecond).padStart(7)} packets/s  ${String(r.upstream.kbps).padStart(7)} kbit/s  loss ${loss(r.upstream.lossPercent)} (receiver reports)`,
    `  downstream (received)  ${String(r.downstream.packetsPerSecond).padStart(7)} packets/s  ${String(r.downstream.kbps).padStart(7)} kbit/s  loss ${loss(r.downstream.lossPercent)} (RTP sequence numbers)`,
    `  rates over the last ${r.measuredSeconds} s`,
    ...r.clients.failed.map((f) => `  FAILED ${f}`),
  ].join('\n');
}
