/**
 * Coded errors of service supervision. Callers (the gRPC command handler, the agent main) branch on
 * `code`, never on `instanceof`: the error may cross package copies and the wire. Codes are stable
 * and never reused.
 */
import { KageError } from '@kage/common';

export type SupervisionErrorCode =
  /** A command named a service that is not in this agent's config. */
  | 'KAGE_ERR_AGENT_SERVICE_UNKNOWN'
  /** A command asked for an action other than start, stop or restart. */
  | 'KAGE_ERR_AGENT_ACTION_UNKNOWN'
  /** A service entry cannot be supervised as given (missing unit or command, bad name). */
  | 'KAGE_ERR_AGENT_SERVICE_CONFIG'
  /** `systemctl` could not be run, timed out or exited non-zero. */
  | 'KAGE_ERR_AGENT_SYSTEMCTL_FAILED'
  /** The service or registry was used after `close()`. */
  | 'KAGE_ERR_AGENT_SERVICE_CLOSED';

/** An error a caller of the supervision API can hit, with a stable {@link SupervisionErrorCode}. */
export class SupervisionError extends KageError<SupervisionErrorCode> {}

/** True when `err` is a Node system error with the given errno code (ENOENT, ESRCH, …). */
export function hasErrnoCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
