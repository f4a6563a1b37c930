/**
 * Progress events of a run, for a live bar (CLI), plain log lines, or the coordinator's run
 * status. `requests_done / requests_total` over `elapsed_ms` is the ETA input; cells that fail
 * without sending requests count their planned requests as done so the estimate stays honest.
 */
import type { CellRequestRecord } from '../cell-runner.js';
import type { PrepareProgress } from '../protocol-client.js';
import type { Recommendation } from '../recommendation.js';
import type { CellStatus, RunStatus } from '../report-json.js';
import type { TargetHealth } from './ollama-health.js';

/** Where a cell sits in the run. */
export interface CellPosition {
  run_id: string;
  /** 0-based position of the cell in the run's plan. */
  index: number;
  /** Cells in the plan. */
  total: number;
  model: string;
  target: string;
  concurrency: number;
}

/** Progress of this execution (a resume counts only what it still has to do). */
export interface RunProgress {
  /** Requests (warm-up + measured) finished or skipped in this execution. */
  requests_done: number;
  /** Requests this execution has to run. */
  requests_total: number;
  /** Since this execution started. */
  elapsed_ms: number;
}

/** Everything a run reports while it goes. */
export type RunEvent =
  | {
      type: 'run-start';
      run_id: string;
      name: string;
      resumed: boolean;
      cells_total: number;
      /** Cells already finished by an earlier execution. */
      cells_done: number;
      requests_total: number;
    }
  | { type: 'prepare'; run_id: string; model: string; target: string; progress: PrepareProgress }
  | ({ type: 'cell-start' } & CellPosition)
  | ({ type: 'health'; when: 'before' | 'after'; health: TargetHealth } & CellPosition)
  | ({
      type: 'request-done';
      record: CellRequestRecord;
      /** Requests finished in the cell's current phase, and that phase's size. */
      phase_done: number;
      phase_total: number;
    } & CellPosition &
      RunProgress)
  | ({
      type: 'cell-end';
      status: CellStatus;
      error: { code: string; message: string } | null;
      attempts: number;
      successes: number;
      decode_tps_median: number | null;
      ttft_ms_median: number | null;
    } & CellPosition &
      RunProgress)
  | {
      type: 'run-end';
      run_id: string;
      status: RunStatus;
      recommendation: Recommendation | null;
      error: string | null;
    };
