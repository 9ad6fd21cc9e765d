/**
 * RTP/RTCP byte helpers for the node-datachannel engine. Everything works on the Buffers that
 * libdatachannel hands out, in place where possible: the forwarding loop rewrites the sequence
 * number and SSRC of one Buffer per leg instead of copying it (`sendMessageBinary` copies
 * synchronously into native memory, so the next leg may overwrite the header).
 */

/** RTCP packet types share the RTP marker+payload-type byte; 192–223 never collides with media PTs. */
export function isRtcp(buf: Buffer): boolean {
  if (buf.length < 2) return false;
  const pt = buf[1]!;
  return pt >= 192 && pt <= 223;
}

export interface RtpView {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  /** Offset of the payload (after CSRCs and header extension). */
  payloadOffset: number;
  /** Payload length without padding. */
  payloadLength: number;
}

/** Parses the fixed header; returns undefined for anything that is not a well-formed RTP packet. */
export function parseRtp(buf: Buffer): RtpView | undefined {
  if (buf.length < 12 || buf[0]! >> 6 !== 2) return undefined;
  const b0 = buf[0]!;
  const cc = b0 & 0x0f;
  let off = 12 + cc * 4;
  if (b0 & 0x10) {
    if (buf.length < off + 4) return undefined;
    const words = buf.readUInt16BE(off + 2);
    off += 4 + words * 4;
  }
  let end = buf.length;
  if (b0 & 0x20) end -= buf[buf.length - 1]!;
  if (off > end) return undefined;
  return {
    payloadType: buf[1]! & 0x7f,
    marker: (buf[1]! & 0x80) !== 0,
    seq: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payloadOffset: off,
    payloadLength: end - off,
  };
}

/**
 * VP8 (RFC 7741): true when the packet starts a key frame. Only the first packet of a frame
 * (S=1, partition 0) carries the frame header whose P bit says "inter frame".
 */
export function isVp8KeyframeStart(buf: Buffer, p: RtpView): boolean {
  let i = p.payloadOffset;
  const end = i + p.payloadLength;
  if (i >= end) return false;
  const d0 = buf[i]!;
  const start = (d0 & 0x10) !== 0;
  const pid = d0 & 0x07;
  if (!start || pid !== 0) return false;
  i++;
  if (d0 & 0x80) {
    if (i >= end) return false;
    const x = buf[i]!;
    i++;
    if (x & 0x80) {
      if (i >= end) return false;
      i += buf[i]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) i++;
    if (x & 0x30) i++;
  }
  if (i >= end) return false;
  return (buf[i]! & 0x01) === 0;
}

/** Unwraps an RTX packet (RFC 4588) into the original packet: OSN from the payload, primary SSRC/PT. */
export function unwrapRtx(buf: Buffer, p: RtpView, primarySsrc: number, primaryPt: number): Buffer | undefined {
  if (p.payloadLength < 2) return undefined; // padding-only probe
  const osn = buf.readUInt16BE(p.payloadOffset);
  // Drop RTX padding too: the original packet had none (or the padding is re-created by nobody).
  const out = Buffer.allocUnsafe(p.payloadOffset + p.payloadLength - 2);
  buf.copy(out, 0, 0, p.payloadOffset);
  buf.copy(out, p.payloadOffset, p.payloadOffset + 2, p.payloadOffset + p.payloadLength);
  out[0] = out[0]! & ~0x20;
  out[1] = (out[1]! & 0x80) | (primaryPt & 0x7f);
  out.writeUInt16BE(osn, 2);
  out.writeUInt32BE(primarySsrc >>> 0, 8);
  return out;
}

export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  highestSeq: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

export type RtcpPacket =
  | { type: 'sr'; ssrc: number; ntpSec: number; ntpFrac: number; rtpTimestamp: number; packetCount: number; octetCount: number; reports: ReportBlock[] }
  | { type: 'rr'; ssrc: number; reports: ReportBlock[] }
  | { type: 'pli'; mediaSsrc: number }
  | { type: 'fir'; mediaSsrc: number }
  | { type: 'nack'; mediaSsrc: number; seqs: number[] }
  | { type: 'remb'; bitrate: number; ssrcs: number[] }
  | { type: 'other'; pt: number; fmt: number };

function readBlocks(buf: Buffer, off: number, count: number, end: number): ReportBlock[] {
  const out: ReportBlock[] = [];
  for (let i = 0; i < count && off + 24 <= end; i++, off += 24) {
    const lostWord = buf.readUInt32BE(off + 4);
    let cumulative = lostWord & 0xffffff;
    if (cumulative & 0x800000) cumulative -= 0x1000000;
    out.push({
      ssrc: buf.readUInt32BE(off),
      fractionLost: (lostWord >>> 24) / 256,
      cumulativeLost: cumulative,
      highestSeq: buf.readUInt32BE(off + 8),
      jitter: buf.readUInt32BE(off + 12),
      lsr: buf.readUInt32BE(off + 16),
      dlsr: buf.readUInt32BE(off + 20),
    });
  }
  return out;
}

