/**
 * Last step of a cell: Ollama's health after it (a report shows whether the benchmark left Ollama
 * as it found it), the cell's outcome and summary in the store, a WAL checkpoint, the measured
 * window to the caller, and the `cell-end` event.
 */
import type { CellResult } from '../cell-runner.js';
import { summarizeCell } from '../cell-summary.js';
import type { MatrixTarget } from '../matrix-schema.js';
import type { StoredCell } from '../store/store-types.js';
import { measuredWindow } from './cell-window.js';
import { checkTarget } from './ollama-health.js';
import type { PreparedCell } from './prepare-cell.js';
import type { RunContext } from './run-context.js';
import type { CellPosition } from './run-events.js';

/** A cell whose requests ended, or that could not send any (`result` null, `prepared.fail` says why). */
export interface FinishedCell {
  cell: StoredCell;
  target: MatrixTarget;
  pos: CellPosition;
  prepared: PreparedCell;
  result: CellResult | null;
}

/** Records the end of a cell. */
export async function recordCell(
  ctx: RunContext,
  { cell, target, pos, prepared, result }: FinishedCell,
): Promise<void> {
  const { store, log } = ctx;
  const { before, fail } = prepared;
  const after =
    target.kind === 'ollama' ? await checkTarget(target.kind, target.url, { timeoutMs: ctx.healthTimeoutMs }) : null;
  if (after !== null) ctx.emit({ type: 'health', when: 'after', health: after, ...pos });
  if (after !== null && !after.healthy && before.healthy) {
    log.warn({ target: target.id, detail: after.detail }, 'Ollama was healthy before the cell and is not after it');
  }

  const summary = result === null ? null : summarizeCell(result, ctx.options.bootstrap);
  if (result === null) {
    store.finishCell(cell.id, { status: 'failed', error: fail, health_after: after });
    // Skipped requests count as done so the ETA stays honest.
    ctx.progress.requests_done += ctx.perCell;
    log.warn({ cell: pos, error: fail }, 'cell could not run');
  } else {
    store.finishCell(cell.id, {
      status: result.status === 'aborted' ? 'interrupted' : 'completed',
      health_after: after,
      attempts: result.attempts,
      successes: result.successes,
      success_rate: result.success_rate,
      window_ms: result.window_ms,
      output_tokens_total: result.output_tokens_total,
      aggregate_tps: result.aggregate_tps,
      summary,
    });
  }
  // The WAL checkpoint fsyncs: do it here, between cells, never while requests are timed.
  store.checkpoint();

  const onMeasured = ctx.options.onCellMeasured;
  const window = result === null || onMeasured === undefined ? null : measuredWindow(result);
  if (result !== null && window !== null)
    ctx.notify(onMeasured, { cell: pos, ...window, result }, 'cell window listener');
  ctx.emit({
    type: 'cell-end',
    ...pos,
    ...ctx.snapshot(),
    status: result === null ? 'failed' : result.status === 'aborted' ? 'interrupted' : 'completed',
    error: fail,
    attempts: result?.attempts ?? 0,
    successes: result?.successes ?? 0,
    decode_tps_median: summary?.decode_tps?.median ?? null,
    ttft_ms_median: summary?.ttft_ms?.median ?? null,
  });
}
