import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ServerConfig } from '../config.js';
import type { SipGatewayConfig } from './gateway.js';

/**
 * The gateway's settings from the server config (docs/sip.md): the bind address (`host` when it
 * is an IP address, else every interface), the address written in SIP and SDP (`sipPublicAddress`,
 * else `publicIp`, else the first external IPv4 address when bound to all), and the TLS files
 * read now, so that a missing one stops the start with its setting named.
 */
export function sipGatewayConfig(config: ServerConfig): SipGatewayConfig {
  const bind = config.sipBindAddress ?? (isIP(config.host) && config.host !== '0.0.0.0' && config.host !== '::' ? config.host : '0.0.0.0');
  const firstExternal = () => Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const advertised = config.sipPublicAddress ?? config.publicIp ?? (bind === '0.0.0.0' ? (firstExternal() ?? '127.0.0.1') : bind);
  const read = (path: string | null, what: string): string | undefined => {
    if (path === null) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`${what} ${path} cannot be read: ${(err as Error).message}`);
    }
  };
  const tlsCert = read(config.sipTlsCert, 'sipTlsCert');
  const tlsKey = read(config.sipTlsKey, 'sipTlsKey');
  const tlsCa = read(config.sipTlsCa, 'sipTlsCa');
  return {
    bindAddress: bind,
    publicAddress: advertised,
    port: config.sipPort,
    tlsPort: config.sipTlsPort,
    ...(tlsCert && tlsKey ? { tlsCert, tlsKey } : {}),
    ...(tlsCa ? { tlsCa } : {}),
    tlsVerify: config.sipTlsVerify,
    rtpMinPort: config.sipRtpMinPort ?? 0,
    rtpMaxPort: config.sipRtpMaxPort ?? 0,
    rtpLatching: config.sipRtpLatching,
    ringTimeoutMs: config.sipRingTimeoutSeconds * 1000,
    mediaTimeoutMs: config.sipMediaTimeoutSeconds * 1000,
    maxDurationMs: config.sipMaxDurationSeconds * 1000,
  };
}
