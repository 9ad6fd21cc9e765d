/**
 * Which hosts the server may connect to when an API caller (a tenant) or a client it minted a
 * token for names the target: broadcast RTMP servers, SIP dial URIs, webhook URLs and the ICE
 * candidates of routed sessions (docs/security.md, Outbound targets).
 *
 * By default every address that is not global unicast is refused: loopback, private (RFC 1918,
 * 100.64.0.0/10 CGNAT, fc00::/7 ULA, fec0::/10), link-local (169.254.0.0/16 with the cloud
 * metadata address, fe80::/10), unspecified, multicast and broadcast, and the reserved and
 * special-purpose ranges. IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are judged as the IPv4
 * address they carry; the non-decimal IPv4 spellings resolvers accept (`0x7f000001`, `2130706433`,
 * `0177.0.0.1`, `127.1`) as the address they mean. A host name is resolved first and EVERY address
 * it resolves to is checked; the caller then connects to the checked address (no second lookup,
 * so a DNS answer that changes between check and connect cannot move the connection).
 *
 * The operator's allow-list (`outboundAllow`) permits CIDR ranges, single addresses and host
 * names (`sip.example.com`, or `*.example.com` for every name below it). A name on the list may
 * resolve to anything; an address in an allowed range is permitted whatever name led to it.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { TokhostError } from '../errors.js';
import type { OutboundErrorCode } from '../errors.js';

// ipaddr.js is CommonJS with `export =` typings: loaded the way the package exports it.
const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof import('ipaddr.js');
type IPv4 = import('ipaddr.js').IPv4;
type IPv6 = import('ipaddr.js').IPv6;

/** Why an address is refused (the rule named in errors and logs). */
export type OutboundRule = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

/** Error codes of this module. */
export type { OutboundErrorCode };

/** A target the policy refuses, or a name that does not resolve. */
export class OutboundError extends TokhostError<OutboundErrorCode> {
  override readonly name = 'OutboundError';
  constructor(
    code: OutboundErrorCode,
    /** The host as the caller named it. */
    readonly host: string,
    /** The refused address (for a name: the first refused address it resolved to); '' when unresolved. */
    readonly address: string,
    /** The rule that refused it; undefined when the name did not resolve. */
    readonly rule: OutboundRule | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      code,
      code === 'ERR_OUTBOUND_REFUSED'
        ? `${host}${address && address !== host ? ` (${address})` : ''} is a ${rule} address, which the server's outbound policy refuses (rule: ${rule}; the operator may allow it with outboundAllow)`
        : `${host} does not resolve`,
      options,
    );
  }
}

/** A checked target: connect to `address`, never to the name again. */
export interface CheckedTarget {
  /** The host as named (without brackets). */
  host: string;
  /** The checked IP address to connect to (IPv4-mapped IPv6 given as IPv4). */
  address: string;
  family: 4 | 6;
  /** True when `host` is an IP literal. */
  literal: boolean;
  /** Every address the host resolved to, all checked (`address` is the first). */
  all: Array<{ address: string; family: 4 | 6 }>;
}

/** The resolver the policy uses; the default is the system's (`dns.lookup`, all addresses). */
export type OutboundLookup = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface OutboundPolicyOptions {
  /** Allow-list entries (CIDRs, addresses, host names); validate them with {@link parseOutboundAllow}. Default none. */
  allow?: readonly string[];
  /** Resolver (tests of the every-address rule). Default `dns.lookup(host, { all: true })`. */
  lookup?: OutboundLookup;
}

/** Decides whether the server may connect to a host. */
export interface OutboundPolicy {
  /** The allow-list as given. */
  readonly allow: readonly string[];
  /**
   * The rule that refuses `host` when it is an IP literal (any spelling, brackets allowed), null
   * when it is permitted, `undefined` when `host` is a name (resolve it with {@link resolve}).
   */
  checkLiteral(host: string): OutboundRule | null | undefined;
  /** The rule that refuses an IP address, or null when the policy permits it. */
  checkAddress(address: string): OutboundRule | null;
  /** Resolve `host` and check every address; throws {@link OutboundError}. */
  resolve(host: string): Promise<CheckedTarget>;
}

const RANGE_RULES: Record<string, OutboundRule> = {
  unspecified: 'unspecified',
  broadcast: 'multicast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'private',
  private: 'private',
  uniqueLocal: 'private',
};

/** Ranges ipaddr.js calls unicast that are not global: IPv4-compatible (::/96) and site-local IPv6. */
const EXTRA_V6: Array<[IPv6, number, OutboundRule]> = [
  [ipaddr.IPv6.parse('::'), 96, 'reserved'],
  [ipaddr.IPv6.parse('fec0::'), 10, 'private'],
];

type Cidr = [IPv4 | IPv6, number];

/** Parse an IP literal in any spelling a resolver accepts; IPv4-mapped IPv6 becomes IPv4. */
export function parseIpLiteral(host: string): IPv4 | IPv6 | null {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  if (!ipaddr.isValid(h)) return null;
  try {
    return ipaddr.process(h);
  } catch {
    return null;
  }
}

