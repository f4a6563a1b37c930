/**
 * Decisions and the recommendation of a run, computed from what the store holds (never from
 * in-memory results), so a resumed run decides exactly as an uninterrupted one would.
 */
import type { BootstrapOptions } from '../statistics.js';
import { decide, type Decision, type DecisionCell } from '../decision.js';
import type { Matrix } from '../matrix-schema.js';
import { recommend, type Recommendation } from '../recommendation.js';
import type { BenchStore } from '../store/bench-store.js';
import type { StoredCell } from '../store/store-types.js';

/** A stored, completed cell as the decision rules see it. */
export function decisionCellFromStore(store: BenchStore, cell: StoredCell): DecisionCell {
  const measured = store
    .getAttempts(cell.id, { phase: 'measured' })
    .filter((a) => a.error?.kind !== 'aborted' && a.success);
  const finite = (xs: Array<number | null>): number[] =>
    xs.filter((v): v is number => v !== null && Number.isFinite(v));
  return {
    target: cell.target,
    attempts: cell.attempts,
    successes: cell.successes,
    decode_tps: finite(measured.map((a) => a.decode_tps)),
    ttft_ms: finite(measured.map((a) => a.ttft_ms)),
    aggregate_tps: cell.aggregate_tps,
  };
}

/**
 * Applies the verdict rules (docs/benchmarks.md, "Verdicts") to every model × concurrency level of
 * a run, then combines them.
 */
export function decideRun(
  store: BenchStore,
  runId: string,
  matrix: Matrix,
  bootstrap?: BootstrapOptions,
): { decisions: Decision[]; recommendation: Recommendation } {
  const d = matrix.decision;
  if (d === null) {
    return {
      decisions: [],
      recommendation: {
        verdict: 'inconclusive',
        reasons: ['the matrix has no decision block: no candidate and baselines to compare'],
      },
    };
  }
  const cells = store.getCells(runId);
  const candidateKind = matrix.targets.find((t) => t.id === d.candidate)?.kind;
  const decisions: Decision[] = [];
  for (const model of matrix.models) {
    for (const concurrency of matrix.concurrency) {
      const here = cells.filter((c) => c.model === model.name && c.concurrency === concurrency);
      const ran = here.filter((c) => c.status === 'completed').map((c) => decisionCellFromStore(store, c));
      const cand = here.find((c) => c.target === d.candidate);
      // cluster_ok comes from the candidate's preparation (EXO /state); an EXO candidate that did
      // not even answer showed no node at all.
      let clusterOk = cand?.prepare?.cluster_ok ?? null;
      if (clusterOk === null && candidateKind === 'exo' && cand?.error?.code === 'KAGE_ERR_TARGET_UNREACHABLE')
        clusterOk = false;
      const decision = decide({
        model: model.name,
        concurrency,
        decision: d,
        cells: ran,
        cluster_ok: clusterOk,
        ...(bootstrap === undefined ? {} : { bootstrap }),
      });
      if (cand?.status === 'failed' && cand.error !== null)
        decision.reasons.push(`${d.candidate} could not run: ${cand.error.code}: ${cand.error.message}`);
      decisions.push(decision);
    }
  }
  return { decisions, recommendation: recommend(decisions) };
}
