// The one signal rule (protocol's signalProblem) and what each surface makes of it: the REST
// route's status and field, the realtime layer's error code, the SDK's ArgumentError. One table,
// so the three cannot drift apart again.
import { describe, expect, it } from 'vitest';
import { checkSignal, signalProblem } from '@tokhost/protocol';
import { OpenTok } from '@tokhost/sdk';
import { TokhostError } from '../../src/errors.js';
import { restAnswer } from '../../src/http/errors.js';
import { parseSignal } from '../../src/http/routes/streams.js';

type Expect = 'ok' | { field: 'type' | 'data'; rest: 400 | 413; rt: 'ERR_RT_SIGNAL_INVALID' | 'ERR_RT_SIGNAL_TOO_LARGE' };
const CASES: [string, unknown, unknown, Expect][] = [
  ['type and data', 'chat', 'hi', 'ok'],
  ['neither', undefined, undefined, 'ok'],
  ['type only', 'a-b_c~9', undefined, 'ok'],
  ['null type: no type', null, 'hi', 'ok'],
  ['empty type and data', '', '', 'ok'],
  ['128-character type', 'x'.repeat(128), 'd', 'ok'],
  ['8192-byte data', undefined, 'é'.repeat(4096), 'ok'],
  ['number type', 5, 'hi', { field: 'type', rest: 400, rt: 'ERR_RT_SIGNAL_INVALID' }],
  ['null data', 'chat', null, { field: 'data', rest: 400, rt: 'ERR_RT_SIGNAL_INVALID' }],
  ['object data', 'chat', { a: 1 }, { field: 'data', rest: 400, rt: 'ERR_RT_SIGNAL_INVALID' }],
  ['129-character type', 'x'.repeat(129), 'd', { field: 'type', rest: 413, rt: 'ERR_RT_SIGNAL_TOO_LARGE' }],
  ['space in type', 'a b', 'd', { field: 'type', rest: 400, rt: 'ERR_RT_SIGNAL_INVALID' }],
  ['CRLF in type', 'a\r\nb', 'd', { field: 'type', rest: 400, rt: 'ERR_RT_SIGNAL_INVALID' }],
  ['non-ASCII type', 'çhat', 'd', { field: 'type', rest: 400, rt: 'ERR_RT_SIGNAL_INVALID' }],
  ['8193-byte data', undefined, 'é'.repeat(4096) + 'x', { field: 'data', rest: 413, rt: 'ERR_RT_SIGNAL_TOO_LARGE' }],
  ['8193 bytes of astral data', undefined, '😀'.repeat(2048) + 'x', { field: 'data', rest: 413, rt: 'ERR_RT_SIGNAL_TOO_LARGE' }],
];

const body = (type: unknown, data: unknown): Record<string, unknown> => ({ ...(type !== undefined ? { type } : {}), ...(data !== undefined ? { data } : {}) });
// The SDK's own fetch hook records what would go on the wire (an answer of 204, as the server gives).
const sent: string[] = [];
const ot = new OpenTok('10000001', 'x'.repeat(40), {
  apiUrl: 'http://127.0.0.1:1',
  fetch: async (_url: string, init?: { body?: unknown }) => {
    sent.push(String(init?.body ?? ''));
    return new Response(null, { status: 204 });
  },
} as never);
const SID = '1_MX4xMDAwMDAwMX5-MTcwMDAwMDAwMDAwMH5hYmN-fg';

describe.each(CASES)('signal rule: %s', (_name, type, data, expected) => {
  it('protocol', () => {
    const p = signalProblem(type, data);
    if (expected === 'ok') expect(p).toBeNull();
    else expect(p?.field).toBe(expected.field);
  });

  it('REST route', () => {
    if (expected === 'ok') {
      const parsed = parseSignal(body(type, data));
      expect(parsed).toEqual({ ...(typeof type === 'string' ? { type } : {}), ...(typeof data === 'string' ? { data } : {}) });
      return;
    }
    let err: unknown;
    try {
      parseSignal(body(type, data));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokhostError);
    const e = err as TokhostError;
    expect(restAnswer(e)?.status).toBe(expected.rest);
    expect(`${e.message} ${e.description}`).toContain(expected.field);
  });

  it('realtime', () => {
    const err = checkSignal(type, data);
    if (expected === 'ok') expect(err).toBeNull();
    else {
      expect(err?.code).toBe(expected.rt);
      expect(err?.message).toContain(expected.field);
    }
  });

  it('SDK (checked before any request)', async () => {
    sent.length = 0;
    const call = ot.signal(SID, body(type, data) as { type?: string; data?: string });
    if (expected === 'ok') {
      await expect(call).resolves.toBeUndefined();
      expect(sent).toHaveLength(1);
      expect(JSON.parse(sent[0]!)).toEqual({ ...(typeof type === 'string' ? { type } : {}), ...(typeof data === 'string' ? { data } : {}) });
    } else {
      await expect(call).rejects.toMatchObject({ name: 'ArgumentError', message: expect.stringContaining(`payload.${expected.field}`) });
      expect(sent).toHaveLength(0);
    }
  });
});
