/**
 * SIP messages (RFC 3261 §7, §25): parser and serializer.
 *
 * The parser is tolerant where RFC 3261 is (header names are case-insensitive and have compact
 * forms, LWS may surround `:` and separators, header values may be folded over several lines,
 * a header may repeat or carry a comma-separated list) and strict where a wrong guess would
 * misroute a call (the start line, `CSeq`, `Content-Length`, unbalanced quotes or angle
 * brackets in address headers are errors). RFC 4475's torture messages are its test fixtures.
 * Text is UTF-8 both ways (RFC 3261 §7.3.1); the serializer refuses anything that would break a
 * line (see {@link serializeMessage}).
 */
import { TokhostError } from '../errors.js';
import { WIRE_CONTROL_RE } from './grammar.js';

/** A message that cannot be parsed; `message` names the part. */
export class SipParseError extends TokhostError<'ERR_SIP_MESSAGE_INVALID'> {
  override readonly name = 'SipParseError';
  constructor(message: string) {
    super('ERR_SIP_MESSAGE_INVALID', message);
  }
}

/** Header name → the canonical (lower-case, long) name. */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
  n: 'identity-info',
};

/** Headers whose value is a comma-separated list (RFC 3261 §7.3.1): each element is kept apart. */
const LIST_HEADERS = new Set(['via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require', 'proxy-require', 'unsupported', 'accept', 'accept-encoding', 'accept-language']);

/** How serialized headers are spelled. */
const CANONICAL_SPELLING: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'max-forwards': 'Max-Forwards',
};

export function canonicalHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return COMPACT[lower] ?? lower;
}

function spell(name: string): string {
  return CANONICAL_SPELLING[name] ?? name.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/** Ordered, multi-valued headers keyed by canonical lower-case name. */
export class SipHeaders {
  private readonly list: [string, string][] = [];
  /** How a header added by name was spelled (custom X- headers keep their case on the wire). */
  private readonly spelling = new Map<string, string>();

  /** All values of `name`, in order (list headers split into elements). */
  getAll(name: string): string[] {
    const n = canonicalHeaderName(name);
    const out: string[] = [];
    for (const [k, v] of this.list) if (k === n) out.push(v);
    return out;
  }

  /** The first value of `name`. */
  get(name: string): string | undefined {
    const n = canonicalHeaderName(name);
    for (const [k, v] of this.list) if (k === n) return v;
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  append(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    if (/^x-/i.test(name)) this.spelling.set(n, name.trim());
    this.list.push([n, value]);
    return this;
  }

  /** The name as written on the wire. */
  spell(name: string): string {
    return this.spelling.get(name) ?? spell(name);
  }

  /** Replace every value of `name` with `value` (at the place of the first one). */
  set(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const at = this.list.findIndex(([k]) => k === n);
    this.delete(n);
    if (at < 0) this.list.push([n, value]);
    else this.list.splice(at, 0, [n, value]);
    return this;
  }

  /** Put `value` before every other value of `name` (a new top Via). */
  prepend(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const at = this.list.findIndex(([k]) => k === n);
    this.list.splice(at < 0 ? this.list.length : at, 0, [n, value]);
    return this;
  }

  delete(name: string): this {
    const n = canonicalHeaderName(name);
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]![0] === n) this.list.splice(i, 1);
    return this;
  }

  entries(): readonly (readonly [string, string])[] {
    return this.list;
  }

  clone(): SipHeaders {
    const h = new SipHeaders();
    for (const [k, v] of this.list) h.list.push([k, v]);
    for (const [k, v] of this.spelling) h.spelling.set(k, v);
    return h;
  }
}

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/** Split at `sep` outside quotes and angle brackets. */
export function splitOutside(value: string, sep: string): string[] {
  const out: string[] = [];
  let quote = false;
  let angle = 0;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === '"') quote = false;
    } else if (c === '"') quote = true;
    else if (c === '<') angle++;
    else if (c === '>') angle = Math.max(0, angle - 1);
    else if (c === sep && angle === 0) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (quote) throw new SipParseError('unterminated quoted string');
  if (angle !== 0) throw new SipParseError('unbalanced angle brackets');
  out.push(value.slice(start));
  return out;
}

