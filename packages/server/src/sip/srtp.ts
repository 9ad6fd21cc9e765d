/**
 * SRTP (RFC 3711) with the AES_CM_128_HMAC_SHA1_80 suite, keyed by SDES (RFC 4568 `a=crypto`),
 * on node:crypto (AES-128-CTR is AES-CM with the IV as the initial counter). RTP only: the far
 * end's SRTCP is dropped and none is sent (RTCP is optional for a call; RFC 3550 §6).
 */
import { createCipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80';
const TAG_LEN = 10;

/** A fresh master key (16 bytes) + salt (14 bytes) as the `inline:` base64 of `a=crypto`. */
export function newSrtpKey(): string {
  return randomBytes(30).toString('base64');
}

/** Parse `1 AES_CM_128_HMAC_SHA1_80 inline:KEY[|lifetime][|mki:len]` (the value of `a=crypto:`). */
export function parseCryptoLine(value: string): { tag: number; suite: string; key: string } | undefined {
  const m = /^(\d+)\s+(\S+)\s+inline:([A-Za-z0-9+/=]+)/.exec(value.trim());
  if (!m) return undefined;
  return { tag: Number(m[1]), suite: m[2]!, key: m[3]! };
}

function aesCm(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** RFC 3711 §4.3.1 key derivation (key_derivation_rate 0, index 0). */
export function derive(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const x = Buffer.alloc(16);
  masterSalt.copy(x, 0);
  x[7] = x[7]! ^ label;
  return aesCm(masterKey, x, Buffer.alloc(length));
}

/** One direction of an SRTP stream (a sender's or a receiver's context). */
export class SrtpContext {
  private readonly encKey: Buffer;
  private readonly authKey: Buffer;
  private readonly salt: Buffer;
  /** Rollover counters and highest sequence numbers per SSRC (RFC 3711 §3.3.1, Appendix A). */
  private readonly state = new Map<number, { roc: number; s_l: number }>();

  constructor(inlineKey: string) {
    const raw = Buffer.from(inlineKey, 'base64');
    if (raw.length !== 30) throw new Error(`SRTP inline key must be 30 bytes (16 key + 14 salt), got ${raw.length}`);
    const mk = raw.subarray(0, 16);
    const ms = raw.subarray(16, 30);
    this.encKey = derive(mk, ms, 0, 16);
    this.authKey = derive(mk, ms, 1, 20);
    this.salt = derive(mk, ms, 2, 14);
  }

  private iv(ssrc: number, index: number): Buffer {
    const iv = Buffer.alloc(16);
    this.salt.copy(iv, 0);
    const ssrcBuf = Buffer.alloc(4);
    ssrcBuf.writeUInt32BE(ssrc >>> 0);
    for (let i = 0; i < 4; i++) iv[4 + i] = iv[4 + i]! ^ ssrcBuf[i]!;
    // 48-bit index at bytes 8..13
    const hi = Math.floor(index / 0x100000000);
    const lo = index >>> 0;
    iv[8] = iv[8]! ^ ((hi >>> 8) & 0xff);
    iv[9] = iv[9]! ^ (hi & 0xff);
    iv[10] = iv[10]! ^ ((lo >>> 24) & 0xff);
    iv[11] = iv[11]! ^ ((lo >>> 16) & 0xff);
    iv[12] = iv[12]! ^ ((lo >>> 8) & 0xff);
    iv[13] = iv[13]! ^ (lo & 0xff);
    return iv;
  }

  private tag(authPortion: Buffer, roc: number): Buffer {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(roc >>> 0);
    return createHmac('sha1', this.authKey).update(authPortion).update(r).digest().subarray(0, TAG_LEN);
  }

  /** Encrypts an RTP packet and appends its tag. */
  protect(rtp: Buffer): Buffer {
    const hl = headerLength(rtp);
    const seq = rtp.readUInt16BE(2);
    const ssrc = rtp.readUInt32BE(8);
    let st = this.state.get(ssrc);
    if (!st) {
      st = { roc: 0, s_l: seq };
      this.state.set(ssrc, st);
    } else if (seq < st.s_l && st.s_l - seq > 0x8000) st.roc = (st.roc + 1) >>> 0;
    st.s_l = seq;
    const index = st.roc * 0x10000 + seq;
    const enc = aesCm(this.encKey, this.iv(ssrc, index), rtp.subarray(hl));
    const out = Buffer.concat([rtp.subarray(0, hl), enc]);
    return Buffer.concat([out, this.tag(out, st.roc)]);
  }

  /** Checks and decrypts an SRTP packet; undefined when it does not authenticate. */
  unprotect(srtp: Buffer): Buffer | undefined {
    if (srtp.length < 12 + TAG_LEN) return undefined;
    const body = srtp.subarray(0, srtp.length - TAG_LEN);
    const hl = headerLength(body);
    if (hl > body.length) return undefined;
    const seq = body.readUInt16BE(2);
    const ssrc = body.readUInt32BE(8);
    const st = this.state.get(ssrc);
    let roc = 0;
    if (st) {
      roc = st.roc;
      if (st.s_l < 0x8000) {
        if (seq - st.s_l > 0x8000) roc = (st.roc - 1) >>> 0;
      } else if (st.s_l - 0x8000 > seq) roc = (st.roc + 1) >>> 0;
    }
    const expected = this.tag(body, roc);
    const got = srtp.subarray(srtp.length - TAG_LEN);
    if (!timingSafeEqual(expected, got)) return undefined;
    const index = roc * 0x10000 + seq;
    if (!st) this.state.set(ssrc, { roc, s_l: seq });
    else if (roc * 0x10000 + seq > st.roc * 0x10000 + st.s_l) {
      st.roc = roc;
      st.s_l = seq;
    }
    const plain = aesCm(this.encKey, this.iv(ssrc, index), body.subarray(hl));
    return Buffer.concat([body.subarray(0, hl), plain]);
  }
}

function headerLength(rtp: Buffer): number {
  if (rtp.length < 12) return rtp.length + 1;
  const cc = rtp[0]! & 0x0f;
  let hl = 12 + cc * 4;
  if (rtp[0]! & 0x10) {
    if (rtp.length < hl + 4) return rtp.length + 1;
    hl += 4 + rtp.readUInt16BE(hl + 2) * 4;
  }
  return hl;
}
