/**
 * The coordinator's SQLite tables: nodes, per-boot seq high-water marks, raw samples and their
 * 1-minute means, service events, the single-owner lease (db-lease.ts), coordinator runs and
 * per-cell utilization. better-sqlite3 is synchronous: every method here runs on the event loop and
 * returns when SQLite has committed, except the minute means and retention (retention.ts), whose
 * work grows with the fleet and is therefore cut into short transactions.
 *
 * Deduplication: an agent sends each (node, boot) in seq order and resumes after the seq the
 * coordinator said it holds, so one high-water mark per (node, boot) tells a new record from a
 * replayed one — including a dead connection's kernel buffer delivering again after a partition.
 */
import {
  BenchError,
  LATEST_SCHEMA_VERSION,
  SCHEMA_COMPONENT,
  openBenchStore,
  runMigrations,
  storeError,
  type BenchStore,
} from '@kage/bench';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { CoordinatorError } from '../coordinator-error.js';
import type { MetricPoint } from '../registry/node-view.js';
import { COORDINATOR_SCHEMA } from './coordinator-schema.js';
import { acquireLease, releaseLease, renewLease, thisProcess, type LeaseOwner } from './db-lease.js';
import { MINUTE_MS, createRetention, type RetentionPolicy, type RollupOutcome } from './retention.js';
import type { SampleRow } from './sample-row.js';
import { createSeqCache } from './seq-cache.js';

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
  /**
   * Lease heartbeat. @returns false when this process no longer holds the lease (another
   * coordinator took it over as stale, or the store was opened without `lease`)
   */
  renewLease(): boolean;
  /** Gives the lease up if this process holds it. */
  releaseLease(): void;
  loadNodes(): StoredNode[];
  upsertNode(node: StoredNode): void;
  /**
   * One transaction for a registry flush: whole rows for nodes whose details changed, only the
   * last-seen time and clock skew for nodes that were merely heard from.
   */
  saveNodes(
    full: readonly StoredNode[],
    seen: readonly { id: string; last_seen_ms: number; clock_skew_ms: number | null }[],
  ): void;
  lastSeq(nodeId: string, bootId: string): number;
  /** One transaction for all batches. @throws coded `KAGE_ERR_DB_*` errors; nothing is kept then */
  commit(batches: readonly RecordBatch[]): CommitOutcome[];
  /** Raw points where held, 1-minute means before that; oldest first. */
  metrics(nodeId: string, since: number, until: number): MetricPoint[];
  /** Raw rows of a node in a window (utilization summaries). */
  samplesBetween(nodeId: string, since: number, until: number): SampleRow[];
  /**
   * Computes minute means for minutes that changed, then drops what is past retention, in short
   * transactions with the event loop free between them (see retention.ts). A call while a pass is
   * under way joins it; a pass stops early when the store is closed.
   */
  rollupAndPrune(now: number, retention: RetentionPolicy): Promise<RollupOutcome>;
  markCoordinatorRun(runId: string): void;
  coordinatorRuns(): string[];
  saveUtilization(rows: readonly UtilizationRow[]): void;
  utilization(runId: string): UtilizationRow[];
  /** A cheap write probe for `/readyz`. */
  writable(): { ok: boolean; detail: string };
  close(): void;
}

export interface OpenTelemetryStoreOptions {
  path: string;
  log: Logger;
  /** @default 5000 */
  busyTimeoutMs?: number;
  /**
   * Take the single-owner lease before anything else is written (the daemon does; tests and tools
   * that share a file within one process need not). A lease without a heartbeat for
   * `staleAfterMs` is taken over.
   */
  lease?: { staleAfterMs: number };
}

/**
 * Opens the coordinator's database: the lease first (when asked), then the bench store and both
 * schemas' migrations.
 *
 * @throws `KAGE_ERR_COORDINATOR_DB_IN_USE` when another coordinator holds the lease (the file is
 *   left as it was), or the bench store's coded `KAGE_ERR_DB_*` errors
 */
