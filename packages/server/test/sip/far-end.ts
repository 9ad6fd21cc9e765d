/**
 * A scripted SIP far end on loopback UDP for gateway tests: answers INVITEs as told (200 with a
 * PCMU answer, or a failure status), sends RTP (a tone, silence or nothing) to the address the
 * offer gave, measures the level of what it receives, and can send RFC 4733 digits and
 * re-INVITEs. Built on the server's own message parser (its own tests cover it separately).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { parseMessage, serializeMessage, SipHeaders, type SipRequest, type SipResponse } from '../../src/sip/message.js';

const { mulaw } = createRequire(import.meta.url)('alawmulaw') as typeof import('alawmulaw');

export interface FarEndOptions {
  /** Final answer to INVITE: 200 (default) or a failure status. */
  status?: number;
  /** What to send once answered. Default 'tone'. */
  send?: 'tone' | 'silence' | 'nothing';
  /** The SDP protocol of the answer (RTP/AVP even to an SRTP offer, to test refusals). */
  profile?: string;
}

export class ScriptedFarEnd {
  readonly sip: Socket = createSocket('udp4');
  readonly rtp: Socket = createSocket('udp4');
  sipPort = 0;
  rtpPort = 0;
  invite: SipRequest | undefined;
  ok: SipResponse | undefined;
  readonly requests: SipRequest[] = [];
  readonly responses: SipResponse[] = [];
  private gatewaySip: { port: number } | undefined;
  private gatewayRtp: { address: string; port: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seq = 1;
  private ts = 0;
  private phase = 0;
  /** |sample| of received audio, per packet (mean absolute value of the decoded PCMU). */
  readonly received: { at: number; level: number }[] = [];
  cseq = 100;
  /** What is sent now (may be changed during the call). */
  sendMode: NonNullable<FarEndOptions['send']>;

  constructor(readonly o: FarEndOptions = {}) {
    this.sendMode = o.send ?? 'tone';
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.sip.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => this.rtp.bind(0, '127.0.0.1', () => r()));
    this.sipPort = this.sip.address().port;
    this.rtpPort = this.rtp.address().port;
    this.sip.on('message', (buf, rinfo) => this.onSip(buf, rinfo.port));
    this.rtp.on('message', (buf) => {
      if (buf.length < 12 || (buf[1]! & 0x7f) !== 0) return;
      const pcm = mulaw.decode(buf.subarray(12));
      let sum = 0;
      for (const v of pcm) sum += Math.abs(v);
      this.received.push({ at: Date.now(), level: sum / Math.max(1, pcm.length) });
    });
  }

  get uri(): string {
    return `sip:far@127.0.0.1:${this.sipPort}`;
  }

  /** Mean level of what arrived in the last `ms`. */
  levelOver(ms: number): number {
    const since = Date.now() - ms;
    const xs = this.received.filter((r) => r.at >= since);
    return xs.length ? xs.reduce((a, r) => a + r.level, 0) / xs.length : -1;
  }

