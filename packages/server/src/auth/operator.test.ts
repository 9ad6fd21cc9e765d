import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../storage/memory.js';
import { OPERATOR_TOKEN_SETTING, resolveOperatorToken } from './operator.js';

describe('resolveOperatorToken', () => {
  it('generates a token once per store and keeps only its SHA-256', () => {
    const store = createMemoryStore();
    const first = resolveOperatorToken(store, null);
    expect(first.source).toBe('generated');
    expect(first.generated).toMatch(/^tho_[A-Za-z0-9_-]{43}$/);
    expect(store.getSetting(OPERATOR_TOKEN_SETTING)).toBe(`sha256:${createHash('sha256').update(first.generated!).digest('hex')}`);
    const again = resolveOperatorToken(store, null);
    expect(again).toMatchObject({ source: 'store', generated: null });
    expect(again.verify({ authorization: `Bearer ${first.generated!}` })).toBe(true);
  });

  it('accepts only "Bearer <token>" with the exact token', () => {
    const op = resolveOperatorToken(createMemoryStore(), 'configured-token-0123456789');
    expect(op).toMatchObject({ source: 'config', generated: null });
    expect(op.verify({ authorization: 'Bearer configured-token-0123456789' })).toBe(true);
    expect(op.verify({ authorization: 'bearer configured-token-0123456789 ' })).toBe(true);
    for (const authorization of [undefined, '', 'Bearer', 'configured-token-0123456789', 'Basic configured-token-0123456789', 'Bearer configured-token-012345678', 'Bearer configured-token-0123456789x', 'Bearer configured-token-0123456789 extra']) {
      expect(op.verify(authorization === undefined ? {} : { authorization }), String(authorization)).toBe(false);
    }
  });

  it('a configured token leaves the store alone', () => {
    const store = createMemoryStore();
    resolveOperatorToken(store, 'configured-token-0123456789');
    expect(store.getSetting(OPERATOR_TOKEN_SETTING)).toBeUndefined();
  });

  it('refuses to start on a damaged stored hash, naming the setting', () => {
    const store = createMemoryStore();
    store.putSettingIfAbsent(OPERATOR_TOKEN_SETTING, 'sha256:not-hex');
    expect(() => resolveOperatorToken(store, null)).toThrow(/operatorTokenHash.*damaged/);
  });
});
