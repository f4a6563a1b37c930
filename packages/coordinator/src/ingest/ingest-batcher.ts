/**
 * Group commits of agent records. Every stream hands its records here; they are written in one
 * SQLite transaction at most `maxDelayMs` after the first of them arrived, or as soon as
 * `maxRows` are waiting, and each stream is told its new high-water mark only after that commit
 * (the Ack that lets the agent delete its copy). One transaction per batch instead of one per
 * record is what keeps a thousand agents at 1 Hz cheap: the cost of a commit is mostly fixed.
 *
 * When a commit fails (disk full, read-only file), nothing of it is acknowledged: the failed
 * batches' streams are told so and end, and their agents replay from the last acknowledged seq
 * when they reconnect. Nothing is kept in memory that an agent believes is stored.
 */
import type { Logger } from 'pino';
import type { CommitOutcome, RecordBatch, TelemetryStore } from '../store/telemetry-store.js';

export interface PendingBatch extends RecordBatch {
  onCommitted(outcome: CommitOutcome): void;
  onFailed(err: Error): void;
}

export interface IngestBatcher {
  enqueue(batch: PendingBatch): void;
  /** Commits whatever is waiting now. */
  flush(): void;
  /** Rows waiting for the next commit. */
  pendingRows(): number;
  stats(): { samples: number; events: number; duplicates: number; commit_failures: number; commits: number };
  /** Commits what is waiting, then refuses new batches. */
  close(): void;
}

export interface IngestBatcherOptions {
  store: TelemetryStore;
  log: Logger;
  /** @default 250 */
  maxDelayMs?: number;
  /** @default 2000 */
  maxRows?: number;
  /** Called once after every successful commit (readiness, registry). */
  onCommit?: (ok: boolean, err?: Error) => void;
}

export function createIngestBatcher(options: IngestBatcherOptions): IngestBatcher {
  const log = options.log.child({ component: 'ingest' });
  const maxDelayMs = options.maxDelayMs ?? 250;
  const maxRows = options.maxRows ?? 2000;
  let queue: PendingBatch[] = [];
  let rows = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let failing = false;
  const counters = { samples: 0, events: 0, duplicates: 0, commit_failures: 0, commits: 0 };

  /** Commits `batches` in one transaction; on failure nothing of them is kept. */
  const tryCommit = (batches: PendingBatch[]): { outcomes: CommitOutcome[] } | { error: Error } => {
    try {
      return { outcomes: options.store.commit(batches) };
    } catch (err) {
      return { error: err instanceof Error ? err : new Error(String(err)) };
    }
  };

  const deliver = (batches: readonly PendingBatch[], outcomes: readonly CommitOutcome[]): void => {
    batches.forEach((b, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) return;
      counters.samples += outcome.samples.length;
      counters.events += outcome.events.length;
      counters.duplicates += outcome.duplicates;
      // A listener that throws must not keep the other batches of this commit from their acks.
      try {
        b.onCommitted(outcome);
      } catch (err) {
        log.error({ err, node: b.node_id }, 'handling committed records failed');
      }
    });
  };

  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const batches = queue;
    queue = [];
    rows = 0;
    const first = tryCommit(batches);
    if ('outcomes' in first) {
      succeeded();
      deliver(batches, first.outcomes);
      return;
    }
    // One transaction for all streams is what makes commits cheap, but then one record SQLite
    // refuses would fail every agent's batch. Retry one stream at a time so only the offender
    // fails; when every one fails, the database itself is the problem (disk full, read-only).
    const failed: { batch: PendingBatch; error: Error }[] = [];
    if (batches.length === 1) {
      failed.push({ batch: batches[0] as PendingBatch, error: first.error });
    } else {
      for (const b of batches) {
        const one = tryCommit([b]);
        if ('outcomes' in one) deliver([b], one.outcomes);
        else failed.push({ batch: b, error: one.error });
      }
    }
    counters.commit_failures += failed.length;
    if (failed.length < batches.length) succeeded();
    else {
      // One line when commits start failing, not one per batch: agents retry every few seconds
      // and a full disk would otherwise flood the journal. The recovery is logged once too.
      if (!failing)
        log.error({ err: first.error, batches: batches.length }, 'telemetry commit failed; nothing acknowledged');
      failing = true;
      options.onCommit?.(false, first.error);
    }
    for (const { batch, error } of failed) {
      if (failed.length < batches.length)
        log.warn({ err: error, node: batch.node_id }, 'records of one agent refused by the database; its stream ends');
      batch.onFailed(error);
    }
  };

  const succeeded = (): void => {
    counters.commits += 1;
    if (failing) log.info({ failed_commits: counters.commit_failures }, 'telemetry commits succeed again');
    failing = false;
    options.onCommit?.(true);
  };

  return {
    enqueue(batch) {
      if (closed) {
        batch.onFailed(new Error('the coordinator is shutting down'));
        return;
      }
      queue.push(batch);
      rows += batch.samples.length + batch.events.length;
      if (rows >= maxRows) flush();
      else timer ??= setTimeout(flush, maxDelayMs);
    },
    flush,
    pendingRows: () => rows,
    stats: () => ({ ...counters }),
    close() {
      if (closed) return;
      flush();
      closed = true;
    },
  };
}
