/**
 * The transaction layer's timers on their own: vitest's fake clock and a send function that
 * records what would go on the wire (the layer's only way out), so retransmission schedules and
 * timeouts are checked to the millisecond. The loopback behaviour is in ua.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseVia, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { SipCallFailure, SipTransactions, type SipTimers } from './transactions.js';
import type { SipTarget } from './transport.js';

const TIMERS: SipTimers = { T1: 500, T2: 4000, T4: 5000 };
const UDP: SipTarget = { transport: 'udp', host: '127.0.0.1', port: 5070 };
const TCP: SipTarget = { transport: 'tcp', host: '127.0.0.1', port: 5070 };

function request(method: string, branch: string, seq = 1): SipRequest {
  const h = new SipHeaders();
  h.append('via', `SIP/2.0/UDP 127.0.0.1:5060;rport;branch=${branch}`);
  h.append('from', '<sip:a@127.0.0.1>;tag=l1');
  h.append('to', '<sip:b@127.0.0.1>');
  h.append('call-id', 'c1@test');
  h.append('cseq', `${seq} ${method}`);
  return { kind: 'request', method, uri: 'sip:b@127.0.0.1:5070', headers: h, body: Buffer.alloc(0) };
}

function response(req: SipRequest, status: number, toTag = 'r1'): SipResponse {
  const h = new SipHeaders();
  for (const v of req.headers.getAll('via')) h.append('via', v);
  h.append('from', req.headers.get('from')!);
  h.append('to', `${req.headers.get('to')!};tag=${toTag}`);
  h.append('call-id', req.headers.get('call-id')!);
  h.append('cseq', req.headers.get('cseq')!);
  return { kind: 'response', status, reason: 'X', headers: h, body: Buffer.alloc(0) };
}

describe('SIP transactions (fake clock, recorded sends)', () => {
  let sent: { at: number; target: SipTarget; msg: SipMessage }[];
  let failSend: Error | undefined;
  let layer: SipTransactions;
  const t0 = 1_000_000;
  const at = (method: string) => sent.filter((s) => s.msg.kind === 'request' && s.msg.method === method).map((s) => s.at - t0);

  beforeEach(() => {
    vi.useFakeTimers({ now: t0 });
    sent = [];
    failSend = undefined;
    layer = new SipTransactions({
      timers: TIMERS,
      send: (target, msg) => {
        sent.push({ at: Date.now(), target, msg });
        return failSend ? Promise.reject(failSend) : Promise.resolve();
      },
    });
  });
  afterEach(() => {
    layer.close();
    vi.useRealTimers();
  });

  it('INVITE over UDP: timer A doubles from T1 without a cap, timer B ends it at 64*T1 with no more sends', () => {
    const responses: SipResponse[] = [];
    let timedOut = 0;
    layer.invite(UDP, request('INVITE', 'z9hG4bKa1'), { onResponse: (r) => responses.push(r), onTimeout: () => timedOut++, onError: () => expect.fail('no transport error') });
    vi.advanceTimersByTime(64 * 500 - 1);
    expect(at('INVITE')).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(timedOut).toBe(0);
    vi.advanceTimersByTime(1);
    expect(timedOut).toBe(1);
    vi.advanceTimersByTime(120_000);
    expect(at('INVITE')).toHaveLength(7);
    expect(timedOut).toBe(1);
    expect(responses).toEqual([]);
  });

  it('INVITE over TCP: sent once, timer B still fires at 64*T1', () => {
    let timedOut = 0;
    layer.invite(TCP, request('INVITE', 'z9hG4bKa2'), { onResponse: () => undefined, onTimeout: () => timedOut++, onError: () => undefined });
    vi.advanceTimersByTime(64 * 500);
    expect(at('INVITE')).toEqual([0]);
    expect(timedOut).toBe(1);
  });

  it('a provisional stops timer A; a non-2xx final is ACKed on the same branch with its To tag, and its retransmission gets the same ACK, not the TU, until timer D (32 s)', () => {
    const req = request('INVITE', 'z9hG4bKa3');
    const seen: number[] = [];
    let timedOut = 0;
    layer.invite(UDP, req, { onResponse: (r) => seen.push(r.status), onTimeout: () => timedOut++, onError: () => undefined });
    vi.advanceTimersByTime(600);
    layer.receiveResponse(response(req, 180));
    vi.advanceTimersByTime(10_000);
    expect(at('INVITE')).toEqual([0, 500]);
    const busy = response(req, 486, 'busy1');
    layer.receiveResponse(busy);
    expect(seen).toEqual([180, 486]);
    const acks = sent.filter((s) => s.msg.kind === 'request' && s.msg.method === 'ACK').map((s) => s.msg as SipRequest);
    expect(acks).toHaveLength(1);
    expect(parseVia(acks[0]!.headers.get('via')!).params.get('branch')).toBe('z9hG4bKa3');
    expect(acks[0]!.headers.get('to')).toContain('tag=busy1');
    expect(acks[0]!.headers.get('cseq')).toBe('1 ACK');
    expect(acks[0]!.uri).toBe(req.uri);
    vi.advanceTimersByTime(31_000);
    layer.receiveResponse(busy);
    expect(at('ACK')).toHaveLength(2);
    expect(seen).toEqual([180, 486]);
    vi.advanceTimersByTime(1_000);
    layer.receiveResponse(busy);
    expect(at('ACK')).toHaveLength(2);
    expect(timedOut).toBe(0);
  });

  it('a 2xx ends the INVITE transaction without an ACK from it; 64*T1 later its retransmission no longer reaches the TU', () => {
    const req = request('INVITE', 'z9hG4bKa4');
    const seen: number[] = [];
    let timedOut = 0;
    layer.invite(UDP, req, { onResponse: (r) => seen.push(r.status), onTimeout: () => timedOut++, onError: () => undefined });
    const ok = response(req, 200);
    layer.receiveResponse(ok);
    expect(seen).toEqual([200]);
    expect(at('ACK')).toEqual([]);
    vi.advanceTimersByTime(64 * 500);
    expect(at('INVITE')).toEqual([0]);
    layer.receiveResponse(ok);
    expect(seen).toEqual([200]);
    expect(timedOut).toBe(0);
  });

  it('a retransmitted 2xx within 64*T1 reaches the TU again (so the call can re-send its ACK)', () => {
    const req = request('INVITE', 'z9hG4bKa7');
    const seen: number[] = [];
    layer.invite(UDP, req, { onResponse: (r) => seen.push(r.status), onTimeout: () => undefined, onError: () => undefined });
    const ok = response(req, 200);
    layer.receiveResponse(ok);
    vi.advanceTimersByTime(1000);
    layer.receiveResponse(ok);
    expect(seen).toEqual([200, 200]);
    expect(at('INVITE')).toEqual([0]);
  });

  // Known defect kept by this refactoring (behaviour unchanged): every response first clears the
  // transaction's timers, so a retransmission of the 2xx cancels the 64*T1
  // clean-up and the entry stays (routing 2xx to the call) until close(). When it is fixed, this
  // test starts passing and vitest reports it: turn it into a plain `it`.
  it.fails('a 2xx retransmitted after a while still lets the transaction end 64*T1 after the first', () => {
    const req = request('INVITE', 'z9hG4bKa6');
    const seen: number[] = [];
    layer.invite(UDP, req, { onResponse: (r) => seen.push(r.status), onTimeout: () => undefined, onError: () => undefined });
    const ok = response(req, 200);
    layer.receiveResponse(ok);
    vi.advanceTimersByTime(1000);
    layer.receiveResponse(ok);
    vi.advanceTimersByTime(64 * 500);
    layer.receiveResponse(ok);
    expect(seen).toEqual([200, 200]);
  });

  it('a transport failure ends the INVITE with onError once, with no retransmission or timeout after it', async () => {
    failSend = new Error('ECONNREFUSED');
    const errors: string[] = [];
    let timedOut = 0;
    layer.invite(UDP, request('INVITE', 'z9hG4bKa5'), { onResponse: () => undefined, onTimeout: () => timedOut++, onError: (e) => errors.push(e.message) });
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toEqual(['ECONNREFUSED']);
    await vi.advanceTimersByTimeAsync(64 * 500);
    expect(at('INVITE')).toEqual([0]);
    expect(timedOut).toBe(0);
  });

  it('non-INVITE over UDP: timer E doubles up to T2, a provisional changes nothing, timer F rejects with 408 at 64*T1', async () => {
    const req = request('BYE', 'z9hG4bKn1', 2);
    const result = layer.nonInvite(UDP, req).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2000);
    layer.receiveResponse(response(req, 100));
    await vi.advanceTimersByTimeAsync(64 * 500 - 2000);
    expect(at('BYE')).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    const err = await result;
    expect(err).toBeInstanceOf(SipCallFailure);
    expect((err as SipCallFailure).status).toBe(408);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(at('BYE')).toHaveLength(11);
  });

  it('non-INVITE: the final response resolves it and stops the retransmissions; one for another method or branch does not match', async () => {
    const req = request('INFO', 'z9hG4bKn2', 3);
    let settled: SipResponse | undefined;
    void layer.nonInvite(UDP, req).then((r) => (settled = r));
    await vi.advanceTimersByTimeAsync(600);
    layer.receiveResponse(response(request('BYE', 'z9hG4bKn2', 3), 200));
    layer.receiveResponse(response(request('INFO', 'z9hG4bKother', 3), 200));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBeUndefined();
    layer.receiveResponse(response(req, 415));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled?.status).toBe(415);
    await vi.advanceTimersByTimeAsync(64 * 500);
    expect(at('INFO')).toEqual([0, 500]);
  });

  it('a branch override (CANCEL) rewrites the Via branch of the request it sends', async () => {
    const cancel = request('CANCEL', 'z9hG4bKfresh');
    void layer.nonInvite(TCP, cancel, 'z9hG4bKinvite').catch(() => undefined);
    await vi.advanceTimersByTimeAsync(0);
    expect(parseVia((sent[0]!.msg as SipRequest).headers.get('via')!).params.get('branch')).toBe('z9hG4bKinvite');
    expect(at('CANCEL')).toEqual([0]);
  });

  it('server side: the answer is cached for retransmissions of the same branch and method; a 2xx to an INVITE over UDP is re-sent (T1 doubling to T2) until its ACK', () => {
    const replies: { at: number; msg: SipMessage }[] = [];
    const reply = (msg: SipMessage) => replies.push({ at: Date.now() - t0, msg });
    const reinvite = request('INVITE', 'z9hG4bKs1', 7);
    const ok = response(reinvite, 200);
    layer.respond(reinvite, ok, reply, 'udp', true);
    expect(layer.answerRetransmission(reinvite, reply)).toBe(true);
    expect(layer.answerRetransmission(request('INVITE', 'z9hG4bKs2', 7), reply)).toBe(false);
    expect(layer.answerRetransmission(request('ACK', 'z9hG4bKs1', 7), reply)).toBe(false);
    vi.advanceTimersByTime(7600);
    expect(replies.map((r) => r.at)).toEqual([0, 0, 500, 1500, 3500, 7500]);
    layer.ackReceived(request('ACK', 'z9hG4bKack', 7));
    vi.advanceTimersByTime(60_000);
    expect(replies).toHaveLength(6);
    expect(replies.every((r) => r.msg === ok)).toBe(true);
  });

  it('server side: an unacknowledged 2xx stops after 64*T1; over TCP, or without reliable2xx, it is sent once', () => {
    const udpReplies: number[] = [];
    layer.respond(request('INVITE', 'z9hG4bKs3', 8), response(request('INVITE', 'z9hG4bKs3', 8), 200), () => udpReplies.push(Date.now() - t0), 'udp', true);
    const once: number[] = [];
    layer.respond(request('INVITE', 'z9hG4bKs4', 9), response(request('INVITE', 'z9hG4bKs4', 9), 200), () => once.push(Date.now() - t0), 'tcp', true);
    layer.respond(request('OPTIONS', 'z9hG4bKs5', 10), response(request('OPTIONS', 'z9hG4bKs5', 10), 200), () => once.push(Date.now() - t0), 'udp');
    vi.advanceTimersByTime(120_000);
    // 0, then T1, 2*T1, 4*T1, then every T2 while under 64*T1 (32 s) since the first.
    expect(udpReplies).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(once).toEqual([0, 0]);
  });

  it('the response cache forgets an answer once 64*T1 has passed (swept every 5 s)', () => {
    const replies: SipMessage[] = [];
    const bye = request('BYE', 'z9hG4bKs6', 4);
    layer.respond(bye, response(bye, 200), (m) => replies.push(m), 'udp');
    vi.advanceTimersByTime(30_000);
    expect(layer.answerRetransmission(bye, (m) => replies.push(m))).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(layer.answerRetransmission(bye, (m) => replies.push(m))).toBe(false);
    expect(replies).toHaveLength(2);
  });

  it('close() stops every retransmission and timeout', () => {
    let timedOut = 0;
    layer.invite(UDP, request('INVITE', 'z9hG4bKc1'), { onResponse: () => undefined, onTimeout: () => timedOut++, onError: () => undefined });
    void layer.nonInvite(UDP, request('OPTIONS', 'z9hG4bKc2')).catch(() => undefined);
    layer.respond(request('INVITE', 'z9hG4bKc3', 5), response(request('INVITE', 'z9hG4bKc3', 5), 200), (m) => sent.push({ at: Date.now(), target: UDP, msg: m }), 'udp', true);
    expect(sent).toHaveLength(3);
    layer.close();
    vi.advanceTimersByTime(120_000);
    expect(sent).toHaveLength(3);
    expect(timedOut).toBe(0);
  });
});
