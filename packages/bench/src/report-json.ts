/**
 * The report JSON of docs/benchmarks.md (`kage report --format json`, schema `kage.report/v1`).
 * Field names are a public contract: renderers (markdown, HTML), the CLI and the coordinator's REST
 * API read them. Extra fields beyond the documented ones are few and marked "extra".
 */
import type { Decision, Verdict } from './decision.js';
import type { RequestErrorKind } from './request-metrics.js';
import type { Summary } from './statistics.js';
import type { BenchStore } from './store/bench-store.js';
import type { RunListEntry, StoredCell } from './store/store-types.js';

/** The schema tag of every report. */
export const REPORT_SCHEMA = 'kage.report/v1';

/** Lifecycle of a stored run. */
export type RunStatus = 'running' | 'completed' | 'interrupted' | 'failed' | 'cancelled';

/**
 * Lifecycle of a stored cell: `failed` = the cell could not run (unreachable target, unhealthy
 * Ollama, EXO preparation failed); `interrupted` = the run stopped inside it (redone on resume).
 */
export type CellStatus = 'pending' | 'running' | 'completed' | 'failed' | 'interrupted';

/** `run` of the report. */
export interface ReportRun {
  id: string;
  name: string;
  status: RunStatus;
  /** ISO 8601 wall clock. */
  started_at: string;
  /** ISO 8601 wall clock; `null` while the run has not ended. */
  finished_at: string | null;
  /** Extra: why the run failed or was interrupted; `null` otherwise. */
  error: string | null;
  /**
   * Extra: what the requests did about the servers' prompt caches. `unique_prefix` (the matrix's
   * `unique_prompt_prefix`, on by default): every request starts with a line of its own, so no
   * measured request can reuse an earlier one's prompt and TTFT includes the full prefill.
   * `same_prompt`: every request repeats the prompt, so servers answer from their prompt cache
   * and TTFT measures a cached prefill.
   */
  prompt_policy: PromptPolicy;
}

/** See {@link ReportRun.prompt_policy}. */
export type PromptPolicy = 'unique_prefix' | 'same_prompt';

/** A metric's centre and spread over successful measured requests; numbers are `null` without any. */
export interface ReportDecodeTps {
  median: number | null;
  mean: number | null;
  /** Bootstrap 95 % CI of the median. */
  ci95: [number, number] | null;
}

/** TTFT summary (ms). */
export interface ReportTtft {
  median: number | null;
  p90: number | null;
  /** Extra: seeded bootstrap 95 % CI of the median (for the chart's whiskers). */
  ci95?: [number, number] | null;
}

/** End-to-end latency summary (ms). */
export interface ReportE2e {
  median: number | null;
}

/** Output-token summary. */
export interface ReportOutputTokens {
  median: number | null;
}

/**
 * Extra (runs executed by a coordinator): how busy one node was during a cell's measured requests,
 * from the node agent's telemetry samples taken inside the cell's window. A metric is `null` when
 * none of those samples carried it (the node cannot measure it, e.g. no GPU telemetry).
 */
export interface NodeUtilization {
  /** Samples the summary is made of. */
  samples: number;
  /** Node-wide CPU busy %, 0–100. */
  cpu_pct: { mean: number; max: number } | null;
  mem_used_bytes: { max: number } | null;
  /** Busy % averaged over the node's GPUs. */
  gpu_busy_pct: { mean: number; max: number } | null;
  /** GPU memory used, summed over the node's GPUs. */
  gpu_mem_used_bytes: { max: number } | null;
}

/** One `cells` entry: one model × target × concurrency level. */
export interface ReportCell {
  /** The matrix model name (`qwen2.5:3b`), also for EXO targets. */
  model: string;
  target: string;
  concurrency: number;
  /** Measured requests attempted (warm-up excluded; failures included). */
  attempts: number;
  successes: number;
  /** successes / attempts; 0 when nothing was attempted. */
  success_rate: number;
  decode_tps: ReportDecodeTps;
  ttft_ms: ReportTtft;
  e2e_ms: ReportE2e;
  output_tokens: ReportOutputTokens;
  /** Extra: `completed`; `failed` when the cell could not run (unreachable target, EXO placement…); `interrupted`. */
  status: CellStatus;
  /** Extra: why the cell failed as a whole (`CODE: message`); `null` otherwise. */
  error: string | null;
  /** Extra: failed measured attempts by kind (`connection`, `http_status`, `oom`…). */
  failures: Partial<Record<RequestErrorKind, number>>;
  /** Extra: output tokens of successful measured requests / measured window (tokens/s). */
  aggregate_tps: number | null;
  /**
   * Extra: prompt tokens the server answered from its prompt cache (median over successful
   * measured requests), where the server gives the count (EXO, OpenAI-compatible servers);
   * `null` where it does not (Ollama). With the `unique_prefix` policy it stays near 0.
   */
  cached_prompt_tokens: { median: number | null } | null;
  /** Extra: Ollama health (`GET /` → 200 "Ollama is running") before and after the cell; `null` for other kinds. */
  ollama_health: { before: boolean | null; after: boolean | null } | null;
  /**
   * Extra, only in reports of runs a coordinator executed: per node id, how busy it was during the
   * cell; `null` when no node had samples in the cell's window (or the cell measured nothing).
   */
  utilization?: Record<string, NodeUtilization> | null;
}