  private onSip(buf: Buffer, port: number): void {
    const msg = parseMessage(buf);
    if (msg.kind === 'response') {
      this.responses.push(msg);
      if (msg.status === 200 && msg.headers.get('cseq')!.endsWith('INVITE')) this.sendAck(msg);
      return;
    }
    this.requests.push(msg);
    this.gatewaySip = { port };
    if (msg.method === 'INVITE' && !this.invite) {
      this.invite = msg;
      const sdp = msg.body.toString();
      const c = /c=IN IP4 (\S+)/.exec(sdp)![1]!;
      const m = /m=audio (\d+)/.exec(sdp)![1]!;
      this.gatewayRtp = { address: c, port: Number(m) };
      this.reply(msg, 100, 'Trying', port);
      const status = this.o.status ?? 200;
      if (status !== 200) {
        this.reply(msg, status, 'Refused', port);
        return;
      }
      const answer = ['v=0', 'o=far 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${this.rtpPort} ${this.o.profile ?? 'RTP/AVP'} 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
      this.ok = this.reply(msg, 200, 'OK', port, answer);
      if (this.sendMode !== 'nothing') this.timer = setInterval(() => this.sendAudio(), 20);
      return;
    }
    if (msg.method === 'ACK') return;
    this.reply(msg, 200, 'OK', port);
    if (msg.method === 'BYE') this.stop();
  }

  private reply(req: SipRequest, status: number, reason: string, port: number, body = ''): SipResponse {
    const h = new SipHeaders();
    for (const v of req.headers.getAll('via')) h.append('via', v);
    h.append('from', req.headers.get('from')!);
    const to = req.headers.get('to')!;
    h.append('to', /tag=/.test(to) ? to : `${to};tag=far`);
    h.append('call-id', req.headers.get('call-id')!);
    h.append('cseq', req.headers.get('cseq')!);
    h.append('contact', `<sip:far@127.0.0.1:${this.sipPort}>`);
    if (body) h.append('content-type', 'application/sdp');
    const res: SipResponse = { kind: 'response', status, reason, headers: h, body: Buffer.from(body) };
    this.sip.send(serializeMessage(res), port, '127.0.0.1');
    return res;
  }

  private sendAck(ok: SipResponse): void {
    const h = this.dialogHeaders('ACK', Number(ok.headers.get('cseq')!.split(' ')[0]));
    this.sip.send(serializeMessage({ kind: 'request', method: 'ACK', uri: this.invite!.headers.get('contact')!.replace(/[<>]/g, ''), headers: h, body: Buffer.alloc(0) }), this.gatewaySip!.port, '127.0.0.1');
  }

  private dialogHeaders(method: string, cseq: number): SipHeaders {
    const h = new SipHeaders();
    h.append('via', `SIP/2.0/UDP 127.0.0.1:${this.sipPort};branch=z9hG4bKfar${cseq}${method}`);
    h.append('from', this.ok!.headers.get('to')!);
    h.append('to', this.invite!.headers.get('from')!);
    h.append('call-id', this.invite!.headers.get('call-id')!);
    h.append('cseq', `${cseq} ${method}`);
    h.append('contact', `<sip:far@127.0.0.1:${this.sipPort}>`);
    return h;
  }

  /** Puts the call on hold (a=sendonly) or takes it off (sendrecv) with a re-INVITE. */
  reinvite(direction: 'sendonly' | 'sendrecv'): void {
    const h = this.dialogHeaders('INVITE', ++this.cseq);
    h.append('content-type', 'application/sdp');
    const sdp = ['v=0', 'o=far 1 2 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${this.rtpPort} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', `a=${direction}`, ''].join('\r\n');
    this.sip.send(serializeMessage({ kind: 'request', method: 'INVITE', uri: this.invite!.headers.get('contact')!.replace(/[<>]/g, ''), headers: h, body: Buffer.from(sdp) }), this.gatewaySip!.port, '127.0.0.1');
  }

  private rtpPacket(pt: number, marker: boolean, ts: number, payload: Buffer): Buffer {
    const h = Buffer.alloc(12);
    h[0] = 0x80;
    h[1] = (marker ? 0x80 : 0) | pt;
    h.writeUInt16BE(this.seq++ & 0xffff, 2);
    h.writeUInt32BE(ts >>> 0, 4);
    h.writeUInt32BE(0x0badf00d, 8);
    return Buffer.concat([h, payload]);
  }

  private sendAudio(): void {
    if (!this.gatewayRtp) return;
    const s = new Int16Array(160);
    if (this.sendMode === 'tone') for (let i = 0; i < 160; i++) s[i] = Math.round(8000 * Math.sin(this.phase++ * ((2 * Math.PI * 440) / 8000)));
    this.rtp.send(this.rtpPacket(0, false, this.ts, Buffer.from(mulaw.encode(s))), this.gatewayRtp.port, this.gatewayRtp.address);
    this.ts += 160;
  }

  /** Presses digits (RFC 4733 on PT 101): 100 ms each, end packet three times. */
  async press(digits: string): Promise<void> {
    const code = (d: string) => (d === '*' ? 10 : d === '#' ? 11 : Number(d));
    for (const d of digits) {
      const ts = this.ts + 100_000;
      for (let k = 1; k <= 5; k++) {
        const end = k === 5;
        const pkt = this.rtpPacket(101, k === 1, ts, Buffer.from([code(d), (end ? 0x80 : 0) | 10, 0, k * 160]));
        for (let r = 0; r < (end ? 3 : 1); r++) this.rtp.send(pkt, this.gatewayRtp!.port, this.gatewayRtp!.address);
        await new Promise((res) => setTimeout(res, 20));
      }
      this.ts += 1000;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.sip.close();
    this.rtp.close();
  }
}
