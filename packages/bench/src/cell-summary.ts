/**
 * Per-cell statistics over successful measured requests: the `cells` entries of the report
 * (docs/benchmarks.md, "The report JSON"), plus failure counts by kind.
 */
import type { CellResult } from './cell-runner.js';
import type { RequestErrorKind } from './request-metrics.js';
import { summarize, type BootstrapOptions, type Summary } from './statistics.js';

/** Statistics of one cell. Metric summaries are `null` when no request succeeded. */
export interface CellSummary {
  model: string;
  target: string | null;
  concurrency: number;
  attempts: number;
  successes: number;
  success_rate: number;
  decode_tps: Summary | null;
  ttft_ms: Summary | null;
  e2e_ms: Summary | null;
  output_tokens: Summary | null;
  server_decode_tps: Summary | null;
  /**
   * Prompt tokens the server answered from its prompt cache, over successful measured requests
   * whose server gives the count; `null` when none does (Ollama). Absent in summaries stored
   * before it existed.
   */
  cached_prompt_tokens?: Summary | null;
  aggregate_tps: number | null;
  /** True when some successful request's token count came from event counting only. */
  output_tokens_approx: boolean;
  /** Failed attempts by kind. */
  errors: Partial<Record<RequestErrorKind, number>>;
}

/** Summarises a cell; bootstrap options make the CIs reproducible. */
export function summarizeCell(
  cell: CellResult,
  options: BootstrapOptions & { cvThreshold?: number } = {},
): CellSummary {
  const ok = cell.requests.filter((r) => r.success);
  const pick = (f: (r: (typeof ok)[number]) => number | null): number[] =>
    ok.map(f).filter((v): v is number => v !== null && Number.isFinite(v));
  const errors: Partial<Record<RequestErrorKind, number>> = {};
  for (const r of cell.requests) {
    if (r.error === null || r.error.kind === 'aborted') continue;
    errors[r.error.kind] = (errors[r.error.kind] ?? 0) + 1;
  }
  return {
    model: cell.model,
    target: cell.target,
    concurrency: cell.concurrency,
    attempts: cell.attempts,
    successes: cell.successes,
    success_rate: cell.success_rate,
    decode_tps: summarize(
      pick((r) => r.decode_tps),
      options,
    ),
    ttft_ms: summarize(
      pick((r) => r.ttft_ms),
      options,
    ),
    e2e_ms: summarize(
      pick((r) => r.e2e_ms),
      options,
    ),
    output_tokens: summarize(
      pick((r) => r.output_tokens),
      options,
    ),
    server_decode_tps: summarize(
      pick((r) => r.server_decode_tps),
      options,
    ),
    cached_prompt_tokens: summarize(
      pick((r) => r.server.cached_prompt_tokens ?? null),
      options,
    ),
    aggregate_tps: cell.aggregate_tps,
    output_tokens_approx: ok.some((r) => r.output_tokens_approx),
    errors,
  };
}
