import { describe, expect, it } from 'vitest';
import { validateConfig } from './config.js';
import { checkConcurrent, checkSubscribe, ConnectionTally, KeyedRateLimiter, LIMIT_DEFAULTS, limitsFrom, overSendBuffer, TokenBucket } from './limits.js';

describe('TokenBucket', () => {
  it('allows the burst at once, then the rate, and refuses without taking', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.take(50)).toBe(false); // half a token
    expect(b.take(100)).toBe(true); // one token after 100 ms at 10/s
    expect(b.take(100)).toBe(false);
    expect(b.idle(100)).toBe(false);
    expect(b.idle(1000)).toBe(true);
    // Never more than the burst, however long it waited.
    expect([b.take(60_000), b.take(60_000), b.take(60_000), b.take(60_000)]).toEqual([true, true, true, false]);
  });
});

describe('KeyedRateLimiter', () => {
  it('keeps one bucket per key', () => {
    const l = new KeyedRateLimiter(1, 2);
    expect([l.take('a', 0), l.take('a', 0), l.take('a', 0)]).toEqual([true, true, false]);
    expect(l.take('b', 0)).toBe(true);
    expect(l.take('a', 1000)).toBe(true);
  });
});

describe('ConnectionTally', () => {
  it('refuses past the per-token and per-project caps and frees on remove', () => {
    const t = new ConnectionTally();
    const limits = { maxConnectionsPerToken: 2, maxConnectionsPerProject: 3 };
    t.add('p', 'tok1');
    t.add('p', 'tok1');
    expect(t.check(limits, 'p', 'tok1')).toContain('maxConnectionsPerToken 2');
    expect(t.check(limits, 'p', 'tok2')).toBeNull();
    t.add('p', 'tok2');
    expect(t.check(limits, 'p', 'tok3')).toContain('maxConnectionsPerProject 3');
    expect(t.check(limits, 'q', 'tok4')).toBeNull();
    t.remove('p', 'tok1');
    expect(t.project('p')).toBe(2);
    expect(t.check(limits, 'p', 'tok1')).toBeNull();
  });
});

describe('checkSubscribe', () => {
  it('refuses a second subscription to a stream and one past the cap', () => {
    expect(checkSubscribe({ maxSubscriptionsPerConnection: 2 }, ['s1'], 's1')?.code).toBe('duplicate');
    expect(checkSubscribe({ maxSubscriptionsPerConnection: 2 }, ['s1', 's2'], 's3')).toMatchObject({ code: 'limit', message: expect.stringContaining('maxSubscriptionsPerConnection') });
    expect(checkSubscribe({ maxSubscriptionsPerConnection: 2 }, ['s1'], 's2')).toBeNull();
  });
});

describe('checkConcurrent', () => {
  const max = { perSession: 2, perProject: 3, sessionSetting: 'maxSipCallsPerSession', projectSetting: 'maxSipCallsPerProject' } as const;
  it('names the session limit first, then the project limit', () => {
    expect(checkConcurrent('SIP calls', { inSession: 1, inProject: 2 }, max)).toBeNull();
    expect(checkConcurrent('SIP calls', { inSession: 2, inProject: 2 }, max)).toBe('at most 2 SIP calls at once per session (maxSipCallsPerSession)');
    expect(checkConcurrent('broadcasts', { inSession: 0, inProject: 3 }, { ...max, sessionSetting: 'maxBroadcastsPerSession', projectSetting: 'maxBroadcastsPerProject' })).toBe('at most 3 broadcasts at once per project (maxBroadcastsPerProject)');
  });
});

describe('limits in the config', () => {
  it('has every limit as a setting with the documented default', () => {
    const config = validateConfig({});
    expect(limitsFrom(config as unknown as Record<string, unknown>)).toEqual(LIMIT_DEFAULTS);
    expect(LIMIT_DEFAULTS.sendBufferMaxBytes).toBe(4 * 1024 * 1024);
    expect(validateConfig({ maxConnectionsPerToken: '5' }).maxConnectionsPerToken).toBe(5);
    expect(() => validateConfig({ signalRatePerConnection: 0 })).toThrow(/signalRatePerConnection must be an integer from 1/);
    expect(overSendBuffer({ sendBufferMaxBytes: 10 }, 11)).toBe(true);
    expect(overSendBuffer({ sendBufferMaxBytes: 10 }, 10)).toBe(false);
  });
});
