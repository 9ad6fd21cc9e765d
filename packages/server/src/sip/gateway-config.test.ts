import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../config.js';
import { sipGatewayConfig } from './gateway-config.js';

describe('sipGatewayConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-sip-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('binds to an IP host, advertises sipPublicAddress, and turns seconds into ms', () => {
    const c = sipGatewayConfig(validateConfig({ host: '127.0.0.1', sipPort: 0, sipPublicAddress: '198.51.100.7', sipRingTimeoutSeconds: 20, sipRtpMinPort: 30000, sipRtpMaxPort: 30010 }));
    expect(c).toMatchObject({ bindAddress: '127.0.0.1', publicAddress: '198.51.100.7', port: 0, ringTimeoutMs: 20_000, rtpMinPort: 30000, rtpMaxPort: 30010, tlsVerify: true });
    expect(c.tlsCert).toBeUndefined();
  });

  it('binds to every interface for a host name, and advertises publicIp before any local address', () => {
    const c = sipGatewayConfig(validateConfig({ host: 'localhost', publicIp: '203.0.113.9' }));
    expect(c).toMatchObject({ bindAddress: '0.0.0.0', publicAddress: '203.0.113.9', rtpMinPort: 0, rtpMaxPort: 0 });
  });

  it('reads the TLS files at start, and names the setting of one it cannot read', () => {
    writeFileSync(join(dir, 'cert.pem'), 'CERT');
    writeFileSync(join(dir, 'key.pem'), 'KEY');
    const c = sipGatewayConfig(validateConfig({ sipTlsCert: join(dir, 'cert.pem'), sipTlsKey: join(dir, 'key.pem') }));
    expect([c.tlsCert, c.tlsKey, c.tlsCa]).toEqual(['CERT', 'KEY', undefined]);
    expect(() => sipGatewayConfig(validateConfig({ sipTlsCert: join(dir, 'cert.pem'), sipTlsKey: join(dir, 'missing.pem') }))).toThrow(/^sipTlsKey .*missing\.pem cannot be read/);
  });
});
