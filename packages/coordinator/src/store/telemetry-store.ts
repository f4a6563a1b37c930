/**
 * The coordinator's SQLite tables: nodes, per-boot seq high-water marks, raw samples and their
 * 1-minute means, service events, the single-owner lease, coordinator runs and per-cell
 * utilization. better-sqlite3 is synchronous: every method here runs on the event loop and returns
 * when SQLite has committed.
 *
 * Deduplication: an agent sends each (node, boot) in seq order and resumes after the seq the
 * coordinator said it holds, so one high-water mark per (node, boot) tells a new record from a
 * replayed one — including a dead connection's kernel buffer delivering again after a partition.
 */
import { hostname } from 'node:os';
import { openBenchStore, runMigrations, storeError, type BenchStore } from '@kage/bench';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { CoordinatorError } from '../coordinator-error.js';
import type { MetricPoint } from '../registry/node-view.js';
import { COORDINATOR_SCHEMA } from './coordinator-schema.js';
import type { SampleRow } from './sample-row.js';

/** A node as stored (the registry's starting point after a restart). */
export interface StoredNode {
  id: string;
  hostname: string;
  agent_version: string;
  boot_id: string;
  sample_interval_ms: number;
  inventory_json: string;
  services_json: string;
  first_seen_ms: number;
  last_seen_ms: number;
  clock_skew_ms: number | null;
}

export interface ServiceEventRow {
  node_id: string;
  boot_id: string;
  seq: number;
  ts_ms: number;
  kind: string;
  service: string;
  from_state: string;
  to_state: string;
  health: string;
  reason: string;
  status_json: string;
}

/** Records of one (node, boot) to commit together; records at or below the high-water mark are dropped. */
export interface RecordBatch {
  node_id: string;
  boot_id: string;
  samples: SampleRow[];
  events: ServiceEventRow[];
}

/** What a committed batch kept. */
export interface CommitOutcome {
  samples: SampleRow[];
  events: ServiceEventRow[];
  duplicates: number;
  /** The (node, boot) high-water mark after the commit: the seq to acknowledge. */
  last_seq: number;
}

export interface UtilizationRow {
  run_id: string;
  ordinal: number;
  node_id: string;
  window_start_ms: number;
  window_end_ms: number;
  summary_json: string;
}

export interface TelemetryStore {
  /** The benchmark store over the same file. */
  readonly bench: BenchStore;
  readonly file: string;
  /** Takes the single-owner lease. @throws `KAGE_ERR_COORDINATOR_DB_IN_USE` */
  acquireLease(options: { staleAfterMs: number }): void;
  renewLease(): void;
  releaseLease(): void;
  loadNodes(): StoredNode[];
  upsertNode(node: StoredNode): void;
  lastSeq(nodeId: string, bootId: string): number;
  /** One transaction for all batches. @throws coded `KAGE_ERR_DB_*` errors; nothing is kept then */
  commit(batches: readonly RecordBatch[]): CommitOutcome[];
  /** Raw points where held, 1-minute means before that; oldest first. */
  metrics(nodeId: string, since: number, until: number): MetricPoint[];
  /** Raw rows of a node in a window (utilization summaries). */
  samplesBetween(nodeId: string, since: number, until: number): SampleRow[];
  /** Computes minute means for minutes that changed, then drops what is past retention. */
  rollupAndPrune(now: number, retention: { rawHours: number; minuteDays: number }): { rolled: number; pruned: number };
  markCoordinatorRun(runId: string): void;
  coordinatorRuns(): string[];
  saveUtilization(rows: readonly UtilizationRow[]): void;
  utilization(runId: string): UtilizationRow[];
  /** A cheap write probe for `/readyz`. */
  writable(): { ok: boolean; detail: string };
  close(): void;
}

const MINUTE_MS = 60_000;