/** Where the header block ends: index of the empty line and the length of its terminator. */
function headerEnd(buf: Buffer): { at: number; len: number } | undefined {
  for (let i = 0; i < buf.length - 1; i++) {
    if (buf[i] === 0x0a && buf[i + 1] === 0x0a) return { at: i, len: 2 };
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a && buf[i + 2] === 0x0d && buf[i + 3] === 0x0a) return { at: i, len: 4 };
    if (buf[i] === 0x0a && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { at: i, len: 3 };
  }
  return undefined;
}

/**
 * Parse one message. `datagram`: the buffer is a whole UDP datagram (octets beyond
 * `Content-Length` are ignored, RFC 3261 §18.3; a missing `Content-Length` means the rest).
 * For a stream use {@link SipStreamParser}.
 */
export function parseMessage(buf: Buffer, datagram = true): SipMessage {
  const end = headerEnd(buf);
  if (!end) {
    if (!datagram) throw new SipParseError('no empty line after the headers');
    // A datagram may end right after the last header line without the empty line.
    return parseHead(buf.toString('utf8'), Buffer.alloc(0), true);
  }
  const head = buf.subarray(0, end.at).toString('utf8');
  const rest = buf.subarray(end.at + end.len);
  return parseHead(head, rest, datagram);
}

function parseHead(headText: string, rest: Buffer, datagram: boolean): SipMessage {
  const lines = headText.replace(/^(\r?\n)+/, '').split(/\r?\n/);
  const start = lines.shift();
  if (!start) throw new SipParseError('empty message');
  // Unfold: a line starting with whitespace continues the previous header (RFC 3261 §7.3.1).
  const unfolded: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (unfolded.length === 0) throw new SipParseError('continuation line before any header');
      unfolded[unfolded.length - 1] += ' ' + line.trim();
    } else if (line.length > 0) unfolded.push(line);
  }
  const headers = new SipHeaders();
  for (const line of unfolded) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`header line without a name: ${JSON.stringify(line.slice(0, 40))}`);
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN.test(rawName)) throw new SipParseError(`bad header name ${JSON.stringify(rawName.slice(0, 40))}`);
    const name = canonicalHeaderName(rawName);
    // Only LWS is trimmed (String#trim would also eat a value's leading U+FEFF, RFC 4475 §3.1.1.2).
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (LIST_HEADERS.has(name) && value !== '*') {
      for (const part of splitOutside(value, ',')) {
        const p = part.trim();
        if (p) headers.append(name, p);
      }
    } else headers.append(name, value);
  }
  let msg: SipMessage;
  const resp = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/i.exec(start);
  if (resp) {
    msg = { kind: 'response', status: Number(resp[1]), reason: resp[2] ?? '', headers, body: Buffer.alloc(0) };
  } else {
    const parts = start.split(' ');
    if (parts.length !== 3 || !TOKEN.test(parts[0]!) || !/^SIP\/2\.0$/i.test(parts[2]!) || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(parts[1]!)) {
      throw new SipParseError(`bad start line ${JSON.stringify(start.slice(0, 80))}`);
    }
    msg = { kind: 'request', method: parts[0]!, uri: parts[1]!, headers, body: Buffer.alloc(0) };
  }
  const clValues = headers.getAll('content-length');
  let length: number;
  if (clValues.length === 0) {
    if (!datagram) throw new SipParseError('Content-Length is required on a stream transport');
    length = rest.length;
  } else {
    if (new Set(clValues).size > 1) throw new SipParseError('conflicting Content-Length values');
    if (!/^\d{1,9}$/.test(clValues[0]!)) throw new SipParseError(`bad Content-Length ${JSON.stringify(clValues[0])}`);
    length = Number(clValues[0]);
    if (length > rest.length) throw new SipParseError(`Content-Length ${length} is larger than the ${rest.length} octets of body`);
  }
  msg.body = Buffer.from(rest.subarray(0, length));
  checkRequired(msg);
  return msg;
}

function checkRequired(msg: SipMessage): void {
  for (const h of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!msg.headers.has(h)) throw new SipParseError(`missing ${spell(h)} header`);
  }
  const cseq = parseCSeq(msg.headers.get('cseq')!);
  if (msg.kind === 'request' && cseq.method.toUpperCase() !== msg.method.toUpperCase()) throw new SipParseError(`CSeq method ${cseq.method} does not match ${msg.method}`);
  const mf = msg.headers.get('max-forwards');
  if (mf !== undefined && (!/^\d{1,10}$/.test(mf) || Number(mf) > 255)) throw new SipParseError(`bad Max-Forwards ${JSON.stringify(mf)}`);
  for (const h of ['from', 'to']) parseNameAddr(msg.headers.get(h)!);
}