export function openTelemetryStore(options: OpenTelemetryStoreOptions): TelemetryStore {
  const file = options.path;
  const log = options.log.child({ component: 'telemetry-store' });
  const timeout = options.busyTimeoutMs ?? 5000;
  const owner = thisProcess();
  let db: Database.Database;
  try {
    db = new Database(file, { timeout });
  } catch (err) {
    // better-sqlite3 throws a plain TypeError for a missing directory: not a SQLite code.
    if (err instanceof TypeError) {
      throw new BenchError('KAGE_ERR_DB_OPEN', `database ${file} cannot be opened: ${err.message}`, {
        cause: err,
        hint: 'create the directory first or pass another db:',
      });
    }
    throw storeError(err, file, 'open');
  }
  let bench: BenchStore | undefined;
  let leased = false;
  try {
    // Setting WAL reads the header first: a file that is not a database fails here, unchanged.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Checkpoint (copy the WAL back and fsync) every ~40 MB instead of every 4 MB: telemetry
    // rewrites the same index pages constantly, and each checkpoint writes them all again.
    db.pragma('wal_autocheckpoint = 10000');
    if (options.lease !== undefined) {
      // A file from a newer kage is refused before the lease row is written into it.
      assertSchemaKnown(db, file);
      acquireLease(db, file, owner, options.lease.staleAfterMs);
      leased = true;
    }
    bench = openBenchStore({ path: file, busyTimeoutMs: timeout });
    const m = runMigrations(db, file, COORDINATOR_SCHEMA);
    if (m.from !== m.to) log.info({ file, from: m.from, to: m.to }, 'coordinator schema migrated');
  } catch (err) {
    try {
      if (leased) releaseLease(db, owner);
    } catch {
      // The lease goes stale on its own; the open error is the one to report.
    }
    bench?.close();
    db.close();
    throw err instanceof CoordinatorError ? err : storeError(err, file, 'open');
  }
  return createTelemetryStore(db, bench, file, owner);
}

