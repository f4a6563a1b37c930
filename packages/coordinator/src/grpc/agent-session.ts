/**
 * One agent's `Connect` call on the coordinator side: authenticated before anything is read,
 * Hello → Welcome (with the seq the coordinator already holds for this boot), then records to the
 * ingest batcher and Acks after each commit, heartbeats, and answers to commands. Commands sent on
 * this call that are still unanswered when it ends fail with `KAGE_ERR_COMMAND_LOST`.
 */
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { PROTOCOL_VERSION } from '@kage/wire';
import type {
  AgentMessage__Output,
  Command,
  CommandResult__Output,
  CoordinatorMessage,
  Hello__Output,
  ProbeResult__Output,
  ServiceEvent__Output,
} from '@kage/wire';
import type { Logger } from 'pino';
import { CoordinatorError } from '../coordinator-error.js';
import type { IngestBatcher } from '../ingest/ingest-batcher.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { LoadedModelsBoard } from '../registry/loaded-models-board.js';
import { toSampleRow, validTimestamp } from '../store/sample-row.js';
import type { ServiceEventRow, TelemetryStore } from '../store/telemetry-store.js';

/** seq ≥ 1 and a time both SQLite and JavaScript dates can hold. */
function validRecord(seq: number, ts: number): boolean {
  return Number.isSafeInteger(seq) && seq >= 1 && validTimestamp(ts);
}

/** How long a call may stay open before its Hello. */
const HELLO_TIMEOUT_MS = 10_000;

export type AgentCall = ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>;
type CommandAnswer = CommandResult__Output | ProbeResult__Output;

interface PendingCommand {
  resolve(answer: CommandAnswer): void;
  reject(err: Error): void;
}

export interface SessionContext {
  store: TelemetryStore;
  batcher: IngestBatcher;
  registry: NodeRegistry;
  models: LoadedModelsBoard;
  log: Logger;
  version: string;
  heartbeatIntervalMs: number;
  /** A Hello for `nodeId` was accepted on `session`: end any older session of the node. */
  onWelcomed(session: AgentSession): void;
  onEnded(session: AgentSession): void;
  /** A Hello was refused (wrong node for the token, bad version): counted and logged like a bad token. */
  onRefused(call: AgentCall, reason: string): void;
}

export class AgentSession {
  readonly nodeId: string;
  #bootId = '';
  #welcomed = false;
  #ended = false;
  readonly #call: AgentCall;
  readonly #ctx: SessionContext;
  readonly #log: Logger;
  readonly #pending = new Map<string, PendingCommand>();
  readonly #helloTimer: NodeJS.Timeout;