export function parseCSeq(value: string): { seq: number; method: string } {
  const m = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(value.trim());
  if (!m || Number(m[1]) > 2 ** 31 - 1) throw new SipParseError(`bad CSeq ${JSON.stringify(value)}`);
  return { seq: Number(m[1]), method: m[2]! };
}

/** A `name-addr` or `addr-spec` with header parameters (From, To, Contact, Route). */
export interface NameAddr {
  displayName: string | undefined;
  uri: string;
  params: Map<string, string | null>;
}

/** Parse `"Name" <sip:u@h;p>;tag=x` or `sip:u@h;tag=x` (parameters after a bare URI belong to the header). */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  let displayName: string | undefined;
  let uri: string;
  let rest: string;
  const lt = findOutsideQuotes(v, '<');
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('unterminated <');
    const dn = v.slice(0, lt).trim();
    if (dn) {
      if (dn.startsWith('"')) {
        if (!dn.endsWith('"') || dn.length < 2) throw new SipParseError('unterminated quoted display name');
        displayName = dn.slice(1, -1).replace(/\\(.)/g, '$1');
      } else displayName = dn.replace(/\s+/g, ' ');
    }
    uri = v.slice(lt + 1, gt).trim();
    rest = v.slice(gt + 1);
  } else {
    if (v.includes('"')) throw new SipParseError('quoted display name without <uri>');
    const semi = v.indexOf(';');
    uri = (semi < 0 ? v : v.slice(0, semi)).trim();
    rest = semi < 0 ? '' : v.slice(semi);
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) throw new SipParseError(`bad URI ${JSON.stringify(uri.slice(0, 80))}`);
  return { displayName, uri, params: parseParams(rest) };
}

function findOutsideQuotes(v: string, ch: string): number {
  let quote = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === '"') quote = false;
    } else if (c === '"') quote = true;
    else if (c === ch) return i;
  }
  if (quote) throw new SipParseError('unterminated quoted string');
  return -1;
}

