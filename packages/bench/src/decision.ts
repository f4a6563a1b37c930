/**
 * The per-model decision (docs/benchmarks.md, "Verdicts"): does the candidate (EXO cluster) beat
 * the best baseline (single Ollama node) on median decode rate, by how much, and how sure are we.
 * Field names are those of the report's `decisions` entries.
 */
import type { CellResult } from './cell-runner.js';
import type { MatrixDecision } from './matrix-schema.js';
import { bootstrapTwoSampleCi, median, type BootstrapOptions } from './statistics.js';

/** Every verdict. */
export const VERDICTS = ['phase-2', 'evaluate', 'shelve', 'cluster-only', 'failed', 'inconclusive'] as const;
/**
 * `phase-2` speedup ≥ go · `evaluate` ≥ evaluate_speedup · `shelve` below · `cluster-only` no
 * baseline ran the model but the candidate did · `failed` the candidate never succeeded ·
 * `inconclusive` the speedup's 95 % CI straddles a threshold (or no rate was measurable).
 */
export type Verdict = (typeof VERDICTS)[number];

/** What the decision needs from one target's cell for the model. */
export interface DecisionCell {
  target: string;
  attempts: number;
  successes: number;
  /** Per-request decode rates of successful measured requests. */
  decode_tps: readonly number[];
  /** Per-request TTFTs of successful measured requests. */
  ttft_ms: readonly number[];
  aggregate_tps: number | null;
}

/** Extracts a {@link DecisionCell} from a cell result. */
export function decisionCellFromResult(cell: CellResult): DecisionCell {
  const ok = cell.requests.filter((r) => r.success);
  const finite = (xs: Array<number | null>): number[] =>
    xs.filter((v): v is number => v !== null && Number.isFinite(v));
  return {
    target: cell.target ?? '',
    attempts: cell.attempts,
    successes: cell.successes,
    decode_tps: finite(ok.map((r) => r.decode_tps)),
    ttft_ms: finite(ok.map((r) => r.ttft_ms)),
    aggregate_tps: cell.aggregate_tps,
  };
}

/** Input of {@link decide}. */
export interface DecideInput {
  /** Matrix model name. */
  model: string;
  concurrency: number;
  decision: MatrixDecision;
  /** The cells of this model at this concurrency, one per target that ran (others may be missing). */
  cells: readonly DecisionCell[];
  /** From the candidate's preparation (EXO `/state`); `null` when not applicable or unknown. */
  cluster_ok: boolean | null;
  bootstrap?: BootstrapOptions;
}

/** One decision (a `decisions` entry of the report). */
export interface Decision {
  model: string;
  concurrency: number;
  candidate: string;
  /** Best baseline that ran the model; `null` when none did. */
  baseline: string | null;
  /** median(candidate decode_tps) / median(baseline decode_tps) − 1. */
  speedup: number | null;
  /** Bootstrap 95 % CI of the speedup (ratio of medians, both samples resampled). */
  speedup_ci95: [number, number] | null;
  /** median TTFT candidate / baseline. */
  ttft_ratio: number | null;
  /** ttft_ratio ≤ max_ttft_ratio; `null` without a baseline. */
  ttft_ok: boolean | null;
  /** The candidate's success rate is exactly 1. */
  success_ok: boolean;
  cluster_ok: boolean | null;
  verdict: Verdict;
  candidate_decode_tps: number | null;
  baseline_decode_tps: number | null;
  /** aggregate_tps(candidate) / aggregate_tps(baseline) − 1: the concurrency view. */
  aggregate_speedup: number | null;
  /** Why, in words. */
  reasons: string[];
}

