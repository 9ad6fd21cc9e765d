/**
 * Real WebRTC test peers built on node-datachannel: a publisher that sends synthetic VP8 + Opus
 * RTP, and a subscriber that records what arrives and sends receiver reports. They negotiate
 * with the router exactly as browsers do (SDP + trickle ICE), only in-process.
 */
import nodeDataChannel from 'node-datachannel';
import type { PeerConnection, Track } from 'node-datachannel';
import type { IceCandidateInit, MediaRoom, SubscriberMediaEvent } from '../../src/media/index.js';
import type { LossyRelay } from './lossy-relay.js';

const { PeerConnection: PC, Audio, Video } = nodeDataChannel;
const RTC = { iceServers: [] as string[], bindAddress: '127.0.0.1' };

export const VIDEO_PT = 96;
export const AUDIO_PT = 111;

function isRtcp(b: Buffer): boolean {
  return b.length >= 2 && b[1]! >= 192 && b[1]! <= 223;
}

/** Adds remote candidates only once the remote description is set (libdatachannel rejects earlier ones). */
class CandidateSink {
  private queue: IceCandidateInit[] | undefined = [];
  constructor(private readonly pc: PeerConnection) {}
  add(c: IceCandidateInit): void {
    if (this.queue) this.queue.push(c);
    else if (c.candidate) this.pc.addRemoteCandidate(c.candidate, c.sdpMid ?? '0');
  }
  ready(): void {
    const q = this.queue ?? [];
    this.queue = undefined;
    for (const c of q) this.add(c);
  }
}


export interface TestPublisher {
  readonly audioSsrc: number;
  readonly videoSsrc: number;
  /** RTCP packet types/fmts received from the router: 'pli', 'nack', 'rr'. */
  readonly rtcp: { pli: number; nack: number; rr: number };
  readonly sentVideo: number;
  connected(): boolean;
  close(): void;
}

/** Publishes synthetic media: 50 video packets/s (a keyframe every 50 or on PLI) and 50 audio packets/s. */
export async function createTestPublisher(room: MediaRoom, publisherId: string): Promise<TestPublisher> {
  const pc = new PC(`test-pub-${publisherId}`, RTC);
  const audioSsrc = 0x1000 + Math.floor(Math.random() * 1e6);
  const videoSsrc = 0x2000000 + Math.floor(Math.random() * 1e6);
  const a = new Audio('0', 'SendOnly');
  a.addOpusCodec(AUDIO_PT, 'minptime=10;useinbandfec=1');
  a.addSSRC(audioSsrc, 'test', 'stream', 'a');
  const v = new Video('1', 'SendOnly');
  v.addVP8Codec(VIDEO_PT);
  v.addSSRC(videoSsrc, 'test', 'stream', 'v');
  const ta: Track = pc.addTrack(a);
  const tv: Track = pc.addTrack(v);
  const rtcp = { pli: 0, nack: 0, rr: 0 };
  let keyframeDue = true;
  const onRtcp = (b: Buffer) => {
    if (!isRtcp(b)) return;
    for (let off = 0; off + 4 <= b.length; ) {
      const pt = b[off + 1]!;
      const fmt = b[off]! & 0x1f;
      if (pt === 206 && fmt === 1) {
        rtcp.pli++;
        keyframeDue = true;
      } else if (pt === 205 && fmt === 1) rtcp.nack++;
      else if (pt === 201) rtcp.rr++;
      off += (b.readUInt16BE(off + 2) + 1) * 4;
    }
  };
  ta.onMessage(onRtcp);
  tv.onMessage(onRtcp);
  const sink = new CandidateSink(pc);
  const offer = new Promise<string>((r) => pc.onLocalDescription((sdp) => r(sdp)));
  const early: IceCandidateInit[] = [];
  let answered = false;
  pc.onLocalCandidate((candidate, mid) => {
    const c = { candidate, sdpMid: mid };
    if (answered) void room.addPublisherCandidate(publisherId, c).catch(() => {});
    else early.push(c);
  });
  pc.setLocalDescription();
  const { answerSdp } = await room.publish({ publisherId, offerSdp: await offer, onCandidate: (c) => sink.add(c) });
  pc.setRemoteDescription(answerSdp, 'answer');
  sink.ready();
  answered = true;
  for (const c of early) await room.addPublisherCandidate(publisherId, c);

  let seqA = 1000;
  let seqV = 5000;
  let ts = 0;
  let sentVideo = 0;
  let n = 0;
  const timer = setInterval(() => {
    if (!tv.isOpen()) return;
    ts += 1800;
    n++;
    const key = keyframeDue || n % 50 === 0;
    keyframeDue = false;
    const pv = Buffer.alloc(12 + 1 + 3 + 200);
    pv[0] = 0x80;
    pv[1] = 0x80 | VIDEO_PT;
    pv.writeUInt16BE(seqV++ & 0xffff, 2);
    pv.writeUInt32BE(ts >>> 0, 4);
    pv.writeUInt32BE(videoSsrc, 8);
    pv[12] = 0x10; // S=1, PID=0
    pv[13] = key ? 0x00 : 0x01; // VP8 frame tag: P bit 0 = key frame
    try {
      if (tv.sendMessageBinary(pv)) sentVideo++;
      const pa = Buffer.alloc(12 + 60);
      pa[0] = 0x80;
      pa[1] = AUDIO_PT;
      pa.writeUInt16BE(seqA++ & 0xffff, 2);
      pa.writeUInt32BE((n * 960) >>> 0, 4);
      pa.writeUInt32BE(audioSsrc, 8);
      ta.sendMessageBinary(pa);
    } catch {
      // closed
    }
  }, 20);

  return {
    audioSsrc,
    videoSsrc,
    rtcp,
    get sentVideo() {
      return sentVideo;
    },
    connected: () => pc.state() === 'connected',
    close() {
      clearInterval(timer);
      for (const t of [ta, tv]) {
        try {
          t.close();
        } catch {
          /* closed */
        }
      }
      pc.close();
    },
  };
}

