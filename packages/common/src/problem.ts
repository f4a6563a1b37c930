/**
 * One problem found in an input file (a config, a matrix) or document (a request body): what is
 * wrong, and where. Every reader of Kage reports every problem at once, so a user fixes a file in
 * one go, and formats them the same way.
 */
import { excerpt } from './text-excerpt.js';

export interface Problem {
  /** The file as given by the caller (or a label such as `<inline>`). */
  file: string;
  /** Key path in the document, e.g. `targets[2].url`; `''` for the document itself. */
  path: string;
  /** 1-based line in the source, when known. */
  line: number | null;
  /** 1-based column in the source, when known. */
  column: number | null;
  /** Why the value is rejected, for a person. */
  reason: string;
}

/**
 * `file:line:col: path: reason`, with position and path left out when unknown. The path and the
 * reason may quote the input: both are clipped and escaped, so a binary or huge file is never
 * echoed back at length.
 */
export function formatProblem(p: Problem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}${p.column === null ? '' : `:${p.column}`}`;
  const reason = excerpt(p.reason, 240);
  return p.path === '' ? `${where}: ${reason}` : `${where}: ${excerpt(p.path, 120)}: ${reason}`;
}

/** `invalid <what> <file> (N problems):` followed by one indented line per problem. */
export function formatProblems(what: string, file: string, problems: readonly Problem[]): string {
  const n = problems.length;
  return (
    `invalid ${what} ${file} (${n} problem${n === 1 ? '' : 's'}):\n` +
    problems.map((p) => `  - ${formatProblem(p)}`).join('\n')
  );
}
