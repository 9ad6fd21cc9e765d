import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../src/index.js';

const SECRET = 'webhook-secret';
const BODY = '{"sessionId":"1_MX4","event":"connectionCreated","timestamp":1700000000000}';
const T = 1_700_000_000;
/** Independent signer: the documented scheme written out. */
const header = (t: number, body: string | Buffer, secret = SECRET): string =>
  `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`;

describe('verifyWebhookSignature', () => {
  it('accepts a correct signature (string and Buffer bodies)', () => {
    expect(verifyWebhookSignature(BODY, header(T, BODY), SECRET, { now: T })).toBe(true);
    expect(verifyWebhookSignature(Buffer.from(BODY), header(T, BODY), SECRET, { now: T + 10 })).toBe(true);
    expect(verifyWebhookSignature('héllo', header(T, 'héllo'), SECRET, { now: T })).toBe(true);
  });

  it('signWebhook produces what the scheme describes', () => {
    expect(signWebhook(BODY, SECRET, T)).toBe(header(T, BODY));
  });

  it('rejects a tampered body, a wrong secret or a wrong signature', () => {
    expect(verifyWebhookSignature(BODY + ' ', header(T, BODY), SECRET, { now: T })).toBe(false);
    expect(verifyWebhookSignature(BODY, header(T, BODY, 'other'), SECRET, { now: T })).toBe(false);
    expect(verifyWebhookSignature(BODY, header(T, BODY).replace(/.$/, (c) => (c === '0' ? '1' : '0')), SECRET, { now: T })).toBe(false);
    // The timestamp is signed too: moving it breaks the signature.
    expect(verifyWebhookSignature(BODY, header(T, BODY).replace(`t=${T}`, `t=${T + 1}`), SECRET, { now: T })).toBe(false);
  });

  it('enforces the tolerance (default 300 s) in both directions', () => {
    expect(verifyWebhookSignature(BODY, header(T, BODY), SECRET, { now: T + 300 })).toBe(true);
    expect(verifyWebhookSignature(BODY, header(T, BODY), SECRET, { now: T + 301 })).toBe(false);
    expect(verifyWebhookSignature(BODY, header(T, BODY), SECRET, { now: T - 301 })).toBe(false);
    expect(verifyWebhookSignature(BODY, header(T, BODY), SECRET, { now: T + 1000, toleranceSeconds: 1000 })).toBe(true);
    const fresh = Math.floor(Date.now() / 1000);
    expect(verifyWebhookSignature(BODY, header(fresh, BODY), SECRET)).toBe(true);
    expect(verifyWebhookSignature(BODY, header(fresh - 3600, BODY), SECRET)).toBe(false);
  });

  it('rejects malformed headers without throwing', () => {
    for (const h of ['', 'garbage', `t=${T}`, `v1=${'a'.repeat(64)}`, `t=abc,v1=${'a'.repeat(64)}`, `t=${T},v1=XYZ`, `t=${T},v1=${'A'.repeat(64)}`]) {
      expect(verifyWebhookSignature(BODY, h, SECRET, { now: T })).toBe(false);
    }
    expect(verifyWebhookSignature(BODY, undefined as unknown as string, SECRET, { now: T })).toBe(false);
    expect(verifyWebhookSignature(BODY, header(T, BODY), '', { now: T })).toBe(false);
  });

  it('accepts when one of several v1 signatures matches (secret rotation)', () => {
    const good = header(T, BODY);
    const bad = header(T, BODY, 'old-secret');
    const combined = `${bad},${good.split(',')[1]}`;
    expect(verifyWebhookSignature(BODY, combined, SECRET, { now: T })).toBe(true);
  });
});
