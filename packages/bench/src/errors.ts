/**
 * Coded errors of the bench core. Callers branch on `err.code`, never on `instanceof`: errors cross
 * package copies, process boundaries and the coordinator's REST API, where only the code survives.
 * Codes are stable and never reused.
 */
import { formatProblem, formatProblems, KageError, type Problem } from '@kage/common';

/** Every error code this package throws or records. */
export type BenchErrorCode =
  | 'KAGE_ERR_MATRIX_INVALID'
  | 'KAGE_ERR_MATRIX_READ'
  | 'KAGE_ERR_HTTP'
  | 'KAGE_ERR_ABORTED'
  | 'KAGE_ERR_EXO_NODES_MISSING'
  | 'KAGE_ERR_EXO_MODEL_ADD'
  | 'KAGE_ERR_EXO_PLACEMENT'
  | 'KAGE_ERR_EXO_PLACEMENT_MISMATCH'
  | 'KAGE_ERR_EXO_RUNNER_FAILED'
  | 'KAGE_ERR_EXO_READY_TIMEOUT'
  | 'KAGE_ERR_EXO_DOWNLOAD_TIMEOUT'
  | 'KAGE_ERR_EXO_DOWNLOAD_FAILED'
  | 'KAGE_ERR_DB_OPEN'
  | 'KAGE_ERR_DB_LOCKED'
  | 'KAGE_ERR_DB_READONLY'
  | 'KAGE_ERR_DB_CORRUPT'
  | 'KAGE_ERR_DB_SCHEMA_NEWER'
  | 'KAGE_ERR_DB_FULL'
  | 'KAGE_ERR_DB_IO'
  | 'KAGE_ERR_DB_CLOSED'
  | 'KAGE_ERR_RUN_NOT_FOUND'
  | 'KAGE_ERR_RUN_NOT_RESUMABLE'
  | 'KAGE_ERR_TARGET_UNREACHABLE'
  | 'KAGE_ERR_OLLAMA_UNHEALTHY';

/** Base class: a message for humans, a stable `code` for programs, an optional `hint`. */
export class BenchError extends KageError<BenchErrorCode> {}

/** One problem found in a matrix file. */
export type MatrixProblem = Problem;

/** Formats a problem as `file:line:col: path: reason` (line/column and path omitted when unknown). */
export const formatMatrixProblem = formatProblem;

/**
 * Thrown by {@link parseMatrix} / {@link loadMatrix} before anything runs. Carries every problem
 * found, not just the first, so a user fixes the file in one go.
 */
export class MatrixInvalidError extends BenchError {
  readonly problems: readonly MatrixProblem[];
  readonly file: string;

  constructor(file: string, problems: readonly MatrixProblem[]) {
    super('KAGE_ERR_MATRIX_INVALID', formatProblems('matrix', file, problems), {
      hint: 'fix every listed key; nothing was run',
    });
    this.file = file;
    this.problems = problems;
  }
}

/** Details of an EXO preparation failure: which nodes were expected and which were seen. */
export interface ExoClusterDetails {
  expected: readonly string[];
  seen: readonly string[];
  missing: readonly string[];
}

/** Thrown while preparing an EXO target (cluster check, placement, readiness). */
export class ExoPrepareError extends BenchError {
  readonly cluster: ExoClusterDetails | null;

  constructor(
    code: BenchErrorCode,
    message: string,
    options: { cause?: unknown; hint?: string; cluster?: ExoClusterDetails | null } = {},
  ) {
    super(code, message, options);
    this.cluster = options.cluster ?? null;
  }
}
