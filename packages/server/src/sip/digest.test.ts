import { describe, expect, it } from 'vitest';
import { authorizationHeader, DigestError, digestResponse, parseChallenge } from './digest.js';

describe('digest', () => {
  it('RFC 2617 §3.5 example (MD5, qop=auth)', () => {
    const ch = parseChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
    expect(ch).toMatchObject({ realm: 'testrealm@host.com', qop: ['auth', 'auth-int'], algorithm: 'MD5', opaque: '5ccc069c403ebaf9f0171e9517f40e41' });
    const r = digestResponse(ch, { username: 'Mufasa', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: '0a4f113b' });
    expect(r).toEqual({ response: '6629fae49393a05397450978507c4ef1', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' });
  });

  it('RFC 7616 §3.9.1 examples (MD5 and SHA-256)', () => {
    const base = 'realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
    const input = { username: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };
    expect(digestResponse(parseChallenge(`Digest ${base}, algorithm=MD5`), input).response).toBe('8ca523f5e9506fed4657c9700eebdbec');
    expect(digestResponse(parseChallenge(`Digest ${base}, algorithm=SHA-256`), input).response).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('RFC 2069 style (no qop) and the header it builds', () => {
    const ch = parseChallenge('Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
    // RFC 2069 §2.4: same credentials, no qop.
    expect(digestResponse(ch, { username: 'Mufasa', password: 'CircleOfLife', method: 'GET', uri: '/dir/index.html' }).response).toBe('1949323746fe6a43ef61f9606e7febea');
    const h = authorizationHeader(ch, { username: 'Mufasa', password: 'CircleOfLife', method: 'INVITE', uri: 'sip:bob@example.com' });
    expect(h).toMatch(/^Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@example.com", response="[0-9a-f]{32}", algorithm=MD5, opaque="5ccc069c403ebaf9f0171e9517f40e41"$/);
  });

  it('refuses what it cannot answer', () => {
    expect(() => parseChallenge('Basic realm="x"')).toThrow(/scheme/);
    expect(() => parseChallenge('Digest nonce="x"')).toThrow(/realm/);
    expect(() => digestResponse(parseChallenge('Digest realm="r", nonce="n", qop="auth-int"'), { username: 'u', password: 'p', method: 'INVITE', uri: 'sip:x' })).toThrow(/qop/);
    expect(() => digestResponse(parseChallenge('Digest realm="r", nonce="n", algorithm=SHA-1'), { username: 'u', password: 'p', method: 'INVITE', uri: 'sip:x' })).toThrow(/algorithm/);
  });

  it('refuses challenges whose values cannot be echoed in a quoted-string (issue 17), and such inputs', () => {
    for (const bad of [
      'Digest realm="a\\", response=\\"forged", nonce="n"',
      'Digest realm="r", nonce="n\rX-Evil: 1"',
      'Digest realm="r\u0000", nonce="n"',
      'Digest realm="r", nonce="n", opaque="o\\\\"',
      'Digest realm="r", nonce="n", algorithm="MD5\\"x"',
    ]) {
      expect(() => parseChallenge(bad), bad).toThrow(DigestError);
    }
    const ch = parseChallenge('Digest realm="r", nonce="n"');
    expect(() => authorizationHeader(ch, { username: 'bob"', password: 'p', method: 'INVITE', uri: 'sip:x@y' })).toThrow(/username/);
    expect(() => authorizationHeader(ch, { username: 'bob\r\nX: 1', password: 'p', method: 'INVITE', uri: 'sip:x@y' })).toThrow(/username/);
    expect(() => authorizationHeader({ ...ch, realm: 'r\r\n' }, { username: 'bob', password: 'p', method: 'INVITE', uri: 'sip:x@y' })).toThrow(/realm/);
    expect(authorizationHeader(ch, { username: 'zoë', password: 'p', method: 'INVITE', uri: 'sip:x@y' })).toMatch(/^Digest username="zoë", realm="r", nonce="n"/);
  });
});

