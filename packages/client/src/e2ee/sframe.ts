/**
 * SFrame (RFC 9605) with cipher suite AES_128_GCM_SHA256_128 (0x0004) on WebCrypto.
 *
 * Everything lives inside {@link sframeCodec} on purpose: the encoded-transform worker is built
 * from `sframeCodec.toString()` (see worker.ts), so the function must not reference anything
 * outside its own body except web globals (`crypto`, `TextEncoder`, `Uint8Array`).
 */

/** A derived per-KID key (RFC 9605 §4.4.2): the AEAD key and the nonce salt. */
export interface SframeKey {
  kid: number;
  key: CryptoKey;
  salt: Uint8Array;
}

/** A parsed SFrame header (RFC 9605 §4.3): KID, CTR and how many bytes it took. */
export interface SframeHeader {
  kid: number;
  ctr: number;
  length: number;
}

/** The SFrame functions the transforms use. */
export interface SframeCodec {
  /** RFC 9605 cipher suite number in use (0x0004, AES_128_GCM_SHA256_128). */
  readonly cipherSuite: number;
  encodeHeader(kid: number, ctr: number): Uint8Array;
  /** Parses the header starting at `offset`; undefined when it runs past the end. */
  parseHeader(data: Uint8Array, offset: number): SframeHeader | undefined;
  /** `derive_key_salt(KID, base_key)`: HKDF-SHA256 with the "SFrame 1.0 Secret key/salt" labels. */
  deriveKey(baseKey: Uint8Array, kid: number): Promise<SframeKey>;
  /** `header || AEAD.Encrypt(key, nonce, header || metadata, plaintext)`. */
  encrypt(key: SframeKey, ctr: number, metadata: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Opens `ciphertext` (header included, parsed as `header`); throws when authentication fails. */
  decrypt(key: SframeKey, header: SframeHeader, metadata: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/**
 * Builds the codec. Integers are JS numbers (KIDs and counters stay below 2^53; a longer
 * foreign KID just finds no key).
 */
export function sframeCodec(): SframeCodec {
  const SUITE = 0x0004;
  const NK = 16;
  const NN = 12;
  const te = new TextEncoder();
  /** Minimal big-endian bytes of `v` (at least one). */
  const minimal = (v: number): number[] => {
    const out: number[] = [];
    do {
      out.unshift(v % 256);
      v = Math.floor(v / 256);
    } while (v > 0);
    return out;
  };
  const fixed = (v: number, len: number): Uint8Array => {
    const out = new Uint8Array(len);
    for (let i = len - 1; i >= 0 && v > 0; i--) {
      out[i] = v % 256;
      v = Math.floor(v / 256);
    }
    return out;
  };
  const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const encodeHeader = (kid: number, ctr: number): Uint8Array => {
    // |X|  K  |Y|  C  |: values below 8 fit in the config byte, longer ones follow it (length − 1).
    const k = kid < 8 ? [] : minimal(kid);
    const c = ctr < 8 ? [] : minimal(ctr);
    const b0 = (kid < 8 ? kid << 4 : 0x80 | ((k.length - 1) << 4)) | (ctr < 8 ? ctr : 0x08 | (c.length - 1));
    return Uint8Array.from([b0, ...k, ...c]);
  };
  const parseHeader = (data: Uint8Array, offset: number): SframeHeader | undefined => {
    if (offset >= data.length) return undefined;
    const b0 = data[offset]!;
    let i = offset + 1;
    let kid = (b0 >> 4) & 7;
    let ctr = b0 & 7;
    if (b0 & 0x80) {
      const n = kid + 1;
      if (i + n > data.length) return undefined;
      kid = 0;
      for (let j = 0; j < n; j++) kid = kid * 256 + data[i++]!;
    }
    if (b0 & 0x08) {
      const n = ctr + 1;
      if (i + n > data.length) return undefined;
      ctr = 0;
      for (let j = 0; j < n; j++) ctr = ctr * 256 + data[i++]!;
    }
    return { kid, ctr, length: i - offset };
  };
  const nonce = (salt: Uint8Array, ctr: number): Uint8Array => {
    const c = fixed(ctr, NN);
    const out = new Uint8Array(NN);
    for (let i = 0; i < NN; i++) out[i] = salt[i]! ^ c[i]!;
    return out;
  };
  const deriveKey = async (baseKey: Uint8Array, kid: number): Promise<SframeKey> => {
    const ikm = await crypto.subtle.importKey('raw', baseKey as BufferSource, 'HKDF', false, ['deriveBits']);
    // Labels end with the KID (8 bytes) and the cipher suite (2 bytes), big-endian.
    const tail = concat(fixed(kid, 8), Uint8Array.from([SUITE >> 8, SUITE & 0xff]));
    const hkdf = (label: string, bytes: number) =>
      crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: concat(te.encode(label), tail) as BufferSource }, ikm, bytes * 8);
    const keyBits = await hkdf('SFrame 1.0 Secret key ', NK);
    const salt = new Uint8Array(await hkdf('SFrame 1.0 Secret salt ', NN));
    const key = await crypto.subtle.importKey('raw', keyBits, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    return { kid, key, salt };
  };
  const encrypt = async (k: SframeKey, ctr: number, metadata: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> => {
    const header = encodeHeader(k.kid, ctr);
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(k.salt, ctr) as BufferSource, additionalData: concat(header, metadata) as BufferSource, tagLength: 128 }, k.key, plaintext as BufferSource);
    return concat(header, new Uint8Array(ct));
  };
  const decrypt = async (k: SframeKey, h: SframeHeader, metadata: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> => {
    const header = ciphertext.subarray(0, h.length);
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: nonce(k.salt, h.ctr) as BufferSource, additionalData: concat(header, metadata) as BufferSource, tagLength: 128 },
      k.key,
      ciphertext.subarray(h.length) as BufferSource,
    );
    return new Uint8Array(pt);
  };
  return { cipherSuite: SUITE, encodeHeader, parseHeader, deriveKey, encrypt, decrypt };
}
