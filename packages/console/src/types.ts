/** Shapes of the admin and live-session answers the console reads (docs/console.md, docs/rest-api.md). */
export type { AdminProjectJson as ProjectSummary, ArchiveJson, BroadcastJson, LiveSessionJson as LiveSession, LiveStreamJson as LiveStream, WebhookDeliveryJson as Delivery } from '@tokhost/protocol';

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

