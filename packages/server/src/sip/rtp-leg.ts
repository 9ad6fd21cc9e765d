/**
 * The RTP side of one SIP call: one UDP socket, used both ways (symmetric RTP, RFC 4961), so the
 * far end gets our packets from the address and port our SDP advertised. Inbound audio is
 * checked (SRTP), turned into PCMU and handed on; outbound frames come from the mixer clock.
 * RFC 4733 events are sent in place of audio while a DTMF digit plays, and received ones are
 * reported (for `*6`).
 *
 * Media is accepted only from the address and port the far end's SDP named (issue 17: anyone who
 * reached the port could otherwise take the call over by sending a few packets). Symmetric-RTP
 * latching for far ends behind NAT is opt-in ({@link RtpLegOptions.latching}) and narrow: once,
 * to a source on the same IP as the SDP's, within the first packets and seconds after the
 * answer. Everything else is dropped and counted (`stats.droppedSource`). With SRTP a latch also
 * needs a packet that passes SRTP authentication.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { createDecoder, createEncoder, FRAME, type AudioEncoder, type CodecName } from '../participant/audio.js';
import { SrtpContext } from './srtp.js';

const require = createRequire(import.meta.url);
const { alaw, mulaw } = require('alawmulaw') as typeof import('alawmulaw');

export interface RtpLegOptions {
  bindAddress: string;
  /** Inclusive port range; 0/0: any port. */
  minPort: number;
  maxPort: number;
  /**
   * Symmetric-RTP latching for far ends behind NAT (config `sipRtpLatching`). Default false:
   * media only from the SDP's address and port.
   */
  latching?: boolean;
}

/** Latching is possible only this long after the answer (or a re-INVITE that moved the media)… */
export const LATCH_WINDOW_MS = 5000;
/** …and only before this many packets came from the signalled address. */
export const LATCH_WINDOW_PACKETS = 10;

export interface RtpLegStats {
  packetsIn: number;
  packetsOut: number;
  /** Inbound packets that failed SRTP authentication. */
  rejected: number;
  /** Inbound packets dropped because they came from an address and port the SDP did not name (or before the answer). */
  droppedSource: number;
  dtmfSent: number;
}

const DTMF_EVENTS: Record<string, number> = { '*': 10, '#': 11 };
for (let d = 0; d <= 9; d++) DTMF_EVENTS[String(d)] = d;
const EVENT_DIGITS = Object.fromEntries(Object.entries(DTMF_EVENTS).map(([k, v]) => [v, k])) as Record<number, string>;

/** A digit plays 200 ms, then 100 ms of audio before the next; `p` is 500 ms of audio. */
const DIGIT_FRAMES = 10;
const GAP_FRAMES = 5;
const PAUSE_FRAMES = 25;

type DtmfStep = { kind: 'digit'; event: number } | { kind: 'gap'; frames: number };

export class RtpLeg {
  private socket: Socket | undefined;
  port = 0;
  remote: { address: string; port: number } | undefined;
  private codec: { name: CodecName; pt: number } | undefined;
  private telephoneEvent: number | undefined;
  private tx: SrtpContext | undefined;
  private rx: SrtpContext | undefined;
  private encoder: AudioEncoder | undefined;
  /** Converts the far end's audio to PCMU for the router (what browsers subscribe to). */
  private toPcmu: PcmuConverter | undefined;
  private remoteKey: string | undefined;
  private readonly ssrc = randomInt(1, 0xffffffff);
  private seq = randomInt(0, 0x8000);
  private ts = randomInt(0, 0x7fffffff);
  /** Our outbound sequence towards the router (PCMU, our own numbering after transcoding). */
  private routerSeq = randomInt(0, 0x8000);
  private routerTs = randomInt(0, 0x7fffffff);
  private readonly routerSsrc = randomInt(1, 0xffffffff);
  sending = true;
  lastInboundAt = Date.now();
  readonly stats: RtpLegStats = { packetsIn: 0, packetsOut: 0, rejected: 0, droppedSource: 0, dtmfSent: 0 };
  private dtmfQueue: { steps: DtmfStep[]; done: () => void }[] = [];
  private dtmfState: { step: DtmfStep; frame: number; ts: number; endSent: number } | undefined;
  private lastEventTs = -1;
  /** Where the far end's SDP said its media is (the only accepted source, latching aside). */
  private signalled: { address: string; port: number } | undefined;
  private latched = false;
  /** Latching window: opened by the answer or a re-INVITE that moved the media. */
  private latchUntil = 0;
  private acceptedSinceSignalled = 0;
  closed = false;

  /** Inbound audio, as a PCMU RTP packet for the router. */
  onAudio: (rtp: Buffer) => void = () => undefined;
  /** A digit the far end pressed (RFC 4733). */
  onDigit: (digit: string) => void = () => undefined;

  constructor(private readonly o: RtpLegOptions) {}

