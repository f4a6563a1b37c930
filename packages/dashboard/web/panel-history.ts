/**
 * History: one node's CPU, GPU busy and memory over a chosen window, from the stored metrics
 * (`/api/v1/nodes/:id/metrics`), drawn with uPlot. A text summary beside the chart gives the same
 * picture to screen readers.
 */
import uPlot from 'uplot';
import { getJson } from './api.js';
import type { MetricPoint } from './api-types.js';
import { byId, el, replace, setText } from './dom.js';
import { pct } from './format.js';
import type { LabState } from './lab-state.js';

let chart: uPlot | null = null;

export function setupHistory(state: LabState): void {
  const form = byId<HTMLFormElement>('history-form');
  const select = byId<HTMLSelectElement>('history-node');
  replace(select, ...[...state.nodes.keys()].sort().map((id) => el('option', { value: id }, id)));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void drawHistory();
  });
}

const GIB = 1024 ** 3;

function stats(values: (number | null)[]): string {
  const v = values.filter((x): x is number => x !== null);
  if (v.length === 0) return 'no data';
  return `mean ${pct(v.reduce((a, b) => a + b, 0) / v.length, 1)}, max ${pct(Math.max(...v), 1)}`;
}

export async function drawHistory(): Promise<void> {
  const node = byId<HTMLSelectElement>('history-node').value;
  const minutes = Number(byId<HTMLSelectElement>('history-window').value);
  const summary = byId('history-summary');
  const box = byId('history-chart');
  if (node === '') return;
  const until = new Date();
  const since = new Date(until.getTime() - minutes * 60_000);
  setText(summary, 'loading…');
  let points: MetricPoint[];
  try {
    points = await getJson<MetricPoint[]>(
      `/api/v1/nodes/${encodeURIComponent(node)}/metrics?since=${since.toISOString()}&until=${until.toISOString()}`,
    );
  } catch (err) {
    setText(summary, `could not read the metrics: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const data: uPlot.AlignedData = [
    points.map((p) => Date.parse(p.ts) / 1000),
    points.map((p) => p.cpu_pct),
    points.map((p) => p.gpu_busy_pct),
    points.map((p) => (p.mem_used_bytes === null ? null : p.mem_used_bytes / GIB)),
    points.map((p) => (p.gpu_mem_used_bytes === null ? null : p.gpu_mem_used_bytes / GIB)),
  ];
  setText(
    summary,
    `${node}, last ${minutes} min, ${points.length} points: CPU ${stats(points.map((p) => p.cpu_pct))}; GPU busy ${stats(points.map((p) => p.gpu_busy_pct))}.`,
  );
  box.dataset['points'] = String(points.length);
  const width = Math.max(280, Math.min(box.clientWidth || 800, 1100));
  const opts: uPlot.Options = {
    width,
    height: 260,
    scales: { pct: { range: [0, 100] } },
    axes: [{}, { scale: 'pct', label: '%' }, { scale: 'GiB', side: 1, label: 'GiB', grid: { show: false } }],
    series: [
      {},
      { label: 'CPU %', scale: 'pct', stroke: '#1f6feb', width: 1.5 },
      { label: 'GPU busy %', scale: 'pct', stroke: '#b35900', width: 1.5 },
      { label: 'Memory GiB', scale: 'GiB', stroke: '#2f7d32', width: 1.5 },
      { label: 'GPU memory GiB', scale: 'GiB', stroke: '#8250df', width: 1.5, dash: [4, 3] },
    ],
  };
  chart?.destroy();
  replace(box);
  chart = new uPlot(opts, data, box);
}
