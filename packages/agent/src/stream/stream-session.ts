/**
 * One `Connect` call: Hello, wait for Welcome, then stream buffered and live records in seq order,
 * heartbeats, and answers to commands, until either side ends the call. The reconnect loop in
 * `agent-stream.ts` runs one session after another.
 */
import { Metadata, status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type {
  AgentGatewayClient,
  AgentMessage,
  CoordinatorMessage__Output,
  Sample as WireSample,
  ServiceEvent as WireServiceEvent,
} from '@kage/wire';
import type { CommandDispatcher } from './command-dispatcher.js';
import type { BufferRecord, DiskBuffer } from './disk-buffer.js';
import { errorMessage } from './errors.js';
import type { LiveMessages } from './live-messages.js';

/** How a session ended. */
export interface SessionOutcome {
  /** True when the coordinator accepted the agent (Welcome) during this session. */
  welcomed: boolean;
  /** How long the session was welcomed, ms (0 when never). */
  upMs: number;
  /**
   * The call's gRPC status name ("UNAVAILABLE", "UNAUTHENTICATED", "OK" when the coordinator ended
   * it cleanly...), or "REJECTED" (Welcome.accepted false), "WELCOME_TIMEOUT", "INTERNAL" (the
   * buffer failed), "CLOSED" (the agent is shutting down).
   */
  code: string;
  details: string;
}

export interface SessionOptions {
  client: AgentGatewayClient;
  token: string;
  buffer: DiskBuffer;
  dispatcher: CommandDispatcher;
  log: Logger;
  hello: () => AgentMessage;
  heartbeat: () => AgentMessage;
  heartbeatIntervalMs: number;
  /** Unbuffered current state, sent after Welcome and on every change. */
  live?: LiveMessages;
  welcomeTimeoutMs: number;
  maxBatchRecords: number;
  /** Aborted when the stream client closes. */
  signal: AbortSignal;
  onWelcome: (lastAckedSeq: number) => void;
}

const STATUS_NAMES = new Map<number, string>(
  Object.entries(GrpcStatus)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, code]) => [code, name]),
);

/** Runs one call to completion; never rejects. */
export function runSession(options: SessionOptions): Promise<SessionOutcome> {
  return new Promise((resolve) => {
    const { buffer, log } = options;
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${options.token}`);
    const call = options.client.Connect(metadata);
    let active = true;
    let welcomedAt: number | null = null;
    let wake: () => void = () => undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let unsubscribeLive: () => void = () => undefined;
    let closeTimer: NodeJS.Timeout | undefined;

    const finish = (code: string, details: string): void => {
      if (!active) return;
      active = false;
      clearTimeout(welcomeTimer);
      clearInterval(heartbeat);
      unsubscribe();
      unsubscribeLive();
      options.signal.removeEventListener('abort', onAbort);
      clearTimeout(closeTimer);
      wake();
      call.cancel(); // a no-op once the call has its status
      resolve({
        welcomed: welcomedAt !== null,
        upMs: welcomedAt === null ? 0 : Date.now() - welcomedAt,
        code,
        details,
      });
    };

    const write = async (message: AgentMessage): Promise<void> => {
      if (!active) return;
      if (call.write(message)) return;
      await new Promise<void>((done) => {
        call.once('drain', done);
        const previous = wake;
        wake = () => {
          previous();
          done();
        };
      });
    };

    const pump = async (afterSeq: number): Promise<void> => {
      let cursor = afterSeq;
      while (active) {
        const seqBeforeRead = buffer.lastSeq();
        const records = await buffer.readAfter(cursor, options.maxBatchRecords);
        if (!active) return;
        const last = records.at(-1);
        if (last === undefined) {
          // An append while the read was in flight woke nobody: read again instead of sleeping.
          if (buffer.lastSeq() > seqBeforeRead) continue;
          await new Promise<void>((done) => {
            wake = done;
          });
          continue;
        }
        for (const message of toMessages(records)) await write(message);
        cursor = last.seq;
      }
    };

    const onAbort = (): void => {
      // Half-close so the coordinator sees a clean goodbye; cancel if it does not end the call.
      call.end();
      closeTimer = setTimeout(() => finish('CLOSED', 'agent stream closed'), 1000);
      closeTimer.unref();
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    const unsubscribe = buffer.onAppend(() => wake());
    const welcomeTimer = setTimeout(
      () => finish('WELCOME_TIMEOUT', `no Welcome within ${options.welcomeTimeoutMs} ms`),
      options.welcomeTimeoutMs,
    );

    call.on('data', (message: CoordinatorMessage__Output) => {
      if (!active) return;
      switch (message.body) {
        case 'welcome': {
          const welcome = message.welcome;
          if (welcome === null || welcome === undefined || welcomedAt !== null) return;
          if (!welcome.accepted) {
            finish('REJECTED', welcome.reason || 'the coordinator refused this agent');
            return;
          }
          clearTimeout(welcomeTimer);
          welcomedAt = Date.now();
          options.onWelcome(welcome.last_acked_seq);
          const intervalMs = welcome.heartbeat_interval_ms || options.heartbeatIntervalMs;
          heartbeat = setInterval(() => void write(options.heartbeat()), intervalMs);
          heartbeat.unref();
          const live = options.live;
          if (live !== undefined) {
            const now = live.current();
            if (now !== null) void write(now);
            unsubscribeLive = live.subscribe((m) => void write(m));
          }
          pump(welcome.last_acked_seq).catch((err: unknown) => {
            log.error({ err }, 'cannot read the buffer; ending the stream');
            finish('INTERNAL', errorMessage(err));
          });
          return;
        }
        case 'ack':
          if (message.ack !== null && message.ack !== undefined) buffer.ack(message.ack.seq);
          return;
        case 'command': {
          const command = message.command;
          if (command === null || command === undefined) return;
          void options.dispatcher.dispatch(command).then((answer) => {
            if (active) return write(answer);
            log.warn({ command_id: command.id }, 'stream ended before the command finished; result not sent');
          });
          return;
        }
        case undefined:
          log.debug('coordinator message without a body ignored');
          return;
      }
    });
    // Every call ends with exactly one status (OK included); 'error' repeats a non-OK one.
    call.on('status', (status: StatusObject) => {
      finish(STATUS_NAMES.get(status.code) ?? String(status.code), status.details);
    });
    call.on('error', () => undefined);

    call.write(options.hello());
  });
}

/** Buffered records as wire messages: consecutive samples in one batch, each event on its own. */
function toMessages(records: readonly BufferRecord[]): AgentMessage[] {
  const messages: AgentMessage[] = [];
  let samples: WireSample[] = [];
  for (const record of records) {
    if (record.kind === 'sample') {
      samples.push({ ...(record.data as WireSample), seq: record.seq, ts_ms: record.ts_ms });
      continue;
    }
    if (samples.length > 0) messages.push({ sample_batch: { samples } });
    samples = [];
    if (record.kind === 'event') {
      messages.push({ service_event: { ...(record.data as WireServiceEvent), seq: record.seq, ts_ms: record.ts_ms } });
    }
  }
  if (samples.length > 0) messages.push({ sample_batch: { samples } });
  return messages;
}
