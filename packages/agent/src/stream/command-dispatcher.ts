/**
 * Turns a coordinator `Command` into a call of the agent's handlers and the handler's outcome into
 * the answer message. Everything in a command is untrusted: the service name is checked by the
 * handler (the registry knows what is configured), the action here.
 *
 * A command id seen recently is answered with the first run's result instead of running again: a
 * coordinator that resends after a reconnect must not restart a service twice.
 */
import type { Logger } from 'pino';
import type { AgentMessage, Command__Output, RunProbe__Output } from '@kage/wire';
import type { ServiceStatus } from '../supervision/types.js';
import { errorCode, errorMessage } from './errors.js';
import { toWireServiceStatus } from './wire-convert.js';

/** The service actions a command may carry, by their proto enum name. */
const ACTIONS: Readonly<Record<string, 'start' | 'stop' | 'restart'>> = Object.freeze({
  START: 'start',
  STOP: 'stop',
  RESTART: 'restart',
});

/** One benchmark request to run from this node (proto `RunProbe`, unknown values as null). */
export interface ProbeRequest {
  /** "ollama", "exo" or "openai"; validated by the handler. */
  target_kind: string;
  url: string;
  model: string;
  prompt: string;
  max_tokens: number;
  num_ctx: number | null;
  temperature: number | null;
  seed: number | null;
  /** Null lets the handler pick its default. */
  timeout_ms: number | null;
}

/** What a handler gets besides the command itself. */
export interface CommandContext {
  /** The coordinator's command id. */
  commandId: string;
  /** Aborted when the stream client closes (not when a connection drops: work goes on). */
  signal: AbortSignal;
}

/**
 * The agent's command handlers, wired by the daemon main. A handler rejects with an error whose
 * `code` (e.g. `KAGE_ERR_AGENT_SERVICE_UNKNOWN` from the registry) is sent to the coordinator.
 */
export interface CommandHandlers {
  /**
   * Start, stop or restart a service and resolve with its status afterwards
   * (`registry.command(service, action)`). `service` is untrusted: reject unknown names.
   */
  service(service: string, action: 'start' | 'stop' | 'restart', context: CommandContext): Promise<ServiceStatus>;
  /** Run one benchmark request and resolve with its RequestMetrics (any JSON-serialisable value). */
  probe?(request: ProbeRequest, context: CommandContext): Promise<unknown>;
}

export interface CommandDispatcherOptions {
  handlers: CommandHandlers;
  log: Logger;
  signal: AbortSignal;
  /** How many recent command ids are remembered for deduplication. @default 256 */
  rememberIds?: number;
}

/** Runs commands; `dispatch` never rejects. */
export class CommandDispatcher {
  readonly #handlers: CommandHandlers;
  readonly #log: Logger;
  readonly #signal: AbortSignal;
  readonly #remember: number;
  readonly #recent = new Map<string, Promise<AgentMessage>>();
  #running = 0;

  constructor(options: CommandDispatcherOptions) {
    this.#handlers = options.handlers;
    this.#log = options.log;
    this.#signal = options.signal;
    this.#remember = options.rememberIds ?? 256;
  }

  /** Commands received and not finished yet. */
  get running(): number {
    return this.#running;
  }

  /** The answer to `command`: a CommandResult or a ProbeResult with the command's id. */
  dispatch(command: Command__Output): Promise<AgentMessage> {
    const id = command.id;
    const previous = id === '' ? undefined : this.#recent.get(id);
    if (previous !== undefined) {
      this.#log.info({ command_id: id }, 'repeated command id; answering with the first result');
      return previous;
    }
    this.#running += 1;
    const answer = this.#run(command).finally(() => {
      this.#running -= 1;
    });
    if (id !== '') {
      this.#recent.set(id, answer);
      if (this.#recent.size > this.#remember) {
        const oldest = this.#recent.keys().next().value;
        if (oldest !== undefined) this.#recent.delete(oldest);
      }
    }
    return answer;
  }

  async #run(command: Command__Output): Promise<AgentMessage> {
    const context: CommandContext = { commandId: command.id, signal: this.#signal };
    switch (command.kind) {
      case 'service_action': {
        const service = command.service_action?.service ?? '';
        const raw = String(command.service_action?.action ?? '');
        const action = Object.hasOwn(ACTIONS, raw) ? ACTIONS[raw] : undefined;
        if (action === undefined) {
          return failedCommand(
            command.id,
            'KAGE_ERR_AGENT_ACTION_UNKNOWN',
            `action ${raw} is not START, STOP or RESTART`,
          );
        }
        this.#log.info({ command_id: command.id, service, action }, 'service command received');
        try {
          const status = await this.#handlers.service(service, action, context);
          return { command_result: { command_id: command.id, ok: true, status: toWireServiceStatus(status) } };
        } catch (err) {
          this.#log.warn({ command_id: command.id, service, action, err }, 'service command failed');
          return failedCommand(command.id, errorCode(err) ?? 'KAGE_ERR_AGENT_COMMAND_FAILED', errorMessage(err));
        }
      }
      case 'run_probe': {
        const handlers = this.#handlers;
        if (handlers.probe === undefined) {
          return failedProbe(command.id, 'KAGE_ERR_AGENT_PROBE_UNSUPPORTED', 'this agent runs no probes');
        }
        const request = toProbeRequest(command.run_probe);
        this.#log.info(
          { command_id: command.id, target_kind: request.target_kind, model: request.model },
          'probe received',
        );
        try {
          const metrics = await handlers.probe(request, context);
          return {
            probe_result: { command_id: command.id, ok: true, metrics_json: JSON.stringify(metrics) ?? 'null' },
          };
        } catch (err) {
          this.#log.warn({ command_id: command.id, err }, 'probe failed');
          return failedProbe(command.id, errorCode(err) ?? 'KAGE_ERR_AGENT_COMMAND_FAILED', errorMessage(err));
        }
      }
      case undefined:
        return failedCommand(
          command.id,
          'KAGE_ERR_AGENT_COMMAND_INVALID',
          'command has neither service_action nor run_probe',
        );
    }
  }
}

function failedCommand(commandId: string, code: string, message: string): AgentMessage {
  return { command_result: { command_id: commandId, ok: false, error: { code, message } } };
}

function failedProbe(commandId: string, code: string, message: string): AgentMessage {
  return { probe_result: { command_id: commandId, ok: false, error: { code, message } } };
}

function toProbeRequest(probe: RunProbe__Output | null | undefined): ProbeRequest {
  return {
    target_kind: probe?.target_kind ?? '',
    url: probe?.url ?? '',
    model: probe?.model ?? '',
    prompt: probe?.prompt ?? '',
    max_tokens: probe?.max_tokens ?? 0,
    num_ctx: probe?.num_ctx ?? null,
    temperature: probe?.temperature ?? null,
    seed: probe?.seed ?? null,
    timeout_ms: probe?.timeout_ms ? probe.timeout_ms : null,
  };
}
