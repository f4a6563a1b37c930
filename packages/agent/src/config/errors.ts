/**
 * Coded errors of the agent's configuration. The CLI maps every code starting `KAGE_ERR_CONFIG` to
 * exit 78 (EX_CONFIG), and the unit's `RestartPreventExitStatus=78` keeps systemd from restarting
 * an agent whose config is wrong: restarting cannot fix it.
 */
import { formatProblem, formatProblems, KageError, type Problem } from '@kage/common';

export type AgentConfigErrorCode =
  /** The config file itself cannot be read (missing, unreadable, a directory). */
  | 'KAGE_ERR_CONFIG_READ'
  /** The file was read but is not a valid agent config; `problems` lists every violation. */
  | 'KAGE_ERR_CONFIG_INVALID';

/** One violation found in an agent config file. */
export type ConfigProblem = Problem;

/**
 * Thrown by `loadAgentConfig`. The message lists every problem (one per line) so that an operator
 * fixes the file in one go; `problems` carries the same list for programs.
 */
export class AgentConfigError extends KageError<AgentConfigErrorCode> {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(
    code: AgentConfigErrorCode,
    file: string,
    problems: readonly ConfigProblem[],
    options: { cause?: unknown; hint?: string } = {},
  ) {
    const n = problems.length;
    const message =
      code === 'KAGE_ERR_CONFIG_READ' && n === 1 && problems[0] !== undefined
        ? formatProblem(problems[0])
        : formatProblems('agent config', file, problems);
    super(code, message, options);
    this.file = file;
    this.problems = Object.freeze([...problems]);
  }
}
