/**
 * Coded errors of the coordinator. The REST API maps codes to HTTP statuses in one place
 * (`http/error-mapping.ts`), the CLI maps them to exit codes; nothing else looks at them.
 */
import { KageError } from '@kage/common';

export type CoordinatorErrorCode =
  /** The config file cannot be read. */
  | 'KAGE_ERR_CONFIG_READ'
  /** The config file is not a valid coordinator config; `problems` lists every violation. */
  | 'KAGE_ERR_CONFIG_INVALID'
  /** Another coordinator process holds the database. */
  | 'KAGE_ERR_COORDINATOR_DB_IN_USE'
  /** A listen address is taken or cannot be bound. */
  | 'KAGE_ERR_COORDINATOR_LISTEN'
  /** No node with that id has ever connected (and none is configured). */
  | 'KAGE_ERR_NODE_UNKNOWN'
  /** The node has no live stream: commands cannot reach it. */
  | 'KAGE_ERR_NODE_OFFLINE'
  /** A run names nodes that are offline; `details.offline` lists them. */
  | 'KAGE_ERR_NODES_OFFLINE'
  /** The agent did not answer a command within its deadline. */
  | 'KAGE_ERR_COMMAND_TIMEOUT'
  /** The node's stream ended before the agent answered. */
  | 'KAGE_ERR_COMMAND_LOST'
  /** The agent answered a command with an error of its own (its code is in the message). */
  | 'KAGE_ERR_COMMAND_FAILED'
  /** Telemetry could not be committed to the database (disk full, read-only, I/O error). */
  | 'KAGE_ERR_INGEST_COMMIT'
  /** The coordinator is shutting down. */
  | 'KAGE_ERR_COORDINATOR_CLOSED'
  /** A gateway request body is malformed; the message names the field. */
  | 'KAGE_ERR_GATEWAY_BAD_REQUEST'
  /** A gateway request asks for something the chosen backend cannot do (e.g. `format` on EXO). */
  | 'KAGE_ERR_GATEWAY_UNSUPPORTED'
  /** A model name is unsafe or fits neither Ollama's nor Hugging Face's naming rules. */
  | 'KAGE_ERR_GATEWAY_MODEL_NAME'
  /** A backend answered with something that is not its protocol's response (no usable completion). */
  | 'KAGE_ERR_GATEWAY_BACKEND_REPLY';

export class CoordinatorError extends KageError<CoordinatorErrorCode> {
  /** Structured context for programs (e.g. the offline nodes of a refused run). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: CoordinatorErrorCode,
    message: string,
    options: { cause?: unknown; hint?: string; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.details = options.details;
  }
}