export interface ReceivedStream {
  ssrcs: Set<number>;
  seqs: number[];
  firstIsKeyframe: boolean | undefined;
  count: number;
}

export interface TestSubscriber {
  readonly offerSdp: string;
  readonly audio: ReceivedStream;
  readonly video: ReceivedStream;
  readonly events: SubscriberMediaEvent[];
  connected(): boolean;
  /** Sends a PLI / NACK / REMB for the current video SSRC. */
  sendPli(): void;
  sendRemb(bitrate: number): void;
  sendNack(seq: number): void;
  close(): void;
}

/** Subscribes, answers the router's offer, records packets and sends receiver reports every 500 ms. */
export async function createTestSubscriber(
  room: MediaRoom,
  subscriberId: string,
  publisherId: string,
  opts: { audio?: boolean; video?: boolean; relay?: LossyRelay; silent?: boolean } = {},
): Promise<TestSubscriber> {
  const pc = new PC(`test-sub-${subscriberId}`, RTC);
  const tracks: Track[] = [];
  const mk = (): ReceivedStream => ({ ssrcs: new Set(), seqs: [], firstIsKeyframe: undefined, count: 0 });
  const audio = mk();
  const video = mk();
  const events: SubscriberMediaEvent[] = [];
  const sink = new CandidateSink(pc);
  // Receiver-report state per kind: expected/received in the current interval.
  // RFC 3550 A.1-style counters (since the start, extended sequence numbers) plus the interval.
  const mkRr = () => ({ ssrc: 0, first: -1, max: 0, cycles: 0, recv: 0, prevExpected: 0, prevRecv: 0 });
  const rr = { audio: mkRr(), video: mkRr() };
  let videoTrack: Track | undefined;
  pc.onTrack((t) => {
    tracks.push(t);
    const kind = t.type() === 'audio' ? 'audio' : 'video';
    if (kind === 'video') videoTrack = t;
    const s = kind === 'audio' ? audio : video;
    t.onMessage((b) => {
      if (isRtcp(b) || b.length < 12) return;
      const seq = b.readUInt16BE(2);
      const ssrc = b.readUInt32BE(8);
      s.ssrcs.add(ssrc);
      if (s.firstIsKeyframe === undefined && kind === 'video') s.firstIsKeyframe = (b[13]! & 1) === 0;
      s.seqs.push(seq);
      s.count++;
      const st = rr[kind];
      if (st.ssrc !== ssrc) Object.assign(st, mkRr(), { ssrc });
      if (st.first < 0) {
        st.first = seq;
        st.max = seq;
      } else if (((seq - st.max) & 0xffff) < 0x8000 && seq !== st.max) {
        if (seq < st.max) st.cycles += 0x10000;
        st.max = seq;
      }
      st.recv++;
    });
  });
  const answer = new Promise<string>((r) => pc.onLocalDescription((sdp, type) => type === 'answer' && r(sdp)));
  const early: IceCandidateInit[] = [];
  let answered = false;
  pc.onLocalCandidate((cand, mid) => {
    const candidate = opts.relay ? opts.relay.forRouter(cand) : cand;
    if (!candidate) return;
    const c = { candidate, sdpMid: mid };
    if (answered) void room.addSubscriberCandidate(subscriberId, c).catch(() => {});
    else early.push(c);
  });
  const { offerSdp } = await room.subscribe({
    subscriberId,
    publisherId,
    audio: opts.audio ?? true,
    video: opts.video ?? true,
    onCandidate: (c) => {
      const candidate = opts.relay ? opts.relay.forPeer(c.candidate) : c.candidate;
      if (candidate) sink.add({ ...c, candidate });
    },
    onEvent: (e) => events.push(e),
  });
  pc.setRemoteDescription(opts.relay ? offerSdp.replace(/^a=candidate:.*\r?\n/gm, '') : offerSdp, 'offer');
  sink.ready();
  await room.setSubscriberAnswer(subscriberId, await answer);
  answered = true;
  for (const c of early) await room.addSubscriberCandidate(subscriberId, c);

  const mySsrc = 0x7000 + Math.floor(Math.random() * 1e6);
  const rrTimer = setInterval(() => {
    if (opts.silent) return; // a vanished browser: no RTCP at all
    const blocks: Buffer[] = [];
    for (const st of [rr.audio, rr.video]) {
      if (st.first < 0) continue;
      const ext = st.cycles + st.max;
      const expected = ext - st.first + 1;
      const cumLost = Math.max(0, expected - st.recv);
      const ei = expected - st.prevExpected;
      const li = ei - (st.recv - st.prevRecv);
      st.prevExpected = expected;
      st.prevRecv = st.recv;
      const frac = ei > 0 && li > 0 ? Math.min(255, Math.floor((li / ei) * 256)) : 0;
      const blk = Buffer.alloc(24);
      blk.writeUInt32BE(st.ssrc, 0);
      blk.writeUInt32BE(((frac << 24) | (cumLost & 0xffffff)) >>> 0, 4);
      blk.writeUInt32BE(ext >>> 0, 8);
      blocks.push(blk);
    }
    if (!blocks.length || !videoTrack?.isOpen()) return;
    const head = Buffer.alloc(8);
    head[0] = 0x80 | blocks.length;
    head[1] = 201;
    head.writeUInt16BE(1 + blocks.length * 6, 2);
    head.writeUInt32BE(mySsrc, 4);
    try {
      videoTrack.sendMessageBinary(Buffer.concat([head, ...blocks]));
    } catch {
      /* closed */
    }
  }, 500);

  const fb = (pt: number, fmt: number, fci: Buffer) => {
    const b = Buffer.alloc(12 + fci.length);
    b[0] = 0x80 | fmt;
    b[1] = pt;
    b.writeUInt16BE(2 + fci.length / 4, 2);
    b.writeUInt32BE(mySsrc, 4);
    b.writeUInt32BE([...video.ssrcs][0] ?? 0, 8);
    fci.copy(b, 12);
    videoTrack?.sendMessageBinary(b);
  };

  return {
    offerSdp,
    audio,
    video,
    events,
    connected: () => pc.state() === 'connected',
    sendPli: () => fb(206, 1, Buffer.alloc(0)),
    sendRemb: (bitrate) => {
      // REMB: media SSRC 0, "REMB", 1 SSRC, exponent/mantissa, the SSRC.
      let exp = 0;
      let mantissa = Math.floor(bitrate);
      while (mantissa > 0x3ffff) {
        mantissa >>= 1;
        exp++;
      }
      const b = Buffer.alloc(24);
      b[0] = 0x80 | 15;
      b[1] = 206;
      b.writeUInt16BE(5, 2);
      b.writeUInt32BE(mySsrc, 4);
      b.write('REMB', 12, 'latin1');
      b[16] = 1;
      b[17] = (exp << 2) | (mantissa >> 16);
      b.writeUInt16BE(mantissa & 0xffff, 18);
      b.writeUInt32BE([...video.ssrcs][0] ?? 0, 20);
      videoTrack?.sendMessageBinary(b);
    },
    sendNack: (seq) => {
      const fci = Buffer.alloc(4);
      fci.writeUInt16BE(seq, 0);
      fb(205, 1, fci);
    },
    close() {
      clearInterval(rrTimer);
      for (const t of tracks) {
        try {
          t.close();
        } catch {
          /* closed */
        }
      }
      pc.close();
    },
  };
}