/** `;a=b;c` → Map(a→b, c→null); names lower-cased; LWS around `=` allowed. */
export function parseParams(text: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  for (const part of splitOutside(text, ';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) params.set(p.toLowerCase(), null);
    else {
      let val = p.slice(eq + 1).trim();
      if (val.startsWith('"') && val.endsWith('"') && val.length >= 2) val = val.slice(1, -1);
      params.set(p.slice(0, eq).trim().toLowerCase(), val);
    }
  }
  return params;
}

export function formatNameAddr(a: NameAddr): string {
  let s = a.displayName !== undefined ? `"${a.displayName.replace(/(["\\])/g, '\\$1')}" <${a.uri}>` : `<${a.uri}>`;
  for (const [k, v] of a.params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** A Via header element. */
export interface Via {
  transport: string;
  host: string;
  port: number | undefined;
  params: Map<string, string | null>;
}

export function parseVia(value: string): Via {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+?)(?::(\d+))?\s*(;.*)?$/i.exec(value.trim());
  if (!m) throw new SipParseError(`bad Via ${JSON.stringify(value.slice(0, 80))}`);
  return { transport: m[1]!.toUpperCase(), host: m[2]!, port: m[3] ? Number(m[3]) : undefined, params: parseParams(m[4] ?? '') };
}

export function formatVia(v: Via): string {
  let s = `SIP/2.0/${v.transport} ${v.host}${v.port ? `:${v.port}` : ''}`;
  for (const [k, val] of v.params) s += val === null ? `;${k}` : `;${k}=${val}`;
  return s;
}

/** A SIP or SIPS URI (RFC 3261 §19.1). */
export interface SipUri {
  scheme: 'sip' | 'sips';
  user: string | undefined;
  password: string | undefined;
  host: string;
  port: number | undefined;
  params: Map<string, string | null>;
  headers: string | undefined;
}

export function parseSipUri(text: string): SipUri {
  const m = /^(sips?):(?:([^:@?]+)(?::([^@;?]*))?@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?(.*))?$/i.exec(text.trim());
  if (!m) throw new SipParseError(`not a sip:/sips: URI: ${JSON.stringify(text.slice(0, 80))}`);
  const port = m[5] ? Number(m[5]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new SipParseError(`bad port in ${text}`);
  return {
    scheme: m[1]!.toLowerCase() as 'sip' | 'sips',
    user: m[2] !== undefined ? decodeURIComponentSafe(m[2]) : undefined,
    password: m[3],
    host: m[4]!,
    port,
    params: parseParams(m[6] ?? ''),
    headers: m[7],
  };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A message that must not be sent: a start line or header that would add or split lines on the wire. */
export class SipSerializeError extends TokhostError<'ERR_SIP_MESSAGE_UNSENDABLE'> {
  override readonly name = 'SipSerializeError';
  constructor(message: string) {
    super('ERR_SIP_MESSAGE_UNSENDABLE', message);
  }
}

const LINE_BREAKING = /[\r\n\0]/;

function refuse(what: string, value: string): never {
  throw new SipSerializeError(`${what} ${JSON.stringify(value.slice(0, 80))} cannot be sent: it contains a control character`);
}

/**
 * Serialize as UTF-8 (RFC 3261 §7.3.1: SIP text is UTF-8) with a correct `Content-Length`.
 * Throws {@link SipSerializeError} for a method or header name that is not a token, a
 * Request-URI with whitespace or control characters, or a reason phrase or header value with CR,
 * LF, NUL or another control character (HTAB aside): the last guard before the wire, whatever
 * code path built the message.
 */
export function serializeMessage(msg: SipMessage): Buffer {
  let start: string;
  if (msg.kind === 'request') {
    if (!TOKEN.test(msg.method)) refuse('method', msg.method);
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s\u0000-\u001f\u007f-\u009f]+$/.test(msg.uri)) refuse('Request-URI', msg.uri);
    start = `${msg.method} ${msg.uri} SIP/2.0`;
  } else {
    if (!Number.isInteger(msg.status) || msg.status < 100 || msg.status > 699) throw new SipSerializeError(`status ${msg.status} cannot be sent`);
    if (LINE_BREAKING.test(msg.reason) || WIRE_CONTROL_RE.test(msg.reason)) refuse('reason phrase', msg.reason);
    start = `SIP/2.0 ${msg.status} ${msg.reason}`;
  }
  const lines = [start];
  for (const [k, v] of msg.headers.entries()) {
    if (k === 'content-length') continue;
    const name = msg.headers.spell(k);
    if (!TOKEN.test(name)) refuse('header name', name);
    if (LINE_BREAKING.test(v) || WIRE_CONTROL_RE.test(v)) refuse(`${name} header value`, v);
    lines.push(`${name}: ${v}`);
  }
  lines.push(`Content-Length: ${msg.body.length}`, '', '');
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'utf8'), msg.body]);
}

/**
 * Frames messages on a stream transport (TCP, TLS): headers up to the empty line, then
 * `Content-Length` octets. CRLF keep-alives between messages (RFC 5626 §3.5.1) are skipped.
 */
export class SipStreamParser {
  private buf: Buffer = Buffer.alloc(0);
  static readonly MAX_MESSAGE = 64 * 1024;

  /** Feed bytes; returns every complete message. Throws `SipParseError` on a broken stream (close it). */
  push(chunk: Buffer): SipMessage[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: SipMessage[] = [];
    for (;;) {
      let skip = 0;
      while (skip < this.buf.length && (this.buf[skip] === 0x0d || this.buf[skip] === 0x0a)) skip++;
      if (skip) this.buf = this.buf.subarray(skip);
      const end = headerEnd(this.buf);
      if (!end) {
        if (this.buf.length > SipStreamParser.MAX_MESSAGE) throw new SipParseError('header block too large');
        return out;
      }
      const head = this.buf.subarray(0, end.at).toString('utf8');
      const cl = /(?:^|\n)\s*(?:content-length|l)\s*:\s*(\d+)/i.exec(head);
      if (!cl) throw new SipParseError('Content-Length is required on a stream transport');
      const total = end.at + end.len + Number(cl[1]);
      if (total > SipStreamParser.MAX_MESSAGE) throw new SipParseError('message too large');
      if (this.buf.length < total) return out;
      out.push(parseMessage(this.buf.subarray(0, total), false));
      this.buf = this.buf.subarray(total);
    }
  }
}