  async open(): Promise<void> {
    const { minPort, maxPort } = this.o;
    const tries = minPort === 0 ? [0] : candidatePorts(minPort, maxPort);
    let lastErr: Error | undefined;
    for (const port of tries) {
      const s = createSocket(this.o.bindAddress.includes(':') ? 'udp6' : 'udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(port, this.o.bindAddress, () => {
            s.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        lastErr = err as Error;
        s.close();
        continue;
      }
      s.on('error', () => undefined);
      s.on('message', (buf, rinfo) => this.onPacket(buf, rinfo.address, rinfo.port));
      this.socket = s;
      this.port = s.address().port;
      return;
    }
    throw new Error(`no free RTP port in ${minPort}-${maxPort}${lastErr ? ` (${lastErr.message})` : ''}`);
  }

  /** Media agreed: where to send, which codec, which keys (ours for sending, theirs for receiving). */
  configure(o: { address: string; port: number; codec: { name: CodecName; pt: number }; telephoneEvent: number | undefined; localKey?: string; remoteKey?: string }): void {
    // The SDP (first answer or a re-INVITE, both in the authenticated dialog) names the media
    // address; a change of it starts over: no latch, a new window.
    if (!this.signalled || this.signalled.address !== o.address || this.signalled.port !== o.port) {
      this.signalled = { address: o.address, port: o.port };
      this.remote = { ...this.signalled };
      this.latched = false;
      this.latchUntil = Date.now() + LATCH_WINDOW_MS;
      this.acceptedSinceSignalled = 0;
    }
    if (!this.codec || this.codec.name !== o.codec.name || this.codec.pt !== o.codec.pt) {
      this.encoder?.close();
      this.toPcmu?.close();
      this.encoder = createEncoder(o.codec.name);
      this.toPcmu = pcmuConverter(o.codec.name);
    }
    this.codec = o.codec;
    this.telephoneEvent = o.telephoneEvent;
    if (o.localKey && o.remoteKey) {
      this.tx ??= new SrtpContext(o.localKey);
      // A re-INVITE may re-key the far end's direction.
      if (o.remoteKey !== this.remoteKey) this.rx = new SrtpContext(o.remoteKey);
      this.remoteKey = o.remoteKey;
    }
  }

  get secure(): boolean {
    return this.tx !== undefined;
  }

  /** May a packet from `address:port` move our remote there (symmetric RTP behind NAT)? */
  private mayLatch(address: string): boolean {
    const s = this.signalled;
    return this.o.latching === true && s !== undefined && !this.latched && Date.now() < this.latchUntil && this.acceptedSinceSignalled < LATCH_WINDOW_PACKETS && sameHost(address, s.address);
  }

  private onPacket(buf: Buffer, address: string, port: number): void {
    if (this.closed || buf.length < 12 || buf[0]! >> 6 !== 2) return;
    const pt = buf[1]! & 0x7f;
    // RTCP (rtcp-mux) and SRTCP: not used.
    if (pt >= 64 && pt <= 95) return;
    const fromRemote = this.remote !== undefined && sameHost(address, this.remote.address) && port === this.remote.port;
    const latch = !fromRemote && this.mayLatch(address);
    if (!fromRemote && !latch) {
      this.stats.droppedSource++;
      return;
    }
    let rtp = buf;
    if (this.rx) {
      const plain = this.rx.unprotect(buf);
      if (!plain) {
        this.stats.rejected++;
        return;
      }
      rtp = plain;
    }
    if (!this.codec) return;
    if (latch) {
      // Symmetric RTP behind NAT: answer to where the far end's media really comes from (once).
      this.remote = { address, port };
      this.latched = true;
    }
    this.acceptedSinceSignalled++;
    this.stats.packetsIn++;
    this.lastInboundAt = Date.now();
    const cc = rtp[0]! & 0x0f;
    let hl = 12 + cc * 4;
    if (rtp[0]! & 0x10) hl += 4 + rtp.readUInt16BE(hl + 2) * 4;
    if (hl > rtp.length) return;
    // Padding (RFC 3550 §5.1)
    let end = rtp.length;
    if (rtp[0]! & 0x20) end -= rtp[rtp.length - 1]!;
    const payload = rtp.subarray(hl, end);
    if (pt === this.telephoneEvent) {
      this.onEvent(rtp, payload);
      return;
    }
    if (pt !== this.codec.pt || !this.toPcmu) return;
    const pcmu = this.toPcmu.convert(payload);
    const out = Buffer.alloc(12 + pcmu.length);
    out[0] = 0x80;
    out[1] = 0;
    out.writeUInt16BE(this.routerSeq, 2);
    out.writeUInt32BE(this.routerTs >>> 0, 4);
    out.writeUInt32BE(this.routerSsrc, 8);
    pcmu.copy(out, 12);
    this.routerSeq = (this.routerSeq + 1) & 0xffff;
    this.routerTs = (this.routerTs + pcmu.length) >>> 0;
    this.onAudio(out);
  }

  private onEvent(rtp: Buffer, payload: Buffer): void {
    if (payload.length < 4) return;
    const ts = rtp.readUInt32BE(4);
    if (ts === this.lastEventTs) return;
    this.lastEventTs = ts;
    const digit = EVENT_DIGITS[payload[0]!];
    if (digit !== undefined) this.onDigit(digit);
  }

