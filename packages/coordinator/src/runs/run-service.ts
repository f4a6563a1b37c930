/**
 * Benchmark runs executed by the coordinator: the bench run engine over the coordinator's database,
 * with each target's requests sent by the agent on its first node (or from here, see
 * `probe-routes.ts`), run progress on the event hub, and each node's utilization stored per cell.
 *
 * Lifecycle: `start` returns as soon as the run exists and executes it in the background;
 * `cancel` ends it as `cancelled` (final); `close` (shutdown) ends running runs as `interrupted`,
 * and `resumeInterrupted` at the next start finishes them: finished cells are kept, the cell that
 * was in progress is redone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ActiveRuns,
  RUN_CANCEL_REASON,
  resumeRun,
  runMatrix,
  validateMatrix,
  validateMatrixChecked,
  type CellMeasuredWindow,
  type KageReport,
  type Matrix,
  type RunEvent,
  type RunListEntry,
  type RunOutcome,
  type RunStatus,
} from '@kage/bench';
import type { Logger } from 'pino';
import { CoordinatorError } from '../coordinator-error.js';
import type { EventHub } from '../events/event-hub.js';
import type { AgentCommander } from '../grpc/agent-commander.js';
import type { RunDetail, RunsApi } from '../http/api-deps.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { TelemetryStore } from '../store/telemetry-store.js';
import { createUtilizationRecorder } from './cell-utilization.js';
import { assertNodesOnline, matrixNodes, offlineNodes, planProbeRoutes } from './probe-routes.js';
import { createProbeSender } from './probe-sender.js';
import { coordinatorReport, renderCoordinatorReport } from './run-report.js';

export interface RunService extends RunsApi {
  /**
   * The URLs of the targets whose cells run now: while a run measures a server, the gateway
   * sends it nothing, so that neither disturbs the other.
   */
  measuringUrls(): ReadonlySet<string>;
  /** Resumes, in the background, the coordinator's runs a shutdown or a crash left unfinished. */
  resumeInterrupted(): Promise<void>;
  /** Stops running runs as `interrupted` (resumed at the next start) and waits for them. */
  close(): Promise<void>;
}

export interface RunServiceOptions {
  store: TelemetryStore;
  commander: AgentCommander;
  registry: NodeRegistry;
  events: EventHub;
  log: Logger;
  /** Wait after a cell's window before summarising its samples (they arrive late). @default 2500 */
  utilizationSettleMs?: number;
  /**
   * How long a resume at start waits for the agents it needs to reconnect before it goes on
   * anyway (their probes then fail as attempts). @default 60000
   */
  resumeWaitMs?: number;
}

/** The `run` event on the hub. */
export interface RunHubEvent {
  run: string;
  type: 'progress' | 'finished';
  cells_done: number;
  cells_total: number;
  current: RunDetail['progress']['current'];
  status: RunStatus;
  /** Why the run did not complete (`finished` only); null otherwise. */
  error: string | null;
}

/** A run executing in this process. */
interface Execution {
  controller: AbortController;
  /** The URL of the target of the cell running now, or null between cells. */
  measuring: string | null;
  /** Settles when the run engine is done: the store holds the run's final status. */
  ended: Promise<void>;
  /** Settles when everything is done: utilization stored and `finished` published. */
  done: Promise<void>;
}

/** Why `close` aborts runs: any reason but `RUN_CANCEL_REASON` leaves them `interrupted`. */
const SHUTDOWN_REASON = 'kage:coordinator-shutdown';
const NODE_POLL_MS = 250;