/** Applies the decision rules to one model at one concurrency level. */
export function decide(input: DecideInput): Decision {
  const { decision: d, model, concurrency } = input;
  const byTarget = new Map(input.cells.map((c) => [c.target, c]));
  const cand = byTarget.get(d.candidate);
  const reasons: string[] = [];
  const out: Decision = {
    model,
    concurrency,
    candidate: d.candidate,
    baseline: null,
    speedup: null,
    speedup_ci95: null,
    ttft_ratio: null,
    ttft_ok: null,
    success_ok: cand !== undefined && cand.attempts > 0 && cand.successes === cand.attempts,
    cluster_ok: input.cluster_ok,
    verdict: 'failed',
    candidate_decode_tps: medianOrNull(cand?.decode_tps),
    baseline_decode_tps: null,
    aggregate_speedup: null,
    reasons,
  };

  // The best baseline: highest median decode rate among baselines that succeeded at least once.
  const ran = d.baselines
    .map((id) => byTarget.get(id))
    .filter((c): c is DecisionCell => c !== undefined && c.successes >= 1);
  const best = ran.reduce<DecisionCell | null>((acc, c) => {
    if (acc === null) return c;
    return (medianOrNull(c.decode_tps) ?? -Infinity) > (medianOrNull(acc.decode_tps) ?? -Infinity) ? c : acc;
  }, null);

  if (best !== null) {
    out.baseline = best.target;
    out.baseline_decode_tps = medianOrNull(best.decode_tps);
    const ttftC = medianOrNull(cand?.ttft_ms);
    const ttftB = medianOrNull(best.ttft_ms);
    if (ttftC !== null && ttftB !== null && ttftB > 0) {
      out.ttft_ratio = ttftC / ttftB;
      out.ttft_ok = out.ttft_ratio <= d.max_ttft_ratio;
    }
    if (cand?.aggregate_tps != null && best.aggregate_tps !== null && best.aggregate_tps > 0) {
      out.aggregate_speedup = cand.aggregate_tps / best.aggregate_tps - 1;
    }
  }

  if (cand === undefined || cand.successes === 0) {
    out.verdict = 'failed';
    reasons.push(
      cand === undefined
        ? `${d.candidate} did not run ${model}`
        : `${d.candidate} never succeeded on ${model} (0/${cand.attempts} requests)`,
    );
    return out;
  }
  if (best === null) {
    out.verdict = 'cluster-only';
    reasons.push(`no baseline (${d.baselines.join(', ')}) could run ${model}, but ${d.candidate} did`);
    return out;
  }

  const c = out.candidate_decode_tps;
  const b = out.baseline_decode_tps;
  if (c === null || b === null || b <= 0) {
    out.verdict = 'inconclusive';
    reasons.push('no decode rate could be measured (every successful request produced at most one token event)');
    return out;
  }
  out.speedup = c / b - 1;
  out.speedup_ci95 = bootstrapTwoSampleCi(
    cand.decode_tps,
    best.decode_tps,
    (x, y) => median(x) / median(y) - 1,
    input.bootstrap,
  );
  const [lo, hi] = out.speedup_ci95;
  const straddled = [d.go_speedup, d.evaluate_speedup].filter((t) => lo < t && t <= hi);
  const pct = (v: number): string => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %`;
  reasons.push(
    `${d.candidate} ${c.toFixed(2)} tok/s vs ${best.target} ${b.toFixed(2)} tok/s: speedup ${pct(out.speedup)} ` +
      `(95 % CI ${pct(lo)} … ${pct(hi)})`,
  );
  if (straddled.length > 0) {
    out.verdict = 'inconclusive';
    reasons.push(`the CI straddles the ${straddled.map(pct).join(' and ')} threshold; run more repetitions`);
  } else if (out.speedup >= d.go_speedup) {
    out.verdict = 'phase-2';
  } else if (out.speedup >= d.evaluate_speedup) {
    out.verdict = 'evaluate';
  } else {
    out.verdict = 'shelve';
  }
  return out;
}

function medianOrNull(xs: readonly number[] | undefined): number | null {
  return xs === undefined || xs.length === 0 ? null : median(xs);
}
