/**
 * Runs a benchmark matrix into the store: per model, each target, each concurrency level. Every
 * attempt is committed when it ends; a cell that cannot run (unreachable target, unhealthy Ollama,
 * failed EXO preparation) is recorded as failed with its reason and the run goes on. Ollama is
 * checked before and after every cell (DESIGN §4). At the end the decisions and the recommendation
 * are computed from the store and saved, and the run is `completed`.
 *
 * Stopping: the caller's AbortSignal (Ctrl-C) ends the run as `interrupted` (or `cancelled` when
 * aborted with {@link RUN_CANCEL_REASON}); an exception also leaves it `interrupted`; a killed
 * process leaves it `running` until the next `runMatrix`/`resumeRun` on this host notices the
 * owner is gone. {@link resumeRun} finishes an interrupted run: finished cells are kept, a cell
 * that was in progress is redone from scratch (its earlier attempts kept but superseded).
 */
import { runCell, type CellResult } from '../cell-runner.js';
import { summarizeCell } from '../cell-summary.js';
import { createClient as defaultCreateClient, type CreateClientOptions } from '../create-client.js';
import { BenchError } from '../errors.js';
import { silentLogger, type BenchLogger } from '../logger.js';
import type { Matrix, MatrixTarget } from '../matrix-schema.js';
import { validateMatrix } from '../matrix.js';
import type { PrepareResult, ProtocolClient } from '../protocol-client.js';
import type { Recommendation } from '../recommendation.js';
import type { RunStatus } from '../report-json.js';
import type { BootstrapOptions } from '../statistics.js';
import type { BenchStore } from '../store/bench-store.js';
import type { StoredCell } from '../store/store-types.js';
import { hostInfo, type HostInfo } from './host-info.js';
import { checkTarget } from './ollama-health.js';
import { decideRun } from './run-decisions.js';
import type { CellPosition, RunEvent } from './run-events.js';
import { planCells } from './run-plan.js';

/** Runs executing in this process: any other `running` run owned by this pid was left by a failure. */
const ACTIVE = new Set<string>();

/** Abort with this reason (`controller.abort(RUN_CANCEL_REASON)`) to end a run as `cancelled`. */
export const RUN_CANCEL_REASON = 'kage:run-cancelled';

/** Options shared by {@link runMatrix} and {@link resumeRun}. */
export interface RunCommonOptions {
  store: BenchStore;
  /** Ctrl-C / shutdown: the run stops and is left `interrupted` (resumable). */
  signal?: AbortSignal | undefined;
  onEvent?: (e: RunEvent) => void;
  logger?: BenchLogger;
  /** Builds a target's client. @default createClient */
  createClient?: (target: MatrixTarget, options: CreateClientOptions) => ProtocolClient;
  /** Limit of each health / reachability probe. @default 5000 */
  healthTimeoutMs?: number;
  /** Seeds the bootstrap CIs (reproducible by default). */
  bootstrap?: BootstrapOptions;
}

/** Options of {@link runMatrix}. */
export interface RunMatrixOptions extends RunCommonOptions {
  /** A validated matrix (`loadMatrix` / `validateMatrix`). */
  matrix: Matrix;
  /** @default this machine */
  host?: HostInfo;
}

/** Options of {@link resumeRun}. */
export interface ResumeRunOptions extends RunCommonOptions {
  /** A run id, or `latest`. */
  runId: string;
}

/** How an execution ended. Interruptions resolve; only store failures and bugs reject. */
export interface RunOutcome {
  runId: string;
  status: RunStatus;
  cells: { total: number; completed: number; failed: number; pending: number };
  recommendation: Recommendation | null;
  error: string | null;
}

/**
 * Creates a run for `matrix` in the store and executes it. The `run-start` event (first event,
 * emitted before any network traffic) carries the run id.
 *
 * @throws coded {@link BenchError}s from the store (`KAGE_ERR_DB_*`); the run is left `interrupted`
 */
export async function runMatrix(o: RunMatrixOptions): Promise<RunOutcome> {
  o.store.reapStaleRuns(ACTIVE);
  const run = o.store.createRun({ matrix: o.matrix, plan: planCells(o.matrix), host: o.host ?? hostInfo() });
  return execute(run.id, o.matrix, false, o);
}