export function createRunService(o: RunServiceOptions): RunService {
  const { store, commander, registry, events } = o;
  const log = o.log.child({ component: 'runs' });
  const settleMs = o.utilizationSettleMs ?? 2500;
  const resumeWaitMs = o.resumeWaitMs ?? 60_000;
  // One list for every run of this process: each run's engine would otherwise take the others
  // for leftovers of a crashed process and mark them interrupted.
  const activeRuns = new ActiveRuns();
  const executions = new Map<string, Execution>();
  const everything = new Set<Promise<void>>();
  let closed = false;

  const publish = (e: RunHubEvent): void => {
    events.publish('run', e);
  };

  function detail(id: string): RunDetail {
    const runId = store.bench.resolveRunId(id);
    const run = store.bench.getRun(runId);
    const cells = store.bench.getCells(runId);
    const running = run.status === 'running' ? cells.find((c) => c.status === 'running') : undefined;
    // The engine marks a run completed before the last cell's utilization (taken after a settle
    // delay) is stored; until then the API still says running, so a client that fetches the
    // report as soon as it sees `completed` gets the whole report.
    const status = run.status === 'completed' && executions.has(run.id) ? 'running' : run.status;
    return {
      id: run.id,
      name: run.name,
      status,
      started_at: run.started_at,
      finished_at: run.finished_at,
      error: run.error,
      progress: {
        cells_total: cells.length,
        cells_done: cells.filter((c) => c.status === 'completed' || c.status === 'failed').length,
        current:
          running === undefined
            ? null
            : { model: running.model, target: running.target, concurrency: running.concurrency },
      },
    };
  }

  /** Waits (bounded) until the nodes an agent-probed target needs are back; false when stopped meanwhile. */
  async function waitForNodes(matrix: Matrix, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + resumeWaitMs;
    for (;;) {
      if (signal.aborted) return false;
      const offline = offlineNodes(matrix, planProbeRoutes(matrix, registry.list()), registry, commander);
      if (offline.length === 0) return true;
      if (Date.now() >= deadline) {
        log.warn({ offline }, 'nodes still offline; resuming anyway, their requests fail as attempts');
        return true;
      }
      try {
        await sleep(NODE_POLL_MS, undefined, { signal });
      } catch {
        return false;
      }
    }
  }

  /**
   * Executes a new run (`resumeId` null) or resumes one, in the background. Resolves with the run
   * id once the run exists; rejects when the engine fails before that (the store refused it).
   */
  function execute(matrix: Matrix, resumeId: string | null): Promise<string> {
    const controller = new AbortController();
    const routes = planProbeRoutes(matrix, registry.list());
    const sender = createProbeSender({ routes, commander, log });
    const recorder = createUtilizationRecorder({
      store,
      settleMs,
      log,
      nodes: () => {
        const known = registry.list();
        return [...known.map((n) => n.id), ...matrixNodes(matrix, known)];
      },
    });
    const ended = deferred();
    const done = deferred();
    const execution: Execution = { controller, measuring: null, ended: ended.promise, done: done.promise };
    let runId = resumeId;
    const started = deferred<string>();
    const progress = { cells_done: 0, cells_total: 0, current: null as RunHubEvent['current'] };
    const progressEvent = (id: string): RunHubEvent => ({
      run: id,
      type: 'progress',
      ...progress,
      status: 'running',
      error: null,
    });

    const register = (id: string): void => {
      executions.set(id, execution);
      everything.add(done.promise);
    };
    if (resumeId !== null) register(resumeId);

    const onEvent = (e: RunEvent): void => {
      switch (e.type) {
        case 'run-start':
          runId = e.run_id;
          if (resumeId === null) {
            register(e.run_id);
            try {
              store.markCoordinatorRun(e.run_id);
            } catch (err) {
              log.error(
                { err, run: e.run_id },
                'run not marked as a coordinator run: it will not be resumed after a restart',
              );
            }
          }
          progress.cells_total = e.cells_total;
          progress.cells_done = e.cells_done;
          started.resolve(e.run_id);
          publish(progressEvent(e.run_id));
          break;
        case 'cell-start':
          progress.current = { model: e.model, target: e.target, concurrency: e.concurrency };
          execution.measuring = matrix.targets.find((t) => t.id === e.target)?.url ?? null;
          publish(progressEvent(e.run_id));
          break;
        case 'cell-end':
          if (e.status === 'completed' || e.status === 'failed') progress.cells_done += 1;
          progress.current = null;
          execution.measuring = null;
          publish(progressEvent(e.run_id));
          break;
        // Requests and preparation are too fine-grained for the hub; the end is published once
        // the cell summaries are stored.
        case 'prepare':
        case 'health':
        case 'request-done':
        case 'run-end':
          break;
      }
    };

    const engine = async (): Promise<RunOutcome | null> => {
      const common = {
        store: store.bench,
        signal: controller.signal,
        onEvent,
        logger: log,
        activeRuns,
        sendRequest: sender.send,
        onCellMeasured: (w: CellMeasuredWindow) => recorder.record(w),
      };
      if (resumeId === null) return runMatrix({ ...common, matrix });
      if (!(await waitForNodes(matrix, controller.signal))) {
        // Stopped before the resume began: a cancel is final, a shutdown leaves it interrupted.
        if (controller.signal.reason === RUN_CANCEL_REASON)
          store.bench.setRunStatus(resumeId, 'cancelled', { error: 'cancelled by the user' });
        return null;
      }
      return resumeRun({ ...common, runId: resumeId });
    };

    const finish = async (outcome: RunOutcome | null, failure: unknown): Promise<void> => {
      ended.resolve();
      sender.close();
      await recorder.settled();
      if (runId === null) return;
      // Everything of the run is stored now: the API may call it finished.
      if (executions.get(runId) === execution) executions.delete(runId);
      try {
        const d = detail(runId);
        publish({
          run: runId,
          type: 'finished',
          cells_done: d.progress.cells_done,
          cells_total: d.progress.cells_total,
          current: null,
          status: d.status,
          error: d.error,
        });
        log.info({ run: runId, status: d.status, error: d.error }, 'run ended');
      } catch (err) {
        log.error({ err, run: runId, outcome: outcome?.status, failure }, 'run ended; its final state cannot be read');
      } finally {
        executions.delete(runId);
      }
    };

    engine()
      .then(
        (outcome) => finish(outcome, null),
        (err: unknown) => {
          log.error({ err, run: runId }, 'run stopped by an error; left interrupted');
          started.reject(err);
          return finish(null, err);
        },
      )
      .catch((err: unknown) => log.error({ err, run: runId }, 'run bookkeeping failed'))
      .finally(() => {
        done.resolve();
        everything.delete(done.promise);
        if (runId !== null && executions.get(runId) === execution) executions.delete(runId);
      });
    if (resumeId !== null) started.resolve(resumeId);
    // Ending without a run-start means the run never existed (a resume stopped while waiting has one).
    void ended.promise.then(() => started.reject(new Error('the run ended before it started')));
    return started.promise;
  }

  return {
    async start(body) {
      if (closed) throw new CoordinatorError('KAGE_ERR_COORDINATOR_CLOSED', 'the coordinator is shutting down');
      const { matrix, warnings } = validateMatrixChecked(body);
      assertNodesOnline(offlineNodes(matrix, planProbeRoutes(matrix, registry.list()), registry, commander));
      const id = await execute(matrix, null);
      log.info({ run: id, name: matrix.name }, 'run started');
      for (const w of warnings) log.warn({ run: id, path: w.path }, `matrix: ${w.reason}`);
      return { id };
    },

    list(): RunListEntry[] {
      // The same rule as `get`: completed only once its utilization is stored.
      return store.bench
        .listRuns()
        .map((r) => (r.status === 'completed' && executions.has(r.id) ? { ...r, status: 'running' as const } : r));
    },

    get: detail,

    measuringUrls() {
      const urls = new Set<string>();
      for (const e of executions.values()) if (e.measuring !== null) urls.add(e.measuring);
      return urls;
    },

    async cancel(id) {
      const runId = store.bench.resolveRunId(id);
      const execution = executions.get(runId);
      if (execution !== undefined) {
        execution.controller.abort(RUN_CANCEL_REASON);
        await execution.ended;
      } else if (store.bench.getRun(runId).status === 'interrupted') {
        // Not executing, but the next start would resume it: the user said no.
        store.bench.setRunStatus(runId, 'cancelled', { error: 'cancelled by the user' });
      }
      return detail(runId);
    },

    report(id): KageReport {
      return coordinatorReport(store, id);
    },

    render(id, format) {
      return renderCoordinatorReport(store, id, format);
    },

    resumeInterrupted() {
      if (closed) return Promise.resolve();
      // Runs left `running` by a process that died (a crash, a kill) become `interrupted` first.
      store.bench.reapStaleRuns(activeRuns);
      for (const id of store.coordinatorRuns()) {
        if (executions.has(id)) continue;
        let matrix: Matrix;
        try {
          const run = store.bench.getRun(id);
          if (run.status !== 'interrupted') continue;
          matrix = validateMatrix(run.matrix, { file: `run ${id}` });
        } catch (err) {
          log.error({ err, run: id }, 'interrupted run cannot be resumed');
          continue;
        }
        log.info({ run: id }, 'resuming interrupted run');
        execute(matrix, id).catch(() => undefined);
      }
      return Promise.resolve();
    },

    async close() {
      closed = true;
      for (const e of executions.values()) e.controller.abort(SHUTDOWN_REASON);
      while (everything.size > 0) await Promise.all([...everything]);
    },
  };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody waits for (a run that started, then failed) is not an unhandled one.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
