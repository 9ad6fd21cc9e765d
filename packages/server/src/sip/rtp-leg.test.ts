/**
 * The RTP leg's source rules (issue 17) with real loopback sockets: media only from the SDP's
 * address and port; opt-in latching once, early, same IP; with SRTP a latch needs an
 * authenticated packet, so an attacker on the far end's own host cannot take the call either.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpLeg } from './rtp-leg.js';
import { newSrtpKey, SrtpContext } from './srtp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PCMU = { name: 'PCMU' as const, pt: 0 };

function rtp(seq: number): Buffer {
  const p = Buffer.alloc(12 + 160, 0xff);
  p[0] = 0x80;
  p[1] = 0;
  p.writeUInt16BE(seq, 2);
  p.writeUInt32BE(seq * 160, 4);
  p.writeUInt32BE(0x1234, 8);
  return p;
}

describe('RtpLeg source checks', () => {
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });
  const socket = async (host = '127.0.0.1'): Promise<Socket & { got: Buffer[] }> => {
    const s = Object.assign(createSocket('udp4'), { got: [] as Buffer[] });
    await new Promise<void>((r) => s.bind(0, host, () => r()));
    s.on('message', (b) => s.got.push(b));
    open.push(s);
    return s;
  };
  const leg = async (latching: boolean) => {
    const l = new RtpLeg({ bindAddress: '127.0.0.1', minPort: 0, maxPort: 0, latching });
    await l.open();
    open.push(l);
    const audio: Buffer[] = [];
    l.onAudio = (b) => audio.push(b);
    return { l, audio };
  };
  const send = async (s: Socket, port: number, packets: Buffer[]) => {
    for (const p of packets) s.send(p, port, '127.0.0.1');
    await sleep(100);
  };

  it('without latching: only the SDP address:port is heard and answered', async () => {
    const { l, audio } = await leg(false);
    const far = await socket();
    const other = await socket();
    l.configure({ address: '127.0.0.1', port: far.address().port, codec: PCMU, telephoneEvent: undefined });
    await send(other, l.port, [rtp(1), rtp(2), rtp(3), rtp(4), rtp(5)]);
    expect(audio).toHaveLength(0);
    expect(l.stats.droppedSource).toBe(5);
    await send(far, l.port, [rtp(10)]);
    expect(audio).toHaveLength(1);
    l.sendFrame(new Float32Array(160));
    await sleep(50);
    expect(far.got).toHaveLength(1);
    expect(other.got).toHaveLength(0);
  });

  it('before the answer nothing is accepted', async () => {
    const { l, audio } = await leg(true);
    const s = await socket();
    await send(s, l.port, [rtp(1)]);
    expect(audio).toHaveLength(0);
    expect(l.stats.droppedSource).toBe(1);
  });

  it('a re-INVITE that moves the media moves the accepted source with it', async () => {
    const { l, audio } = await leg(false);
    const first = await socket();
    const second = await socket();
    l.configure({ address: '127.0.0.1', port: first.address().port, codec: PCMU, telephoneEvent: undefined });
    l.configure({ address: '127.0.0.1', port: second.address().port, codec: PCMU, telephoneEvent: undefined });
    await send(first, l.port, [rtp(1)]);
    await send(second, l.port, [rtp(2)]);
    expect(audio).toHaveLength(1);
    expect(l.remote).toEqual({ address: '127.0.0.1', port: second.address().port });
  });

  it('with SRTP and latching: an unauthenticated packet from the far end host cannot latch; an authenticated one can', async () => {
    const { l, audio } = await leg(true);
    const farKey = newSrtpKey();
    const far = await socket();
    const natted = await socket();
    l.configure({ address: '127.0.0.1', port: far.address().port, codec: PCMU, telephoneEvent: undefined, localKey: newSrtpKey(), remoteKey: farKey });
    await send(natted, l.port, [rtp(1), rtp(2)]);
    expect(audio).toHaveLength(0);
    expect(l.stats.rejected).toBe(2);
    expect(l.remote!.port).toBe(far.address().port);
    const ctx = new SrtpContext(farKey);
    await send(natted, l.port, [ctx.protect(rtp(3))]);
    expect(audio).toHaveLength(1);
    expect(l.remote).toEqual({ address: '127.0.0.1', port: natted.address().port });
  });
});
