/**
 * Messages between the router (main process) and a media worker process. SDP and candidates
 * cross the process boundary; RTP never does.
 */
import type { AudioFallbackOptions, IceCandidateInit, PublisherMediaEvent, SessionMetrics, SubscriberMediaEvent, WorkerMetrics } from '../types.js';

export interface WorkerConfig {
  bindAddress?: string;
  publicIp?: string;
  portRangeBegin?: number;
  portRangeEnd?: number;
  udpMux?: boolean;
  audioFallback: AudioFallbackOptions;
  rtcpTimeoutMs: number;
}

export type WorkerRequest =
  | { op: 'init'; config: WorkerConfig }
  | { op: 'publish'; sessionId: string; publisherId: string; offerSdp: string; audioFallback?: boolean }
  | { op: 'publishRtp'; sessionId: string; publisherId: string; codec: { pt: number; rtpmap: string; fmtp?: string }; host: string }
  | { op: 'pubCandidate'; sessionId: string; publisherId: string; candidate: IceCandidateInit }
  | { op: 'subscribe'; sessionId: string; subscriberId: string; publisherId: string; audio: boolean; video: boolean }
  | { op: 'subAnswer'; sessionId: string; subscriberId: string; answerSdp: string }
  | { op: 'subCandidate'; sessionId: string; subscriberId: string; candidate: IceCandidateInit }
  | { op: 'subMedia'; sessionId: string; subscriberId: string; audio?: boolean; video?: boolean }
  | { op: 'pubLoss'; sessionId: string; publisherId: string; fraction: number }
  | { op: 'subLoss'; sessionId: string; subscriberId: string; fraction: number }
  | { op: 'pubMute'; sessionId: string; publisherId: string; muted: boolean }
  | { op: 'tap'; sessionId: string; publisherId: string; tapId: string; host: string; audioPort?: number; videoPort?: number; paused: boolean }
  | { op: 'tapStart'; sessionId: string; tapId: string }
  | { op: 'untap'; sessionId: string; tapId: string }
  | { op: 'unpublish'; sessionId: string; publisherId: string }
  | { op: 'unsubscribe'; sessionId: string; subscriberId: string }
  | { op: 'closeRoom'; sessionId: string }
  | { op: 'shutdown' };

export type WorkerRequestMessage = WorkerRequest & { id: number };

export type WorkerResponse =
  | { id: number; ok: true; result?: unknown }
  | { id: number; ok: false; error: { code: string; message: string } };

export type WorkerEvent =
  | { ev: 'pubCandidate'; sessionId: string; publisherId: string; candidate: IceCandidateInit }
  | { ev: 'subCandidate'; sessionId: string; subscriberId: string; candidate: IceCandidateInit }
  | { ev: 'pubEvent'; sessionId: string; publisherId: string; event: PublisherMediaEvent }
  | { ev: 'subEvent'; sessionId: string; subscriberId: string; event: SubscriberMediaEvent }
  | { ev: 'stats'; worker: Omit<WorkerMetrics, 'pid'>; sessions: SessionMetrics[] }
  | { ev: 'log'; level: 'info' | 'warn' | 'error' | 'debug'; obj: object; msg: string };

export interface TapResult {
  sdp: string;
}
