import { describe, expect, it } from 'vitest';
import { createOutboundPolicy, OutboundError, parseOutboundAllow } from './outbound.js';

const strict = createOutboundPolicy();

describe('outbound policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['127.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'multicast'],
    ['::7f00:1', 'reserved'],
    ['192.0.2.10', 'reserved'],
  ])('refuses %s (%s) by default', (host, rule) => {
    expect(strict.checkLiteral(host)).toBe(rule);
  });

  it('permits global unicast addresses and says nothing of names', () => {
    expect(strict.checkLiteral('8.8.8.8')).toBeNull();
    expect(strict.checkLiteral('2001:4860:4860::8888')).toBeNull();
    expect(strict.checkLiteral('::ffff:8.8.8.8')).toBeNull();
    expect(strict.checkLiteral('example.com')).toBeUndefined();
    expect(strict.checkAddress('example.com')).toBe('reserved');
  });

  it('resolves names and refuses one that resolves to loopback (localhost)', async () => {
    const err = await strict.resolve('localhost').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundError);
    expect(err).toMatchObject({ code: 'ERR_OUTBOUND_REFUSED', rule: 'loopback', host: 'localhost' });
    expect((err as Error).message).toContain('rule: loopback');
  });

  it('checks every address a name resolves to, and returns the checked one', async () => {
    const lookup = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    const p = createOutboundPolicy({ lookup });
    await expect(p.resolve('mixed.example')).rejects.toMatchObject({ rule: 'private', address: '10.0.0.7' });
    const ok = createOutboundPolicy({ lookup: async () => [{ address: '93.184.216.34', family: 4 }] });
    await expect(ok.resolve('public.example')).resolves.toMatchObject({ address: '93.184.216.34', family: 4, literal: false });
  });

  it('reports a name that does not resolve', async () => {
    await expect(strict.resolve('no-such-host.invalid')).rejects.toMatchObject({ code: 'ERR_OUTBOUND_UNRESOLVED' });
  });

  it('permits what the allow-list names: ranges, addresses, names and name suffixes', async () => {
    const p = createOutboundPolicy({ allow: ['127.0.0.0/8', '10.1.2.0/24', '::1', 'internal.example', '*.corp.example'], lookup: async () => [{ address: '10.9.9.9', family: 4 }] });
    expect(p.checkLiteral('127.0.0.1')).toBeNull();
    expect(p.checkLiteral('::ffff:127.0.0.1')).toBeNull();
    expect(p.checkLiteral('0x7f000001')).toBeNull();
    expect(p.checkLiteral('10.1.2.200')).toBeNull();
    expect(p.checkLiteral('10.1.3.1')).toBe('private');
    expect(p.checkLiteral('[::1]')).toBeNull();
    expect(p.checkLiteral('169.254.169.254')).toBe('link-local');
    await expect(p.resolve('internal.example')).resolves.toMatchObject({ address: '10.9.9.9' });
    await expect(p.resolve('a.b.corp.example')).resolves.toMatchObject({ address: '10.9.9.9' });
    await expect(p.resolve('other.example')).rejects.toMatchObject({ rule: 'private' });
    await expect(createOutboundPolicy({ allow: ['127.0.0.0/8'] }).resolve('localhost')).resolves.toMatchObject({ address: '127.0.0.1' });
  });

  it('validates the allow-list and reports every bad entry', () => {
    expect(parseOutboundAllow('127.0.0.0/8, 10.1.2.0/24,sip.example.com')).toEqual({ entries: ['127.0.0.0/8', '10.1.2.0/24', 'sip.example.com'], problems: [] });
    expect(parseOutboundAllow(['fd00::/8', '[::1]', '*.Example.COM.'])).toEqual({ entries: ['fd00::/8', '::1', '*.example.com'], problems: [] });
    const bad = parseOutboundAllow(['10.0.0.0/33', 'exa mple', 5, '', '1.2.3.999']);
    expect(bad.problems).toHaveLength(5);
    expect(bad.problems[0]).toContain('outboundAllow[0] "10.0.0.0/33"');
    expect(parseOutboundAllow(42).problems[0]).toContain('must be an array of strings or a comma-separated string');
  });
});
