/**
 * What a caller of `runMatrix` / `resumeRun` passes in and gets back.
 */
import type { CreateClientOptions } from '../create-client.js';
import type { BenchLogger } from '../logger.js';
import type { Matrix, MatrixTarget } from '../matrix-schema.js';
import type { ProtocolClient } from '../protocol-client.js';
import type { Recommendation } from '../recommendation.js';
import type { RunStatus } from '../report-json.js';
import type { BootstrapOptions } from '../statistics.js';
import type { BenchStore } from '../store/bench-store.js';
import type { ActiveRuns } from './active-runs.js';
import type { CellMeasuredWindow } from './cell-window.js';
import type { HostInfo } from './host-info.js';
import type { RunEvent } from './run-events.js';
import type { SendRequest } from './send-request.js';

/** Abort with this reason (`controller.abort(RUN_CANCEL_REASON)`) to end a run as `cancelled`. */
export const RUN_CANCEL_REASON = 'kage:run-cancelled';

/** Options shared by `runMatrix` and `resumeRun`. */
export interface RunCommonOptions {
  store: BenchStore;
  /** Ctrl-C / shutdown: the run stops and is left `interrupted` (resumable). */
  signal?: AbortSignal | undefined;
  onEvent?: (e: RunEvent) => void;
  logger?: BenchLogger;
  /**
   * The runs executing in this process. A process that runs several at once on one database must
   * pass the same instance to each, or each would take the others for crashed leftovers. The
   * run is listed while it executes.
   * @default a new one for this call: any other run this process left `running` is taken for a
   *   leftover and marked `interrupted`, which is right for a process that runs one at a time
   */
  activeRuns?: ActiveRuns;
  /** Builds a target's client (preparation, and requests unless `sendRequest` is given). @default createClient */
  createClient?: (target: MatrixTarget, options: CreateClientOptions) => ProtocolClient;
  /**
   * Sends each request of a cell; see {@link SendRequest} for the contract. EXO preparation and
   * health checks do not go through it: they always run from this process.
   * @default this process, with the target's client from `createClient`
   */
  sendRequest?: SendRequest;
  /**
   * Called once per cell that measured something, after the cell is stored and before its
   * `cell-end` event, with the wall-clock window of its measured requests. Nothing of it is
   * stored. A throwing listener is logged and ignored, like `onEvent`.
   */
  onCellMeasured?: (window: CellMeasuredWindow) => void;
  /** Limit of each health / reachability probe. @default 5000 */
  healthTimeoutMs?: number;
  /** Seeds the bootstrap CIs (reproducible by default). */
  bootstrap?: BootstrapOptions;
}

/** Options of `runMatrix`. */
export interface RunMatrixOptions extends RunCommonOptions {
  /** A validated matrix (`loadMatrix` / `validateMatrix`). */
  matrix: Matrix;
  /** @default this machine */
  host?: HostInfo;
}

/** Options of `resumeRun`. */
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