/** Splits a compound RTCP packet into the parts the router acts on. */
export function parseRtcp(buf: Buffer): RtcpPacket[] {
  const out: RtcpPacket[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const b0 = buf[off]!;
    if (b0 >> 6 !== 2) break;
    const count = b0 & 0x1f;
    const pt = buf[off + 1]!;
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    const end = off + len;
    if (end > buf.length) break;
    if (pt === 200 && len >= 28) {
      out.push({
        type: 'sr',
        ssrc: buf.readUInt32BE(off + 4),
        ntpSec: buf.readUInt32BE(off + 8),
        ntpFrac: buf.readUInt32BE(off + 12),
        rtpTimestamp: buf.readUInt32BE(off + 16),
        packetCount: buf.readUInt32BE(off + 20),
        octetCount: buf.readUInt32BE(off + 24),
        reports: readBlocks(buf, off + 28, count, end),
      });
    } else if (pt === 201 && len >= 8) {
      out.push({ type: 'rr', ssrc: buf.readUInt32BE(off + 4), reports: readBlocks(buf, off + 8, count, end) });
    } else if (pt === 206 && len >= 12) {
      const mediaSsrc = buf.readUInt32BE(off + 8);
      if (count === 1) out.push({ type: 'pli', mediaSsrc });
      else if (count === 4 && len >= 20) out.push({ type: 'fir', mediaSsrc: buf.readUInt32BE(off + 12) });
      else if (count === 15 && len >= 20 && buf.toString('latin1', off + 12, off + 16) === 'REMB') {
        const n = buf[off + 16]!;
        const exp = buf[off + 17]! >> 2;
        const mantissa = ((buf[off + 17]! & 0x03) << 16) | buf.readUInt16BE(off + 18);
        const ssrcs: number[] = [];
        for (let i = 0; i < n && off + 20 + i * 4 + 4 <= end; i++) ssrcs.push(buf.readUInt32BE(off + 20 + i * 4));
        out.push({ type: 'remb', bitrate: mantissa * 2 ** exp, ssrcs });
      } else out.push({ type: 'other', pt, fmt: count });
    } else if (pt === 205 && count === 1 && len >= 16) {
      const seqs: number[] = [];
      for (let p = off + 12; p + 4 <= end; p += 4) {
        const pid = buf.readUInt16BE(p);
        const blp = buf.readUInt16BE(p + 2);
        seqs.push(pid);
        for (let b = 0; b < 16; b++) if (blp & (1 << b)) seqs.push((pid + b + 1) & 0xffff);
      }
      out.push({ type: 'nack', mediaSsrc: buf.readUInt32BE(off + 8), seqs });
    } else {
      out.push({ type: 'other', pt, fmt: count });
    }
    off = end;
  }
  return out;
}

/** PLI (RFC 4585 §6.3.1). */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b[0] = 0x81;
  b[1] = 206;
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  return b;
}

/** Generic NACK (RFC 4585 §6.2.1) for a sorted list of sequence numbers. */
export function buildNack(senderSsrc: number, mediaSsrc: number, seqs: number[]): Buffer {
  const pairs: [number, number][] = [];
  for (const s of seqs) {
    const last = pairs[pairs.length - 1];
    if (last) {
      const d = (s - last[0] + 0x10000) & 0xffff;
      if (d >= 1 && d <= 16) {
        last[1] |= 1 << (d - 1);
        continue;
      }
    }
    pairs.push([s, 0]);
  }
  const b = Buffer.allocUnsafe(12 + pairs.length * 4);
  b[0] = 0x81;
  b[1] = 205;
  b.writeUInt16BE(2 + pairs.length, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  pairs.forEach(([pid, blp], i) => {
    b.writeUInt16BE(pid, 12 + i * 4);
    b.writeUInt16BE(blp, 14 + i * 4);
  });
  return b;
}

/** Receiver report with one block per entry. */
export function buildRr(senderSsrc: number, blocks: ReportBlock[]): Buffer {
  const b = Buffer.alloc(8 + blocks.length * 24);
  b[0] = 0x80 | blocks.length;
  b[1] = 201;
  b.writeUInt16BE(1 + blocks.length * 6, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  blocks.forEach((r, i) => {
    const o = 8 + i * 24;
    b.writeUInt32BE(r.ssrc >>> 0, o);
    const lost = Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost)) & 0xffffff;
    b.writeUInt32BE(((Math.min(255, Math.floor(r.fractionLost * 256)) << 24) | lost) >>> 0, o + 4);
    b.writeUInt32BE(r.highestSeq >>> 0, o + 8);
    b.writeUInt32BE(r.jitter >>> 0, o + 12);
    b.writeUInt32BE(r.lsr >>> 0, o + 16);
    b.writeUInt32BE(r.dlsr >>> 0, o + 20);
  });
  return b;
}

/** Sender report without report blocks (the router's legs only send). */
export function buildSr(ssrc: number, ntpSec: number, ntpFrac: number, rtpTimestamp: number, packetCount: number, octetCount: number): Buffer {
  const b = Buffer.allocUnsafe(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  b.writeUInt32BE(ntpSec >>> 0, 8);
  b.writeUInt32BE(ntpFrac >>> 0, 12);
  b.writeUInt32BE(rtpTimestamp >>> 0, 16);
  b.writeUInt32BE(packetCount >>> 0, 20);
  b.writeUInt32BE(octetCount >>> 0, 24);
  return b;
}

/** Middle 32 bits of the current NTP time, for LSR/DLSR arithmetic. */
export function ntpMiddle(ntpSec: number, ntpFrac: number): number {
  return (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
}
