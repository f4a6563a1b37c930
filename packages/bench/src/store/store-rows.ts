/**
 * Rows of the `runs` and `cells` tables as better-sqlite3 returns them, and their mapping to the
 * stored shapes (JSON columns parsed).
 */
import type { CellSummary } from '../cell-summary.js';
import type { Matrix, TargetKind } from '../matrix-schema.js';
import type { PrepareResult } from '../protocol-client.js';
import type { CellStatus, RunStatus } from '../report-json.js';
import type { HostInfo } from '../run/host-info.js';
import type { TargetHealth } from '../run/ollama-health.js';
import type { StoredCell, StoredRun } from './store-types.js';

/** A `runs` row. */
export interface RunRow {
  id: string;
  name: string;
  status: string;
  matrix_json: string;
  host_json: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  owner_host: string | null;
  owner_pid: number | null;
}

/** A `cells` row. */
export interface CellRow {
  id: number;
  run_id: string;
  ordinal: number;
  model: string;
  model_id: string;
  target: string;
  target_kind: string;
  concurrency: number;
  status: string;
  tries: number;
  started_at: string | null;
  finished_at: string | null;
  error_code: string | null;
  error_message: string | null;
  health_before_json: string | null;
  health_after_json: string | null;
  prepare_json: string | null;
  attempts: number;
  successes: number;
  success_rate: number | null;
  window_ms: number | null;
  output_tokens_total: number | null;
  aggregate_tps: number | null;
  summary_json: string | null;
}

const parse = <T>(json: string | null): T | null => (json === null ? null : (JSON.parse(json) as T));

/** A run from its row. */
export function runFromRow(r: RunRow): StoredRun {
  return {
    id: r.id,
    name: r.name,
    status: r.status as RunStatus,
    matrix: JSON.parse(r.matrix_json) as Matrix,
    host: JSON.parse(r.host_json) as HostInfo,
    started_at: r.started_at,
    finished_at: r.finished_at,
    error: r.error,
    owner: r.owner_host === null || r.owner_pid === null ? null : { host: r.owner_host, pid: r.owner_pid },
  };
}

/** A cell from its row. */
export function cellFromRow(r: CellRow): StoredCell {
  return {
    id: r.id,
    run_id: r.run_id,
    ordinal: r.ordinal,
    model: r.model,
    model_id: r.model_id,
    target: r.target,
    target_kind: r.target_kind as TargetKind,
    concurrency: r.concurrency,
    status: r.status as CellStatus,
    tries: r.tries,
    started_at: r.started_at,
    finished_at: r.finished_at,
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    health_before: parse<TargetHealth>(r.health_before_json),
    health_after: parse<TargetHealth>(r.health_after_json),
    prepare: parse<PrepareResult>(r.prepare_json),
    attempts: r.attempts,
    successes: r.successes,
    success_rate: r.success_rate,
    window_ms: r.window_ms,
    output_tokens_total: r.output_tokens_total,
    aggregate_tps: r.aggregate_tps,
    summary: parse<CellSummary>(r.summary_json),
  };
}
