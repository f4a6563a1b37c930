/**
 * One execution of a run, fresh or resumed: every unfinished cell in plan order, each through
 * its three steps (prepare, run its requests, record), then the run's end. Finished cells of an
 * earlier execution are skipped; a cell that was in progress is redone from scratch.
 *
 * How it ends: all cells done → decisions and recommendation from the store, `completed`. The
 * caller's signal → `interrupted`, or `cancelled` with `RUN_CANCEL_REASON`; both resolve.
 * An exception → `interrupted` (when the store still takes the write) and rethrown.
 */
import type { Matrix } from '../matrix-schema.js';
import type { Recommendation } from '../recommendation.js';
import type { RunStatus } from '../report-json.js';
import type { StoredCell } from '../store/store-types.js';
import type { ActiveRuns } from './active-runs.js';
import { prepareCell, targetOf, type Preparations } from './prepare-cell.js';
import { recordCell } from './record-cell.js';
import { runCellRequests } from './run-cell-requests.js';
import { createRunContext, type RunContext } from './run-context.js';
import { decideRun } from './run-decisions.js';
import type { CellPosition } from './run-events.js';
import { RUN_CANCEL_REASON, type RunCommonOptions, type RunOutcome } from './run-options.js';

/** Executes the run's unfinished cells; `activeRuns` lists the run meanwhile. */
export async function executeRun(
  runId: string,
  matrix: Matrix,
  resumed: boolean,
  activeRuns: ActiveRuns,
  o: RunCommonOptions,
): Promise<RunOutcome> {
  const all = o.store.getCells(runId);
  const isDone = (c: StoredCell): boolean => c.status === 'completed' || c.status === 'failed';
  const todo = all.filter((c) => !isDone(c));
  const ctx = createRunContext(runId, matrix, { total: all.length, toRun: todo.length }, o);
  ctx.emit({
    type: 'run-start',
    run_id: runId,
    name: matrix.name,
    resumed,
    cells_total: all.length,
    cells_done: all.length - todo.length,
    requests_total: ctx.progress.requests_total,
  });
  ctx.log.info({ resumed, cells: all.length, todo: todo.length }, resumed ? 'resuming run' : 'starting run');

  activeRuns.add(runId);
  try {
    await runCells(ctx, todo);
    return end(ctx);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.error({ err }, 'run crashed; left interrupted');
    try {
      ctx.store.setRunStatus(runId, 'interrupted', { error: message });
    } catch {
      // the store itself failed (that is likely why we are here): the next run on this host
      // will find the run `running` with a dead owner and mark it interrupted
    }
    ctx.emit({ type: 'run-end', run_id: runId, status: 'interrupted', recommendation: null, error: message });
    throw err;
  } finally {
    activeRuns.delete(runId);
    ctx.close();
  }
}

/** The cells in order, until the caller stops the run. */
async function runCells(ctx: RunContext, todo: readonly StoredCell[]): Promise<void> {
  const preparations: Preparations = new Map();
  for (const cell of todo) {
    if (ctx.aborted()) return;
    const target = targetOf(ctx.matrix, cell);
    const pos: CellPosition = {
      run_id: ctx.runId,
      index: cell.ordinal,
      total: ctx.cellsTotal,
      model: cell.model,
      target: cell.target,
      concurrency: cell.concurrency,
    };
    ctx.emit({ type: 'cell-start', ...pos });

    const prepared = await prepareCell(ctx, cell, target, pos, preparations);
    if (prepared === null) return; // stopped meanwhile: the cell stays pending
    const tryNo = ctx.store.beginCell(cell.id, { health_before: prepared.before, prepare: prepared.prep });
    const result = prepared.fail === null ? await runCellRequests(ctx, cell, tryNo, target, pos) : null;
    await recordCell(ctx, { cell, target, pos, prepared, result });
  }
}

/** Ends the execution: stopped by the caller, or completed with its decisions. */
function end(ctx: RunContext): RunOutcome {
  const { store, runId } = ctx;
  if (ctx.aborted()) {
    const status: RunStatus = ctx.options.signal?.reason === RUN_CANCEL_REASON ? 'cancelled' : 'interrupted';
    const error = status === 'cancelled' ? 'cancelled by the user' : 'interrupted (signal)';
    store.setRunStatus(runId, status, { error });
    ctx.log.info({ status }, 'run stopped before the end');
    return outcome(ctx, status, null, error);
  }
  const { decisions, recommendation } = decideRun(store, runId, ctx.matrix, ctx.options.bootstrap);
  store.completeRun(runId, decisions, recommendation);
  ctx.log.info({ verdict: recommendation.verdict }, 'run completed');
  return outcome(ctx, 'completed', recommendation, null);
}

/** Emits `run-end` and counts the cells by status. */
function outcome(
  { store, runId, emit }: RunContext,
  status: RunStatus,
  recommendation: Recommendation | null,
  error: string | null,
): RunOutcome {
  const cells = store.getCells(runId);
  const count = (s: string): number => cells.filter((c) => c.status === s).length;
  emit({ type: 'run-end', run_id: runId, status, recommendation, error });
  return {
    runId,
    status,
    cells: {
      total: cells.length,
      completed: count('completed'),
      failed: count('failed'),
      pending: cells.length - count('completed') - count('failed'),
    },
    recommendation,
    error,
  };
}
