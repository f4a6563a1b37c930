/**
 * The agent's link to the coordinator: one long-lived `AgentGateway.Connect` stream, dialled out
 * by the agent, re-dialled forever with jittered exponential backoff (style: never give up, log
 * once per backoff step). Every sample and service event goes to the disk buffer first and is
 * streamed from there, so nothing taken while the coordinator is away is lost (within the
 * buffer's bounds), and nothing is sent twice after a reconnect: the coordinator's Welcome says
 * what it has and the replay starts after it.
 *
 * Liveness has two layers (see `Heartbeat` in packages/wire/proto/kage/v1/agent.proto): HTTP/2
 * keepalive pings detect a dead link, an application Heartbeat lets the coordinator spot an agent
 * that is connected but stuck.
 */
import { credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { AgentGatewayClient, AgentMessage, BufferStats } from '@kage/wire';
import type { ServiceEvent, ServiceStatus } from '../supervision/types.js';
import type { Inventory } from '../telemetry/inventory.js';
import type { GpuSample, Sample } from '../telemetry/types.js';
import { loadContract, PROTOCOL_VERSION } from '@kage/wire';
import { CommandDispatcher, type CommandHandlers } from './command-dispatcher.js';
import { createDiskBuffer, type DiskBuffer, type DiskBufferStats } from './disk-buffer.js';
import { StreamError, errorMessage } from './errors.js';
import { ReconnectBackoff, type ReconnectBackoffOptions } from './reconnect-backoff.js';
import { runSession, type SessionOutcome } from './stream-session.js';
import type { LiveMessages } from './live-messages.js';
import { epochMs, toWireInventory, toWireSample, toWireServiceEvent, toWireServiceStatus } from './wire-convert.js';

/** PEM contents (not paths) for TLS to the coordinator. */
export interface AgentStreamTls {
  /** CA certificate(s) to verify the coordinator with. @default the system roots */
  ca?: string | Buffer;
  /** Client certificate chain for mTLS; needs `key`. */
  cert?: string | Buffer;
  /** Client private key for mTLS; needs `cert`. */
  key?: string | Buffer;
}

export interface AgentStreamOptions {
  /** `coordinator.url`: "host:port" (an http://, https://, grpc:// or grpcs:// prefix is dropped). */
  url: string;
  /** The agent token, sent as `authorization: Bearer <token>` (surrounding whitespace is trimmed). */
  token: string;
  /** TLS (with `cert` + `key`: mTLS). Absent or null: an insecure channel. */
  tls?: AgentStreamTls | null;
  /** `node` from the config: Hello.node_id. */
  node: string;
  /** From {@link readBootId}. */
  bootId: string;
  agentVersion: string;
  /** Static inventory; the GPUs are taken from the latest pushed sample. */
  inventory: Inventory;
  /** The configured services' statuses, in config order (`registry.statuses()`). */
  services: () => readonly ServiceStatus[];
  /** What to do with coordinator commands. */
  commands: CommandHandlers;
  /** Unbuffered current state (the loaded models), sent after each Welcome and on change. */
  live?: LiveMessages;
  /** `buffer` from the config. */
  buffer: {
    dir: string;
    /** @default 900 */
    maxAgeS?: number;
    /** @default 64 MiB */
    maxBytes?: number;
    segmentMaxBytes?: number;
    segmentSpanMs?: number;
    memoryRecords?: number;
  };
  log: Logger;
  /** `sample_interval_ms`, reported in Hello. @default 1000 */
  sampleIntervalMs?: number;
  /** Heartbeat period unless Welcome sets one. @default 15000 */
  heartbeatIntervalMs?: number;
  /** Give up on a call that gets no Welcome within this long. @default 15000 */
  welcomeTimeoutMs?: number;
  /** A session welcomed for this long resets the backoff to its first step. @default 60000 */
  stableAfterMs?: number;
  /** Reconnect pacing. @default { initialMs: 1000, maxMs: 30000, multiplier: 2 } */
  backoff?: ReconnectBackoffOptions;
  /** HTTP/2 keepalive ping period (`grpc.keepalive_time_ms`). @default 20000 */
  keepaliveTimeMs?: number;
  /** Ping ack timeout (`grpc.keepalive_timeout_ms`). @default 10000 */
  keepaliveTimeoutMs?: number;
  /** Records per SampleBatch during replay. @default 100 */
  maxBatchRecords?: number;
  /** Extra grpc-js channel options (override the defaults). */
  channelOptions?: ChannelOptions;
  /** Wall-clock ms (buffer ages, event times). @default Date.now */
  now?: () => number;
}

export type AgentStreamState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface AgentStreamStatus {
  state: AgentStreamState;
  /** ISO time of the current connection's Welcome; null when not connected. */
  connectedSince: string | null;
  /** Welcomed sessions since start. */
  connects: number;
  /** Failed attempts in a row. */
  failedAttempts: number;
  /** How the last session ended; null before the first one ended. */
  lastError: { code: string; details: string } | null;
  lastSeq: number;
  ackedSeq: number;
  buffer: DiskBufferStats;
}

export interface AgentStream {
  /**
   * Opens the disk buffer and starts the connect loop in the background. Resolves once the buffer
   * is open (not when connected); rejects with `KAGE_ERR_AGENT_BUFFER_IO` when the buffer
   * directory is unusable. Idempotent.
   */
  open(): Promise<void>;
  /** Buffers a telemetry sample for the coordinator. Never throws. */
  pushSample(sample: Sample): void;
  /** Buffers a service state or health change. Never throws. */
  pushServiceEvent(event: ServiceEvent): void;
  status(): AgentStreamStatus;
  /** Ends the stream (half-close, then cancel after 1 s), stops reconnecting, flushes the buffer. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates an unopened stream client. Throws `KAGE_ERR_AGENT_STREAM_TLS` for incomplete TLS options
 * and `KAGE_ERR_AGENT_STREAM_TOKEN` for an empty token or one that cannot be sent as a header.
 */
export function createAgentStream(options: AgentStreamOptions): AgentStream {
  return new AgentStreamClient(options);
}

/** Drops a URL scheme and trailing slash: grpc-js wants "host:port". */
export function toGrpcTarget(url: string): string {
  return url.replace(/^(?:https?|grpcs?):\/\//i, '').replace(/\/+$/, '');
}

/** Pushes that arrive before the buffer is open wait here (bounded). */
const MAX_EARLY_PUSHES = 1000;

class AgentStreamClient implements AgentStream {
  readonly #options: AgentStreamOptions;
  readonly #log: Logger;
  readonly #buffer: DiskBuffer;
  readonly #credentials: ChannelCredentials;
  readonly #token: string;
  readonly #channelOptions: ChannelOptions;
  readonly #backoff: ReconnectBackoff;
  readonly #abort = new AbortController();
  readonly #dispatcher: CommandDispatcher;
  readonly #now: () => number;
  readonly #startedAtMs: number;
  #early: Array<() => void> = [];
  #earlyDropped = 0;
  #bufferOpen = false;
  #gpus: readonly GpuSample[] = [];
  #state: AgentStreamState = 'idle';
  #connectedSince: number | null = null;
  #connects = 0;
  #lastError: { code: string; details: string } | null = null;
  #lastLoggedCode: string | null = null;
  #opening: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: AgentStreamOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'coordinator-stream' });
    this.#now = options.now ?? Date.now;
    this.#startedAtMs = this.#now();
    this.#credentials = makeCredentials(options.tls);
    this.#token = options.token.trim();
    if (this.#token === '' || !/^[\x21-\x7e]+$/.test(this.#token)) {
      throw new StreamError(
        'KAGE_ERR_AGENT_STREAM_TOKEN',
        'the coordinator token is empty or has characters a header cannot carry',
      );
    }
    this.#channelOptions = {
      'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 20_000,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      // The channel's own reconnect pacing matches ours, so neither hides the other.
      'grpc.initial_reconnect_backoff_ms': options.backoff?.initialMs ?? 1000,
      'grpc.max_reconnect_backoff_ms': options.backoff?.maxMs ?? 30_000,
      ...options.channelOptions,
    };
    this.#backoff = new ReconnectBackoff(options.backoff);
    this.#buffer = createDiskBuffer({ ...options.buffer, bootId: options.bootId, log: options.log, now: this.#now });
    this.#dispatcher = new CommandDispatcher({
      handlers: options.commands,
      log: this.#log,
      signal: this.#abort.signal,
    });
  }

  open(): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(new StreamError('KAGE_ERR_AGENT_STREAM_CLOSED', 'the coordinator stream is closed'));
    }
    this.#opening ??= (async () => {
      // Load the contract first: a missing .proto is a deployment error worth failing loudly on.
      const proto = loadContract();
      await this.#buffer.open();
      this.#bufferOpen = true;
      const early = this.#early;
      this.#early = [];
      for (const push of early) push();
      if (this.#earlyDropped > 0) {
        this.#log.warn({ dropped: this.#earlyDropped }, 'records pushed before the buffer opened were dropped');
      }
      const target = toGrpcTarget(this.#options.url);
      this.#log.info(
        { target, tls: this.#options.tls ? (this.#options.tls.cert ? 'mtls' : 'tls') : 'insecure' },
        'coordinator stream starting',
      );
      this.#loop = this.#run(() => new proto.kage.v1.AgentGateway(target, this.#credentials, this.#channelOptions));
    })();
    return this.#opening;
  }

  pushSample(sample: Sample): void {
    this.#gpus = sample.gpus;
    this.#push('sample', epochMs(sample.ts, this.#now()), () => toWireSample(sample));
  }

  pushServiceEvent(event: ServiceEvent): void {
    this.#push('event', this.#now(), () => toWireServiceEvent(event));
  }

  #push(kind: string, tsMs: number, convert: () => unknown): void {
    if (this.#closing !== undefined) return;
    const append = (): void => {
      try {
        this.#buffer.append(kind, tsMs, convert());
      } catch (err) {
        if (this.#closing === undefined) this.#log.error({ err, kind }, 'cannot buffer a record');
      }
    };
    if (this.#bufferOpen) append();
    else if (this.#early.length < MAX_EARLY_PUSHES) this.#early.push(append);
    else this.#earlyDropped += 1;
  }

  status(): AgentStreamStatus {
    return {
      state: this.#state,
      connectedSince: this.#connectedSince === null ? null : new Date(this.#connectedSince).toISOString(),
      connects: this.#connects,
      failedAttempts: this.#backoff.attempts,
      lastError: this.#lastError,
      lastSeq: this.#buffer.lastSeq(),
      ackedSeq: this.#buffer.ackedSeq(),
      buffer: this.#buffer.stats(),
    };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      await this.#opening?.catch(() => undefined);
      await this.#loop;
      await this.#buffer.close();
      this.#state = 'closed';
      this.#log.info('coordinator stream closed');
    })();
    return this.#closing;
  }

  async #run(makeClient: () => AgentGatewayClient): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#state = 'connecting';
      // A fresh channel per attempt: no stale resolver or subchannel state survives a failure.
      const client = makeClient();
      let outcome: SessionOutcome;
      try {
        outcome = await runSession({
          client,
          token: this.#token,
          buffer: this.#buffer,
          dispatcher: this.#dispatcher,
          log: this.#log,
          hello: () => this.#hello(),
          heartbeat: () => this.#heartbeat(),
          heartbeatIntervalMs: this.#options.heartbeatIntervalMs ?? 15_000,
          ...(this.#options.live !== undefined && { live: this.#options.live }),
          welcomeTimeoutMs: this.#options.welcomeTimeoutMs ?? 15_000,
          maxBatchRecords: this.#options.maxBatchRecords ?? 100,
          signal,
          onWelcome: (acked) => this.#onWelcome(acked),
        });
      } catch (err) {
        // Nothing in a session should throw; if something does, the loop must still never die.
        this.#log.error({ err }, 'coordinator session failed unexpectedly');
        outcome = { welcomed: false, upMs: 0, code: 'INTERNAL', details: errorMessage(err) };
      } finally {
        client.close();
      }
      this.#connectedSince = null;
      this.#lastError = { code: outcome.code, details: outcome.details };
      if (signal.aborted) break;
      if (outcome.welcomed && outcome.upMs >= (this.#options.stableAfterMs ?? 60_000)) this.#backoff.reset();
      const delay = this.#backoff.next();
      this.#logFailure(outcome, delay.delayMs, delay.attempt, delay.isNewStep);
      this.#state = 'backoff';
      await sleep(delay.delayMs, signal);
    }
  }

  #onWelcome(lastAckedSeq: number): void {
    const lastSeq = this.#buffer.lastSeq();
    if (lastAckedSeq > lastSeq) {
      // The coordinator has more of this boot than we remember (our state was lost): never reuse
      // a seq it already holds.
      this.#log.warn(
        { last_acked_seq: lastAckedSeq, last_seq: lastSeq },
        'coordinator is ahead of the local seq; skipping ahead',
      );
      this.#buffer.advanceTo(lastAckedSeq);
    }
    this.#buffer.ack(lastAckedSeq);
    this.#state = 'connected';
    this.#connectedSince = this.#now();
    this.#connects += 1;
    const stats = this.#buffer.stats();
    this.#log.info(
      {
        last_acked_seq: lastAckedSeq,
        replay: stats.buffered_records,
        attempts: this.#backoff.attempts + 1,
        dropped_age: stats.dropped_age,
        dropped_size: stats.dropped_size,
      },
      'connected to the coordinator',
    );
    this.#lastLoggedCode = null;
  }

  /** Once per backoff step, and whenever the reason changes. */
  #logFailure(outcome: SessionOutcome, retryInMs: number, attempt: number, isNewStep: boolean): void {
    // A coordinator that accepts and then drops the agent again and again is a failure like any
    // other: the same once-per-step rule applies. After a stable session the backoff was reset,
    // so the first drop is always a new step and always logged.
    if (!isNewStep && outcome.code === this.#lastLoggedCode) return;
    this.#lastLoggedCode = outcome.code;
    const fields = { code: outcome.code, details: outcome.details, attempt, retry_in_ms: retryInMs };
    if (outcome.welcomed) {
      this.#log.warn({ ...fields, up_ms: outcome.upMs }, 'coordinator stream ended; reconnecting');
    } else if (outcome.code === 'UNAUTHENTICATED') {
      this.#log.error(
        fields,
        'coordinator rejected the agent token (UNAUTHENTICATED): check coordinator.token / token_file; retrying',
      );
    } else if (outcome.code === 'REJECTED' || outcome.code === 'PERMISSION_DENIED') {
      this.#log.error(fields, 'coordinator refused this agent; retrying');
    } else {
      this.#log.warn(fields, 'cannot reach the coordinator; retrying');
    }
  }

  #bufferStats(): BufferStats {
    const s = this.#buffer.stats();
    return {
      dropped_age: s.dropped_age,
      dropped_size: s.dropped_size,
      dropped_reboot: s.dropped_reboot,
      dropped_io: s.dropped_io,
      buffered_records: s.buffered_records,
      buffered_bytes: s.buffered_bytes,
      oldest_seq: s.oldest_seq ?? undefined,
      oldest_ts_ms: s.oldest_ts_ms ?? undefined,
    };
  }

  #hello(): AgentMessage {
    let services: readonly ServiceStatus[] = [];
    try {
      services = this.#options.services();
    } catch (err) {
      this.#log.warn({ err: errorMessage(err) }, 'cannot read service statuses for Hello');
    }
    return {
      hello: {
        protocol_version: PROTOCOL_VERSION,
        node_id: this.#options.node,
        boot_id: this.#options.bootId,
        agent_version: this.#options.agentVersion,
        inventory: toWireInventory(this.#options.inventory, this.#gpus),
        services: services.map((s) => ({ name: s.name, driver: s.driver, status: toWireServiceStatus(s) })),
        last_seq: this.#buffer.lastSeq(),
        buffer: this.#bufferStats(),
        started_at_ms: this.#startedAtMs,
        sample_interval_ms: this.#options.sampleIntervalMs ?? 1000,
      },
    };
  }

  #heartbeat(): AgentMessage {
    return {
      heartbeat: {
        ts_ms: this.#now(),
        last_seq: this.#buffer.lastSeq(),
        buffer: this.#bufferStats(),
        commands_running: this.#dispatcher.running,
      },
    };
  }
}

function makeCredentials(tls: AgentStreamTls | null | undefined): ChannelCredentials {
  if (tls === undefined || tls === null) return credentials.createInsecure();
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new StreamError('KAGE_ERR_AGENT_STREAM_TLS', 'coordinator.tls needs both cert and key for mTLS, or neither');
  }
  const pem = (value: string | Buffer | undefined): Buffer | null =>
    value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
