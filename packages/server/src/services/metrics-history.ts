import type { MetricsSample } from '@tokhost/protocol';
import type { MediaRouter } from '../media/types.js';
import type { RealtimeMetrics } from '../realtime/index.js';

/** What the sampler reads. */
export interface MetricsHistorySources {
  realtime(): RealtimeMetrics;
  /** The media router, or null while none runs (no routed session yet). */
  router(): MediaRouter | null;
  recordings(): number;
  broadcasts(): number;
}

/** Options of {@link MetricsHistory}. */
export interface MetricsHistoryOptions {
  /** ms between samples. Default 10 000. */
  intervalMs?: number;
  /** Samples kept (the oldest go first). Default 360: an hour at the default interval. */
  capacity?: number;
}

/**
 * A small in-memory sampler of the server's figures: every `intervalMs` one {@link MetricsSample},
 * the last `capacity` kept. Nothing is stored: a restart starts an empty history.
 */
export class MetricsHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  readonly #samples: MetricsSample[] = [];
  readonly #lastCpu = new Map<number, { seconds: number; at: number }>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly sources: MetricsHistorySources,
    options: MetricsHistoryOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.capacity = options.capacity ?? 360;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  /** Takes one sample now (the timer calls this). */
  sample(): MetricsSample {
    const t = Date.now();
    const rt = this.sources.realtime();
    const router = this.sources.router();
    const media = router && !router.closed ? router.metrics() : null;
    const workerCpu = (media?.workers ?? []).map((w) => {
      const last = this.#lastCpu.get(w.pid);
      this.#lastCpu.set(w.pid, { seconds: w.cpuSeconds, at: t });
      const cpu = last && t > last.at ? Math.max(0, (w.cpuSeconds - last.seconds) / ((t - last.at) / 1000)) : 0;
      return { pid: w.pid, cpu: Math.round(cpu * 1000) / 1000 };
    });
    const sample: MetricsSample = {
      t,
      sessions: rt.sessions.length,
      connections: rt.connections,
      streams: rt.sessions.reduce((n, s) => n + s.streams, 0),
      forwardedPacketsPerSecond: Math.round((media?.workers ?? []).reduce((n, w) => n + w.packetsPerSecond, 0)),
      workerCpu,
      recordings: this.sources.recordings(),
      broadcasts: this.sources.broadcasts(),
    };
    this.#samples.push(sample);
    if (this.#samples.length > this.capacity) this.#samples.splice(0, this.#samples.length - this.capacity);
    return sample;
  }

  /** The samples, oldest first (a copy). */
  samples(): MetricsSample[] {
    return this.#samples.slice();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