  /** One 20 ms frame of mixed audio (8 kHz). Replaced by DTMF events while a digit plays. */
  sendFrame(frame: Float32Array): void {
    if (this.closed || !this.remote || !this.encoder || !this.codec) return;
    if (this.dtmfTick()) return;
    if (!this.sending) {
      this.ts = (this.ts + this.encoder.tsPerFrame) >>> 0;
      return;
    }
    const payload = this.encoder.encode(frame);
    this.sendRtp(this.codec.pt, false, this.ts, payload);
    this.ts = (this.ts + this.encoder.tsPerFrame) >>> 0;
  }

  private sendRtp(pt: number, marker: boolean, ts: number, payload: Buffer): void {
    const pkt = Buffer.alloc(12 + payload.length);
    pkt[0] = 0x80;
    pkt[1] = (marker ? 0x80 : 0) | pt;
    pkt.writeUInt16BE(this.seq, 2);
    pkt.writeUInt32BE(ts >>> 0, 4);
    pkt.writeUInt32BE(this.ssrc, 8);
    payload.copy(pkt, 12);
    this.seq = (this.seq + 1) & 0xffff;
    const wire = this.tx ? this.tx.protect(pkt) : pkt;
    this.stats.packetsOut++;
    this.socket?.send(wire, this.remote!.port, this.remote!.address);
  }

  /** Queue digits (`0-9*#p`); resolves when they have been sent. False when the far end takes no RFC 4733 events. */
  playDtmf(digits: string): Promise<boolean> {
    if (this.telephoneEvent === undefined) return Promise.resolve(false);
    const steps: DtmfStep[] = [];
    for (const ch of digits) {
      if (ch === 'p') steps.push({ kind: 'gap', frames: PAUSE_FRAMES });
      else if (DTMF_EVENTS[ch] !== undefined) steps.push({ kind: 'digit', event: DTMF_EVENTS[ch]! }, { kind: 'gap', frames: GAP_FRAMES });
    }
    return new Promise((resolve) => this.dtmfQueue.push({ steps, done: () => resolve(true) }));
  }

  /** Advances the DTMF player by one frame; true when it sent an event packet instead of audio. */
  private dtmfTick(): boolean {
    if (!this.dtmfState) {
      const job = this.dtmfQueue[0];
      if (!job) return false;
      const step = job.steps.shift();
      if (!step) {
        this.dtmfQueue.shift();
        job.done();
        return this.dtmfTick();
      }
      this.dtmfState = { step, frame: 0, ts: this.ts, endSent: 0 };
    }
    const st = this.dtmfState;
    const tsPerFrame = this.encoder!.tsPerFrame;
    if (st.step.kind === 'gap') {
      if (++st.frame >= st.step.frames) this.dtmfState = undefined;
      return false;
    }
    // One RTP timestamp for the whole event; duration grows by a frame per packet (RFC 4733 §2.5).
    st.frame++;
    const duration = Math.min(0xffff, st.frame * 160);
    const ended = st.frame >= DIGIT_FRAMES;
    const payload = Buffer.from([st.step.event, (ended ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);
    if (!ended) this.sendRtp(this.telephoneEvent!, st.frame === 1, st.ts, payload);
    else {
      // The end packet goes out three times.
      for (let i = 0; i < 3; i++) this.sendRtp(this.telephoneEvent!, false, st.ts, payload);
      this.stats.dtmfSent++;
      this.dtmfState = undefined;
    }
    this.ts = (this.ts + tsPerFrame) >>> 0;
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.encoder?.close();
    this.toPcmu?.close();
    for (const j of this.dtmfQueue) j.done();
    this.dtmfQueue = [];
    this.socket?.close();
  }
}

/** The same IP, whether written as IPv4 or as IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports). */
function sameHost(a: string, b: string): boolean {
  const norm = (x: string) => x.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  return norm(a) === norm(b);
}

function candidatePorts(min: number, max: number): number[] {
  // Even ports (RTP convention, RFC 3550 §11), starting at a random one.
  const first = min % 2 === 0 ? min : min + 1;
  const evens: number[] = [];
  for (let p = first; p <= max; p += 2) evens.push(p);
  if (evens.length === 0) return [min];
  const start = randomInt(0, evens.length);
  return [...evens.slice(start), ...evens.slice(0, start)];
}

interface PcmuConverter {
  convert(payload: Buffer): Buffer;
  close(): void;
}

function pcmuConverter(codec: CodecName): PcmuConverter {
  if (codec === 'PCMU') return { convert: (p) => p, close() {} };
  if (codec === 'PCMA') return { convert: (p) => Buffer.from(mulaw.encode(alaw.decode(p))), close() {} };
  // Opus: libopus decodes straight to 8 kHz; every 20 ms of it becomes one PCMU payload.
  const dec = createDecoder('opus');
  const enc = createEncoder('PCMU');
  return {
    convert(p) {
      const pcm = dec.decode(p);
      const chunks: Buffer[] = [];
      for (let i = 0; i + FRAME <= pcm.length; i += FRAME) chunks.push(enc.encode(pcm.subarray(i, i + FRAME)));
      return Buffer.concat(chunks);
    },
    close() {
      dec.close();
      enc.close();
    },
  };
}
