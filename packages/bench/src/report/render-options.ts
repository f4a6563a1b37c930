/**
 * Options of the report renderers, and the decision-matrix legend they share. The report JSON
 * does not carry the matrix's thresholds, so the legend uses the seed plan's values unless the
 * caller (who has the matrix) passes its own.
 */
import type { Verdict } from '../decision.js';
import { formatPercent, formatRatio } from './format.js';

/** Thresholds of the decision matrix (the matrix file's `decision` block). */
export interface DecisionThresholds {
  /** Speedup at or above which the verdict is `phase-2`. @default 0.30 */
  go_speedup: number;
  /** Speedup at or above which the verdict is `evaluate` (below: `shelve`). @default 0.10 */
  evaluate_speedup: number;
  /** Highest acceptable TTFT ratio candidate / baseline. @default 2.0 */
  max_ttft_ratio: number;
}

/** The seed plan's thresholds (the matrix defaults). */
export const SEED_THRESHOLDS: Readonly<DecisionThresholds> = Object.freeze({
  go_speedup: 0.3,
  evaluate_speedup: 0.1,
  max_ttft_ratio: 2,
});

/** Options of {@link renderMarkdown} and {@link renderHtml}. */
export interface RenderOptions {
  /**
   * The figures come from Kage's emulators (`kage demo`, tests): every output then says so
   * prominently, at the top and the bottom, so they are never mistaken for real measurements.
   */
  emulated: boolean;
  /** Thresholds for the legend; the run's matrix values when known. @default SEED_THRESHOLDS */
  thresholds?: Partial<DecisionThresholds>;
}

/** Sentence used by every renderer for emulated data. */
export const EMULATED_NOTICE =
  'EMULATED DATA — these figures come from Kage’s protocol emulators, not from real Ollama or EXO servers. ' +
  'They are not real measurements and must not be used to decide anything.';

/** One line of the "how to read this" legend. */
export interface LegendEntry {
  verdict: Verdict;
  /** When the verdict applies. */
  condition: string;
  /** What to do (the seed plan's decision matrix). */
  action: string;
}

/** Resolves the thresholds against the seed defaults. */
export function resolveThresholds(options: RenderOptions): DecisionThresholds {
  return { ...SEED_THRESHOLDS, ...options.thresholds };
}

/** The verdicts in legend order, each mapped to the seed plan's decision matrix. */
export function verdictLegend(t: DecisionThresholds): LegendEntry[] {
  const go = formatPercent(t.go_speedup);
  const ev = formatPercent(t.evaluate_speedup);
  return [
    {
      verdict: 'phase-2',
      condition: `speedup ≥ ${go} over the best single node`,
      action: 'Phase 2: Kage Bunshin integration, production hardening',
    },
    {
      verdict: 'evaluate',
      condition: `speedup ${ev} – ${go}`,
      action: 'evaluate the complexity trade-off; consider a GPU-only configuration',
    },
    {
      verdict: 'shelve',
      condition: `speedup < ${ev}, or slower`,
      action: 'shelve EXO; focus on Ollama load balancing',
    },
    {
      verdict: 'cluster-only',
      condition: 'no single node could run the model, the cluster did',
      action: 'the 70B+ secondary goal is met; speed cannot be compared',
    },
    {
      verdict: 'failed',
      condition: 'the candidate never succeeded (or the cluster did not form)',
      action: 'fix the cluster before judging it',
    },
    {
      verdict: 'inconclusive',
      condition: 'the 95 % CI of the speedup straddles a threshold, or no rate was measurable',
      action: 'run more repetitions',
    },
  ];
}

/** The legend's note on the secondary criterion. */
function ttftLegend(t: DecisionThresholds): string {
  return `TTFT ratio ok when candidate / baseline ≤ ${formatRatio(t.max_ttft_ratio)} (secondary criterion)`;
}

/** The legend's notes under the verdict table: how each figure and criterion is defined. */
export function legendNotes(t: DecisionThresholds): string[] {
  return [
    'Speedup = median decode tok/s of the candidate / that of the best baseline − 1; the best baseline is the ' +
      'baseline target with the highest median decode rate that ran the model at least once.',
    '95 % CI = bootstrap confidence interval; figures are medians over measured requests (warm-up excluded).',
    `${ttftLegend(t)}.`,
    'Success ok = every measured request of the candidate succeeded; cluster ok = every node of the candidate ' +
      'was in the EXO cluster when the run started (both primary criteria; not checked = unknown).',
    'The recommendation uses each model’s lowest concurrency level; one losing model holds back phase 2.',
  ];
}
