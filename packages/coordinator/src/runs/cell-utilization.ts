/**
 * How busy each node was while a cell's measured requests ran: the agents' raw samples inside the
 * cell's wall-clock window, summarised per node and stored with the run. Samples reach the
 * database about a second after they are taken (agent interval plus commit batching), so a cell's
 * summary is made a settle delay after its window ends; the run is reported finished only once
 * the last one is stored.
 *
 * The window is on the coordinator's wall clock and samples carry the agent's: nodes are expected
 * to keep NTP time (the registry warns about a node whose clock runs ahead).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CellMeasuredWindow, ReportCell } from '@kage/bench';
import type { Logger } from 'pino';
import type { SampleRow } from '../store/sample-row.js';
import type { TelemetryStore, UtilizationRow } from '../store/telemetry-store.js';

export type NodeUtilization = NonNullable<ReportCell['utilization']>[string];

/** Summary of one node's samples; null without any sample. A metric no sample carried is null. */
export function summariseSamples(rows: readonly SampleRow[]): NodeUtilization | null {
  if (rows.length === 0) return null;
  const known = (pick: (r: SampleRow) => number | null): number[] =>
    rows.map(pick).filter((v): v is number => v !== null && Number.isFinite(v));
  const meanMax = (values: number[]): { mean: number; max: number } | null =>
    values.length === 0 ? null : { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
  const max = (values: number[]): { max: number } | null => (values.length === 0 ? null : { max: Math.max(...values) });
  return {
    samples: rows.length,
    cpu_pct: meanMax(known((r) => r.cpu_pct)),
    mem_used_bytes: max(known((r) => r.mem_used_bytes)),
    gpu_busy_pct: meanMax(known((r) => r.gpu_busy_pct)),
    gpu_mem_used_bytes: max(known((r) => r.gpu_mem_used_bytes)),
  };
}

/** Per cell ordinal, per node: the stored summaries of a run. */
export function utilizationByCell(
  store: Pick<TelemetryStore, 'utilization'>,
  runId: string,
): Map<number, Record<string, NodeUtilization>> {
  const byCell = new Map<number, Record<string, NodeUtilization>>();
  for (const row of store.utilization(runId)) {
    let cell = byCell.get(row.ordinal);
    if (cell === undefined) {
      cell = {};
      byCell.set(row.ordinal, cell);
    }
    cell[row.node_id] = JSON.parse(row.summary_json) as NodeUtilization;
  }
  return byCell;
}

export interface UtilizationRecorder {
  /** Summarises the cell's window after the settle delay (in the background). */
  record(window: CellMeasuredWindow): void;
  /** Resolves once every summary asked for so far is stored (or failed and was logged). */
  settled(): Promise<void>;
}

/** The agents' default sample interval: how far past a window's end a sample still covers it. */
const SAMPLE_SLACK_MS = 1000;

export function createUtilizationRecorder(o: {
  store: Pick<TelemetryStore, 'samplesBetween' | 'saveUtilization'>;
  /** The nodes to look at, asked when the summary is made: every known node plus those the matrix names. */
  nodes: () => string[];
  settleMs: number;
  log: Logger;
}): UtilizationRecorder {
  const pending = new Set<Promise<void>>();

  const save = (w: CellMeasuredWindow): void => {
    const since = Math.floor(w.started_at_ms);
    // A sample describes the interval that ends at its timestamp (CPU busy since the previous
    // tick), so the samples up to one interval after the window still cover part of it. Without
    // them a cell shorter than the sample interval would have no sample at all.
    const until = Math.ceil(w.finished_at_ms) + SAMPLE_SLACK_MS;
    const rows: UtilizationRow[] = [];
    for (const node of new Set(o.nodes())) {
      const summary = summariseSamples(o.store.samplesBetween(node, since, until));
      if (summary === null) continue;
      rows.push({
        run_id: w.cell.run_id,
        ordinal: w.cell.index,
        node_id: node,
        window_start_ms: since,
        window_end_ms: until,
        summary_json: JSON.stringify(summary),
      });
    }
    if (rows.length > 0) o.store.saveUtilization(rows);
    o.log.debug(
      { run: w.cell.run_id, cell: w.cell.index, since, until, nodes: rows.map((r) => r.node_id) },
      'cell utilization stored',
    );
  };

  return {
    record(w) {
      // A cell the run stopped inside is redone on resume: its partial window is not worth a summary.
      if (w.result.status === 'aborted') return;
      const wait = Math.max(0, w.finished_at_ms + o.settleMs - Date.now());
      const task = sleep(wait)
        .then(() => save(w))
        .catch((err: unknown) =>
          o.log.error({ err, run: w.cell.run_id, cell: w.cell.index }, 'cell utilization not stored'),
        )
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
