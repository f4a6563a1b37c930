/**
 * Shapes read from and written to the benchmark store. Snake_case like the columns and the report.
 */
import type { CellRequestRecord } from '../cell-runner.js';
import type { CellSummary } from '../cell-summary.js';
import type { Verdict } from '../decision.js';
import type { Matrix, TargetKind } from '../matrix-schema.js';
import type { PrepareResult } from '../protocol-client.js';
import type { CellStatus, RunStatus } from '../report-json.js';
import type { HostInfo } from '../run/host-info.js';
import type { TargetHealth } from '../run/ollama-health.js';

/** A stored run. */
export interface StoredRun {
  id: string;
  name: string;
  status: RunStatus;
  /** The resolved matrix (defaults filled in) the run executes. */
  matrix: Matrix;
  host: HostInfo;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  /** The process that last ran it (to tell a crashed run from a live one). */
  owner: { host: string; pid: number } | null;
}

/** One row of `kage bench list`. */
export interface RunListEntry {
  id: string;
  name: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  cells_total: number;
  /** Cells that ended (completed or failed). */
  cells_done: number;
  cells_failed: number;
  /** The recommendation's verdict once the run completed. */
  verdict: Verdict | null;
}

/** A planned cell, in run order. */
export interface CellPlanEntry {
  /** Matrix model name. */
  model: string;
  /** Model id on the wire (Hugging Face id for EXO). */
  model_id: string;
  target: string;
  target_kind: TargetKind;
  concurrency: number;
}

/** A stored cell. */
export interface StoredCell extends CellPlanEntry {
  id: number;
  run_id: string;
  /** 0-based position in the run's plan. */
  ordinal: number;
  status: CellStatus;
  /** How many times the cell was started (more than 1 after a resume redid it). */
  tries: number;
  started_at: string | null;
  finished_at: string | null;
  /** Why the whole cell failed (`KAGE_ERR_TARGET_UNREACHABLE`…). */
  error: { code: string; message: string } | null;
  health_before: TargetHealth | null;
  health_after: TargetHealth | null;
  /** The target's preparation for this model (EXO placement, cluster check). */
  prepare: PrepareResult | null;
  attempts: number;
  successes: number;
  success_rate: number | null;
  window_ms: number | null;
  output_tokens_total: number | null;
  aggregate_tps: number | null;
  summary: CellSummary | null;
}

/** A stored attempt: the request's metrics plus where it ran. */
export interface StoredAttempt extends CellRequestRecord {
  id: number;
  cell_id: number;
  /** The cell try it belongs to. */
  try: number;
  /** True when a resume redid its cell: kept as evidence, ignored by statistics. */
  superseded: boolean;
}

/** What {@link BenchStore.finishCell} records. */
export interface CellOutcome {
  status: Extract<CellStatus, 'completed' | 'failed' | 'interrupted'>;
  error?: { code: string; message: string } | null;
  health_after?: TargetHealth | null;
  attempts?: number;
  successes?: number;
  success_rate?: number | null;
  window_ms?: number | null;
  output_tokens_total?: number | null;
  aggregate_tps?: number | null;
  summary?: CellSummary | null;
}
