/**
 * The run's overall recommendation, from the seed plan's criteria:
 * primary — ≥ 30 % faster than the best single node (the go threshold), 100 % success, the cluster
 * formed; secondary — TTFT ≤ 2× single node, a 70B+ model runs on the cluster.
 *
 * Rules (conservative: one model that loses is enough to hold back phase 2):
 * 1. Per model, the decision at the lowest concurrency level is the primary one (single-stream
 *    decode rate, as in the seed plan's benchmark); other levels are reported as reasons.
 * 2. `failed` when the cluster did not form (a primary criterion) or the candidate failed every model.
 * 3. `cluster-only` when no model could be compared but some ran only on the cluster.
 * 4. Otherwise the worst comparable verdict, ordered shelve < inconclusive < evaluate < phase-2.
 * 5. `phase-2` drops to `evaluate` when the candidate missed 100 % success or failed some model.
 */
import type { Decision, Verdict } from './decision.js';

/** The `recommendation` object of the report JSON. */
export interface Recommendation {
  verdict: Verdict;
  reasons: string[];
}

const RANK: Partial<Record<Verdict, number>> = { shelve: 0, inconclusive: 1, evaluate: 2, 'phase-2': 3 };

/** Parameter count in billions read from a model name (`llama3.3:70b`, `…-70B-Instruct-4bit`), if any. */
export function parameterBillions(name: string): number | null {
  const m = /(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)b(?![a-z])/i.exec(name);
  return m === null ? null : Number(m[1]);
}

/** Combines per-model decisions into one recommendation. */
export function recommend(
  decisions: readonly Decision[],
  options: { largeModelBillions?: number } = {},
): Recommendation {
  const reasons: string[] = [];
  if (decisions.length === 0)
    return { verdict: 'inconclusive', reasons: ['no decision could be made: nothing was compared'] };

  const primary = new Map<string, Decision>();
  for (const d of decisions) {
    const cur = primary.get(d.model);
    if (cur === undefined || d.concurrency < cur.concurrency) primary.set(d.model, d);
  }
  for (const d of decisions) {
    const role = primary.get(d.model) === d ? 'primary' : 'info';
    reasons.push(`${d.model} @ concurrency ${d.concurrency} (${role}): ${d.verdict} — ${d.reasons.join('; ')}`);
  }
  const prim = [...primary.values()];

  const missingCluster = prim.filter((d) => d.cluster_ok === false);
  const successMissed = prim.filter((d) => !d.success_ok);
  reasons.push(
    missingCluster.length > 0
      ? 'primary: cluster formation NOT met (not every node was in the cluster at the start)'
      : prim.some((d) => d.cluster_ok === true)
        ? 'primary: cluster formation met'
        : 'primary: cluster formation not checked',
  );
  reasons.push(
    successMissed.length > 0
      ? `primary: 100 % success NOT met for ${successMissed.map((d) => d.model).join(', ')}`
      : 'primary: 100 % success met',
  );
  addSecondary(prim, reasons, options.largeModelBillions ?? 70);

  if (missingCluster.length > 0) return { verdict: 'failed', reasons };
  if (prim.every((d) => d.verdict === 'failed')) return { verdict: 'failed', reasons };

  const comparable = prim.filter((d) => RANK[d.verdict] !== undefined);
  if (comparable.length === 0) return { verdict: 'cluster-only', reasons };

  let verdict = comparable.reduce<Verdict>(
    (worst, d) => ((RANK[d.verdict] ?? 0) < (RANK[worst] ?? 0) ? d.verdict : worst),
    'phase-2',
  );
  if (verdict === 'phase-2' && (successMissed.length > 0 || prim.some((d) => d.verdict === 'failed'))) {
    verdict = 'evaluate';
    reasons.push('speedup meets the go threshold, but not every request succeeded: evaluate before phase 2');
  }
  return { verdict, reasons };
}

function addSecondary(prim: readonly Decision[], reasons: string[], largeB: number): void {
  const ttftKnown = prim.filter((d) => d.ttft_ok !== null);
  const ttftBad = ttftKnown.filter((d) => d.ttft_ok === false);
  if (ttftKnown.length === 0) reasons.push('secondary: TTFT ratio not measured (no baseline ran a compared model)');
  else if (ttftBad.length > 0) {
    reasons.push(
      `secondary: TTFT ≤ max ratio NOT met for ${ttftBad.map((d) => `${d.model} (${d.ttft_ratio?.toFixed(2)}×)`).join(', ')}`,
    );
  } else reasons.push('secondary: TTFT ≤ max ratio met');

  const large = prim.filter((d) => (parameterBillions(d.model) ?? 0) >= largeB);
  if (large.length === 0) reasons.push(`secondary: no ${largeB}B+ model in the matrix`);
  else {
    const ranOnCluster = large.filter((d) => d.verdict !== 'failed');
    reasons.push(
      ranOnCluster.length > 0
        ? `secondary: a ${largeB}B+ model ran on the cluster (${ranOnCluster.map((d) => d.model).join(', ')})`
        : `secondary: ${largeB}B+ model NOT run on the cluster (${large.map((d) => d.model).join(', ')} failed)`,
    );
  }
}
