import type { MetricsHistoryJson } from '@tokhost/protocol';
import { TokhostError } from '../../errors.js';
import type { AdminRoute } from '../route-table.js';

/** `GET /v2/admin/metrics/history`: the samples behind the console's charts (docs/console.md). */
export const metricsHistoryRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/v2/admin/metrics/history',
    summary: 'Admin API (operator token): the server figures sampled over the last hour (sessions, connections, streams, forwarded packets/s, CPU per media worker, recordings, broadcasts)',
    success: 200,
    handler(ctx) {
      const history = ctx.deps.metricsHistory;
      if (!history) throw new TokhostError('ERR_NOT_IMPLEMENTED', 'No metrics history', { description: 'This server runs without the metrics sampler' });
      const json: MetricsHistoryJson = { intervalSeconds: history.intervalMs / 1000, capacity: history.capacity, samples: history.samples() };
      return { status: 200, json };
    },
  },
];
