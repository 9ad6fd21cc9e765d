import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ServerConfig } from '../config.js';

const HOST_HEADER = /^(?:(?<name>[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)|\[(?<v6>[0-9A-Fa-f:.]{2,45})\])(?::(?<port>\d{1,5}))?$/;

/** This machine's interface addresses (any family), and the loopback names. */
function localAddresses(): Set<string> {
  const out = new Set(['localhost', '127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(i.address);
  return out;
}

/**
 * The host part of a `Host` header the server trusts in links it hands out, or null. Trusted: a
 * syntactically valid `host[:port]` (DNS labels or an IP literal, IPv6 in brackets, port 1-65535,
 * at most 255 characters, no user info) whose host is the listen address, `localhost`, or an
 * address of one of this machine's interfaces. Any other name is not trusted: a deployment
 * reached by a domain name sets `publicUrl`.
 */
export function trustedHost(host: string | undefined, config: Pick<ServerConfig, 'host'>): string | null {
  if (!host || host.length > 255) return null;
  const m = HOST_HEADER.exec(host);
  if (!m?.groups) return null;
  const port = m.groups['port'];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  const name = (m.groups['name'] ?? m.groups['v6'] ?? '').toLowerCase();
  if (m.groups['v6'] !== undefined && isIP(name) !== 6) return null;
  const listen = config.host.replace(/^\[|\]$/g, '').toLowerCase();
  if (name === listen || localAddresses().has(name)) return host;
  return null;
}

/**
 * Base of the links the server hands out (archive downloads, broadcast HLS URLs): the `publicUrl`
 * setting when set, else `http://<Host>` when {@link trustedHost} trusts the request's Host, else
 * the address and port the request came in on (the listen URL).
 */
export function linkBase(req: IncomingMessage, config: Pick<ServerConfig, 'publicUrl' | 'host' | 'port'>): string {
  if (config.publicUrl) return config.publicUrl;
  const host = trustedHost(req.headers.host, config);
  if (host) return `http://${host}`;
  const h = req.socket.localAddress?.replace(/^::ffff:/, '') ?? config.host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${req.socket.localPort ?? config.port}`;
}
