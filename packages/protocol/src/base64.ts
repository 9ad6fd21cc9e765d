/**
 * Isomorphic base64 helpers (no `node:*`, no DOM): the protocol package runs in Node and in
 * browsers alike. Decoding is lenient the way the OpenTok SDKs are: both alphabets, padding optional.
 */
// Both runtimes have these globals; declared locally because the package compiles without DOM/node libs.
declare const TextEncoder: { new (): { encode(text: string): Uint8Array } };
declare const TextDecoder: { new (): { decode(bytes: Uint8Array): string } };

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE: Record<string, number> = {};
for (let i = 0; i < STD.length; i++) DECODE[STD[i]!] = i;
DECODE['-'] = 62;
DECODE['_'] = 63;

/** Node's Buffer when present (native decoding), else undefined (browsers). */
declare const globalThis: { Buffer?: { from(text: string, encoding: 'base64'): Uint8Array } };
const NodeBuffer = globalThis.Buffer;
const B64_CHARS = /^[A-Za-z0-9+/_-]*$/;

let encoder: { encode(text: string): Uint8Array } | undefined;
let decoder: { decode(bytes: Uint8Array): string } | undefined;

/** UTF-8 encode a string to bytes. */
export function utf8Encode(text: string): Uint8Array {
  return (encoder ??= new TextEncoder()).encode(text);
}

/** UTF-8 decode bytes (invalid sequences become U+FFFD). */
export function utf8Decode(bytes: Uint8Array): string {
  return (decoder ??= new TextDecoder()).decode(bytes);
}

/** Standard base64 with padding. */
export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += STD[(n >> 18) & 63]! + STD[(n >> 12) & 63]! + STD[(n >> 6) & 63]! + STD[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += STD[(n >> 18) & 63]! + STD[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += STD[(n >> 18) & 63]! + STD[(n >> 12) & 63]! + STD[(n >> 6) & 63]! + '=';
  }
  return out;
}

/** URL-safe base64 without padding (RFC 4648 §5), as used in session IDs and JWTs. */
export function base64UrlEncode(bytes: Uint8Array): string {
  return base64Encode(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Decode base64 in either alphabet, padding optional. Returns `null` when the input holds a
 * character outside both alphabets or has an impossible length.
 */
export function base64Decode(text: string): Uint8Array | null {
  const clean = text.replace(/=+$/, '');
  if (clean.length % 4 === 1) return null;
  // Native in Node (its decoder takes both alphabets but skips bad characters: checked first).
  if (NodeBuffer) return B64_CHARS.test(clean) ? NodeBuffer.from(clean, 'base64') : null;
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const v = DECODE[clean[i]!];
    if (v === undefined) return null;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}
