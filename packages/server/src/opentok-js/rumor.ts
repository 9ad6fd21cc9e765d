/**
 * Rumor: the binary framing of OpenTok.js's messaging WebSocket (docs/opentok-js-protocol.md).
 *
 * One WebSocket binary message holds one frame:
 * ```
 * uint32 BE  length of everything after this field
 * uint8 ×2   reserved, zero
 * uint8      type (RUMOR_TYPE)
 * uint8      address count, then per address: uint16 BE byte length + UTF-8
 * uint8      header count, then per header: uint16 BE key length + UTF-8, uint16 BE value length + UTF-8
 * …          the body, UTF-8 (a Raptor JSON message, or empty)
 * ```
 * Pure functions, no I/O: the socket layer decides what a refused frame costs.
 */
import { TokhostError } from '../errors.js';

/** Frame types the client and server exchange. */
export const RUMOR_TYPE = {
  subscribe: 0,
  unsubscribe: 1,
  message: 2,
  connect: 3,
  disconnect: 4,
  ping: 7,
  pong: 8,
  status: 9,
} as const;
export type RumorType = (typeof RUMOR_TYPE)[keyof typeof RUMOR_TYPE];

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(RUMOR_TYPE));

/** One decoded frame. `headers` has no prototype: keys come from the wire. */
export interface RumorFrame {
  type: RumorType;
  addresses: string[];
  headers: Record<string, string>;
  body: string;
}

/** A frame that cannot be decoded or encoded; `message` says which part is wrong. */
export class RumorFrameError extends TokhostError<'ERR_RT_PROTOCOL'> {
  override readonly name = 'RumorFrameError';
  constructor(message: string) {
    super('ERR_RT_PROTOCOL', message);
  }
}

/** Most bytes one frame may have (the socket layer may pass a lower bound). Default 256 KiB. */
export const RUMOR_MAX_FRAME_BYTES = 256 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decode one frame. Strict: the length field must match the buffer, the reserved bytes must be
 * zero, the type known, every length inside the buffer, every string valid UTF-8, no header
 * given twice.
 *
 * @throws {RumorFrameError}
 * @example
 * const frame = decodeRumor(data); // frame.type === RUMOR_TYPE.message
 */
export function decodeRumor(data: Uint8Array, maxBytes: number = RUMOR_MAX_FRAME_BYTES): RumorFrame {
  if (data.length > maxBytes) throw new RumorFrameError(`frame of ${data.length} bytes is larger than ${maxBytes}`);
  if (data.length < 9) throw new RumorFrameError(`frame of ${data.length} bytes is shorter than the 9-byte minimum`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const declared = view.getUint32(0);
  if (declared !== data.length - 4) throw new RumorFrameError(`length field says ${declared} bytes but ${data.length - 4} follow it`);
  if (data[4] !== 0 || data[5] !== 0) throw new RumorFrameError('reserved bytes 4 and 5 must be zero');
  const type = data[6]!;
  if (!KNOWN_TYPES.has(type)) throw new RumorFrameError(`unknown frame type ${type}`);
  let at = 7;
  const text = (what: string): string => {
    if (at + 2 > data.length) throw new RumorFrameError(`${what}: length runs past the end of the frame`);
    const len = view.getUint16(at);
    at += 2;
    if (at + len > data.length) throw new RumorFrameError(`${what}: ${len} bytes run past the end of the frame`);
    const s = decodeText(data.subarray(at, at + len), what);
    at += len;
    return s;
  };
  const addressCount = data[at++]!;
  const addresses: string[] = [];
  for (let i = 0; i < addressCount; i++) addresses.push(text(`address ${i}`));
  if (at >= data.length) throw new RumorFrameError('header count is missing');
  const headerCount = data[at++]!;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < headerCount; i++) {
    const key = text(`header ${i} name`);
    const value = text(`header ${key} value`);
    if (key in headers) throw new RumorFrameError(`header ${key} is given twice`);
    headers[key] = value;
  }
  const body = decodeText(data.subarray(at), 'body');
  return { type: type as RumorType, addresses, headers, body };
}

/**
 * Encode one frame. Headers are written in their object order.
 *
 * @throws {RumorFrameError} more than 255 addresses or headers, or a string over 65535 bytes.
 * @example
 * ws.send(encodeRumor({ type: RUMOR_TYPE.pong, addresses: [], headers: {}, body: '' }));
 */
export function encodeRumor(frame: { type: RumorType; addresses?: readonly string[]; headers?: Readonly<Record<string, string>>; body?: string }): Buffer {
  const addresses = (frame.addresses ?? []).map((a, i) => shortString(a, `address ${i}`));
  const entries = Object.entries(frame.headers ?? {});
  if (addresses.length > 255) throw new RumorFrameError(`${addresses.length} addresses: at most 255 fit a frame`);
  if (entries.length > 255) throw new RumorFrameError(`${entries.length} headers: at most 255 fit a frame`);
  const headers = entries.map(([k, v]) => [shortString(k, 'header name'), shortString(v, `header ${k} value`)] as const);
  const body = Buffer.from(frame.body ?? '', 'utf8');
  let size = 9 + body.length;
  for (const a of addresses) size += 2 + a.length;
  for (const [k, v] of headers) size += 4 + k.length + v.length;
  const out = Buffer.alloc(size);
  out.writeUInt32BE(size - 4, 0);
  out[6] = frame.type;
  let at = 7;
  const put = (b: Buffer) => {
    out.writeUInt16BE(b.length, at);
    b.copy(out, at + 2);
    at += 2 + b.length;
  };
  out[at++] = addresses.length;
  for (const a of addresses) put(a);
  out[at++] = headers.length;
  for (const [k, v] of headers) {
    put(k);
    put(v);
  }
  body.copy(out, at);
  return out;
}

function decodeText(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new RumorFrameError(`${what} is not valid UTF-8`);
  }
}

function shortString(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) throw new RumorFrameError(`${what} is ${b.length} bytes: at most 65535 fit a frame`);
  return b;
}
