/** Shapes of the admin and live-session answers the console reads (docs/console.md, docs/rest-api.md). */
export type { ArchiveJson, BroadcastJson } from '@tokhost/protocol';

/** One connection of a live session (`GET /v2/project/{key}/session`). */
export interface LiveConnection {
  connectionId: string;
  data: string;
  clientKind: string;
  createdAt: number;
}

/** One stream of a live session. */
export interface LiveStream {
  streamId: string;
  connectionId: string;
  name: string;
  videoType: string | null;
  hasAudio: boolean;
  hasVideo: boolean;
  creationTime: number;
}

/** A session with connections now. */
export interface LiveSession {
  sessionId: string;
  mediaMode: 'relayed' | 'routed';
  connections: LiveConnection[];
  streams: LiveStream[];
}

/** A webhook delivery (`GET /v2/project/{key}/webhook/deliveries`). */
export interface Delivery {
  id: string;
  [field: string]: unknown;
}

/** One sample of `GET /v2/admin/metrics/history`. */
export interface MetricsSample {
  t: number;
  sessions: number;
  connections: number;
  streams: number;
  forwardedPacketsPerSecond: number;
  workerCpu: { pid: number; cpu: number }[];
  recordings: number;
  broadcasts: number;
}

export interface MetricsHistoryJson {
  intervalSeconds: number;
  capacity: number;
  samples: MetricsSample[];
}

/** `GET /v2/admin/projects` (operator token). */
export interface ProjectSummary {
  apiKey: string;
  name: string;
}
