import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { linkBase, trustedHost } from './link-base.js';

const config = { host: '127.0.0.1', port: 0, publicUrl: null };
const req = (host: string | undefined) => ({ headers: host === undefined ? {} : { host }, socket: { localAddress: '127.0.0.1', localPort: 4567 } }) as unknown as IncomingMessage;

describe('link base (archive and HLS URLs)', () => {
  it('trusts a Host naming the listen address or this machine', () => {
    expect(trustedHost('127.0.0.1:4567', config)).toBe('127.0.0.1:4567');
    expect(trustedHost('localhost:99', config)).toBe('localhost:99');
    expect(trustedHost('[::1]:4567', config)).toBe('[::1]:4567');
  });

  it.each(['evil.example.com', 'evil.example.com:4567', 'a@b', 'a@127.0.0.1', `${'a'.repeat(300)}.example`, '127.0.0.1:99999', '127.0.0.1/x', '[zz::1]', ''])('falls back to the listen URL for Host %j', (host) => {
    expect(trustedHost(host, config)).toBeNull();
    expect(linkBase(req(host), config)).toBe('http://127.0.0.1:4567');
  });

  it('uses publicUrl whenever it is set', () => {
    expect(linkBase(req('evil.example.com'), { ...config, publicUrl: 'https://video.example.org' })).toBe('https://video.example.org');
  });
});
