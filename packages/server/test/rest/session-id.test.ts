import { encodeSessionId } from '@tokhost/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sessionCreateJson } from '../../src/http/routes/sessions.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { SessionRecord } from '../../src/storage/store.js';
import { createSession, formatCreateDt, parseSessionOptions, sessionCreateItem, sessionIdOf } from '../../src/services/sessions.js';

/**
 * How each official SDK decodes a session ID to check it belongs to the API key (reference §5.1),
 * re-implemented faithfully so every generated ID can be checked against all five.
 */
const DECODERS: Record<string, (sessionId: string, apiKey: string) => boolean> = {
  // opentok-node: drop 2 chars, -→+, _→/, lenient base64, split on ~, fields[1] === key.
  node: (id, key) => Buffer.from(id.slice(2).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8').split('~')[1] === key,
  // Java: URL-safe decoder (no padding needed, rejects other characters), key is one of the parts.
  java: (id, key) => {
    const body = id.slice(2);
    if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) return false;
    return Buffer.from(body, 'base64url').toString('utf8').split('~').includes(key);
  },
  // Python: urlsafe_b64decode after re-padding (strict), key is one of the parts.
  python: (id, key) => {
    const body = id.slice(2);
    const padded = body + '='.repeat((4 - (body.length % 4)) % 4);
    if (!/^[A-Za-z0-9_-]*={0,2}$/.test(padded) || padded.length % 4 !== 0) return false;
    return Buffer.from(padded, 'base64url').toString('utf8').split('~').includes(key);
  },
  // Ruby: Base64.decode64 of the tr('-_', '+/') text must contain the key.
  ruby: (id, key) => Buffer.from(id.slice(2).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1').includes(key),
  // PHP: explode on '-', base64_decode each chunk (lenient), explode each on '~', merge; [1] is the key.
  php: (id, key) => {
    const data: string[] = [];
    for (const part of id.slice(2).split('-')) data.push(...Buffer.from(part.replace(/_/g, '/'), 'base64').toString('latin1').split('~'));
    return data[1] === key;
  },
};

describe('session IDs', () => {
  it('decode to their API key in the node, Java, Python, Ruby and PHP SDKs', () => {
    const store = createMemoryStore();
    const keys = ['1', '12', '123', '1234', '12345678', '46123456', '99999999999999999999'];
    keys.forEach((apiKey) => store.createProject({ apiKey, apiSecret: 'x'.repeat(40), name: apiKey, createdAt: 0, webhookUrl: null }));
    const ids = new Set<string>();
    let checked = 0;
    for (const apiKey of keys)
      for (const p2p of ['enabled', 'disabled'])
        for (const location of ['', '1.2.3.4', '255.255.255.255', '10.0.0.12'])
          for (let i = 0; i < 20; i++) {
            const fields = new Map([['p2p.preference', p2p], ...(location ? [['location', location] as [string, string]] : [])]);
            const s = createSession(store, apiKey, parseSessionOptions(fields, apiKey), 1_700_000_000_000 + i * 7919);
            expect(s.sessionId.length).toBeLessThanOrEqual(255);
            expect(s.sessionId).toMatch(/^1_[A-Za-z0-9_-]+$/);
            for (const [sdk, decode] of Object.entries(DECODERS)) expect(decode(s.sessionId, apiKey), `${sdk} ${s.sessionId}`).toBe(true);
            ids.add(s.sessionId);
            checked++;
          }
    expect(ids.size).toBe(checked);
    store.close();
  });

  it('formats create_dt the Java way, in UTC', () => {
    expect(formatCreateDt(Date.UTC(2025, 1, 14, 5, 4, 3))).toBe('Fri Feb 14 05:04:03 UTC 2025');
  });

  it('remembers create_dt per second only: every call matches a fresh Date formatting', () => {
    const base = Date.UTC(2026, 10, 22, 23, 59, 58, 990);
    const expected = (ms: number) => {
      const d = new Date(ms);
      const iso = d.toISOString();
      const [wd, , mon] = d.toUTCString().split(' ');
      return `${wd!.slice(0, 3)} ${mon} ${iso.slice(8, 10)} ${iso.slice(11, 19)} UTC ${iso.slice(0, 4)}`;
    };
    // Across a second, a day and a year boundary, going back and forth.
    for (const ms of [base, base + 5, base + 10, base + 1000, base + 9, base + 2010, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), base]) {
      expect(formatCreateDt(ms)).toBe(expected(ms));
    }
  });

  it('sessionIdOf is encodeSessionId of the protocol package, byte for byte', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9A-Za-z-]{1,64}$/),
        fc.oneof(fc.constant(''), fc.ipV4()),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.base64String({ minLength: 24, maxLength: 24 }),
        fc.constantFrom('', 'P'),
        (apiKey, location, createdAt, random, flag) => {
          expect(sessionIdOf(apiKey, location, createdAt, random, flag)).toBe(encodeSessionId({ apiKey, location, createdAt, random, flag }));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('sessionCreateJson is JSON.stringify([sessionCreateItem(s)]), byte for byte', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 64 }), fc.integer({ min: 0, max: 4_102_444_800_000 }), (sessionId, apiKey, createdAt) => {
        const s: SessionRecord = { sessionId, apiKey, createdAt, mediaMode: 'routed', archiveMode: 'manual', archiveName: null, archiveResolution: null, location: null, e2ee: false };
        const text = sessionCreateJson(s);
        expect(text).toBe(JSON.stringify([sessionCreateItem(s)]));
        expect(JSON.parse(text)).toEqual([sessionCreateItem(s)]);
      }),
      { numRuns: 2000 },
    );
  });
});
