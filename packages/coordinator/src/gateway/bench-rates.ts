/**
 * What the benchmark runs measured, as the router's first guess of each backend's speed: for every
 * completed cell of the recent runs whose target is a gateway backend (same URL), the median
 * decode rate of that model there. The gateway's own measurements replace them as it relays
 * requests (BackendState.observe), so a stale benchmark only steers the first requests.
 */
import type { BenchStore } from '@kage/bench';

/** Recent runs read (newest last, so a newer figure wins). */
const RUNS_READ = 20;

export interface BenchRate {
  /** The target's URL as the matrix wrote it. */
  url: string;
  /** The model as that target names it (the Ollama name, or the EXO id for an EXO target). */
  model: string;
  decodeTps: number;
}

export function benchRates(bench: BenchStore): BenchRate[] {
  const runs = bench
    .listRuns()
    .filter((r) => r.status === 'completed')
    .slice(0, RUNS_READ)
    .reverse();
  const rates: BenchRate[] = [];
  for (const entry of runs) {
    const run = bench.getRun(entry.id);
    for (const cell of bench.getCells(entry.id)) {
      const median = cell.summary?.decode_tps?.median;
      if (cell.status !== 'completed' || median === undefined || !(median > 0)) continue;
      const target = run.matrix.targets.find((t) => t.id === cell.target);
      if (target === undefined) continue;
      const model = target.kind === 'exo' ? run.matrix.models.find((m) => m.name === cell.model)?.exo : cell.model;
      if (typeof model !== 'string') continue;
      rates.push({ url: target.url, model, decodeTps: median });
    }
  }
  return rates;
}
