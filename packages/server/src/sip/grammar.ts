/**
 * The RFC 3261 (§25.1) grammar of what API callers may put into SIP messages: header names
 * (`token`), header values (`TEXT-UTF8`: no control characters), SIP/SIPS URIs, `user@host`, and
 * values that go inside a quoted-string (digest `username`). Each check returns the reason a
 * value does not fit, or `undefined` when it does; the REST edge names the field, the serializer
 * and the digest code refuse the same things as a second line of defence.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** RFC 3261 `token`. */
export const TOKEN_RE = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/**
 * Control characters no SIP text may carry: C0 (CR, LF, NUL …) except HTAB, DEL, and the C1
 * controls U+0080–U+009F. (HTAB is LWS in RFC 3261 and may appear in what far ends send us.)
 */
export const WIRE_CONTROL_RE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/** Any control character, HTAB included, for values an API caller supplies. */
const CALLER_CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/** A UTF-16 surrogate without its pair: it has no UTF-8 encoding. */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const describeChar = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** `TEXT-UTF8` of an extension header's value, as a caller may give it: printable, single line, well-formed Unicode. */
export function headerValueProblem(value: string): string | undefined {
  const ctl = CALLER_CONTROL_RE.exec(value);
  if (ctl) return `must not contain control characters (found ${describeChar(ctl[0])})`;
  if (LONE_SURROGATE_RE.test(value)) return 'must be well-formed Unicode (a lone surrogate has no UTF-8 form)';
  return undefined;
}

/**
 * A value that sits inside a quoted-string without escaping (`qdtext`, RFC 3261 §25.1): printable
 * UTF-8, no `"` and no `\`. Digest servers differ in how they unescape, so nothing is escaped.
 */
export function quotedStringSafeProblem(value: string): string | undefined {
  const p = headerValueProblem(value);
  if (p) return p;
  if (/["\\]/.test(value)) return 'must not contain " or \\';
  return undefined;
}

// RFC 3261 §25.1 character classes (ASCII only: a URI carries non-ASCII as %HH escapes).
const UNRESERVED = "A-Za-z0-9\\-_.!~*'()";
const ESCAPED = '%[0-9A-Fa-f]{2}';
/** `user` without `?` (a URI's `?headers` are refused, and `?` in the user part would be read as their start). */
const USER_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,;/]|${ESCAPED})+$`);
const PASSWORD_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,]|${ESCAPED})*$`);
const PARAMCHAR = `(?:[${UNRESERVED}\\[\\]/:&+$]|${ESCAPED})`;
const PARAM_RE = new RegExp(`^${PARAMCHAR}+(?:=${PARAMCHAR}+)?$`);
const HOSTNAME_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;

/** RFC 3261 `user` (of a SIP URI or `from`). */
export function userProblem(user: string): string | undefined {
  if (user.length === 0) return 'needs a user part';
  if (!USER_RE.test(user)) return 'user part may only contain letters, digits, -_.!~*\'()&=+$,;/ and %HH escapes';
  return undefined;
}

/** RFC 3261 `host`: a host name, an IPv4 address or a bracketed IPv6 reference. */
export function hostProblem(host: string): string | undefined {
  if (host.startsWith('[')) return host.endsWith(']') && isIPv6(host.slice(1, -1)) ? undefined : 'host is not a valid [IPv6] reference';
  if (/^[\d.]+$/.test(host)) return isIPv4(host) ? undefined : 'host is not a valid IPv4 address';
  if (host.length > 253 || !HOSTNAME_RE.test(host)) return 'host is not a valid host name';
  return undefined;
}

/**
 * A SIP or SIPS URI with a user part and no `?headers` (RFC 3261 §19.1, §25.1):
 * `sip[s]:user[:password]@host[:port][;param[=value]]…`, ASCII only.
 */
export function sipUriProblem(uri: string): string | undefined {
  const m = /^(sips?):([^@]*)@([^;]*)(;.*)?$/i.exec(uri);
  if (!m) return /^sips?:/i.test(uri) ? 'must name a user (sip:user@host)' : 'must be a sip: or sips: URI (sip:user@host)';
  const [, , userinfo, hostport, params] = m as unknown as [string, string, string, string, string | undefined];
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const up = userProblem(user);
  if (up) return up;
  if (colon >= 0 && !PASSWORD_RE.test(userinfo.slice(colon + 1))) return 'password part has characters a SIP URI does not allow';
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(hostport);
  if (!hp) return 'host[:port] is malformed';
  const hostP = hostProblem(hp[1]!);
  if (hostP) return hostP;
  if (hp[2] !== undefined && (Number(hp[2]) < 1 || Number(hp[2]) > 65535)) return 'port must be from 1 to 65535';
  if (params !== undefined) {
    if (params.includes('?')) return 'must not carry ?headers (use sip.headers)';
    for (const p of params.slice(1).split(';')) if (!PARAM_RE.test(p)) return `URI parameter ${JSON.stringify(p.slice(0, 40))} has characters a SIP URI does not allow`;
  }
  return undefined;
}

/** `user@host` (the dial's `from`). */
export function userAtHostProblem(value: string): string | undefined {
  const at = value.lastIndexOf('@');
  if (at <= 0) return 'must be user@domain';
  return userProblem(value.slice(0, at)) ?? hostProblem(value.slice(at + 1));
}
