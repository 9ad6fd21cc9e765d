import { describe, expect, it } from 'vitest';
import { redact, rtmpForLog, REDACTED } from './redact.js';

describe('redact', () => {
  it('removes stream keys, URL credentials and query values', () => {
    const line = 'rtmp://user:pa55@cdn.example:1935/live/sk-SECRET-1?token=abc&x=1: Connection refused';
    const out = redact(line, ['sk-SECRET-1']);
    expect(out).not.toContain('sk-SECRET-1');
    expect(out).not.toContain('pa55');
    expect(out).not.toContain('abc');
    expect(out).toBe(`rtmp://${REDACTED}@cdn.example:1935/live/${REDACTED}?token=${REDACTED}&x=${REDACTED}: Connection refused`);
  });

  it('catches the URL-encoded form of a secret and leaves other text alone', () => {
    expect(redact('GET /live/a%20b failed', ['a b'])).toBe(`GET /live/${REDACTED} failed`);
    expect(redact('nothing to hide here')).toBe('nothing to hide here');
    expect(redact(undefined)).toBeUndefined();
  });

  it('names an RTMP output without its key', () => {
    expect(rtmpForLog('rtmp://u:p@host/app/', 'KEY')).toBe(`rtmp://${REDACTED}@host/app/${REDACTED}`);
  });
});
