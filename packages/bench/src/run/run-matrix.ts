/**
 * Runs a benchmark matrix into the store: per model, each target, each concurrency level. Every
 * attempt is committed when it ends; a cell that cannot run (unreachable target, unhealthy Ollama,
 * failed EXO preparation) is recorded as failed with its reason and the run goes on. Ollama is
 * checked before and after every cell. At the end the decisions and the recommendation are
 * computed from the store and saved, and the run is `completed` (`execute-run.ts` has the steps).
 *
 * Stopping: the caller's AbortSignal (Ctrl-C) ends the run as `interrupted` (or `cancelled` when
 * aborted with `RUN_CANCEL_REASON`); an exception also leaves it `interrupted`; a killed
 * process leaves it `running` until the next `runMatrix`/`resumeRun` on this host notices the
 * owner is gone. {@link resumeRun} finishes an interrupted run: finished cells are kept, a cell
 * that was in progress is redone from scratch (its earlier attempts kept but superseded).
 */
import { BenchError } from '../errors.js';
import { validateMatrix } from '../matrix.js';
import { ActiveRuns } from './active-runs.js';
import { executeRun } from './execute-run.js';
import { hostInfo } from './host-info.js';
import type { ResumeRunOptions, RunMatrixOptions, RunOutcome } from './run-options.js';
import { planCells } from './run-plan.js';

/**
 * Creates a run for `matrix` in the store and executes it. The `run-start` event (first event,
 * emitted before any network traffic) carries the run id.
 *
 * @throws coded {@link BenchError}s from the store (`KAGE_ERR_DB_*`); the run is left `interrupted`
 */
export async function runMatrix(o: RunMatrixOptions): Promise<RunOutcome> {
  const activeRuns = o.activeRuns ?? new ActiveRuns();
  o.store.reapStaleRuns(activeRuns);
  const run = o.store.createRun({ matrix: o.matrix, plan: planCells(o.matrix), host: o.host ?? hostInfo() });
  return executeRun(run.id, o.matrix, false, activeRuns, o);
}

/**
 * Finishes an interrupted (or cancelled, or crashed) run without redoing its finished cells.
 *
 * @throws {@link BenchError} `KAGE_ERR_RUN_NOT_FOUND`; `KAGE_ERR_RUN_NOT_RESUMABLE` when the run
 *   completed, failed, or is still running in a live process
 */
export async function resumeRun(o: ResumeRunOptions): Promise<RunOutcome> {
  const activeRuns = o.activeRuns ?? new ActiveRuns();
  o.store.reapStaleRuns(activeRuns);
  const runId = o.store.resolveRunId(o.runId);
  const run = o.store.getRun(runId);
  if (run.status !== 'interrupted' && run.status !== 'cancelled') {
    const why =
      run.status === 'running'
        ? `it is still running (process ${run.owner?.pid ?? '?'} on ${run.owner?.host ?? '?'})`
        : `it is ${run.status}`;
    throw new BenchError('KAGE_ERR_RUN_NOT_RESUMABLE', `run ${runId} cannot be resumed: ${why}`, {
      hint: 'only interrupted or cancelled runs can be resumed',
    });
  }
  // The stored matrix is validated again: a hand-edited database must not run something unchecked.
  const matrix = validateMatrix(run.matrix, { file: `run ${runId}` });
  o.store.claimRun(runId);
  return executeRun(runId, matrix, true, activeRuns, o);
}
