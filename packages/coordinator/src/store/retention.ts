/**
 * Minute means and retention, cut into work the event loop can afford. A fleet of 10,000 agents
 * sampling at 1 Hz writes 600,000 raw rows a minute; one transaction rolling up or deleting that
 * much would hold the loop (gRPC acks, the REST API, the watchdog's tick) for seconds. So every
 * phase runs in short `BEGIN IMMEDIATE` transactions of about `chunkRows` rows, yields to the event
 * loop between them, and reaches its rows through an index:
 *
 * - Minutes that received samples since the last pass (tracked per node, as a range) are recomputed
 *   once complete, through `samples (node_id, ts_ms)`.
 * - Raw samples past retention are rolled up and deleted node by node, one window at a time, in
 *   the same transaction: a reader never sees a minute whose raw rows are half gone, and the minutes
 *   rolled up are only those being pruned now, from the node's oldest raw sample to the cut.
 * - Minute means and service events past retention are deleted `chunkRows` at a time through
 *   `sample_minutes (minute_ms)` and `service_events (ts_ms)`.
 *
 * Cuts are whole minutes, so a minute is always pruned in one piece.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type Database from 'better-sqlite3';

export const MINUTE_MS = 60_000;

/** Rows read or deleted per transaction (the unit of work between two yields). */
export const DEFAULT_CHUNK_ROWS = 5000;

/**
 * What a step that finds nothing (an idle node's index seeks) counts for, in rows: a pass over
 * thousands of idle nodes must still end its transaction and yield now and then.
 */
const STEP_COST = 20;

export interface RetentionPolicy {
  rawHours: number;
  minuteDays: number;
}

export interface RollupOutcome {
  /** Minute rows written. */
  rolled: number;
  /** Raw samples, minute rows and service events deleted. */
  pruned: number;
}

export interface Retention {
  /** Notes that a committed sample of `nodeId` at `tsMs` changed its minute. */
  markDirty(nodeId: string, tsMs: number): void;
  /**
   * One pass: changed minutes, then retention. Yields to the event loop between chunks and stops
   * early once the store is closed. A call while a pass is under way joins that pass.
   */
  run(now: number, policy: RetentionPolicy): Promise<RollupOutcome>;
}

/** The statements that select rows by time: each must reach them through an index. */
export const RETENTION_SQL = {
  nthSampleTs: `SELECT ts_ms FROM samples WHERE node_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms LIMIT 1 OFFSET ?`,
  rollup: `INSERT OR REPLACE INTO sample_minutes (node_id, minute_ms, samples, cpu_pct_mean, cpu_pct_max,
      mem_used_bytes_mean, mem_used_bytes_max, mem_total_bytes, gpu_busy_pct_mean, gpu_busy_pct_max,
      gpu_mem_used_bytes_max, gpu_mem_total_bytes)
    SELECT node_id, (ts_ms / ${MINUTE_MS}) * ${MINUTE_MS}, COUNT(*), AVG(cpu_pct), MAX(cpu_pct),
      AVG(mem_used_bytes), MAX(mem_used_bytes), MAX(mem_total_bytes), AVG(gpu_busy_pct), MAX(gpu_busy_pct),
      MAX(gpu_mem_used_bytes), MAX(gpu_mem_total_bytes)
    FROM samples WHERE node_id = ? AND ts_ms >= ? AND ts_ms < ? GROUP BY ts_ms / ${MINUTE_MS}
    RETURNING samples`,
  oldestSample: `SELECT MIN(ts_ms) FROM samples`,
  oldestSampleOfNode: `SELECT MIN(ts_ms) FROM samples WHERE node_id = ?`,
  firstNode: `SELECT node_id FROM samples ORDER BY node_id LIMIT 1`,
  nextNode: `SELECT node_id FROM samples WHERE node_id > ? ORDER BY node_id LIMIT 1`,
  pruneNodeSamples: `DELETE FROM samples WHERE node_id = ? AND ts_ms < ?`,
  pruneMinutes: `DELETE FROM sample_minutes WHERE (node_id, minute_ms) IN
    (SELECT node_id, minute_ms FROM sample_minutes WHERE minute_ms < ? LIMIT ?)`,
  pruneEvents: `DELETE FROM service_events WHERE id IN (SELECT id FROM service_events WHERE ts_ms < ? LIMIT ?)`,
} as const;

export function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