  /** `nodeId` is the node the call's token belongs to. */
  constructor(call: AgentCall, nodeId: string, ctx: SessionContext) {
    this.#call = call;
    this.nodeId = nodeId;
    this.#ctx = ctx;
    this.#log = ctx.log.child({ node: nodeId, peer: call.getPeer() });
    // A token holder that never says Hello must not keep a call (and its memory) open forever.
    this.#helloTimer = setTimeout(() => {
      if (!this.#welcomed) this.end(status.DEADLINE_EXCEEDED, `no Hello within ${HELLO_TIMEOUT_MS} ms`);
    }, HELLO_TIMEOUT_MS);
    this.#helloTimer.unref();
    call.on('data', (m: AgentMessage__Output) => this.#onMessage(m));
    call.on('end', () => this.end(status.OK, 'agent ended the call'));
    call.on('error', (err: Error & { details?: string }) => this.#finish(err.details ?? `call error: ${err.message}`));
    call.on('cancelled', () => this.#finish('call cancelled'));
  }

  get welcomed(): boolean {
    return this.#welcomed && !this.#ended;
  }

  /** Sends a command; resolves with the agent's answer. */
  send(command: Command, timeoutMs: number, signal?: AbortSignal): Promise<CommandAnswer> {
    if (!this.welcomed) {
      return Promise.reject(new CoordinatorError('KAGE_ERR_NODE_OFFLINE', `node ${this.nodeId} has no live stream`));
    }
    const id = command.id as string;
    return new Promise<CommandAnswer>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#pending.delete(id);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new CoordinatorError(
            'KAGE_ERR_COMMAND_TIMEOUT',
            `node ${this.nodeId} did not answer command ${id} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onAbort = (): void => {
        done();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (a) => {
          done();
          resolve(a);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.#write({ command });
    });
  }

  /** Ends the call with a status (replaced by a newer session, shutdown, storage failure). */
  end(code: status, details: string): void {
    if (this.#ended) return;
    if (code === status.OK) this.#call.end();
    else this.#call.emit('error', { code, details });
    this.#finish(details);
  }

  #finish(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#helloTimer);
    for (const p of this.#pending.values()) {
      p.reject(
        new CoordinatorError(
          'KAGE_ERR_COMMAND_LOST',
          `the stream of node ${this.nodeId} ended before the agent answered (${why})`,
        ),
      );
    }
    this.#pending.clear();
    this.#log.info({ why, welcomed: this.#welcomed }, 'agent stream ended');
    this.#ctx.onEnded(this);
  }

  #write(message: CoordinatorMessage): void {
    if (this.#ended) return;
    this.#call.write(message);
  }

  #onMessage(m: AgentMessage__Output): void {
    if (this.#ended) return;
    // Nothing an agent sends may take the coordinator down: a failure here ends this call only.
    try {
      this.#handle(m);
    } catch (err) {
      this.#log.error({ err }, 'handling an agent message failed; the call ends');
      this.end(status.INTERNAL, 'the coordinator could not handle a message');
    }
  }

  #handle(m: AgentMessage__Output): void {
    const now = Date.now();
    if (!this.#welcomed) {
      if (m.body !== 'hello' || m.hello === null || m.hello === undefined) {
        this.end(status.INVALID_ARGUMENT, 'the first message of a call must be Hello');
        return;
      }
      this.#hello(m.hello, now);
      return;
    }
    this.#ctx.registry.heard(this.nodeId, now);
    switch (m.body) {
      case 'sample_batch': {
        const samples = m.sample_batch?.samples ?? [];
        const bad = samples.find((x) => !validRecord(x.seq, x.ts_ms));
        if (bad !== undefined) {
          this.end(
            status.INVALID_ARGUMENT,
            `sample seq ${bad.seq} at ${bad.ts_ms} ms: seq and ts_ms must be safe integers, ts_ms a representable time`,
          );
          return;
        }
        this.#ingest(
          samples.map((x) => toSampleRow(this.nodeId, x)),
          [],
        );
        return;
      }
      case 'service_event':
        if (!m.service_event) return;
        if (!validRecord(m.service_event.seq, m.service_event.ts_ms)) {
          this.end(status.INVALID_ARGUMENT, `service event seq ${m.service_event.seq}: seq and ts_ms out of range`);
          return;
        }
        this.#ingest([], [this.#eventRow(m.service_event)]);
        return;
      case 'command_result':
      case 'probe_result': {
        const answer = (m.command_result ?? m.probe_result) as CommandAnswer;
        const pending = this.#pending.get(answer.command_id);
        if (pending === undefined) {
          this.#log.debug({ command: answer.command_id }, 'answer to a command that is no longer waited for');
        } else {
          pending.resolve(answer);
        }
        return;
      }
      case 'hello':
        this.#log.warn('second Hello on one call ignored');
        return;
      case 'heartbeat':
        return; // counted by `heard` above
      case 'loaded_models':
        if (m.loaded_models) this.#ctx.models.report(this.nodeId, m.loaded_models);
        return;
      case undefined:
        return; // a kind a newer agent sends
    }
  }

  #hello(hello: Hello__Output, now: number): void {
    const refuse = (reason: string): void => {
      // An agent with the wrong node name retries for ever: counted and logged once a minute.
      this.#ctx.onRefused(this.#call, `Hello for ${JSON.stringify(hello.node_id.slice(0, 64))} refused: ${reason}`);
      this.#write({ welcome: { accepted: false, reason } });
      this.end(status.PERMISSION_DENIED, reason);
    };
    if (hello.protocol_version !== PROTOCOL_VERSION) {
      refuse(
        `protocol version ${hello.protocol_version} is not supported (this coordinator speaks ${PROTOCOL_VERSION})`,
      );
      return;
    }
    if (hello.node_id !== this.nodeId) {
      refuse(`the token is for node ${JSON.stringify(this.nodeId)}, not ${JSON.stringify(hello.node_id.slice(0, 64))}`);
      return;
    }
    if (hello.boot_id === '') {
      refuse('Hello carries no boot_id');
      return;
    }
    let held: number;
    try {
      // Read before anything changes: if the database cannot answer, the older session of this
      // node (if any) stays, and the agent simply retries.
      held = this.#ctx.store.lastSeq(this.nodeId, hello.boot_id);
    } catch (err) {
      this.#log.error({ err }, 'cannot read what is held for the agent; the call ends');
      this.end(status.UNAVAILABLE, 'the coordinator cannot read its database right now');
      return;
    }
    this.#bootId = hello.boot_id;
    this.#welcomed = true;
    this.#ctx.onWelcomed(this);
    this.#ctx.registry.hello(hello, now);
    this.#write({
      welcome: {
        accepted: true,
        last_acked_seq: held,
        heartbeat_interval_ms: this.#ctx.heartbeatIntervalMs,
        coordinator_version: this.#ctx.version,
      },
    });
    this.#log.info({ boot: hello.boot_id, held, agent_last_seq: hello.last_seq }, 'agent connected');
  }

  #eventRow(e: ServiceEvent__Output): ServiceEventRow {
    return {
      node_id: this.nodeId,
      boot_id: this.#bootId,
      seq: e.seq,
      ts_ms: e.ts_ms,
      kind: e.kind,
      service: e.service,
      from_state: e.from_state,
      to_state: e.to_state,
      health: e.health,
      reason: e.reason,
      status_json: JSON.stringify(e.status ?? { name: e.service }),
    };
  }

  #ingest(samples: ReturnType<typeof toSampleRow>[], events: ServiceEventRow[]): void {
    this.#ctx.batcher.enqueue({
      node_id: this.nodeId,
      boot_id: this.#bootId,
      samples,
      events,
      onCommitted: (outcome) => {
        this.#ctx.registry.applyCommitted(this.nodeId, outcome.samples, outcome.events, Date.now());
        this.#write({ ack: { seq: outcome.last_seq } });
      },
      onFailed: (err) => {
        // The agent keeps what was not acknowledged and replays it on its next call.
        this.end(status.UNAVAILABLE, `the coordinator could not store records: ${err.message}`);
      },
    });
  }
}