/**
 * Finishes an interrupted (or cancelled, or crashed) run without redoing its finished cells.
 *
 * @throws {@link BenchError} `KAGE_ERR_RUN_NOT_FOUND`; `KAGE_ERR_RUN_NOT_RESUMABLE` when the run
 *   completed, failed, or is still running in a live process
 */
export async function resumeRun(o: ResumeRunOptions): Promise<RunOutcome> {
  o.store.reapStaleRuns(ACTIVE);
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
  return execute(runId, matrix, true, o);
}

async function execute(runId: string, matrix: Matrix, resumed: boolean, o: RunCommonOptions): Promise<RunOutcome> {
  const { store } = o;
  const log = (o.logger ?? silentLogger).child({ component: 'bench-run', run: runId });
  const emit = (e: RunEvent): void => {
    try {
      o.onEvent?.(e);
    } catch (err) {
      log.warn({ err }, 'progress listener threw; ignored');
    }
  };
  const healthTimeoutMs = o.healthTimeoutMs ?? 5000;
  const makeClient = o.createClient ?? defaultCreateClient;
  const perCell = matrix.warmup + matrix.repetitions;
  const t0 = performance.now();

  const all = store.getCells(runId);
  const isDone = (c: StoredCell): boolean => c.status === 'completed' || c.status === 'failed';
  const todo = all.filter((c) => !isDone(c));
  const progress = { requests_done: 0, requests_total: todo.length * perCell };
  const snapshot = () => ({ ...progress, elapsed_ms: performance.now() - t0 });
  emit({
    type: 'run-start',
    run_id: runId,
    name: matrix.name,
    resumed,
    cells_total: all.length,
    cells_done: all.length - todo.length,
    requests_total: progress.requests_total,
  });
  log.info({ resumed, cells: all.length, todo: todo.length }, resumed ? 'resuming run' : 'starting run');

  const clients = new Map<string, ProtocolClient>();
  const clientFor = (target: MatrixTarget): ProtocolClient => {
    let c = clients.get(target.id);
    if (c === undefined) {
      c = makeClient(target, o.logger === undefined ? {} : { log: o.logger });
      clients.set(target.id, c);
    }
    return c;
  };
  const aborted = (): boolean => o.signal?.aborted === true;

  ACTIVE.add(runId);
  try {
    // One EXO preparation per model × target: the concurrency levels of that pair share it.
    const prepared = new Map<string, PrepareResult>();
    for (const cell of todo) {
      if (aborted()) break;
      const target = matrix.targets.find((t) => t.id === cell.target);
      if (target === undefined) throw new TypeError(`cell ${cell.ordinal} names unknown target ${cell.target}`);
      const pos: CellPosition = {
        run_id: runId,
        index: cell.ordinal,
        total: all.length,
        model: cell.model,
        target: cell.target,
        concurrency: cell.concurrency,
      };
      emit({ type: 'cell-start', ...pos });

      const before = await checkTarget(target.kind, target.url, { timeoutMs: healthTimeoutMs });
      emit({ type: 'health', when: 'before', health: before, ...pos });
      if (aborted()) break; // stopped while probing: the cell stays pending
      let fail: { code: string; message: string } | null = null;
      if (!before.reachable) {
        fail = {
          code: 'KAGE_ERR_TARGET_UNREACHABLE',
          message: `${target.id} (${target.url}) is unreachable: ${before.detail}`,
        };
      } else if (target.kind === 'ollama' && !before.healthy) {
        fail = {
          code: 'KAGE_ERR_OLLAMA_UNHEALTHY',
          message: `${target.id} (${target.url}) is not healthy: ${before.detail}`,
        };
      }

      const key = `${cell.model}\u0000${cell.target}`;
      let prep: PrepareResult | null = prepared.get(key) ?? null;
      if (fail === null && target.kind === 'exo' && prep === null) {
        prep = await clientFor(target).prepare(cell.model_id, {
          timeoutMs: matrix.exo_ready_timeout_s * 1000,
          signal: o.signal,
          onProgress: (progress) =>
            emit({ type: 'prepare', run_id: runId, model: cell.model, target: cell.target, progress }),
        });
        if (aborted()) break; // not the target's fault: the cell stays pending for a resume
        prepared.set(key, prep);
      }
      if (fail === null && prep !== null && !prep.ok) {
        fail = prep.error ?? { code: 'KAGE_ERR_EXO_PLACEMENT', message: 'preparation failed' };
      }

      const tryNo = store.beginCell(cell.id, { health_before: before, prepare: prep });
      let result: CellResult | null = null;
      if (fail === null) result = await runOneCell(cell, tryNo, target, matrix, clientFor(target), pos);

      const after =
        target.kind === 'ollama' ? await checkTarget(target.kind, target.url, { timeoutMs: healthTimeoutMs }) : null;
      if (after !== null) emit({ type: 'health', when: 'after', health: after, ...pos });
      if (after !== null && !after.healthy && before.healthy) {
        log.warn({ target: target.id, detail: after.detail }, 'Ollama was healthy before the cell and is not after it');
      }

      const summary = result === null ? null : summarizeCell(result, o.bootstrap);
      if (result === null) {
        store.finishCell(cell.id, { status: 'failed', error: fail, health_after: after });
        progress.requests_done += perCell;
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
      emit({
        type: 'cell-end',
        ...pos,
        ...snapshot(),
        status: result === null ? 'failed' : result.status === 'aborted' ? 'interrupted' : 'completed',
        error: fail,
        attempts: result?.attempts ?? 0,
        successes: result?.successes ?? 0,
        decode_tps_median: summary?.decode_tps?.median ?? null,
        ttft_ms_median: summary?.ttft_ms?.median ?? null,
      });
    }

    if (aborted()) {
      const status: RunStatus = o.signal?.reason === RUN_CANCEL_REASON ? 'cancelled' : 'interrupted';
      const error = status === 'cancelled' ? 'cancelled by the user' : 'interrupted (signal)';
      store.setRunStatus(runId, status, { error });
      log.info({ status }, 'run stopped before the end');
      return finish(store, runId, status, null, error, emit);
    }

    const { decisions, recommendation } = decideRun(store, runId, matrix, o.bootstrap);
    store.completeRun(runId, decisions, recommendation);
    log.info({ verdict: recommendation.verdict }, 'run completed');
    return finish(store, runId, 'completed', recommendation, null, emit);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ err }, 'run crashed; left interrupted');
    try {
      store.setRunStatus(runId, 'interrupted', { error: message });
    } catch {
      // the store itself failed (that is likely why we are here): the next run on this host
      // will find the run `running` with a dead owner and mark it interrupted
    }
    emit({ type: 'run-end', run_id: runId, status: 'interrupted', recommendation: null, error: message });
    throw err;
  } finally {
    ACTIVE.delete(runId);
    for (const c of clients.values()) c.close();
  }

  /** Runs the requests of one cell, committing each attempt as it ends. */
  async function runOneCell(
    cell: StoredCell,
    tryNo: number,
    target: MatrixTarget,
    m: Matrix,
    client: ProtocolClient,
    pos: CellPosition,
  ): Promise<CellResult> {
    // A store failure mid-cell stops the cell (its in-flight requests are aborted) and is rethrown.
    const stop = new AbortController();
    const signal = o.signal === undefined ? stop.signal : AbortSignal.any([o.signal, stop.signal]);
    const failure: { error: Error | null } = { error: null };
    const result = await runCell({
      client,
      target: target.id,
      model: cell.model_id,
      modelName: cell.model,
      prompt: m.prompt,
      maxTokens: m.max_tokens,
      numCtx: m.num_ctx,
      temperature: m.temperature,
      seed: m.seed,
      concurrency: cell.concurrency,
      repetitions: m.repetitions,
      warmup: m.warmup,
      uniquePromptPrefix: m.unique_prompt_prefix,
      requestTimeoutMs: m.request_timeout_s * 1000,
      signal,
      onEvent: (e) => {
        if (e.type !== 'request-done' || failure.error !== null) return;
        try {
          store.recordAttempt(cell.id, tryNo, e.record);
        } catch (err) {
          failure.error = err instanceof Error ? err : new Error(String(err));
          stop.abort(failure.error);
          return;
        }
        progress.requests_done += 1;
        emit({
          type: 'request-done',
          ...pos,
          ...snapshot(),
          record: e.record,
          phase_done: e.done,
          phase_total: e.total,
        });
      },
    });
    if (failure.error !== null) throw failure.error;
    return result;
  }
}

function finish(
  store: BenchStore,
  runId: string,
  status: RunStatus,
  recommendation: Recommendation | null,
  error: string | null,
  emit: (e: RunEvent) => void,
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
