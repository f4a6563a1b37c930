/**
 * The report of a run as the coordinator serves it: the bench report (`kage.report/v1`, computed
 * from the store exactly as `kage report` does) with each cell's per-node utilization added, and
 * its Markdown and HTML renderings, whose legend uses the run's own decision thresholds.
 */
import { buildReport, renderHtml, renderMarkdown, type KageReport, type RenderOptions } from '@kage/bench';
import type { TelemetryStore } from '../store/telemetry-store.js';
import { utilizationByCell } from './cell-utilization.js';

/**
 * @throws `KAGE_ERR_RUN_NOT_FOUND`
 */
export function coordinatorReport(
  store: Pick<TelemetryStore, 'bench' | 'utilization' | 'coordinatorRuns'>,
  runId: string,
): KageReport {
  const report = buildReport(store.bench, runId);
  const id = report.run.id;
  // A run this coordinator did not execute (a database shared with `kage bench`) has no telemetry:
  // its report stays as the bench core made it.
  if (!store.coordinatorRuns().includes(id)) return report;
  const byCell = utilizationByCell(store, id);
  const ordinals = new Map<string, number>();
  for (const c of store.bench.getCells(id)) ordinals.set(cellKey(c.model, c.target, c.concurrency), c.ordinal);
  return {
    ...report,
    cells: report.cells.map((c) => {
      const ordinal = ordinals.get(cellKey(c.model, c.target, c.concurrency));
      return { ...c, utilization: (ordinal === undefined ? undefined : byCell.get(ordinal)) ?? null };
    }),
  };
}

/** The report as Markdown or a self-contained HTML page. @throws `KAGE_ERR_RUN_NOT_FOUND` */
export function renderCoordinatorReport(
  store: Pick<TelemetryStore, 'bench' | 'utilization' | 'coordinatorRuns'>,
  runId: string,
  format: 'md' | 'html',
): string {
  const report = coordinatorReport(store, runId);
  const decision = store.bench.getRun(report.run.id).matrix.decision;
  const options: RenderOptions = { emulated: false, ...(decision === null ? {} : { thresholds: decision }) };
  return format === 'md' ? renderMarkdown(report, options) : renderHtml(report, options);
}

function cellKey(model: string, target: string, concurrency: number): string {
  return JSON.stringify([model, target, concurrency]);
}