export function createRetention(
  db: Database.Database,
  options: { isClosed: () => boolean; chunkRows?: number },
): Retention {
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const st = {
    nthSampleTs: db.prepare(RETENTION_SQL.nthSampleTs).pluck(),
    rollup: db.prepare(RETENTION_SQL.rollup).pluck(),
    oldestSample: db.prepare(RETENTION_SQL.oldestSample).pluck(),
    oldestSampleOfNode: db.prepare(RETENTION_SQL.oldestSampleOfNode).pluck(),
    firstNode: db.prepare(RETENTION_SQL.firstNode).pluck(),
    nextNode: db.prepare(RETENTION_SQL.nextNode).pluck(),
    pruneNodeSamples: db.prepare(RETENTION_SQL.pruneNodeSamples),
    pruneMinutes: db.prepare(RETENTION_SQL.pruneMinutes),
    pruneEvents: db.prepare(RETENTION_SQL.pruneEvents),
  };

  /** Per node, the first and last minute (starts) that received samples since they were rolled up. */
  let dirty = new Map<string, { from: number; to: number }>();
  let running: Promise<RollupOutcome> | null = null;

  const markDirty = (nodeId: string, fromMs: number, toMs: number = fromMs): void => {
    const from = floorMinute(fromMs);
    const to = floorMinute(toMs);
    const r = dirty.get(nodeId);
    if (r === undefined) dirty.set(nodeId, { from, to });
    else {
      r.from = Math.min(r.from, from);
      r.to = Math.max(r.to, to);
    }
  };

  const chunk = db.transaction((step: () => number | null): boolean => {
    let cost = 0;
    while (cost < chunkRows) {
      const rows = step();
      if (rows === null) return true;
      cost += rows + STEP_COST;
    }
    return false;
  });

  /**
   * Runs `step` until it returns null, in transactions of about `chunkRows` rows each (`step`
   * returns the rows it touched), yielding to the event loop between transactions.
   * @returns false when the store was closed before the work was done
   */
  async function inChunks(step: () => number | null): Promise<boolean> {
    for (;;) {
      if (options.isClosed()) return false;
      if (chunk.immediate(step)) return true;
      await yieldToEventLoop();
    }
  }

  /**
   * End of the next window of a node's samples from `from` (a minute start): about `chunkRows`
   * rows, rounded down to a minute so that no minute is split, never before `from`'s own minute
   * ends, never past `end`.
   */
  function windowEnd(nodeId: string, from: number, end: number): number {
    const ts = st.nthSampleTs.get(nodeId, from, end, chunkRows) as number | undefined;
    if (ts === undefined) return end;
    const minute = floorMinute(ts);
    return Math.min(end, minute > from ? minute : from + MINUTE_MS);
  }

  /** Recomputes the minutes of `nodeId` in [from, to). @returns the raw rows read */
  function rollUp(nodeId: string, from: number, to: number, out: RollupOutcome): number {
    const counts = st.rollup.all(nodeId, from, to) as number[];
    out.rolled += counts.length;
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async function rollUpChanged(completeBefore: number, out: RollupOutcome): Promise<void> {
    if (dirty.size === 0) return;
    // Commits made while this runs mark a fresh map; the minutes still incomplete go back into it.
    const taken = dirty;
    dirty = new Map();
    const todo = [...taken].map(([node, r]) => ({ node, from: r.from, to: r.to }));
    let i = 0;
    try {
      await inChunks(() => {
        const e = todo[i];
        if (e === undefined) return null;
        const end = Math.min(e.to + MINUTE_MS, completeBefore);
        if (e.from >= end) {
          markDirty(e.node, e.from, e.to);
          i += 1;
          return 0;
        }
        const stop = windowEnd(e.node, e.from, end);
        const rows = rollUp(e.node, e.from, stop, out);
        e.from = stop;
        if (stop >= end) {
          if (e.from <= e.to) markDirty(e.node, e.from, e.to);
          i += 1;
        }
        return rows;
      });
    } catch (err) {
      // The failed transaction kept none of its minutes: mark everything again (recomputing a
      // minute twice is harmless, forgetting one is not).
      for (const [node, r] of taken) markDirty(node, r.from, r.to);
      throw err;
    }
  }

  function pruneSamples(cut: number, out: RollupOutcome): Promise<boolean> {
    const oldest = st.oldestSample.get() as number | null;
    if (oldest === null || oldest >= cut) return Promise.resolve(true);
    let node: string | undefined;
    let started = false;
    return inChunks(() => {
      if (!started) {
        node = st.firstNode.get() as string | undefined;
        started = true;
      }
      if (node === undefined) return null;
      const oldestOfNode = st.oldestSampleOfNode.get(node) as number | null;
      if (oldestOfNode === null || oldestOfNode >= cut) {
        node = st.nextNode.get(node) as string | undefined;
        return 0;
      }
      // Rolled up first, in the same transaction: a replay may have written late samples here.
      const from = floorMinute(oldestOfNode);
      const stop = windowEnd(node, from, cut);
      const read = rollUp(node, from, stop, out);
      const deleted = st.pruneNodeSamples.run(node, stop).changes;
      out.pruned += deleted;
      if (stop >= cut) node = st.nextNode.get(node) as string | undefined;
      return Math.max(read, deleted);
    });
  }

  function pruneByTime(statement: Database.Statement, cut: number, out: RollupOutcome): Promise<boolean> {
    let done = false;
    return inChunks(() => {
      if (done) return null;
      const deleted = statement.run(cut, chunkRows).changes;
      out.pruned += deleted;
      done = deleted < chunkRows;
      return deleted;
    });
  }

  async function pass(now: number, policy: RetentionPolicy): Promise<RollupOutcome> {
    const out: RollupOutcome = { rolled: 0, pruned: 0 };
    await rollUpChanged(floorMinute(now), out);
    const minuteCut = now - policy.minuteDays * 86_400_000;
    if (!(await pruneSamples(floorMinute(now - policy.rawHours * 3_600_000), out))) return out;
    if (!(await pruneByTime(st.pruneMinutes, minuteCut, out))) return out;
    await pruneByTime(st.pruneEvents, minuteCut, out);
    return out;
  }

  return {
    markDirty: (nodeId, tsMs) => markDirty(nodeId, tsMs),
    run(now, policy) {
      running ??= pass(now, policy).finally(() => {
        running = null;
      });
      return running;
    },
  };
}
