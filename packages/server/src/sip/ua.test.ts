/**
 * The user agent's transactions against a scripted far end on a real loopback UDP socket, with
 * short RFC 3261 timers (T1 = 40 ms) so retransmissions and timeouts happen within the test.
 */
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, parseNameAddr, parseVia, serializeMessage, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { SipCallFailure, SipUserAgent } from './ua.js';

const T1 = 40;

class FarEnd {
  readonly sock: Socket = createSocket('udp4');
  readonly got: { msg: SipMessage; at: number; port: number }[] = [];
  private waiters: (() => void)[] = [];
  port = 0;
  async start(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    this.port = this.sock.address().port;
    this.sock.on('message', (buf, rinfo) => {
      this.got.push({ msg: parseMessage(buf), at: performance.now(), port: rinfo.port });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /** Waits for the n-th message (0-based) matching `pred`. */
  async next(pred: (m: SipMessage) => boolean, n = 0, ms = 3000): Promise<{ msg: SipMessage; at: number; port: number }> {
    const end = Date.now() + ms;
    for (;;) {
      const hits = this.got.filter((g) => pred(g.msg));
      if (hits.length > n) return hits[n]!;
      if (Date.now() > end) throw new Error(`timed out waiting for message #${n}; got ${this.got.map((g) => (g.msg.kind === 'request' ? g.msg.method : g.msg.status)).join(',')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  send(msg: SipMessage, port: number): void {
    this.sock.send(serializeMessage(msg), port, '127.0.0.1');
  }
  reply(req: SipRequest, status: number, reason: string, extra: [string, string][] = [], body = '', toTag = 'far1'): SipResponse {
    const h = new SipHeaders();
    for (const v of req.headers.getAll('via')) h.append('via', v);
    h.append('from', req.headers.get('from')!);
    const to = req.headers.get('to')!;
    h.append('to', /tag=/.test(to) ? to : `${to};tag=${toTag}`);
    h.append('call-id', req.headers.get('call-id')!);
    h.append('cseq', req.headers.get('cseq')!);
    for (const [k, v] of extra) h.append(k, v);
    return { kind: 'response', status, reason, headers: h, body: Buffer.from(body) };
  }
  close(): void {
    this.sock.close();
  }
}

const isReq = (method: string) => (m: SipMessage) => m.kind === 'request' && m.method === method;
const branch = (m: SipMessage) => parseVia(m.headers.get('via')!).params.get('branch');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('SIP user agent transactions (loopback UDP)', () => {
  let ua: SipUserAgent;
  let far: FarEnd;
  beforeAll(async () => {
    ua = await SipUserAgent.start({ bindAddress: '127.0.0.1', port: 0, timers: { T1, T2: 320 } });
    far = new FarEnd();
    await far.start();
  });
  afterAll(async () => {
    far.close();
    await ua.close();
  });

  it('retransmits INVITE on timer A, answers a 401 with MD5 qop=auth digest, ACKs a 2xx end to end and again on its retransmission, handles OPTIONS, re-INVITE and a BYE from the far end', async () => {
    far.got.length = 0;
    const call = ua.invite({ uri: `sip:bob@127.0.0.1:${far.port}`, fromUser: '14155550101', fromHost: 'example.com', headers: [['X-Room', 'blue']], auth: { username: 'alice', password: 's3cret' }, sdp: 'v=0\r\n' });
    let bye = false;
    let reinviteOffer = '';
    call.handlers = { onBye: () => (bye = true), onReinvite: (o) => ((reinviteOffer = o), 'v=0\r\na=recvonly\r\n') };
    // Timer A: the INVITE goes out again after T1, 2*T1, … until a response comes.
    const i0 = await far.next(isReq('INVITE'), 0);
    const i2 = await far.next(isReq('INVITE'), 2);
    const i1 = far.got.filter((g) => isReq('INVITE')(g.msg))[1]!;
    expect(branch(i1.msg)).toBe(branch(i0.msg));
    expect(branch(i2.msg)).toBe(branch(i0.msg));
    // Sent at 0, T1, 3*T1. Arrival times in this process are only approximate: the first INVITE's
    // arrival is stamped late when the event loop is busy (73 ms instead of 120 on a loaded
    // machine), so the bound is one T1, which an INVITE sent without waiting for timer A misses.
    expect(i2.at - i0.at).toBeGreaterThanOrEqual(T1);
    const inv = i0.msg as SipRequest;
    expect(inv.headers.get('x-room')).toBe('blue');
    expect(parseNameAddr(inv.headers.get('from')!).uri).toBe('sip:14155550101@example.com');
    expect(parseVia(inv.headers.get('via')!).params.has('rport')).toBe(true);
    far.send(far.reply(inv, 401, 'Unauthorized', [['www-authenticate', 'Digest realm="r.test", nonce="abc", qop="auth", opaque="op"']]), i0.port);
    const ack401 = (await far.next(isReq('ACK'), 0)).msg;
    expect(branch(ack401)).toBe(branch(inv));
    const authed = (await far.next((m) => isReq('INVITE')(m) && m.headers.has('authorization'))).msg as SipRequest;
    expect(branch(authed)).not.toBe(branch(inv));
    expect(authed.headers.get('cseq')).toBe('2 INVITE');
    const a = Object.fromEntries([...authed.headers.get('authorization')!.matchAll(/(\w+)="?([^",]+)"?/g)].map((m) => [m[1], m[2]]));
    const ha1 = md5('alice:r.test:s3cret');
    const ha2 = md5(`INVITE:${a['uri']}`);
    expect(a['response']).toBe(md5(`${ha1}:abc:${a['nc']}:${a['cnonce']}:auth:${ha2}`));
    expect(a['opaque']).toBe('op');
    far.send(far.reply(authed, 180, 'Ringing'), i0.port);
    const ok = far.reply(authed, 200, 'OK', [['contact', `<sip:bob@127.0.0.1:${far.port}>`], ['content-type', 'application/sdp']], 'v=0\r\n');
    far.send(ok, i0.port);
    const answered = await call.answered;
    expect(answered.sdp).toBe('v=0\r\n');
    const ack1 = (await far.next(isReq('ACK'), 1)).msg as SipRequest;
    expect(branch(ack1)).not.toBe(branch(authed));
    expect(ack1.uri).toBe(`sip:bob@127.0.0.1:${far.port}`);
    expect(ack1.headers.get('cseq')).toBe('2 ACK');
    far.send(ok, i0.port);
    const ack2 = (await far.next(isReq('ACK'), 2)).msg;
    expect(branch(ack2)).toBe(branch(ack1));
    // In-dialog requests from the far end.
    const dialogReq = (method: string, cseq: number, body = '', b = `z9hG4bKfar${cseq}`): SipRequest => {
      const h = new SipHeaders();
      h.append('via', `SIP/2.0/UDP 127.0.0.1:${far.port};branch=${b}`);
      h.append('from', ok.headers.get('to')!);
      h.append('to', authed.headers.get('from')!);
      h.append('call-id', authed.headers.get('call-id')!);
      h.append('cseq', `${cseq} ${method}`);
      h.append('contact', `<sip:bob@127.0.0.1:${far.port}>`);
      return { kind: 'request', method, uri: inv.headers.get('contact')!.replace(/[<>]/g, ''), headers: h, body: Buffer.from(body) };
    };
    const responses = (status: number, method: string) => (m: SipMessage) => m.kind === 'response' && m.status === status && m.headers.get('cseq')!.endsWith(method);
    far.send(dialogReq('OPTIONS', 1), i0.port);
    expect((await far.next(responses(200, 'OPTIONS'))).msg.headers.get('allow')).toMatch(/INVITE/);
    far.send(dialogReq('INVITE', 2, 'v=0\r\na=sendonly\r\n'), i0.port);
    const re200 = (await far.next(responses(200, 'INVITE'))).msg;
    expect(re200.body.toString()).toContain('a=recvonly');
    expect(reinviteOffer).toContain('a=sendonly');
    // No ACK yet: the 2xx is retransmitted (§13.3.1.4).
    await far.next(responses(200, 'INVITE'), 1, 1000);
    far.send(dialogReq('ACK', 2), i0.port);
    far.send(dialogReq('BYE', 3), i0.port);
    await far.next(responses(200, 'BYE'));
    expect(bye).toBe(true);
    expect(call.state).toBe('terminated');
    // A retransmitted BYE gets the cached answer.
    far.send(dialogReq('BYE', 3, '', 'z9hG4bKfar3'), i0.port);
    await far.next(responses(200, 'BYE'), 1);
  });

  it('times out on timer B (408) when nothing answers, and refuses an INVITE outside a dialog', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    let n = 0;
    silent.on('message', () => n++);
    const t0 = Date.now();
    const call = ua.invite({ uri: `sip:nobody@127.0.0.1:${silent.address().port}`, fromUser: 'x', sdp: 'v=0\r\n' });
    const err = await call.answered.catch((e: unknown) => e);
    silent.close();
    expect(err).toBeInstanceOf(SipCallFailure);
    expect((err as SipCallFailure).status).toBe(408);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(64 * T1 * 0.9);
    expect(n).toBeGreaterThanOrEqual(5);
    far.got.length = 0;
    const h = new SipHeaders();
    h.append('via', `SIP/2.0/UDP 127.0.0.1:${far.port};branch=z9hG4bKin1`);
    h.append('from', '<sip:x@127.0.0.1>;tag=1');
    h.append('to', '<sip:tokhost@127.0.0.1>');
    h.append('call-id', 'incoming-1');
    h.append('cseq', '1 INVITE');
    far.send({ kind: 'request', method: 'INVITE', uri: `sip:tokhost@127.0.0.1:${ua.transport.udpPort}`, headers: h, body: Buffer.alloc(0) }, ua.transport.udpPort);
    expect(((await far.next((m) => m.kind === 'response')).msg as SipResponse).status).toBe(603);
  });

  it('CANCELs a ringing call (same branch; the INVITE ends with 487, ACKed) and sends BYE to hang up an answered one', async () => {
    far.got.length = 0;
    const call = ua.invite({ uri: `sip:bob@127.0.0.1:${far.port}`, fromUser: 'x', sdp: 'v=0\r\n' });
    const inv = await far.next(isReq('INVITE'));
    far.send(far.reply(inv.msg as SipRequest, 180, 'Ringing'), inv.port);
    await new Promise((r) => setTimeout(r, 50));
    const hung = call.hangup();
    const cancel = (await far.next(isReq('CANCEL'))).msg as SipRequest;
    expect(branch(cancel)).toBe(branch(inv.msg));
    expect(cancel.headers.get('cseq')).toBe('1 CANCEL');
    far.send(far.reply(cancel, 200, 'OK'), inv.port);
    far.send(far.reply(inv.msg as SipRequest, 487, 'Request Terminated'), inv.port);
    const err = await call.answered.catch((e: unknown) => e);
    expect((err as SipCallFailure).status).toBe(487);
    await hung;
    expect(branch((await far.next(isReq('ACK'))).msg)).toBe(branch(inv.msg));

    far.got.length = 0;
    const c2 = ua.invite({ uri: `sip:bob@127.0.0.1:${far.port}`, fromUser: 'x', sdp: 'v=0\r\n' });
    const inv2 = await far.next(isReq('INVITE'));
    far.send(far.reply(inv2.msg as SipRequest, 200, 'OK', [['contact', `<sip:bob@127.0.0.1:${far.port}>`]], 'v=0\r\n', 'far2'), inv2.port);
    await c2.answered;
    const done = c2.hangup();
    const bye = (await far.next(isReq('BYE'))).msg as SipRequest;
    expect(parseNameAddr(bye.headers.get('to')!).params.get('tag')).toBe('far2');
    expect(bye.headers.get('cseq')).toBe('2 BYE');
    // Lost 200: the BYE is retransmitted (timer E) until answered.
    const again = (await far.next(isReq('BYE'), 1)).msg;
    expect(branch(again)).toBe(branch(bye));
    far.send(far.reply(bye, 200, 'OK'), inv2.port);
    await done;
    expect(c2.state).toBe('terminated');
  });
});
