/**
 * First step of a cell: check its target, then make the model servable there. A target that does
 * not answer, or an Ollama that is not healthy, fails the cell without a single request. EXO
 * preparation (placement and loading) runs once per model × target: the concurrency levels of
 * that pair follow each other in the plan (`run-plan.ts`) and share it.
 */
import type { Matrix, MatrixTarget } from '../matrix-schema.js';
import type { PrepareResult } from '../protocol-client.js';
import type { StoredCell } from '../store/store-types.js';
import { checkTarget, type TargetHealth } from './ollama-health.js';
import type { RunContext } from './run-context.js';
import type { CellPosition } from './run-events.js';

/** Why a cell could not run, as stored and reported. */
export interface CellFailure {
  code: string;
  message: string;
}

/** A cell checked and prepared. */
export interface PreparedCell {
  before: TargetHealth;
  /** The model × target's preparation; null when none ran (not EXO, or the target failed first). */
  prep: PrepareResult | null;
  /** Why the cell cannot run; null when it can. */
  fail: CellFailure | null;
}

/** EXO preparations of one execution, by model × target. */
export type Preparations = Map<string, PrepareResult>;

/** The matrix target a stored cell names. */
export function targetOf(matrix: Matrix, cell: StoredCell): MatrixTarget {
  const target = matrix.targets.find((t) => t.id === cell.target);
  if (target === undefined) throw new TypeError(`cell ${cell.ordinal} names unknown target ${cell.target}`);
  return target;
}

/**
 * Checks the target and prepares the model. Null when the caller stopped the run meanwhile: that
 * is not the target's fault, so the cell stays pending for a resume.
 */
export async function prepareCell(
  ctx: RunContext,
  cell: StoredCell,
  target: MatrixTarget,
  pos: CellPosition,
  preparations: Preparations,
): Promise<PreparedCell | null> {
  const before = await checkTarget(target.kind, target.url, { timeoutMs: ctx.healthTimeoutMs });
  ctx.emit({ type: 'health', when: 'before', health: before, ...pos });
  if (ctx.aborted()) return null;
  let fail: CellFailure | null = null;
  if (!before.reachable) {
    fail = {
      code: 'KAGE_ERR_TARGET_UNREACHABLE',
      message: `${target.id} (${target.url}) is unreachable: ${before.detail}`,
    };
  } else if (target.kind === 'ollama' && !before.healthy) {
    fail = {
      code: 'KAGE_ERR_OLLAMA_UNHEALTHY',
      message: `${target.id} (${target.url}) is not healthy: ${before.detail}`,
    };
  }

  const key = `${cell.model}\u0000${cell.target}`;
  let prep: PrepareResult | null = preparations.get(key) ?? null;
  if (fail === null && target.kind === 'exo' && prep === null) {
    prep = await ctx.clientFor(target).prepare(cell.model_id, {
      timeoutMs: ctx.matrix.exo_ready_timeout_s * 1000,
      downloadTimeoutMs: ctx.matrix.exo_download_timeout_s * 1000,
      signal: ctx.options.signal,
      onProgress: (progress) =>
        ctx.emit({ type: 'prepare', run_id: ctx.runId, model: cell.model, target: cell.target, progress }),
    });
    if (ctx.aborted()) return null;
    preparations.set(key, prep);
  }
  if (fail === null && prep !== null && !prep.ok) {
    fail = prep.error ?? { code: 'KAGE_ERR_EXO_PLACEMENT', message: 'preparation failed' };
  }
  return { before, prep, fail };
}
