/**
 * The SDP of a SIP leg (RFC 3264 offer/answer, RFC 4568 SDES), parsed and written with
 * sdp-transform. The gateway offers PCMU, PCMA, Opus and telephone-event on one audio stream.
 */
import * as sdpTransform from 'sdp-transform';
import type { CodecName } from '../participant/audio.js';
import { parseCryptoLine, SRTP_SUITE } from './srtp.js';
import { TokhostError } from '../errors.js';

export interface OfferOptions {
  address: string;
  port: number;
  /** SDES key (inline base64) when the media is to be SRTP. */
  srtpKey?: string;
  sessionVersion: number;
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** A video stream we send (the session's composition, H.264). */
  video?: { port: number; srtpKey?: string };
}

/** H.264 as offered: packetization mode 1, constrained baseline level 3.1 as most phones take. */
export const VIDEO_PT = 96;

export const OFFER_CODECS: { pt: number; name: CodecName | 'telephone-event'; rate: number; channels?: number; fmtp?: string }[] = [
  { pt: 0, name: 'PCMU', rate: 8000 },
  { pt: 8, name: 'PCMA', rate: 8000 },
  { pt: 111, name: 'opus', rate: 48000, channels: 2, fmtp: 'useinbandfec=1' },
  { pt: 101, name: 'telephone-event', rate: 8000, fmtp: '0-16' },
];

export function buildOffer(o: OfferOptions, codecs = OFFER_CODECS): string {
  const ip = o.address.includes(':') ? 6 : 4;
  const session: sdpTransform.SessionDescription = {
    version: 0,
    origin: { username: 'tokhost', sessionId: String(Date.now()), sessionVersion: o.sessionVersion, netType: 'IN', ipVer: ip, address: o.address },
    name: 'Tokhost',
    connection: { version: ip, ip: o.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: o.port,
        protocol: o.srtpKey ? 'RTP/SAVP' : 'RTP/AVP',
        payloads: codecs.map((c) => c.pt).join(' '),
        rtp: codecs.map((c) => ({ payload: c.pt, codec: c.name, rate: c.rate, ...(c.channels ? { encoding: c.channels } : {}) })),
        fmtp: codecs.filter((c) => c.fmtp).map((c) => ({ payload: c.pt, config: c.fmtp! })),
        ptime: 20,
        direction: o.direction ?? 'sendrecv',
        ...(o.srtpKey ? { crypto: [{ id: 1, suite: SRTP_SUITE, config: `inline:${o.srtpKey}` }] } : {}),
      },
      ...(o.video
        ? [
            {
              type: 'video',
              port: o.video.port,
              protocol: o.video.srtpKey ? 'RTP/SAVP' : 'RTP/AVP',
              payloads: String(VIDEO_PT),
              rtp: [{ payload: VIDEO_PT, codec: 'H264', rate: 90000 }],
              fmtp: [{ payload: VIDEO_PT, config: 'packetization-mode=1;profile-level-id=42e01f' }],
              direction: 'sendonly' as const,
              ...(o.video.srtpKey ? { crypto: [{ id: 1, suite: SRTP_SUITE, config: `inline:${o.video.srtpKey}` }] } : {}),
            },
          ]
        : []),
    ],
  };
  return sdpTransform.write(session);
}

export interface RemoteMedia {
  address: string;
  port: number;
  codec: { name: CodecName; pt: number; rate: number };
  /** Payload type of telephone-event, when the far end takes RFC 4733 events. */
  telephoneEvent: number | undefined;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** The far end's SDES key, when it answered with SRTP. */
  srtpKey: string | undefined;
  secure: boolean;
  /** The far end's video stream, when it accepted H.264. */
  video: { address: string; port: number; pt: number; srtpKey: string | undefined } | undefined;
}

/** The far end's SDP is unreadable or accepts nothing this gateway can send. */
export class SdpAnswerError extends TokhostError<'ERR_SIP_SDP_INVALID'> {
  override readonly name = 'SdpAnswerError';
  constructor(message: string) {
    super('ERR_SIP_SDP_INVALID', message);
  }
}

/** The audio stream the far end accepted (answer) or offers (re-INVITE). */
export function parseRemote(sdp: string): RemoteMedia {
  let parsed: sdpTransform.SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch (err) {
    throw new SdpAnswerError(`unreadable SDP: ${(err as Error).message}`);
  }
  const m = parsed.media.find((x) => x.type === 'audio' && x.port !== 0);
  if (!m) throw new SdpAnswerError('no audio stream accepted');
  const address = m.connection?.ip ?? parsed.connection?.ip;
  if (!address) throw new SdpAnswerError('no connection address');
  const pts = String(m.payloads ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const rtpmap = new Map((m.rtp ?? []).map((r) => [r.payload, r]));
  const nameOf = (pt: number): { name: string; rate: number } | undefined => {
    const r = rtpmap.get(pt);
    if (r) return { name: r.codec, rate: r.rate ?? 8000 };
    if (pt === 0) return { name: 'PCMU', rate: 8000 };
    if (pt === 8) return { name: 'PCMA', rate: 8000 };
    return undefined;
  };
  let codec: RemoteMedia['codec'] | undefined;
  let te: number | undefined;
  for (const pt of pts) {
    const n = nameOf(pt);
    if (!n) continue;
    const lower = n.name.toLowerCase();
    if (lower === 'telephone-event') {
      if (te === undefined && n.rate === 8000) te = pt;
      continue;
    }
    if (codec) continue;
    if (lower === 'pcmu') codec = { name: 'PCMU', pt, rate: 8000 };
    else if (lower === 'pcma') codec = { name: 'PCMA', pt, rate: 8000 };
    else if (lower === 'opus' && n.rate === 48000) codec = { name: 'opus', pt, rate: 48000 };
  }
  if (!codec) throw new SdpAnswerError(`no common audio codec (offered PCMU, PCMA, opus; got ${pts.map((p) => nameOf(p)?.name ?? p).join(', ') || 'none'})`);
  const secure = /SAVP/i.test(m.protocol ?? '');
  let srtpKey: string | undefined;
  for (const c of m.crypto ?? []) {
    const parsedCrypto = parseCryptoLine(`${c.id} ${c.suite} ${c.config}`);
    if (parsedCrypto?.suite === SRTP_SUITE) {
      srtpKey = parsedCrypto.key;
      break;
    }
  }
  const direction = (m.direction ?? parsed.direction ?? 'sendrecv') as RemoteMedia['direction'];
  let video: RemoteMedia['video'];
  const v = parsed.media.find((x) => x.type === 'video' && x.port !== 0);
  const h264 = v?.rtp?.find((r) => r.codec.toUpperCase() === 'H264');
  if (v && h264) {
    const key = (v.crypto ?? []).map((c) => parseCryptoLine(`${c.id} ${c.suite} ${c.config}`)).find((c) => c?.suite === SRTP_SUITE)?.key;
    video = { address: v.connection?.ip ?? address, port: v.port, pt: h264.payload, srtpKey: key };
  }
  // RFC 2543 hold: c=0.0.0.0
  return { address, port: m.port, codec, telephoneEvent: te, direction: address === '0.0.0.0' ? 'inactive' : direction, srtpKey, secure, video };
}

/** Our answer to a re-INVITE offer: same codec and key, direction mirrored (hold). */
export function answerDirection(remote: RemoteMedia['direction']): 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' {
  if (remote === 'sendonly') return 'recvonly';
  if (remote === 'recvonly') return 'sendonly';
  return remote;
}
