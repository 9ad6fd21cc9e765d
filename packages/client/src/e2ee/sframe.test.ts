import { describe, expect, it } from 'vitest';
import { sframeCodec } from './sframe.js';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const codec = sframeCodec();

describe('SFrame (RFC 9605) codec', () => {
  // RFC 9605 §4.3 header layout; values from the working group's header vectors.
  it.each([
    [0, 0, '00'],
    [7, 1, '71'],
    [0, 0xff, '08ff'],
    [0x123, 0x4567, '9901234567'],
    [0xffff, 0x10000, '9affff010000'],
    [2 ** 47 + 5, 8, 'd8800000000005' + '08'],
  ])('header kid=%d ctr=%d → %s and back', (kid, ctr, want) => {
    const h = codec.encodeHeader(kid, ctr);
    expect(toHex(h)).toBe(want);
    const withPrefix = Uint8Array.from([0xaa, ...h, 0xbb]);
    expect(codec.parseHeader(withPrefix, 1)).toEqual({ kid, ctr, length: h.length });
  });

  it('refuses a header that runs past the end', () => {
    expect(codec.parseHeader(hex('9901'), 0)).toBeUndefined();
    expect(codec.parseHeader(hex('00'), 1)).toBeUndefined();
  });

  // RFC 9605 appendix C.4 test vector for AES_128_GCM_SHA256_128.
  it('matches the RFC 9605 AES_128_GCM_SHA256_128 test vector', async () => {
    const key = await codec.deriveKey(hex('000102030405060708090a0b0c0d0e0f'), 0x123);
    expect(toHex(key.salt)).toBe('75234edefe07819026751816');
    const metadata = hex('4945544620534672616d65205747');
    const pt = hex('64726166742d696574662d736672616d652d656e63');
    const ct = await codec.encrypt(key, 0x4567, metadata, pt);
    expect(toHex(ct)).toBe('9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb');
    const h = codec.parseHeader(ct, 0)!;
    expect(toHex(await codec.decrypt(key, h, metadata, ct))).toBe(toHex(pt));
  });

  it('fails authentication with another key, other metadata or a flipped bit', async () => {
    const base = new TextEncoder().encode('a shared secret');
    const k = await codec.deriveKey(base, 42);
    const other = await codec.deriveKey(new TextEncoder().encode('another secret!'), 42);
    const md = Uint8Array.from([0x10, 0x02, 0x00]);
    const ct = await codec.encrypt(k, 9, md, new Uint8Array(100).fill(7));
    const h = codec.parseHeader(ct, 0)!;
    await expect(codec.decrypt(other, h, md, ct)).rejects.toThrow();
    await expect(codec.decrypt(k, h, Uint8Array.from([0x11, 0x02, 0x00]), ct)).rejects.toThrow();
    const flipped = ct.slice();
    flipped[ct.length - 1]! ^= 1;
    await expect(codec.decrypt(k, h, md, flipped)).rejects.toThrow();
    expect(Array.from(await codec.decrypt(k, h, md, ct))).toEqual(Array.from(new Uint8Array(100).fill(7)));
  });
});
