/**
 * The error the coordinator config loader throws, and how a list of problems becomes one: ordered
 * by file and position, capped so that a terminal is not flooded.
 */
import { formatProblem, formatProblems, problemAt, type Problem, type YamlSource } from '@kage/common';
import { CoordinatorError, type CoordinatorErrorCode } from '../coordinator-error.js';

/** A config this wrong is listed up to here; the rest is counted, so a terminal is not flooded. */
const MAX_PROBLEMS = 50;

export type CoordinatorConfigErrorCode = Extract<
  CoordinatorErrorCode,
  'KAGE_ERR_CONFIG_READ' | 'KAGE_ERR_CONFIG_INVALID'
>;

/**
 * Thrown by `loadCoordinatorConfig`. The message lists every problem (one per line) so that
 * an operator fixes the file in one go; `problems` carries the same list for programs.
 */
export class CoordinatorConfigError extends CoordinatorError {
  declare readonly code: CoordinatorConfigErrorCode;
  /** The config file as given to the loader. */
  readonly file: string;
  readonly problems: readonly Problem[];

  constructor(
    code: CoordinatorConfigErrorCode,
    file: string,
    problems: readonly Problem[],
    options: { cause?: unknown; hint?: string } = {},
  ) {
    const only = problems.length === 1 ? problems[0] : undefined;
    const message =
      code === 'KAGE_ERR_CONFIG_READ' && only !== undefined
        ? formatProblem(only)
        : formatProblems('coordinator config', file, problems);
    super(code, message, options);
    this.file = file;
    this.problems = Object.freeze([...problems]);
  }
}

export function wholeFile(file: string, reason: string): Problem {
  return { file, path: '', line: null, column: null, reason };
}

/**
 * The error for `problems`, which must not be empty: the config file's problems first, then those
 * of each file it names, each in file order, at most {@link MAX_PROBLEMS} of them.
 */
export function invalid(file: string, problems: Problem[], source?: YamlSource): CoordinatorConfigError {
  if (problems.length === 0) {
    // A section resolved to null without saying why: a bug here, but still never a bad config accepted.
    problems.push(problemAt(source ?? null, file, [], 'invalid configuration'));
  }
  const rank = new Map<string, number>([[file, 0]]);
  for (const p of problems) if (!rank.has(p.file)) rank.set(p.file, rank.size);
  const ordered = problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (rank.get(a.p.file) ?? 0) - (rank.get(b.p.file) ?? 0) || byPosition(a.p, b.p) || a.i - b.i)
    .map(({ p }) => p);
  if (ordered.length > MAX_PROBLEMS) {
    const more = ordered.length - (MAX_PROBLEMS - 1);
    ordered.splice(MAX_PROBLEMS - 1, Infinity, wholeFile(file, `… and ${more} more problems`));
  }
  return new CoordinatorConfigError('KAGE_ERR_CONFIG_INVALID', file, ordered, {
    hint: 'fix every listed problem, then start the coordinator again (exit 78 = configuration error)',
  });
}

/** Line, then column; problems without a position go last. */
function byPosition(a: Problem, b: Problem): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? Infinity) - (b.column ?? Infinity) || 0;
}
