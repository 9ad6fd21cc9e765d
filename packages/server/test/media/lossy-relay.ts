/**
 * A symmetric UDP relay between the router and one test peer, dropping a fraction of the SRTP
 * packets that go towards the peer (STUN and DTLS always pass). Each side is given the other's
 * relay socket as its only ICE candidate, so every packet takes the lossy path.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface LossyRelay {
  /** Rewrites a candidate from the router for the peer (points it at the peer-facing socket). */
  forPeer(candidate: string): string;
  /** Rewrites a candidate from the peer for the router. */
  forRouter(candidate: string): string;
  loss: number;
  dropped: number;
  close(): void;
}

const ADDR = /^((?:a=)?candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ host.*)$/i;

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

export async function createLossyRelay(loss = 0): Promise<LossyRelay> {
  const towardRouter = await bound(); // the router sees this one as the peer
  const towardPeer = await bound(); // the peer sees this one as the router
  let routerPort = 0;
  let peerPort = 0;
  const relay: LossyRelay = {
    loss,
    dropped: 0,
    forPeer(c) {
      const m = ADDR.exec(c);
      if (!m || m[2] !== '127.0.0.1') return '';
      routerPort = Number(m[3]);
      return `${m[1]}127.0.0.1 ${towardPeer.address().port}${m[4]}`;
    },
    forRouter(c) {
      const m = ADDR.exec(c);
      if (!m || m[2] !== '127.0.0.1') return '';
      peerPort = Number(m[3]);
      return `${m[1]}127.0.0.1 ${towardRouter.address().port}${m[4]}`;
    },
    close() {
      towardRouter.close();
      towardPeer.close();
    },
  };
  towardRouter.on('message', (msg) => {
    if (!peerPort) return;
    // RTP/RTCP start with version 2 (first byte 128–191); STUN (0–3) and DTLS (20–63) always pass.
    const rtpOrRtcp = msg[0]! >= 128 && msg[0]! <= 191;
    const isRtcp = rtpOrRtcp && msg[1]! >= 192 && msg[1]! <= 223;
    if (rtpOrRtcp && !isRtcp && Math.random() < relay.loss) {
      relay.dropped++;
      return;
    }
    towardPeer.send(msg, peerPort, '127.0.0.1');
  });
  towardPeer.on('message', (msg) => {
    if (routerPort) towardRouter.send(msg, routerPort, '127.0.0.1');
  });
  return relay;
}
