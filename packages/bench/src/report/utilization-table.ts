/**
 * The per-cell node utilization table that both renderers add to reports of runs a coordinator
 * executed: for each cell and node, CPU and GPU busy % (mean / max) and peak memory during the
 * cell's measured requests. The lines are computed here once so the markdown and HTML tables
 * agree; strings are not escaped yet. A report without utilization (a standalone run) gets no
 * table at all, so its rendering is unchanged.
 */
import type { KageReport, NodeUtilization } from '../report-json.js';
import { DASH, formatNumber } from './format.js';

const GIB = 1024 ** 3;

export const UTILIZATION_TITLE = 'Node utilization per cell';

export const UTILIZATION_HINT =
  'How busy each node was while a cell’s measured requests ran, from the node agents’ telemetry samples ' +
  'taken in that window: CPU and GPU busy % (mean / max over the samples), peak memory and peak GPU memory in GiB. ' +
  `A dash (${DASH}) means the node does not report that metric.`;

export const UTILIZATION_HEADER: readonly string[] = [
  'Model',
  'Target',
  'Conc.',
  'Node',
  'CPU % mean / max',
  'Mem max GiB',
  'GPU busy % mean / max',
  'GPU mem max GiB',
];

/** Text of the node column for a cell that measured requests while no node had samples. */
export const NO_SAMPLES = 'no samples';

/** One table row: a cell and one node (or {@link NO_SAMPLES} when `node` is null). */
export interface UtilizationLine {
  model: string;
  target: string;
  concurrency: number;
  node: string | null;
  /** CPU mean / max, memory max, GPU busy mean / max, GPU memory max. */
  values: [string, string, string, string];
}

/**
 * The table's rows in report order, nodes by id within a cell; `null` when no cell carries
 * utilization (not a coordinator run): no table then. Only a completed cell that measured
 * requests gets a {@link NO_SAMPLES} row: a cell that failed before its requests, or that the run
 * stopped inside, has no window to summarise.
 */
export function utilizationLines(report: KageReport): UtilizationLine[] | null {
  if (!report.cells.some((c) => c.utilization !== undefined)) return null;
  const lines: UtilizationLine[] = [];
  for (const c of report.cells) {
    if (c.utilization === undefined) continue;
    const at = { model: c.model, target: c.target, concurrency: c.concurrency };
    const byNode = c.utilization ?? {};
    const nodes = Object.keys(byNode).sort();
    if (nodes.length === 0) {
      if (c.status === 'completed' && c.attempts > 0)
        lines.push({ ...at, node: null, values: [DASH, DASH, DASH, DASH] });
      continue;
    }
    for (const node of nodes) {
      const u = byNode[node];
      if (u !== undefined) lines.push({ ...at, node, values: utilizationValues(u) });
    }
  }
  return lines;
}

function utilizationValues(u: NodeUtilization): [string, string, string, string] {
  return [meanMax(u.cpu_pct), gib(u.mem_used_bytes?.max), meanMax(u.gpu_busy_pct), gib(u.gpu_mem_used_bytes?.max)];
}

function meanMax(v: { mean: number; max: number } | null): string {
  return v === null ? DASH : `${formatNumber(v.mean, 1)} / ${formatNumber(v.max, 1)}`;
}

function gib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? DASH : formatNumber(bytes / GIB, 2);
}