export function openTelemetryStore(options: { path: string; log: Logger; busyTimeoutMs?: number }): TelemetryStore {
  const file = options.path;
  const log = options.log.child({ component: 'telemetry-store' });
  // The bench store opens the file first: it sets WAL and reports a bad file with its own codes.
  const bench = openBenchStore({ path: file, busyTimeoutMs: options.busyTimeoutMs ?? 5000 });
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const m = runMigrations(db, file, COORDINATOR_SCHEMA);
    if (m.from !== m.to) log.info({ file, from: m.from, to: m.to }, 'coordinator schema migrated');
  } catch (err) {
    bench.close();
    throw storeError(err, file, 'open');
  }

  const st = {
    insertSample: db.prepare(
      `INSERT INTO samples (node_id, ts_ms, seq, cpu_pct, mem_used_bytes, mem_total_bytes, gpu_busy_pct,
         gpu_mem_used_bytes, gpu_mem_total_bytes, gpus_json, services_json)
       VALUES (@node_id, @ts_ms, @seq, @cpu_pct, @mem_used_bytes, @mem_total_bytes, @gpu_busy_pct,
         @gpu_mem_used_bytes, @gpu_mem_total_bytes, @gpus_json, @services_json)`,
    ),
    insertEvent: db.prepare(
      `INSERT INTO service_events (node_id, boot_id, seq, ts_ms, kind, service, from_state, to_state, health, reason, status_json)
       VALUES (@node_id, @boot_id, @seq, @ts_ms, @kind, @service, @from_state, @to_state, @health, @reason, @status_json)`,
    ),
    lastSeq: db.prepare(`SELECT last_seq FROM node_boots WHERE node_id = ? AND boot_id = ?`).pluck(),
    setSeq: db.prepare(
      `INSERT INTO node_boots (node_id, boot_id, last_seq, updated_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (node_id, boot_id) DO UPDATE SET last_seq = excluded.last_seq, updated_ms = excluded.updated_ms`,
    ),
    upsertNode: db.prepare(
      `INSERT INTO nodes (id, hostname, agent_version, boot_id, sample_interval_ms, inventory_json, services_json,
         first_seen_ms, last_seen_ms, clock_skew_ms)
       VALUES (@id, @hostname, @agent_version, @boot_id, @sample_interval_ms, @inventory_json, @services_json,
         @first_seen_ms, @last_seen_ms, @clock_skew_ms)
       ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, agent_version = excluded.agent_version,
         boot_id = excluded.boot_id, sample_interval_ms = excluded.sample_interval_ms,
         inventory_json = excluded.inventory_json, services_json = excluded.services_json,
         last_seen_ms = excluded.last_seen_ms, clock_skew_ms = excluded.clock_skew_ms`,
    ),
    rawRange: db.prepare(
      `SELECT ts_ms, cpu_pct, mem_used_bytes, mem_total_bytes, gpu_busy_pct, gpu_mem_used_bytes, gpu_mem_total_bytes
       FROM samples WHERE node_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms, seq`,
    ),
    rawRows: db.prepare(`SELECT * FROM samples WHERE node_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms, seq`),
    minuteRange: db.prepare(
      `SELECT minute_ms, cpu_pct_mean, mem_used_bytes_mean, mem_total_bytes, gpu_busy_pct_mean,
         gpu_mem_used_bytes_max, gpu_mem_total_bytes
       FROM sample_minutes WHERE node_id = ? AND minute_ms >= ? AND minute_ms <= ? ORDER BY minute_ms`,
    ),
    oldestRaw: db.prepare(`SELECT MIN(ts_ms) FROM samples WHERE node_id = ?`).pluck(),
    rollup: db.prepare(
      `INSERT OR REPLACE INTO sample_minutes (node_id, minute_ms, samples, cpu_pct_mean, cpu_pct_max,
         mem_used_bytes_mean, mem_used_bytes_max, mem_total_bytes, gpu_busy_pct_mean, gpu_busy_pct_max,
         gpu_mem_used_bytes_max, gpu_mem_total_bytes)
       SELECT node_id, (ts_ms / ${MINUTE_MS}) * ${MINUTE_MS}, COUNT(*), AVG(cpu_pct), MAX(cpu_pct),
         AVG(mem_used_bytes), MAX(mem_used_bytes), MAX(mem_total_bytes), AVG(gpu_busy_pct), MAX(gpu_busy_pct),
         MAX(gpu_mem_used_bytes), MAX(gpu_mem_total_bytes)
       FROM samples WHERE ts_ms >= ? AND ts_ms < ? GROUP BY node_id, ts_ms / ${MINUTE_MS}`,
    ),
    pruneRaw: db.prepare(`DELETE FROM samples WHERE ts_ms < ?`),
    pruneMinutes: db.prepare(`DELETE FROM sample_minutes WHERE minute_ms < ?`),
    pruneEvents: db.prepare(`DELETE FROM service_events WHERE ts_ms < ?`),
  };

  const seqCache = new Map<string, number>();
  const lastSeq = (nodeId: string, bootId: string): number => {
    const key = `${nodeId}\u0000${bootId}`;
    let v = seqCache.get(key);
    if (v === undefined) {
      v = (st.lastSeq.get(nodeId, bootId) as number | undefined) ?? 0;
      seqCache.set(key, v);
    }
    return v;
  };
  /** Earliest sample time written since the last rollup: the minutes from there on are recomputed. */
  let dirtyFromMs: number | null = null;
  let closed = false;
  const leaseOwner = { host: hostname(), pid: process.pid };

  const commitTx = db.transaction((batches: readonly RecordBatch[]) => {
    const now = Date.now();
    const outcomes: CommitOutcome[] = [];
    const pending = new Map<string, number>();
    for (const b of batches) {
      const key = `${b.node_id}\u0000${b.boot_id}`;
      let high = pending.get(key) ?? lastSeq(b.node_id, b.boot_id);
      const samples: SampleRow[] = [];
      const events: ServiceEventRow[] = [];
      let duplicates = 0;
      // Samples and events share one seq counter: merge them back into seq order.
      const records = [
        ...b.samples.map((s) => ({ seq: s.seq, sample: s, event: null })),
        ...b.events.map((e) => ({ seq: e.seq, sample: null, event: e })),
      ].sort((x, y) => x.seq - y.seq);
      for (const r of records) {
        if (r.seq <= high) {
          duplicates += 1;
          continue;
        }
        high = r.seq;
        if (r.sample !== null) {
          const s = r.sample;
          st.insertSample.run({
            ...s,
            gpus: undefined,
            services: undefined,
            gpus_json: s.gpus.length === 0 ? null : JSON.stringify(s.gpus),
            services_json: s.services.length === 0 ? null : JSON.stringify(s.services),
          });
          samples.push(s);
          if (dirtyFromMs === null || s.ts_ms < dirtyFromMs) dirtyFromMs = s.ts_ms;
        } else if (r.event !== null) {
          st.insertEvent.run(r.event);
          events.push(r.event);
        }
      }
      pending.set(key, high);
      st.setSeq.run(b.node_id, b.boot_id, high, now);
      outcomes.push({ samples, events, duplicates, last_seq: high });
    }
    return { outcomes, pending };
  });

  return {
    bench,
    file,
    acquireLease({ staleAfterMs }) {
      const now = Date.now();
      db.transaction(() => {
        const row = db.prepare(`SELECT host, pid, heartbeat_ms FROM coordinator_lease WHERE id = 1`).get() as
          { host: string; pid: number; heartbeat_ms: number } | undefined;
        if (row !== undefined && !(row.host === leaseOwner.host && row.pid === leaseOwner.pid)) {
          const sameHostDead = row.host === leaseOwner.host && !processAlive(row.pid);
          const stale = now - row.heartbeat_ms > staleAfterMs;
          if (!sameHostDead && !stale) {
            throw new CoordinatorError(
              'KAGE_ERR_COORDINATOR_DB_IN_USE',
              `database ${file} is in use by another coordinator (process ${row.pid} on ${row.host}, alive ${Math.round((now - row.heartbeat_ms) / 1000)} s ago)`,
              { hint: 'stop the other coordinator, or give this one its own db:' },
            );
          }
        }
        db.prepare(
          `INSERT OR REPLACE INTO coordinator_lease (id, host, pid, started_ms, heartbeat_ms) VALUES (1, ?, ?, ?, ?)`,
        ).run(leaseOwner.host, leaseOwner.pid, now, now);
      }).immediate();
    },
    renewLease() {
      db.prepare(`UPDATE coordinator_lease SET heartbeat_ms = ? WHERE id = 1 AND host = ? AND pid = ?`).run(
        Date.now(),
        leaseOwner.host,
        leaseOwner.pid,
      );
    },
    releaseLease() {
      db.prepare(`DELETE FROM coordinator_lease WHERE id = 1 AND host = ? AND pid = ?`).run(
        leaseOwner.host,
        leaseOwner.pid,
      );
    },
    loadNodes() {
      return db.prepare(`SELECT * FROM nodes ORDER BY id`).all() as StoredNode[];
    },
    upsertNode(node) {
      st.upsertNode.run(node);
    },
    lastSeq,
    commit(batches) {
      try {
        const { outcomes, pending } = commitTx.immediate(batches);
        // Only after the commit: a rolled-back transaction must not move the marks.
        for (const [key, high] of pending) seqCache.set(key, high);
        return outcomes;
      } catch (err) {
        throw storeError(err, file, 'commit telemetry');
      }
    },
    metrics(nodeId, since, until) {
      const oldest = (st.oldestRaw.get(nodeId) as number | null) ?? Infinity;
      const points: MetricPoint[] = [];
      if (since < oldest) {
        const rows = st.minuteRange.all(nodeId, since, Math.min(until, oldest - 1)) as {
          minute_ms: number;
          cpu_pct_mean: number | null;
          mem_used_bytes_mean: number | null;
          mem_total_bytes: number | null;
          gpu_busy_pct_mean: number | null;
          gpu_mem_used_bytes_max: number | null;
          gpu_mem_total_bytes: number | null;
        }[];
        for (const r of rows) {
          // A minute that is also covered by raw samples is served raw.
          if (r.minute_ms + MINUTE_MS > oldest) continue;
          points.push({
            ts: new Date(r.minute_ms).toISOString(),
            cpu_pct: r.cpu_pct_mean,
            mem_used_bytes: r.mem_used_bytes_mean === null ? null : Math.round(r.mem_used_bytes_mean),
            mem_total_bytes: r.mem_total_bytes,
            gpu_busy_pct: r.gpu_busy_pct_mean,
            gpu_mem_used_bytes: r.gpu_mem_used_bytes_max,
            gpu_mem_total_bytes: r.gpu_mem_total_bytes,
            resolution: 'minute',
          });
        }
      }
      const raw = st.rawRange.all(nodeId, since, until) as (Omit<MetricPoint, 'ts' | 'resolution'> & {
        ts_ms: number;
      })[];
      for (const r of raw) {
        const { ts_ms, ...rest } = r;
        points.push({ ts: new Date(ts_ms).toISOString(), ...rest, resolution: 'raw' });
      }
      return points;
    },
    samplesBetween(nodeId, since, until) {
      const rows = st.rawRows.all(nodeId, since, until) as (Omit<SampleRow, 'gpus' | 'services'> & {
        gpus_json: string | null;
        services_json: string | null;
      })[];
      return rows.map(({ gpus_json, services_json, ...r }) => ({
        ...r,
        gpus: gpus_json === null ? [] : (JSON.parse(gpus_json) as SampleRow['gpus']),
        services: services_json === null ? [] : (JSON.parse(services_json) as SampleRow['services']),
      }));
    },
    rollupAndPrune(now, retention) {
      const completeBefore = Math.floor(now / MINUTE_MS) * MINUTE_MS;
      let rolled = 0;
      let pruned = 0;
      db.transaction(() => {
        if (dirtyFromMs !== null) {
          const from = Math.floor(dirtyFromMs / MINUTE_MS) * MINUTE_MS;
          if (from < completeBefore) {
            rolled = st.rollup.run(from, completeBefore).changes;
            dirtyFromMs = null;
          }
        }
        const rawCut = now - retention.rawHours * 3_600_000;
        const minuteCut = now - retention.minuteDays * 86_400_000;
        // Raw samples older than the cut are rolled up first (a replay may have written late ones).
        st.rollup.run(0, Math.floor(rawCut / MINUTE_MS) * MINUTE_MS);
        pruned += st.pruneRaw.run(Math.floor(rawCut / MINUTE_MS) * MINUTE_MS).changes;
        pruned += st.pruneMinutes.run(minuteCut).changes;
        pruned += st.pruneEvents.run(minuteCut).changes;
      }).immediate();
      return { rolled, pruned };
    },
    markCoordinatorRun(runId) {
      db.prepare(`INSERT OR IGNORE INTO coordinator_runs (run_id, created_ms) VALUES (?, ?)`).run(runId, Date.now());
    },
    coordinatorRuns() {
      return db.prepare(`SELECT run_id FROM coordinator_runs ORDER BY created_ms`).pluck().all() as string[];
    },
    saveUtilization(rows) {
      const insert = db.prepare(
        `INSERT OR REPLACE INTO cell_utilization (run_id, ordinal, node_id, window_start_ms, window_end_ms, summary_json)
         VALUES (@run_id, @ordinal, @node_id, @window_start_ms, @window_end_ms, @summary_json)`,
      );
      db.transaction(() => {
        for (const r of rows) insert.run(r);
      })();
    },
    utilization(runId) {
      return db
        .prepare(`SELECT * FROM cell_utilization WHERE run_id = ? ORDER BY ordinal, node_id`)
        .all(runId) as UtilizationRow[];
    },
    writable() {
      try {
        db.prepare(`UPDATE coordinator_lease SET heartbeat_ms = heartbeat_ms WHERE id = 1`).run();
        return { ok: true, detail: `${file} writable` };
      } catch (err) {
        return { ok: false, detail: storeError(err, file, 'write').message };
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        db.close();
      } finally {
        bench.close();
      }
    },
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
