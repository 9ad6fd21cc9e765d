import { describe, expect, it } from 'vitest';
import { announceCandidate, announceSdp, mungePublisherOffer, SdpError } from './sdp.js';

// The shape of a Chromium publisher offer (trimmed): several video codecs with RTX, transport-cc.
const CHROME_OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=sendonly',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:126 telephone-event/8000',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 45',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=sendonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 goog-remb',
  'a=rtcp-fb:96 transport-cc',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:98 VP9/90000',
  'a=rtpmap:99 rtx/90000',
  'a=fmtp:99 apt=98',
  'a=rtpmap:45 AV1/90000',
  'a=ssrc-group:FID 1111 2222',
  'a=ssrc:1111 cname:x',
  'a=ssrc:2222 cname:x',
  '',
].join('\r\n');

describe('publisher offer munging', () => {
  it('keeps Opus, VP8 and its RTX only, and drops transport-cc', () => {
    const { sdp, codecs } = mungePublisherOffer(CHROME_OFFER);
    expect(codecs).toEqual({ audio: { mid: '0', pt: 111, fmtp: 'minptime=10;useinbandfec=1' }, video: { mid: '1', pt: 96, rtxPt: 97, fmtp: '' } });
    expect(sdp).toContain('m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n');
    expect(sdp).toContain('m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n');
    expect(sdp).not.toMatch(/VP9|AV1|red\/|telephone-event|transport-cc|transport-wide-cc/);
    expect(sdp).toContain('a=rtcp-fb:96 nack pli');
    expect(sdp).toContain('a=ssrc-group:FID 1111 2222');
  });

  it('rejects an offer without Opus or VP8, and rejects (port 0) a section it cannot forward', () => {
    expect(() => mungePublisherOffer('v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 45\r\na=mid:0\r\na=rtpmap:45 AV1/90000\r\n')).toThrow(SdpError);
    const audioOnly = mungePublisherOffer(CHROME_OFFER.replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:96 H264/90000'));
    expect(audioOnly.codecs.video).toBeUndefined();
    expect(audioOnly.sdp).toMatch(/m=video 0 /);
  });

  it('announces the public address in host candidates and c= lines only', () => {
    const host = 'candidate:1 1 UDP 2122317823 10.0.0.5 40000 typ host';
    expect(announceCandidate(host, '203.0.113.7')).toBe('candidate:1 1 UDP 2122317823 203.0.113.7 40000 typ host');
    expect(announceCandidate(host, undefined)).toBe(host);
    const srflx = 'candidate:2 1 UDP 1686052607 198.51.100.1 40000 typ srflx raddr 10.0.0.5 rport 40000';
    expect(announceCandidate(srflx, '203.0.113.7')).toBe(srflx);
    expect(announceSdp('v=0\r\nc=IN IP4 10.0.0.5\r\na=candidate:1 1 UDP 1 10.0.0.5 1 typ host\r\n', '203.0.113.7')).toBe(
      'v=0\r\nc=IN IP4 203.0.113.7\r\na=candidate:1 1 UDP 1 203.0.113.7 1 typ host\r\n',
    );
  });
});
