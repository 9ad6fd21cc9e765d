import { describe, expect, it } from 'vitest';
import { derive, newSrtpKey, parseCryptoLine, SrtpContext } from './srtp.js';

describe('SRTP', () => {
  it('derives session keys as RFC 3711 Appendix B.3', () => {
    const mk = Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139', 'hex');
    const ms = Buffer.from('0EC675AD498AFEEBB6960B3AABE6', 'hex');
    expect(derive(mk, ms, 0, 16).toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
    expect(derive(mk, ms, 2, 14).toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
    expect(derive(mk, ms, 1, 20).toString('hex').toUpperCase()).toBe('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('round-trips across a sequence rollover and rejects tampering or a wrong key', () => {
    const key = newSrtpKey();
    const tx = new SrtpContext(key);
    const rx = new SrtpContext(key);
    const other = new SrtpContext(newSrtpKey());
    for (const seq of [65530, 65533, 65535, 0, 3, 2]) {
      const rtp = Buffer.alloc(12 + 160, seq & 0xff);
      rtp[0] = 0x80;
      rtp.writeUInt16BE(seq, 2);
      rtp.writeUInt32BE(0xdeadbeef, 8);
      const s = tx.protect(rtp);
      expect(s.length).toBe(rtp.length + 10);
      expect(s.subarray(12, 172).equals(rtp.subarray(12))).toBe(false);
      expect(rx.unprotect(s)?.equals(rtp)).toBe(true);
      expect(other.unprotect(s)).toBeUndefined();
      const bad = Buffer.from(s);
      bad[20] = bad[20]! ^ 1;
      expect(rx.unprotect(bad)).toBeUndefined();
    }
  });

  it('parses a=crypto values', () => {
    expect(parseCryptoLine('1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4')).toEqual({ tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', key: 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz' });
    expect(parseCryptoLine('garbage')).toBeUndefined();
  });
});
