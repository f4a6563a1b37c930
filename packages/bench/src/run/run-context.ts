/**
 * What the steps of one execution of a run share: the store, the matrix, where events go, one
 * client per target (closed when the execution ends), how requests are sent, and the progress
 * counters behind the ETA.
 */
import { createClient as defaultCreateClient } from '../create-client.js';
import { silentLogger, type BenchLogger } from '../logger.js';
import type { Matrix, MatrixTarget } from '../matrix-schema.js';
import type { ProtocolClient } from '../protocol-client.js';
import type { BenchStore } from '../store/bench-store.js';
import type { RunEvent, RunProgress } from './run-events.js';
import type { RunCommonOptions } from './run-options.js';
import type { SendRequest } from './send-request.js';

/** One execution's shared state. The functions are plain properties: the steps pass them around unbound. */
export interface RunContext {
  readonly runId: string;
  readonly matrix: Matrix;
  readonly store: BenchStore;
  readonly log: BenchLogger;
  /** The caller's options, for the settings the steps read directly. */
  readonly options: RunCommonOptions;
  /** Cells in the run's plan, finished ones included. */
  readonly cellsTotal: number;
  /** Requests per cell, warm-up included. */
  readonly perCell: number;
  readonly healthTimeoutMs: number;
  /** Sends a cell's requests: the caller's `sendRequest`, or this process. */
  readonly send: SendRequest;
  /** Requests finished (or skipped with their cell) in this execution, of those it has to run. */
  readonly progress: { requests_done: number; requests_total: number };
  /** The progress with the time elapsed, as events carry it. */
  readonly snapshot: () => RunProgress;
  /** Hands an event to the caller; a throwing listener is logged, never allowed to stop the run. */
  readonly emit: (e: RunEvent) => void;
  /** Calls one of the caller's listeners the same way. */
  readonly notify: <T>(listener: ((value: T) => void) | undefined, value: T, what: string) => void;
  /** The caller stopped the run. */
  readonly aborted: () => boolean;
  /** The target's client, created on first use and reused for the rest of the execution. */
  readonly clientFor: (target: MatrixTarget) => ProtocolClient;
  /** Closes every client this execution created. */
  readonly close: () => void;
}

/** Starts an execution's shared state; `cells.toRun` sizes the progress. */
export function createRunContext(
  runId: string,
  matrix: Matrix,
  cells: { total: number; toRun: number },
  o: RunCommonOptions,
): RunContext {
  const log = (o.logger ?? silentLogger).child({ component: 'bench-run', run: runId });
  const makeClient = o.createClient ?? defaultCreateClient;
  const perCell = matrix.warmup + matrix.repetitions;
  const t0 = performance.now();
  const clients = new Map<string, ProtocolClient>();
  const progress = { requests_done: 0, requests_total: cells.toRun * perCell };

  const notify = <T>(listener: ((value: T) => void) | undefined, value: T, what: string): void => {
    try {
      listener?.(value);
    } catch (err) {
      log.warn({ err }, `${what} threw; ignored`);
    }
  };
  const clientFor = (target: MatrixTarget): ProtocolClient => {
    let c = clients.get(target.id);
    if (c === undefined) {
      c = makeClient(target, o.logger === undefined ? {} : { log: o.logger });
      clients.set(target.id, c);
    }
    return c;
  };

  return {
    runId,
    matrix,
    store: o.store,
    log,
    options: o,
    cellsTotal: cells.total,
    perCell,
    healthTimeoutMs: o.healthTimeoutMs ?? 5000,
    send: o.sendRequest ?? ((target, request) => clientFor(target).chat(request)),
    progress,
    snapshot: () => ({ ...progress, elapsed_ms: performance.now() - t0 }),
    emit: (e) => notify(o.onEvent, e, 'progress listener'),
    notify,
    aborted: () => o.signal?.aborted === true,
    clientFor,
    close: () => {
      for (const c of clients.values()) c.close();
    },
  };
}
