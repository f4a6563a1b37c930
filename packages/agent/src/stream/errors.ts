/**
 * Coded errors of the agent's coordinator stream and its disk buffer. Callers branch on `code`
 *; the command codes also travel to the coordinator in `CommandResult.error.code`.
 */
import { KageError } from '@kage/common';

export type StreamErrorCode =
  /** `proto/kage/v1/agent.proto` is not in this package's directory or any parent. */
  | 'KAGE_ERR_AGENT_PROTO_MISSING'
  /** The coordinator TLS options are incomplete (a key without a certificate or the reverse). */
  | 'KAGE_ERR_AGENT_STREAM_TLS'
  /** The coordinator token is empty or contains characters an HTTP/2 header cannot carry. */
  | 'KAGE_ERR_AGENT_STREAM_TOKEN'
  /** The stream or its buffer was used after `close()`. */
  | 'KAGE_ERR_AGENT_STREAM_CLOSED'
  /** The buffer directory or its state file cannot be used. */
  | 'KAGE_ERR_AGENT_BUFFER_IO'
  /** A command had no kind (neither service_action nor run_probe). */
  | 'KAGE_ERR_AGENT_COMMAND_INVALID'
  /** A service command asked for an action other than START, STOP or RESTART. */
  | 'KAGE_ERR_AGENT_ACTION_UNKNOWN'
  /** A command handler failed with an error that carried no code of its own. */
  | 'KAGE_ERR_AGENT_COMMAND_FAILED'
  /** A probe was requested but this agent has no probe handler. */
  | 'KAGE_ERR_AGENT_PROBE_UNSUPPORTED';

/** An error of the stream layer with a stable {@link StreamErrorCode}. */
export class StreamError extends KageError<StreamErrorCode> {}

export { errorCode, errorMessage } from '@kage/common';
