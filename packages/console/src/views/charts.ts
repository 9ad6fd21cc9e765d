import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Api } from '../api.js';
import { usePoll } from '../hooks.js';
import type { MetricsHistoryJson, MetricsSample } from '../types.js';

interface ChartSpec {
  title: string;
  series: { label: string; pick(s: MetricsSample): number | null; color: string }[];
}

const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2'];

/** The server's figures over the last hour (`GET /v2/admin/metrics/history`, the operator token). */
export function ChartsView({ api }: { api: Api }) {
  const history = usePoll(() => api.get<MetricsHistoryJson>('/v2/admin/metrics/history'), 10_000, [api]);
  const samples = history.data?.samples ?? [];
  const pids = [...new Set(samples.flatMap((s) => s.workerCpu.map((w) => w.pid)))];
  const charts: ChartSpec[] = [
    {
      title: 'Sessions, connections, streams',
      series: [
        { label: 'sessions', pick: (s) => s.sessions, color: COLORS[0]! },
        { label: 'connections', pick: (s) => s.connections, color: COLORS[1]! },
        { label: 'streams', pick: (s) => s.streams, color: COLORS[2]! },
      ],
    },
    { title: 'Forwarded packets per second', series: [{ label: 'packets/s', pick: (s) => s.forwardedPacketsPerSecond, color: COLORS[0]! }] },
    {
      title: 'CPU per media worker (1 = one core)',
      series: pids.map((pid, i) => ({ label: `worker ${pid}`, pick: (s: MetricsSample) => s.workerCpu.find((w) => w.pid === pid)?.cpu ?? null, color: COLORS[i % COLORS.length]! })),
    },
    {
      title: 'Recordings and broadcasts running',
      series: [
        { label: 'recordings', pick: (s) => s.recordings, color: COLORS[3]! },
        { label: 'broadcasts', pick: (s) => s.broadcasts, color: COLORS[4]! },
      ],
    },
  ];
  return html`<section class="view" data-view="charts">
    <h2>Server <small>${history.data ? `last ${Math.round((samples.length * history.data.intervalSeconds) / 60)} min, a sample every ${history.data.intervalSeconds} s` : 'loading…'}</small></h2>
    ${history.error && html`<p class="error">${history.error}</p>`}
    <div class="charts">${charts.map((c) => html`<${Chart} key=${c.title} spec=${c} samples=${samples} />`)}</div>
  </section>`;
}

function Chart({ spec, samples }: { spec: ChartSpec; samples: MetricsSample[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || spec.series.length === 0) return;
    const data: uPlot.AlignedData = [samples.map((s) => s.t / 1000), ...spec.series.map((se) => samples.map((s) => se.pick(s)))];
    const plot = new uPlot(
      {
        width: 460,
        height: 200,
        series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
        axes: [{}, { size: 50 }],
        scales: { y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(1, max * 1.1)] } },
      },
      data,
      box.current,
    );
    return () => plot.destroy();
  }, [spec, samples]);
  return html`<figure class="chart" data-chart=${spec.title}><figcaption>${spec.title}</figcaption>${spec.series.length === 0 ? html`<p class="empty">no media worker running yet</p>` : html`<div ref=${box}></div>`}</figure>`;
}
