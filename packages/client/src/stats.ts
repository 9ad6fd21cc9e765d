/**
 * OpenTok.js's `getStats` shapes, computed from a peer connection's RTCStatsReport. Bitrates and
 * frame rates need two samples; the first call reports 0 for them.
 */

export interface OutgoingTrackStats {
  bytesSent: number;
  packetsLost: number;
  packetsSent: number;
}
export interface IncomingTrackStats {
  bytesReceived: number;
  packetsLost: number;
  packetsReceived: number;
}
export interface TransportStats {
  /** The sender's bandwidth estimate for the link, bits per second (0 when the browser gives none). */
  connectionEstimatedBandwidth: number;
}
export interface PublisherStats {
  audio: OutgoingTrackStats;
  video: OutgoingTrackStats & { frameRate: number };
  timestamp: number;
  transportStats: TransportStats;
}
export interface SubscriberStats {
  audio: IncomingTrackStats;
  video: IncomingTrackStats & { codec: string; width: number; height: number; frameRate: number; decodedFrameRate: number; freezeCount?: number; totalFreezesDuration?: number; pauseCount?: number; totalPausesDuration?: number };
  timestamp: number;
}

type Entry = Record<string, unknown> & { type: string; id: string; kind?: string };
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function entries(report: RTCStatsReport): Entry[] {
  const out: Entry[] = [];
  report.forEach((s: Entry) => out.push(s));
  return out;
}

function estimatedBandwidth(list: Entry[]): number {
  const pair = list.find((s) => s.type === 'candidate-pair' && s['nominated'] === true && s['state'] === 'succeeded') ?? list.find((s) => s.type === 'candidate-pair' && s['state'] === 'succeeded');
  return num(pair?.['availableOutgoingBitrate']);
}

/** Publisher side: the outbound RTP streams (summed over simulcast layers) and what the far end reported lost. */
export function outboundStats(report: RTCStatsReport): PublisherStats {
  const list = entries(report);
  const track = (kind: 'audio' | 'video') => {
    const out = list.filter((s) => s.type === 'outbound-rtp' && s.kind === kind);
    const remote = list.filter((s) => s.type === 'remote-inbound-rtp' && s.kind === kind);
    return {
      bytesSent: out.reduce((a, s) => a + num(s['bytesSent']), 0),
      packetsSent: out.reduce((a, s) => a + num(s['packetsSent']), 0),
      packetsLost: remote.reduce((a, s) => a + num(s['packetsLost']), 0),
      frameRate: Math.max(0, ...out.map((s) => num(s['framesPerSecond']))),
    };
  };
  const a = track('audio');
  return {
    audio: { bytesSent: a.bytesSent, packetsLost: a.packetsLost, packetsSent: a.packetsSent },
    video: track('video'),
    timestamp: Date.now(),
    transportStats: { connectionEstimatedBandwidth: estimatedBandwidth(list) },
  };
}

/** Subscriber side: the inbound RTP streams. */
export function inboundStats(report: RTCStatsReport): SubscriberStats {
  const list = entries(report);
  const inbound = (kind: 'audio' | 'video') => list.find((s) => s.type === 'inbound-rtp' && s.kind === kind);
  const a = inbound('audio');
  const v = inbound('video');
  const codec = v ? list.find((s) => s.type === 'codec' && s.id === v['codecId']) : undefined;
  const opt = (k: string) => (v && typeof v[k] === 'number' ? { [k]: v[k] as number } : {});
  return {
    audio: { bytesReceived: num(a?.['bytesReceived']), packetsLost: num(a?.['packetsLost']), packetsReceived: num(a?.['packetsReceived']) },
    video: {
      bytesReceived: num(v?.['bytesReceived']),
      packetsLost: num(v?.['packetsLost']),
      packetsReceived: num(v?.['packetsReceived']),
      codec: typeof codec?.['mimeType'] === 'string' ? (codec['mimeType'] as string).replace(/^video\//i, '') : '',
      width: num(v?.['frameWidth']),
      height: num(v?.['frameHeight']),
      frameRate: num(v?.['framesPerSecond']),
      decodedFrameRate: num(v?.['framesPerSecond']),
      ...opt('freezeCount'),
      ...opt('totalFreezesDuration'),
      ...opt('pauseCount'),
      ...opt('totalPausesDuration'),
    },
    timestamp: Date.now(),
  };
}

/** The audio level (0 to 1) the receiving end last played, from the inbound audio stream. */
export function inboundAudioLevel(report: RTCStatsReport): number {
  const a = entries(report).find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
  return Math.min(1, num(a?.['audioLevel']));
}
