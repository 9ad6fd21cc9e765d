import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mediaType, parseFormBody } from '../../src/http/body.js';
import { parseTarget } from '../../src/http/route-table.js';

const req = (contentType?: string) => ({ headers: contentType === undefined ? {} : { 'content-type': contentType } }) as IncomingMessage;

/** What the form parser must give: URLSearchParams, first value winning. */
function reference(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(text)) if (!m.has(k)) m.set(k, v);
  return m;
}

describe('request parsing fast paths', () => {
  it('parses form bodies exactly as URLSearchParams does (first value wins)', () => {
    const piece = fc.constantFrom('a', 'b', 'p2p.preference', 'archiveMode', '=', '&', '+', '%', '%2', '%20', '%zz', '%E2%82%AC', '?', ' ', 'é', '€', '', 'x=y');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }).map((a) => a.join('')), (text) => {
        expect([...parseFormBody(req('application/x-www-form-urlencoded'), Buffer.from(text))]).toEqual([...reference(text)]);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        expect([...parseFormBody(req('application/x-www-form-urlencoded'), Buffer.from(text))]).toEqual([...reference(Buffer.from(text).toString('utf8'))]);
      }),
      { numRuns: 3000 },
    );
    expect([...parseFormBody(req(), Buffer.from('?a=1&a=2&&b&c=x+y'))]).toEqual([
      ['a', '1'],
      ['b', ''],
      ['c', 'x y'],
    ]);
  });

  it('reads the media type without parameters, lower-case', () => {
    expect(mediaType(req('application/x-www-form-urlencoded'))).toBe('application/x-www-form-urlencoded');
    expect(mediaType(req('Application/X-WWW-Form-URLEncoded; charset=UTF-8'))).toBe('application/x-www-form-urlencoded');
    expect(mediaType(req(' application/json ;charset=utf-8'))).toBe('application/json');
    expect(mediaType(req())).toBe('');
  });

  it('splits paths the same with and without percent-escapes', () => {
    expect(parseTarget('/session/create').segments).toEqual(['session', 'create']);
    expect(parseTarget('//session//create/?x=1').segments).toEqual(['session', 'create']);
    expect(parseTarget('/v2/project/1%2F2/session').segments).toEqual(['v2', 'project', '1/2', 'session']);
    expect(parseTarget('/v2/project/123/archive?offset=2&count=5').query.get('count')).toBe('5');
    expect(() => parseTarget('/v2/%zz')).toThrow(expect.objectContaining({ code: 'ERR_REQUEST_INVALID' }));
  });
});
