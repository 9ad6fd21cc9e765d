import { describe, expect, it } from 'vitest';
import { decodeRumor, encodeRumor, RUMOR_TYPE, RumorFrameError } from './rumor.js';
import type { RumorFrame } from './rumor.js';

const frame = (f: Partial<RumorFrame> & { type: RumorFrame['type'] }): RumorFrame => ({ addresses: [], headers: {}, body: '', ...f });

describe('Rumor frames: encode then decode gives the frame back', () => {
  const cases: [string, RumorFrame][] = [
    ['an empty PING', frame({ type: RUMOR_TYPE.ping })],
    ['a PONG', frame({ type: RUMOR_TYPE.pong })],
    ['CONNECT with its three headers', frame({ type: RUMOR_TYPE.connect, headers: { uniqueId: 'c1', 'TRANSACTION-ID': 't1', notifyDisconnectAddress: 'symphony' } })],
    ['SUBSCRIBE to one topic', frame({ type: RUMOR_TYPE.subscribe, addresses: ['/v2/partner/1234/session/1_MX4xMjM0fn4'] })],
    ['MESSAGE with a Raptor body', frame({ type: RUMOR_TYPE.message, addresses: ['symphony'], headers: { 'Content-Type': 'application/x-raptor+v2', 'TRANSACTION-ID': 'a-b' }, body: JSON.stringify({ method: 'signal', uri: '/v2/partner/1/session/s/signal/x', content: { type: 'chat', data: 'hi' } }) })],
    ['STATUS with a status header', frame({ type: RUMOR_TYPE.status, addresses: ['c1'], headers: { STATUS: '200', 'TRANSACTION-ID': 't1' } })],
    ['non-ASCII everywhere', frame({ type: RUMOR_TYPE.message, addresses: ['adresse-é', '地址'], headers: { 'clé': 'välue 🎥' }, body: '{"data":"naïve ☃ 🎉"}' })],
    ['an empty header value and address', frame({ type: RUMOR_TYPE.status, addresses: [''], headers: { empty: '' } })],
    ['255 addresses', frame({ type: RUMOR_TYPE.subscribe, addresses: Array.from({ length: 255 }, (_, i) => `a${i}`) })],
  ];
  for (const [name, f] of cases) {
    it(name, () => {
      const bytes = encodeRumor(f);
      expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
      expect(bytes[6]).toBe(f.type);
      const back = decodeRumor(bytes);
      expect({ ...back, headers: { ...back.headers } }).toEqual(f);
    });
  }

  it('lays a CONNECT out byte for byte as the wire format says', () => {
    const bytes = encodeRumor({ type: RUMOR_TYPE.connect, addresses: ['ab'], headers: { k: 'v' }, body: '{}' });
    expect([...bytes]).toEqual([0, 0, 0, 17, 0, 0, 3, 1, 0, 2, 97, 98, 1, 0, 1, 107, 0, 1, 118, 123, 125]);
  });

  it('decodes a frame that sits inside a larger buffer (a view with an offset)', () => {
    const inner = encodeRumor({ type: RUMOR_TYPE.status, addresses: ['x'], headers: { STATUS: '200' } });
    const outer = Buffer.concat([Buffer.from([9, 9, 9]), inner]);
    expect(decodeRumor(outer.subarray(3)).headers['STATUS']).toBe('200');
  });
});

describe('Rumor frames: malformed input is refused with the reason', () => {
  const good = encodeRumor({ type: RUMOR_TYPE.message, addresses: ['symphony'], headers: { 'TRANSACTION-ID': 't' }, body: '{}' });
  const patched = (at: number, value: number) => {
    const b = Buffer.from(good);
    b[at] = value;
    return b;
  };
  const withLength = (b: Buffer) => {
    b.writeUInt32BE(b.length - 4, 0);
    return b;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['an empty buffer', new Uint8Array(0), /shorter than the 9-byte minimum/],
    ['8 bytes', good.subarray(0, 8), /shorter/],
    ['a length field that disagrees with the size', patched(3, good[3]! + 1), /length field says/],
    ['a truncated frame (length says more)', good.subarray(0, good.length - 1), /length field says/],
    ['reserved bytes not zero', patched(4, 1), /reserved bytes/],
    ['an unknown type', patched(6, 5), /unknown frame type 5/],
    ['type 255', patched(6, 255), /unknown frame type 255/],
    ['an address longer than the frame', withLength(Buffer.from([0, 0, 0, 0, 0, 0, 2, 1, 0xff, 0xff, 0x61, 0])), /address 0: 65535 bytes run past/],
    ['more addresses than present', withLength(Buffer.from([0, 0, 0, 0, 0, 0, 2, 3, 0, 1, 0x61, 0])), /address 1/],
    ['no header count', withLength(Buffer.from([0, 0, 0, 0, 0, 0, 2, 1, 0, 1, 0x61])), /header count is missing/],
    ['a header without its value', withLength(Buffer.from([0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 1, 0x6b])), /header k value: length runs past/],
    ['a header given twice', withLength(Buffer.from([0, 0, 0, 0, 0, 0, 9, 0, 2, 0, 1, 0x6b, 0, 0, 0, 1, 0x6b, 0, 0])), /header k is given twice/],
    ['an address that is not UTF-8', withLength(Buffer.from([0, 0, 0, 0, 0, 0, 2, 1, 0, 1, 0xff, 0])), /address 0 is not valid UTF-8/],
    ['a body that is not UTF-8', withLength(Buffer.from([0, 0, 0, 0, 0, 0, 2, 0, 0, 0xc3, 0x28])), /body is not valid UTF-8/],
  ];
  for (const [name, bytes, reason] of cases) {
    it(name, () => {
      expect(() => decodeRumor(bytes)).toThrow(RumorFrameError);
      expect(() => decodeRumor(bytes)).toThrow(reason);
    });
  }

  it('a frame over the size bound', () => {
    const big = encodeRumor({ type: RUMOR_TYPE.message, body: 'x'.repeat(2000) });
    expect(() => decodeRumor(big, 1000)).toThrow(/larger than 1000/);
    expect(decodeRumor(big, 4000).body).toHaveLength(2000);
  });

  it('header keys from the wire never reach Object.prototype', () => {
    const f = decodeRumor(encodeRumor({ type: RUMOR_TYPE.status, headers: { __proto__x: 'a', constructor: 'b' } }));
    expect(f.headers['constructor']).toBe('b');
    const proto = withLength(Buffer.from([0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, ...Buffer.from('__proto__'), 0, 1, 0x61]));
    const g = decodeRumor(proto);
    expect(Object.getPrototypeOf(g.headers)).toBe(null);
    expect(g.headers['__proto__']).toBe('a');
    expect(({} as Record<string, unknown>)['a']).toBeUndefined();
  });

  it('encoding refuses what the format cannot hold', () => {
    expect(() => encodeRumor({ type: RUMOR_TYPE.subscribe, addresses: Array.from({ length: 256 }, () => 'a') })).toThrow(/256 addresses/);
    expect(() => encodeRumor({ type: RUMOR_TYPE.message, headers: { k: 'x'.repeat(70_000) } })).toThrow(/header k value is 70000 bytes/);
  });
});
