import { describe, expect, it } from 'vitest';
import { candidateAddress, candidateAllowed, filterSdpCandidates } from './candidates.js';
import { createOutboundPolicy } from './outbound.js';

const policy = createOutboundPolicy();
const refuse = (a: string) => policy.checkAddress(a);

describe('ICE candidate filter', () => {
  it('finds the address of a candidate line', () => {
    expect(candidateAddress('candidate:1 1 udp 2122260223 192.168.1.2 54400 typ host')).toBe('192.168.1.2');
    expect(candidateAddress('a=candidate:1 1 udp 2122260223 ::1 54400 typ host')).toBe('::1');
    expect(candidateAddress('')).toBeUndefined();
  });

  it('drops refused candidates from SDP and keeps the rest byte for byte', () => {
    const sdp = [
      'v=0',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host',
      'a=candidate:2 1 udp 2122260223 169.254.169.254 80 typ host',
      'a=candidate:3 1 udp 1686052607 203.0.113.9 40001 typ srflx raddr 0.0.0.0 rport 0',
      'a=candidate:4 1 udp 1686052607 8.8.4.4 40001 typ srflx raddr 0.0.0.0 rport 0',
      'a=candidate:5 1 udp 2122260223 abc.local 40002 typ host',
      'a=end-of-candidates',
      '',
    ].join('\r\n');
    const { sdp: out, dropped } = filterSdpCandidates(sdp, refuse);
    expect(dropped).toBe(4);
    expect(out).toBe(['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=candidate:4 1 udp 1686052607 8.8.4.4 40001 typ srflx raddr 0.0.0.0 rport 0', 'a=end-of-candidates', ''].join('\r\n'));
  });

  it('judges trickled candidates the same way; allow-listed ranges pass', () => {
    expect(candidateAllowed('candidate:1 1 udp 1 10.0.0.5 5000 typ host', refuse)).toBe(false);
    expect(candidateAllowed('', refuse)).toBe(true);
    const lan = createOutboundPolicy({ allow: ['10.0.0.0/8'] });
    expect(candidateAllowed('candidate:1 1 udp 1 10.0.0.5 5000 typ host', (a) => lan.checkAddress(a))).toBe(true);
  });
});
