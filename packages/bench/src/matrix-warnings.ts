/**
 * Things a matrix may say on purpose but that change what its numbers mean. They do not stop a
 * run; `kage bench run` prints them before anything starts and a coordinator logs them with the
 * run, each with the file, key path and line like a problem.
 */
import { problemAt, type Problem, type Segment, type YamlSource } from '@kage/common';
import { MATRIX_DEFAULTS, type Matrix } from './matrix-schema.js';

export function matrixWarnings(
  given: Record<string, unknown>,
  matrix: Matrix,
  source: { file: string; yaml: YamlSource | null },
): Problem[] {
  const warnings: Problem[] = [];
  const warn = (path: Segment[], reason: string): void => {
    // A key that is missing has no line: the warning names the file only.
    warnings.push(
      path.length === 0
        ? { file: source.file, path: '', line: null, column: null, reason }
        : problemAt(source.yaml, source.file, path, reason),
    );
  };
  const ollamaTargets = matrix.targets.filter((t) => t.kind === 'ollama').map((t) => t.id);
  if (given['num_ctx'] === undefined && ollamaTargets.length > 0) {
    // Ollama's own default context depends on each node's VRAM (4096, 32768 or 262144 tokens) and is
    // capped per model, so leaving it to the server would compare different contexts per node.
    warn(
      [],
      `num_ctx is not set: every Ollama request (${ollamaTargets.join(', ')}) asks for ${MATRIX_DEFAULTS.num_ctx} ` +
        "tokens of context. Ollama itself would pick 4096, 32768 or 262144 depending on each node's VRAM; " +
        'set num_ctx to the context you mean to measure',
    );
  }
  if (given['unique_prompt_prefix'] === false) {
    warn(
      ['unique_prompt_prefix'],
      'false: every request sends the same prompt, so after the first one the servers answer from their ' +
        'prompt cache and TTFT measures a cached prefill, not a full one',
    );
  }
  return warnings;
}
