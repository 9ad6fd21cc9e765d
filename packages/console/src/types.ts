/** Shapes of the admin and live-session answers the console reads (docs/console.md, docs/rest-api.md). */
export type { AdminProjectJson as ProjectSummary, ArchiveJson, BroadcastJson, LiveSessionJson as LiveSession, LiveStreamJson as LiveStream, MetricsHistoryJson, MetricsSample, WebhookDeliveryJson as Delivery } from '@tokhost/protocol';