/** One `decisions` entry (docs/benchmarks.md, "Verdicts"), per model and concurrency level. */
export interface ReportDecision {
  model: string;
  candidate: string;
  /** The best baseline that ran the model; `null` when none did. */
  baseline: string | null;
  speedup: number | null;
  speedup_ci95: [number, number] | null;
  ttft_ratio: number | null;
  ttft_ok: boolean | null;
  success_ok: boolean;
  cluster_ok: boolean | null;
  verdict: Verdict;
  /** Extra: the concurrency level this decision compares. */
  concurrency: number;
  /** Extra: aggregate_tps(candidate) / aggregate_tps(baseline) − 1 (the concurrency view). */
  aggregate_speedup: number | null;
  /** Extra: why, in words. */
  reasons: string[];
}

/** `recommendation` of the report. */
export interface ReportRecommendation {
  verdict: Verdict;
  reasons: string[];
}

/** The whole report (`schema: "kage.report/v1"`). */
export interface KageReport {
  schema: typeof REPORT_SCHEMA;
  run: ReportRun;
  /** Cells that ran (not the pending ones), in plan order: per model, each target, each concurrency level. */
  cells: ReportCell[];
  /** Empty until the run completed. */
  decisions: ReportDecision[];
  /** `null` until the run completed. */
  recommendation: ReportRecommendation | null;
}

/** A finite number or `null` (JSON has no NaN or Infinity). */
const num = (v: number | null | undefined): number | null =>
  v === null || v === undefined || !Number.isFinite(v) ? null : v;

const pair = (v: readonly [number, number] | null | undefined): [number, number] | null => {
  if (v === null || v === undefined) return null;
  const [a, b] = v;
  return Number.isFinite(a) && Number.isFinite(b) ? [a, b] : null;
};

function reportCell(c: StoredCell): ReportCell {
  const s = c.summary;
  const m = (x: Summary | null | undefined): number | null => num(x?.median);
  return {
    model: c.model,
    target: c.target,
    concurrency: c.concurrency,
    attempts: c.attempts,
    successes: c.successes,
    success_rate: num(c.success_rate) ?? 0,
    decode_tps: { median: m(s?.decode_tps), mean: num(s?.decode_tps?.mean), ci95: pair(s?.decode_tps?.ci95) },
    ttft_ms: { median: m(s?.ttft_ms), p90: num(s?.ttft_ms?.p90), ci95: pair(s?.ttft_ms?.ci95) },
    e2e_ms: { median: m(s?.e2e_ms) },
    output_tokens: { median: m(s?.output_tokens) },
    status: c.status,
    error: c.error === null ? null : `${c.error.code}: ${c.error.message}`,
    failures: { ...(s?.errors ?? {}) },
    aggregate_tps: num(c.aggregate_tps),
    cached_prompt_tokens: s?.cached_prompt_tokens ? { median: m(s.cached_prompt_tokens) } : null,
    ollama_health:
      c.target_kind === 'ollama'
        ? { before: c.health_before?.healthy ?? null, after: c.health_after?.healthy ?? null }
        : null,
  };
}

function reportDecision(d: Decision): ReportDecision {
  return {
    model: d.model,
    candidate: d.candidate,
    baseline: d.baseline,
    speedup: num(d.speedup),
    speedup_ci95: pair(d.speedup_ci95),
    ttft_ratio: num(d.ttft_ratio),
    ttft_ok: d.ttft_ok,
    success_ok: d.success_ok,
    cluster_ok: d.cluster_ok,
    verdict: d.verdict,
    concurrency: d.concurrency,
    aggregate_speedup: num(d.aggregate_speedup),
    reasons: [...d.reasons],
  };
}

/**
 * Builds the report of a stored run from what the store holds (no recomputation: the same run
 * always gives the same report).
 *
 * @param runId - a run id, or `latest`
 * @throws {@link BenchError} `KAGE_ERR_RUN_NOT_FOUND` for an unknown id (or `latest` in an empty
 *   store); `KAGE_ERR_DB_*` when the database cannot be read
 */
export function buildReport(store: BenchStore, runId: string): KageReport {
  const id = store.resolveRunId(runId);
  const run = store.getRun(id);
  const completed = run.status === 'completed';
  return {
    schema: REPORT_SCHEMA,
    run: {
      id: run.id,
      name: run.name,
      status: run.status,
      started_at: run.started_at,
      finished_at: run.finished_at,
      error: run.error,
      prompt_policy: run.matrix.unique_prompt_prefix === false ? 'same_prompt' : 'unique_prefix',
    },
    cells: store
      .getCells(id)
      .filter((c) => c.status !== 'pending')
      .map(reportCell),
    decisions: completed ? store.getDecisions(id).map(reportDecision) : [],
    recommendation: completed ? store.getRecommendation(id) : null,
  };
}

/** Every stored run, newest first (`kage bench list`). */
export function listRuns(store: BenchStore): RunListEntry[] {
  return store.listRuns();
}