function classify(addr: IPv4 | IPv6): OutboundRule | null {
  const range = addr.range();
  if (range !== 'unicast') return RANGE_RULES[range] ?? 'reserved';
  if (addr.kind() === 'ipv6') {
    for (const [net, bits, rule] of EXTRA_V6) if ((addr as IPv6).match(net, bits)) return rule;
  }
  return null;
}

const HOST_NAME = /^(\*\.)?(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** The allow-list checked once at start: every bad entry reported. */
export function parseOutboundAllow(value: unknown, name = 'outboundAllow'): { entries: string[]; problems: string[] } {
  const problems: string[] = [];
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list)) return { entries: [], problems: [`${name} must be an array of strings or a comma-separated string (got ${JSON.stringify(value)})`] };
  const entries: string[] = [];
  list.forEach((raw: unknown, i) => {
    if (typeof raw !== 'string') {
      problems.push(`${name}[${i}] must be a string (got ${JSON.stringify(raw)})`);
      return;
    }
    const e = raw.trim();
    if (e === '') {
      if (typeof value !== 'string') problems.push(`${name}[${i}] must not be empty`);
      return;
    }
    if (e.includes('/')) {
      try {
        ipaddr.parseCIDR(e);
        entries.push(e);
      } catch {
        problems.push(`${name}[${i}] "${e}" is not a valid CIDR range (e.g. 10.1.2.0/24, fd00::/8)`);
      }
    } else if (ipaddr.isValid(e.replace(/^\[(.*)\]$/, '$1'))) entries.push(e.replace(/^\[(.*)\]$/, '$1'));
    else if (HOST_NAME.test(e) && !/^[\d.]+$/.test(e)) entries.push(e.toLowerCase().replace(/\.$/, ''));
    else problems.push(`${name}[${i}] "${e}" is neither a CIDR range, an IP address nor a host name`);
  });
  return { entries, problems };
}

/**
 * Build a policy from a validated allow-list.
 *
 * @example
 * const policy = createOutboundPolicy({ allow: ['127.0.0.0/8'] });
 * const { address } = await policy.resolve('localhost'); // '127.0.0.1'
 */
export function createOutboundPolicy(options: OutboundPolicyOptions = {}): OutboundPolicy {
  const allow = Object.freeze([...(options.allow ?? [])]);
  const cidrs: Cidr[] = [];
  const names = new Set<string>();
  const suffixes: string[] = [];
  for (const e of allow) {
    if (e.includes('/')) {
      const [net, bits] = ipaddr.parseCIDR(e);
      // An IPv4-mapped range is the IPv4 range it carries.
      if (net.kind() === 'ipv6' && (net as IPv6).isIPv4MappedAddress() && bits >= 96) cidrs.push([(net as IPv6).toIPv4Address(), bits - 96]);
      else cidrs.push([net, bits]);
    } else {
      const ip = parseIpLiteral(e);
      if (ip) cidrs.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
      else if (e.startsWith('*.')) suffixes.push(e.slice(1));
      else names.add(e);
    }
  }
  const lookup: OutboundLookup = options.lookup ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));

  const allowedAddress = (addr: IPv4 | IPv6) => cidrs.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
  const allowedName = (host: string) => {
    const h = host.toLowerCase().replace(/\.$/, '');
    return names.has(h) || suffixes.some((s) => h.endsWith(s));
  };
  const judge = (addr: IPv4 | IPv6): OutboundRule | null => {
    const rule = classify(addr);
    return rule === null || allowedAddress(addr) ? null : rule;
  };

  return Object.freeze({
    allow,
    checkLiteral(host: string) {
      const ip = parseIpLiteral(host);
      return ip ? judge(ip) : undefined;
    },
    checkAddress(address: string) {
      const ip = parseIpLiteral(address);
      // Not an address at all: nothing to connect to, refuse.
      return ip ? judge(ip) : 'reserved';
    },
    async resolve(named: string): Promise<CheckedTarget> {
      const host = named.replace(/^\[(.*)\]$/, '$1');
      const ip = parseIpLiteral(host);
      if (ip) {
        const rule = judge(ip);
        if (rule) throw new OutboundError('ERR_OUTBOUND_REFUSED', host, ip.toString(), rule);
        const family = ip.kind() === 'ipv4' ? 4 : 6;
        return { host, address: ip.toString(), family, literal: true, all: [{ address: ip.toString(), family }] };
      }
      let found: Array<{ address: string; family: number }>;
      try {
        found = await lookup(host);
      } catch (cause) {
        throw new OutboundError('ERR_OUTBOUND_UNRESOLVED', host, '', undefined, { cause });
      }
      const addrs = found.map((a) => parseIpLiteral(a.address)).filter((a): a is IPv4 | IPv6 => a !== null);
      if (addrs.length === 0) throw new OutboundError('ERR_OUTBOUND_UNRESOLVED', host, '', undefined);
      if (!allowedName(host)) {
        // Every address must pass: a client library may try any of them.
        for (const a of addrs) {
          const rule = judge(a);
          if (rule) throw new OutboundError('ERR_OUTBOUND_REFUSED', host, a.toString(), rule);
        }
      }
      const all = addrs.map((a) => ({ address: a.toString(), family: a.kind() === 'ipv4' ? (4 as const) : (6 as const) }));
      return { host, address: all[0]!.address, family: all[0]!.family, literal: false, all };
    },
  });
}