function createTelemetryStore(
  db: Database.Database,
  bench: BenchStore,
  file: string,
  owner: LeaseOwner,
): TelemetryStore {
  const st = {
    insertSample: db.prepare(
      `INSERT INTO samples (node_id, ts_ms, seq, cpu_pct, mem_used_bytes, mem_total_bytes, gpu_busy_pct,
         gpu_mem_used_bytes, gpu_mem_total_bytes, gpus_json, services_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertEvent: db.prepare(
      `INSERT INTO service_events (node_id, boot_id, seq, ts_ms, kind, service, from_state, to_state, health, reason, status_json)
       VALUES (@node_id, @boot_id, @seq, @ts_ms, @kind, @service, @from_state, @to_state, @health, @reason, @status_json)`,
    ),
    touchNode: db.prepare(`UPDATE nodes SET last_seen_ms = ?, clock_skew_ms = ? WHERE id = ?`),
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
  };

  const seqCache = createSeqCache((nodeId, bootId) => (st.lastSeq.get(nodeId, bootId) as number | undefined) ?? 0);
  const lastSeq = (nodeId: string, bootId: string): number => seqCache.get(nodeId, bootId);
  let closed = false;
  const retention = createRetention(db, { isClosed: () => closed });

  const insertSample = (s: SampleRow): void => {
    // Positional binding: at a thousand rows a second, building and binding a named parameter
    // object per row is measurable.
    st.insertSample.run(
      s.node_id,
      s.ts_ms,
      s.seq,
      s.cpu_pct,
      s.mem_used_bytes,
      s.mem_total_bytes,
      s.gpu_busy_pct,
      s.gpu_mem_used_bytes,
      s.gpu_mem_total_bytes,
      s.gpus.length === 0 ? null : JSON.stringify(s.gpus),
      s.services.length === 0 ? null : JSON.stringify(s.services),
    );
  };

  const commitTx = db.transaction((batches: readonly RecordBatch[]) => {
    const now = Date.now();
    const outcomes: CommitOutcome[] = [];
    const pending = new Map<string, { node_id: string; boot_id: string; high: number }>();
    for (const b of batches) {
      const key = `${b.node_id}\u0000${b.boot_id}`;
      let high = pending.get(key)?.high ?? lastSeq(b.node_id, b.boot_id);
      const samples: SampleRow[] = [];
      const events: ServiceEventRow[] = [];
      let duplicates = 0;
      if (b.events.length === 0 && ascending(b.samples)) {
        // The common batch (samples only, in order as the agent sends them) is walked without
        // building and sorting a merged list: at ten thousand rows a second that shows in the GC.
        for (const s of b.samples) {
          if (s.seq <= high) duplicates += 1;
          else {
            high = s.seq;
            insertSample(s);
            samples.push(s);
          }
        }
      } else {
        for (const r of mergedBySeq(b)) {
          if (r.seq <= high) {
            duplicates += 1;
            continue;
          }
          high = r.seq;
          if (r.sample !== null) {
            insertSample(r.sample);
            samples.push(r.sample);
          } else {
            st.insertEvent.run(r.event);
            events.push(r.event);
          }
        }
      }
      pending.set(key, { node_id: b.node_id, boot_id: b.boot_id, high });
      st.setSeq.run(b.node_id, b.boot_id, high, now);
      outcomes.push({ samples, events, duplicates, last_seq: high });
    }
    return { outcomes, pending };
  });

  return {
    bench,
    file,
    renewLease() {
      return renewLease(db, owner);
    },
    releaseLease() {
      releaseLease(db, owner);
    },
    loadNodes() {
      return db.prepare(`SELECT * FROM nodes ORDER BY id`).all() as StoredNode[];
    },
    upsertNode(node) {
      st.upsertNode.run(node);
    },
    saveNodes(full, seen) {
      db.transaction(() => {
        for (const node of full) st.upsertNode.run(node);
        for (const n of seen) st.touchNode.run(n.last_seen_ms, n.clock_skew_ms, n.id);
      }).immediate();
    },
    lastSeq,
    commit(batches) {
      try {
        const { outcomes, pending } = commitTx.immediate(batches);
        // Only after the commit: a rolled-back transaction must not move the marks or dirty minutes.
        for (const p of pending.values()) seqCache.set(p.node_id, p.boot_id, p.high);
        for (const o of outcomes) for (const s of o.samples) retention.markDirty(s.node_id, s.ts_ms);
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
    rollupAndPrune(now, policy) {
      return retention.run(now, policy);
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

/**
 * Refuses a file written by a newer kage with the migration runner's own error, before the lease
 * row is written into it (the runner would refuse it too, but only after the lease).
 */
function assertSchemaKnown(db: Database.Database, file: string): void {
  const hasTable = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kage_schema'`).get();
  if (hasTable === undefined) return;
  const version = db.prepare(`SELECT version FROM kage_schema WHERE component = ?`).pluck();
  const coordinatorLatest = COORDINATOR_SCHEMA.migrations.reduce((v, m) => Math.max(v, m.version), 0);
  for (const [component, latest, label] of [
    [SCHEMA_COMPONENT, LATEST_SCHEMA_VERSION, 'benchmark'],
    [COORDINATOR_SCHEMA.component, coordinatorLatest, COORDINATOR_SCHEMA.label],
  ] as const) {
    const v = version.get(component);
    if (typeof v === 'number' && v > latest) {
      throw new BenchError(
        'KAGE_ERR_DB_SCHEMA_NEWER',
        `database ${file} has ${label} schema version ${v}; this kage understands up to ${latest}`,
        { hint: 'upgrade kage, or use another --db; nothing was changed' },
      );
    }
  }
}

type SeqRecord =
  { seq: number; sample: SampleRow; event: null } | { seq: number; sample: null; event: ServiceEventRow };

/** Samples and events share one seq counter: a batch's records merged back into seq order. */
function mergedBySeq(b: RecordBatch): SeqRecord[] {
  const merged: SeqRecord[] = [
    ...b.samples.map((s) => ({ seq: s.seq, sample: s, event: null }) as const),
    ...b.events.map((e) => ({ seq: e.seq, sample: null, event: e }) as const),
  ];
  return merged.sort((x, y) => x.seq - y.seq);
}

function ascending(rows: readonly { seq: number }[]): boolean {
  for (let i = 1; i < rows.length; i++)
    if ((rows[i] as { seq: number }).seq < (rows[i - 1] as { seq: number }).seq) return false;
  return true;
}
