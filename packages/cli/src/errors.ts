/**
 * Errors the CLI reports to a person. Each carries a stable code and the process exit code it maps
 * to; `bin.ts` is the one place that prints them.
 */

/** sysexits.h: the caller used the command wrongly. */
export const EXIT_USAGE = 64;
/** sysexits.h: a configuration or input file is wrong. */
export const EXIT_CONFIG = 78;
/** sysexits.h: a service the command needs is unavailable (e.g. a port in use). */
export const EXIT_UNAVAILABLE = 69;

export type CliErrorCode =
  | 'KAGE_ERR_CLI_USAGE'
  | 'KAGE_ERR_CLI_LISTEN_INVALID'
  | 'KAGE_ERR_CLI_PORT_IN_USE'
  | 'KAGE_ERR_CLI_PROFILE_UNKNOWN'
  | 'KAGE_ERR_CLI_MODEL_UNKNOWN'
  | 'KAGE_ERR_CLI_OUTPUT'
  /** A state-changing coordinator request without an API token (no --token-file, no KAGE_API_TOKEN). */
  | 'KAGE_ERR_CLI_TOKEN_MISSING'
  /** --token-file cannot be read. */
  | 'KAGE_ERR_CLI_TOKEN_FILE';

export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly exitCode: number = EXIT_USAGE,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
  }
}

/** sysexits.h: an input/output error (database unreadable, locked, corrupt). */
export const EXIT_IOERR = 74;
/** sysexits.h: input data was incorrect (an unknown run id). */
export const EXIT_DATAERR = 65;

/** sysexits.h: an input file does not exist or cannot be read. */
export const EXIT_NOINPUT = 66;
/** sysexits.h: an output file cannot be created. */
export const EXIT_CANTCREAT = 73;
/** sysexits.h: permission denied (the coordinator refused the API token). */
export const EXIT_NOPERM = 77;

/**
 * Codes of the coordinator's REST API (and of the CLI's client for it) that mean the coordinator,
 * or the node a request is for, cannot do it now: trying again later may work.
 */
const UNAVAILABLE_REMOTE_CODES: ReadonlySet<string> = new Set([
  'KAGE_ERR_COORDINATOR_UNREACHABLE',
  'KAGE_ERR_COORDINATOR_TIMEOUT',
  'KAGE_ERR_COORDINATOR_CLOSED',
  'KAGE_ERR_NODE_OFFLINE',
  'KAGE_ERR_NODES_OFFLINE',
  'KAGE_ERR_COMMAND_TIMEOUT',
  'KAGE_ERR_COMMAND_LOST',
]);

/** Maps a package error code to the exit code the CLI ends with. */
export function exitCodeForCode(code: string): number {
  if (code === 'KAGE_ERR_MATRIX_READ') return EXIT_NOINPUT;
  if (code === 'KAGE_ERR_MATRIX_INVALID' || code.startsWith('KAGE_ERR_CONFIG')) return EXIT_CONFIG;
  if (code.startsWith('KAGE_ERR_DB_')) return EXIT_IOERR;
  if (code.startsWith('KAGE_ERR_RUN_')) return EXIT_DATAERR;
  if (code === 'KAGE_ERR_COORDINATOR_DB_IN_USE' || code === 'KAGE_ERR_COORDINATOR_LISTEN') return EXIT_UNAVAILABLE;
  if (UNAVAILABLE_REMOTE_CODES.has(code)) return EXIT_UNAVAILABLE;
  if (code === 'KAGE_ERR_UNAUTHORIZED') return EXIT_NOPERM;
  if (code === 'KAGE_ERR_NODE_UNKNOWN') return EXIT_DATAERR;
  return 1;
}
