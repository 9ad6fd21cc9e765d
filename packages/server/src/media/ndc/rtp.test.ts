import { describe, expect, it } from 'vitest';
import { buildNack, buildPli, buildRr, buildSr, isRtcp, isVp8KeyframeStart, parseRtcp, parseRtp, unwrapRtx } from './rtp.js';

function rtp(opts: { pt: number; seq: number; ssrc: number; payload: number[]; ext?: boolean; csrc?: number; padding?: number }): Buffer {
  const csrc = opts.csrc ?? 0;
  const ext = opts.ext ? Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00]) : Buffer.alloc(0);
  const pad = opts.padding ? Buffer.concat([Buffer.alloc(opts.padding - 1), Buffer.from([opts.padding])]) : Buffer.alloc(0);
  const head = Buffer.alloc(12 + csrc * 4);
  head[0] = 0x80 | (opts.ext ? 0x10 : 0) | (opts.padding ? 0x20 : 0) | csrc;
  head[1] = opts.pt;
  head.writeUInt16BE(opts.seq, 2);
  head.writeUInt32BE(1234, 4);
  head.writeUInt32BE(opts.ssrc, 8);
  return Buffer.concat([head, ext, Buffer.from(opts.payload), pad]);
}

describe('RTP helpers', () => {
  it('parses headers with CSRCs, extensions and padding', () => {
    const b = rtp({ pt: 96, seq: 65535, ssrc: 0xdeadbeef, payload: [1, 2, 3], ext: true, csrc: 2, padding: 4 });
    const p = parseRtp(b)!;
    expect(p).toMatchObject({ payloadType: 96, seq: 65535, ssrc: 0xdeadbeef, payloadOffset: 12 + 8 + 8, payloadLength: 3 });
    expect(isRtcp(b)).toBe(false);
    expect(parseRtp(Buffer.alloc(5))).toBeUndefined();
  });

  it('detects VP8 keyframe starts, with and without the extended descriptor', () => {
    const key = rtp({ pt: 96, seq: 1, ssrc: 1, payload: [0x10, 0x00] });
    const delta = rtp({ pt: 96, seq: 1, ssrc: 1, payload: [0x10, 0x01] });
    const notStart = rtp({ pt: 96, seq: 1, ssrc: 1, payload: [0x00, 0x00] });
    // X=1, I=1 with 15-bit picture ID (M bit), L=1, T=1: 1 + 1 + 2 + 1 + 1 bytes before the frame tag.
    const ext = rtp({ pt: 96, seq: 1, ssrc: 1, payload: [0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0x00] });
    expect(isVp8KeyframeStart(key, parseRtp(key)!)).toBe(true);
    expect(isVp8KeyframeStart(delta, parseRtp(delta)!)).toBe(false);
    expect(isVp8KeyframeStart(notStart, parseRtp(notStart)!)).toBe(false);
    expect(isVp8KeyframeStart(ext, parseRtp(ext)!)).toBe(true);
  });

  it('unwraps RTX into the original sequence number, SSRC and payload type', () => {
    const r = rtp({ pt: 97, seq: 9, ssrc: 222, payload: [0x12, 0x34, 0xaa, 0xbb] });
    const out = unwrapRtx(r, parseRtp(r)!, 111, 96)!;
    const p = parseRtp(out)!;
    expect(p).toMatchObject({ payloadType: 96, seq: 0x1234, ssrc: 111, payloadLength: 2 });
    expect([...out.subarray(p.payloadOffset)]).toEqual([0xaa, 0xbb]);
    const probe = rtp({ pt: 97, seq: 9, ssrc: 222, payload: [] });
    expect(unwrapRtx(probe, parseRtp(probe)!, 111, 96)).toBeUndefined();
  });

  it('builds RTCP the parser reads back (compound)', () => {
    const rr = buildRr(5, [{ ssrc: 7, fractionLost: 0.25, cumulativeLost: 12, highestSeq: 70000, jitter: 3, lsr: 1, dlsr: 2 }]);
    const sr = buildSr(7, 100, 200, 300, 4, 5);
    const nack = buildNack(5, 7, [10, 11, 26, 27, 100]);
    const pli = buildPli(5, 7);
    const parsed = parseRtcp(Buffer.concat([sr, rr, nack, pli]));
    expect(isRtcp(sr)).toBe(true);
    expect(parsed[0]).toMatchObject({ type: 'sr', ssrc: 7, ntpSec: 100, ntpFrac: 200, rtpTimestamp: 300, packetCount: 4, octetCount: 5 });
    expect(parsed[1]).toMatchObject({ type: 'rr', ssrc: 5, reports: [{ ssrc: 7, fractionLost: 0.25, cumulativeLost: 12, highestSeq: 70000 }] });
    expect(parsed[2]).toEqual({ type: 'nack', mediaSsrc: 7, seqs: [10, 11, 26, 27, 100] });
    expect(parsed[3]).toEqual({ type: 'pli', mediaSsrc: 7 });
  });

  it('NACK bitmasks wrap around 65535', () => {
    expect((parseRtcp(buildNack(1, 2, [65534, 65535, 0, 1]))[0] as { seqs: number[] }).seqs).toEqual([65534, 65535, 0, 1]);
  });
});
