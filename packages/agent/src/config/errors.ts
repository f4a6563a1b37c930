/**
 * Coded errors of the agent's configuration. The CLI maps every code starting `KAGE_ERR_CONFIG` to
 * exit 78 (EX_CONFIG), and the unit's `RestartPreventExitStatus=78` keeps systemd from restarting
 * an agent whose config is wrong: restarting cannot fix it.
 */

export type AgentConfigErrorCode =
  /** The config file itself cannot be read (missing, unreadable, a directory). */
  | 'KAGE_ERR_CONFIG_READ'
  /** The file was read but is not a valid agent config; `problems` lists every violation. */
  | 'KAGE_ERR_CONFIG_INVALID';

/** One violation found in an agent config file. */
export interface ConfigProblem {
  /** The file as given to the loader. */
  file: string;
  /** Key path in the document, e.g. `services.exo.restart.max_restarts`; `''` for the document itself. */
  path: string;
  /** 1-based line of the offending key (or its nearest existing parent), when known. */
  line: number | null;
  /** 1-based column, when known. */
  column: number | null;
  /** Why the value is rejected, for a person. */
  reason: string;
}

/** Formats a problem as `file:line:col: path: reason` (position and path left out when unknown). */
export function formatConfigProblem(p: ConfigProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}${p.column === null ? '' : `:${p.column}`}`;
  return p.path === '' ? `${where}: ${p.reason}` : `${where}: ${p.path}: ${p.reason}`;
}

/**
 * Thrown by `loadAgentConfig`. The message lists every problem (one per line) so that an operator
 * fixes the file in one go; `problems` carries the same list for programs.
 */
export class AgentConfigError extends Error {
  readonly code: AgentConfigErrorCode;
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  readonly hint: string | undefined;

  constructor(
    code: AgentConfigErrorCode,
    file: string,
    problems: readonly ConfigProblem[],
    options: { cause?: unknown; hint?: string } = {},
  ) {
    const n = problems.length;
    const message =
      code === 'KAGE_ERR_CONFIG_READ' && n === 1 && problems[0] !== undefined
        ? formatConfigProblem(problems[0])
        : `invalid agent config ${file} (${n} problem${n === 1 ? '' : 's'}):\n` +
          problems.map((p) => `  - ${formatConfigProblem(p)}`).join('\n');
    super(message, { cause: options.cause });
    this.name = 'AgentConfigError';
    this.code = code;
    this.file = file;
    this.problems = Object.freeze([...problems]);
    this.hint = options.hint;
  }
}
