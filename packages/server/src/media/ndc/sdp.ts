/**
 * SDP munging for publisher offers. The router forwards VP8 and Opus only (what routed OpenTok
 * sessions negotiate), so the offer is trimmed to those codecs (plus VP8's RTX) before
 * libdatachannel reciprocates it: the browser then cannot pick a codec the subscribers were not
 * offered. Transport-wide congestion control is removed because the router sends no transport
 * feedback; with it negotiated but unanswered the browser's bandwidth estimate collapses.
 */
import { TokhostError } from '../../errors.js';

export interface PublisherCodecs {
  /** `rtpmap`/`clockRate`: set for server-side publishers only (Opus 48 kHz otherwise). */
  audio?: { mid: string; pt: number; fmtp: string; rtpmap?: string; clockRate?: number };
  video?: { mid: string; pt: number; rtxPt?: number; fmtp: string };
}

/** An offer the engine cannot take (`ERR_MEDIA_INVALID_SDP`). */
export class SdpError extends TokhostError<'ERR_MEDIA_INVALID_SDP'> {
  override readonly name = 'SdpError';
  constructor(message: string) {
    super('ERR_MEDIA_INVALID_SDP', message);
  }
}

interface Section {
  lines: string[];
}

function sections(sdp: string): { head: string[]; media: Section[] } {
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  const head: string[] = [];
  const media: Section[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) media.push({ lines: [l] });
    else if (media.length === 0) head.push(l);
    else media[media.length - 1]!.lines.push(l);
  }
  return { head, media };
}

/** Returns the munged offer and what the router needs to know about the publisher's codecs. */
export function mungePublisherOffer(sdp: string): { sdp: string; codecs: PublisherCodecs } {
  const { head, media } = sections(sdp);
  const codecs: PublisherCodecs = {};
  const out: string[] = [...head];
  for (const sec of media) {
    const m = sec.lines[0]!;
    const kind = m.slice(2, m.indexOf(' '));
    const mid = sec.lines.find((l) => l.startsWith('a=mid:'))?.slice(6) ?? '';
    if (kind !== 'audio' && kind !== 'video') {
      out.push(...sec.lines);
      continue;
    }
    const rtpmap = new Map<number, string>();
    const fmtp = new Map<number, string>();
    for (const l of sec.lines) {
      const r = /^a=rtpmap:(\d+) ([^/\s]+)/.exec(l);
      if (r) rtpmap.set(Number(r[1]), r[2]!.toLowerCase());
      const f = /^a=fmtp:(\d+) (.*)$/.exec(l);
      if (f) fmtp.set(Number(f[1]), f[2]!);
    }
    const want = kind === 'audio' ? 'opus' : 'vp8';
    const pt = [...rtpmap].find(([, name]) => name === want)?.[0];
    const inactive = m.split(' ')[1] === '0' || sec.lines.some((l) => l === 'a=inactive' || l === 'a=recvonly');
    if (pt === undefined || inactive) {
      // Reject the section (port 0) so the answer keeps the m-line order.
      out.push(m.replace(/^(m=\S+) \d+/, '$1 0'), ...sec.lines.slice(1).filter((l) => l.startsWith('a=mid:') || l.startsWith('c=')));
      continue;
    }
    const keep = new Set<number>([pt]);
    let rtxPt: number | undefined;
    if (kind === 'video') {
      for (const [p, name] of rtpmap) if (name === 'rtx' && fmtp.get(p) === `apt=${pt}`) rtxPt = p;
      if (rtxPt !== undefined) keep.add(rtxPt);
      codecs.video = { mid, pt, fmtp: fmtp.get(pt) ?? '', ...(rtxPt !== undefined ? { rtxPt } : {}) };
    } else {
      codecs.audio = { mid, pt, fmtp: fmtp.get(pt) ?? '' };
    }
    const parts = m.split(' ');
    out.push([...parts.slice(0, 3), ...[...keep].map(String)].join(' '));
    for (const l of sec.lines.slice(1)) {
      const p = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+|\*)/.exec(l);
      if (p && p[1] !== '*' && !keep.has(Number(p[1]))) continue;
      if (/transport-cc|transport-wide-cc/.test(l)) continue;
      out.push(l);
    }
  }
  if (!codecs.audio && !codecs.video) throw new SdpError('offerSdp has neither an Opus audio nor a VP8 video section');
  return { sdp: out.join('\r\n') + '\r\n', codecs };
}

/** Rewrites the address of an ICE candidate line (host candidates) to the announced address. */
export function announceCandidate(candidate: string, publicIp: string | undefined): string {
  if (!publicIp) return candidate;
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ host ...
  return candidate.replace(/^((?:a=)?candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)/, `$1${publicIp}$3`);
}

/** Rewrites `c=` lines and `a=candidate` lines of a local description for the announced address. */
export function announceSdp(sdp: string, publicIp: string | undefined): string {
  if (!publicIp) return sdp;
  return sdp
    .split('\r\n')
    .map((l) => (l.startsWith('a=candidate:') ? announceCandidate(l, publicIp) : l.startsWith('c=IN IP4 ') ? `c=IN IP4 ${publicIp}` : l))
    .join('\r\n');
}
