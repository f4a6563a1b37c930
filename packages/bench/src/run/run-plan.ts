/**
 * The order a run visits its cells: per model, every target, every concurrency level. All targets
 * of one model run back to back so the comparison is made under the same conditions (minutes
 * apart, not hours), and the concurrency levels of one target follow each other so an EXO
 * placement is prepared once per model.
 */
import { modelIdFor } from '../create-client.js';
import type { Matrix } from '../matrix-schema.js';
import type { CellPlanEntry } from '../store/store-types.js';

/** Every cell of the matrix, in run order. */
export function planCells(matrix: Matrix): CellPlanEntry[] {
  const plan: CellPlanEntry[] = [];
  for (const model of matrix.models) {
    for (const target of matrix.targets) {
      for (const concurrency of matrix.concurrency) {
        plan.push({
          model: model.name,
          model_id: modelIdFor(target, model),
          target: target.id,
          target_kind: target.kind,
          concurrency,
        });
      }
    }
  }
  return plan;
}
