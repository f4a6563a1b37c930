/**
 * The benchmark store: runs, their planned cells, every attempt as it ends, decisions and the
 * recommendation, in one SQLite file (better-sqlite3, WAL). Every write is one small transaction,
 * so a crash loses at most the requests in flight.
 *
 * Timing note: the store is synchronous, on the event loop that also timestamps the tokens of
 * in-flight requests. Commits are small (no fsync with `synchronous = NORMAL`); checkpoints, which
 * fsync, are run between cells by the orchestrator, never in the middle of a measurement.
 */
import { hostname as osHostname } from 'node:os';
import type Database from 'better-sqlite3';
import type { CellRequestRecord } from '../cell-runner.js';
import type { Decision, Verdict } from '../decision.js';
import { BenchError } from '../errors.js';
import type { Matrix } from '../matrix-schema.js';
import type { PrepareResult } from '../protocol-client.js';
import type { Recommendation } from '../recommendation.js';
import type { RunStatus } from '../report-json.js';
import type { ActiveRuns } from '../run/active-runs.js';
import type { HostInfo } from '../run/host-info.js';
import type { TargetHealth } from '../run/ollama-health.js';
import { ATTEMPT_COLUMNS, attemptFromRow, attemptParams, type AttemptRow } from './attempt-row.js';
import { newRunId } from './ids.js';
import { storeError } from './store-errors.js';
import { cellFromRow, runFromRow, type CellRow, type RunRow } from './store-rows.js';
import type { CellOutcome, CellPlanEntry, RunListEntry, StoredAttempt, StoredCell, StoredRun } from './store-types.js';

/** Input of {@link BenchStore.createRun}. */
export interface CreateRunInput {
  matrix: Matrix;
  plan: readonly CellPlanEntry[];
  host: HostInfo;
  /** @default a new ULID */
  id?: string;
  /** @default now */
  started_at?: string;
}

/** The store. Synchronous: each method is one transaction. Throws coded {@link BenchError}s naming the file. */
export interface BenchStore {
  readonly path: string;
  readonly readonly: boolean;
  /** Inserts a `running` run owned by this process and all its cells as `pending`. */
  createRun(input: CreateRunInput): StoredRun;
  /** @throws `KAGE_ERR_RUN_NOT_FOUND` */
  getRun(id: string): StoredRun;
  /** A run id, or `latest` (the most recently created run). @throws `KAGE_ERR_RUN_NOT_FOUND` */
  resolveRunId(idOrLatest: string): string;
  /** Every run, newest first. */
  listRuns(): RunListEntry[];
  /** Sets a run's status (and, for a terminal status, `finished_at`). */
  setRunStatus(id: string, status: RunStatus, options?: { error?: string | null }): void;
  /** Makes this process the owner of a run being resumed: status `running`, error cleared. */
  claimRun(id: string): void;
  /**
   * Marks `running` runs whose owner process on this host is gone as `interrupted`; returns their
   * ids. When `activeHere` is given, runs owned by this very process count as gone unless it lists
   * them (runs an earlier execution in this process failed to mark when its store write failed);
   * without it they are left alone.
   */
  reapStaleRuns(activeHere?: Pick<ActiveRuns, 'has'>): string[];
  getCells(runId: string): StoredCell[];
  /** Starts (or restarts) a cell: bumps its try, supersedes earlier attempts, clears its results. */
  beginCell(cellId: number, input: { health_before?: TargetHealth | null; prepare?: PrepareResult | null }): number;
  /** Stores one finished attempt of the cell's current try (its own transaction). */
  recordAttempt(cellId: number, tryNo: number, record: CellRequestRecord): number;
  /** Records the cell's end and its aggregate numbers. */
  finishCell(cellId: number, outcome: CellOutcome): void;
  /** Attempts of a cell in completion order; superseded ones only when asked. */
  getAttempts(
    cellId: number,
    options?: { includeSuperseded?: boolean; phase?: 'warmup' | 'measured' },
  ): StoredAttempt[];
  /** Stores decisions and the recommendation and marks the run `completed`, atomically. */
  completeRun(runId: string, decisions: readonly Decision[], recommendation: Recommendation): void;
  getDecisions(runId: string): Decision[];
  getRecommendation(runId: string): Recommendation | null;
  /** Moves the WAL into the database file (an fsync): call between cells, not during one. */
  checkpoint(): void;
  /** Closes the connection. Idempotent. */
  close(): void;
}

const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled', 'interrupted']);

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** Wraps an open connection (see `openBenchStore`). */
export function createStore(db: Database.Database, file: string, ro: boolean): BenchStore {
  let closed = false;
  const me = { host: osHostname(), pid: process.pid };

  /** Runs `fn` and turns any failure into a coded error naming the file. */
  const guard = <T>(action: string, fn: () => T): T => {
    if (closed) {
      throw new BenchError('KAGE_ERR_DB_CLOSED', `database ${file} is closed (${action})`, {
        hint: 'a bug: the store was used after close()',
      });
    }
    try {
      return fn();
    } catch (err) {
      throw storeError(err, file, action);
    }
  };

  const insertAttempt = db.prepare(
    `INSERT INTO requests (${ATTEMPT_COLUMNS.join(', ')}) VALUES (${ATTEMPT_COLUMNS.map(() => '?').join(', ')})`,
  );

  const getRunRow = (id: string): RunRow => {
    const row = db.prepare(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    if (row === undefined) {
      throw new BenchError('KAGE_ERR_RUN_NOT_FOUND', `no run ${id} in database ${file}`, {
        hint: 'list runs with `kage bench list`',
      });
    }
    return row;
  };

  const now = (): string => new Date().toISOString();

  return {
    path: file,
    readonly: ro,

    createRun(input) {
      return guard('create a run', () => {
        const id = input.id ?? newRunId();
        const startedAt = input.started_at ?? now();
        const insertCell = db.prepare(
          `INSERT INTO cells (run_id, ordinal, model, model_id, target, target_kind, concurrency, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')`,
        );
        db.transaction(() => {
          db.prepare(
            `INSERT INTO runs (id, name, status, matrix_json, host_json, started_at, owner_host, owner_pid, updated_at)
             VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
          ).run(
            id,
            input.matrix.name,
            JSON.stringify(input.matrix),
            JSON.stringify(input.host),
            startedAt,
            me.host,
            me.pid,
            now(),
          );
          input.plan.forEach((c, i) =>
            insertCell.run(id, i, c.model, c.model_id, c.target, c.target_kind, c.concurrency),
          );
        }).immediate();
        return runFromRow(getRunRow(id));
      });
    },

    getRun(id) {
      return guard('read a run', () => runFromRow(getRunRow(id)));
    },

    resolveRunId(idOrLatest) {
      return guard('find a run', () => {
        if (idOrLatest === 'latest') {
          const id = db.prepare(`SELECT id FROM runs ORDER BY id DESC LIMIT 1`).pluck().get() as string | undefined;
          if (id === undefined) {
            throw new BenchError('KAGE_ERR_RUN_NOT_FOUND', `database ${file} holds no runs yet`, {
              hint: 'start one with `kage bench run --matrix FILE`',
            });
          }
          return id;
        }
        // Users may type a ULID in lower case.
        const exact = db
          .prepare(`SELECT id FROM runs WHERE id = ? OR id = upper(?)`)
          .pluck()
          .get(idOrLatest, idOrLatest);
        if (typeof exact === 'string') return exact;
        return getRunRow(idOrLatest).id;
      });
    },

    listRuns() {
      return guard('list runs', () => {
        const rows = db
          .prepare(
            `SELECT r.id, r.name, r.status, r.started_at, r.finished_at,
                    (SELECT count(*) FROM cells c WHERE c.run_id = r.id) AS cells_total,
                    (SELECT count(*) FROM cells c WHERE c.run_id = r.id AND c.status IN ('completed', 'failed')) AS cells_done,
                    (SELECT count(*) FROM cells c WHERE c.run_id = r.id AND c.status = 'failed') AS cells_failed,
                    (SELECT verdict FROM recommendations m WHERE m.run_id = r.id) AS verdict
             FROM runs r ORDER BY r.id DESC`,
          )
          .all() as Array<Omit<RunListEntry, 'verdict' | 'status'> & { status: string; verdict: string | null }>;
        return rows.map((r) => ({ ...r, status: r.status as RunStatus, verdict: r.verdict as Verdict | null }));
      });
    },

    setRunStatus(id, status, options = {}) {
      guard('update a run', () => {
        getRunRow(id);
        db.prepare(`UPDATE runs SET status = ?, finished_at = ?, error = ?, updated_at = ? WHERE id = ?`).run(
          status,
          TERMINAL.has(status) ? now() : null,
          options.error ?? null,
          now(),
          id,
        );
      });
    },

    claimRun(id) {
      guard('claim a run', () => {
        getRunRow(id);
        db.prepare(
          `UPDATE runs SET status = 'running', finished_at = NULL, error = NULL, owner_host = ?, owner_pid = ?, updated_at = ?
           WHERE id = ?`,
        ).run(me.host, me.pid, now(), id);
      });
    },

    reapStaleRuns(activeHere) {
      return guard('recover crashed runs', () => {
        const rows = db
          .prepare(`SELECT id, owner_pid FROM runs WHERE status = 'running' AND owner_host = ?`)
          .all(me.host) as Array<{ id: string; owner_pid: number | null }>;
        const gone = (r: { id: string; owner_pid: number | null }): boolean => {
          if (r.owner_pid === null) return true;
          if (r.owner_pid === me.pid) return activeHere !== undefined && !activeHere.has(r.id);
          return !processAlive(r.owner_pid);
        };
        const stale = rows.filter(gone).map((r) => r.id);
        const mark = db.prepare(
          `UPDATE runs SET status = 'interrupted', finished_at = ?, error = ?, updated_at = ? WHERE id = ? AND status = 'running'`,
        );
        if (stale.length === 0) return stale;
        db.transaction(() => {
          for (const id of stale)
            mark.run(now(), 'the process running it ended without finishing (crash or kill)', now(), id);
        }).immediate();
        return stale;
      });
    },

    getCells(runId) {
      return guard('read cells', () =>
        (db.prepare(`SELECT * FROM cells WHERE run_id = ? ORDER BY ordinal`).all(runId) as CellRow[]).map(cellFromRow),
      );
    },

    beginCell(cellId, input) {
      return guard('start a cell', () =>
        db
          .transaction(() => {
            db.prepare(`UPDATE requests SET superseded = 1 WHERE cell_id = ? AND superseded = 0`).run(cellId);
            const changed = db
              .prepare(
                `UPDATE cells SET status = 'running', tries = tries + 1, started_at = ?, finished_at = NULL,
                   error_code = NULL, error_message = NULL, health_before_json = ?, health_after_json = NULL,
                   prepare_json = ?, attempts = 0, successes = 0, success_rate = NULL, window_ms = NULL,
                   output_tokens_total = NULL, aggregate_tps = NULL, decode_tps_median = NULL,
                   ttft_ms_median = NULL, e2e_ms_median = NULL, summary_json = NULL
                 WHERE id = ?`,
              )
              .run(now(), json(input.health_before), json(input.prepare), cellId).changes;
            if (changed !== 1) throw new TypeError(`no cell ${cellId}`);
            return db.prepare(`SELECT tries FROM cells WHERE id = ?`).pluck().get(cellId) as number;
          })
          .immediate(),
      );
    },

    recordAttempt(cellId, tryNo, record) {
      // One INSERT is its own (autocommit) transaction: committed the moment the attempt ends.
      return guard('record an attempt', () =>
        Number(insertAttempt.run(...attemptParams(cellId, tryNo, record)).lastInsertRowid),
      );
    },

    finishCell(cellId, o) {
      guard('finish a cell', () => {
        db.prepare(
          `UPDATE cells SET status = ?, finished_at = ?, error_code = ?, error_message = ?, health_after_json = ?,
             attempts = ?, successes = ?, success_rate = ?, window_ms = ?, output_tokens_total = ?, aggregate_tps = ?,
             decode_tps_median = ?, ttft_ms_median = ?, e2e_ms_median = ?, summary_json = ?
           WHERE id = ?`,
        ).run(
          o.status,
          now(),
          o.error?.code ?? null,
          o.error?.message ?? null,
          json(o.health_after),
          o.attempts ?? 0,
          o.successes ?? 0,
          o.success_rate ?? null,
          o.window_ms ?? null,
          o.output_tokens_total ?? null,
          o.aggregate_tps ?? null,
          o.summary?.decode_tps?.median ?? null,
          o.summary?.ttft_ms?.median ?? null,
          o.summary?.e2e_ms?.median ?? null,
          json(o.summary),
          cellId,
        );
      });
    },

    getAttempts(cellId, options = {}) {
      return guard('read attempts', () => {
        const where = [`cell_id = ?`];
        const params: Array<string | number> = [cellId];
        if (options.includeSuperseded !== true) where.push('superseded = 0');
        if (options.phase !== undefined) {
          where.push('warmup = ?');
          params.push(options.phase === 'warmup' ? 1 : 0);
        }
        const rows = db.prepare(`SELECT * FROM requests WHERE ${where.join(' AND ')} ORDER BY id`).all(...params);
        return (rows as AttemptRow[]).map(attemptFromRow);
      });
    },

    completeRun(runId, decisions, recommendation) {
      guard('store the outcome', () => {
        getRunRow(runId);
        const ins = db.prepare(
          `INSERT INTO decisions (run_id, ordinal, model, concurrency, verdict, decision_json) VALUES (?, ?, ?, ?, ?, ?)`,
        );
        db.transaction(() => {
          db.prepare(`DELETE FROM decisions WHERE run_id = ?`).run(runId);
          decisions.forEach((d, i) => ins.run(runId, i, d.model, d.concurrency, d.verdict, JSON.stringify(d)));
          db.prepare(
            `INSERT INTO recommendations (run_id, verdict, reasons_json, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (run_id) DO UPDATE SET verdict = excluded.verdict, reasons_json = excluded.reasons_json,
               created_at = excluded.created_at`,
          ).run(runId, recommendation.verdict, JSON.stringify(recommendation.reasons), now());
          db.prepare(
            `UPDATE runs SET status = 'completed', finished_at = ?, error = NULL, updated_at = ? WHERE id = ?`,
          ).run(now(), now(), runId);
        }).immediate();
      });
    },

    getDecisions(runId) {
      return guard('read decisions', () =>
        (
          db
            .prepare(`SELECT decision_json FROM decisions WHERE run_id = ? ORDER BY ordinal`)
            .pluck()
            .all(runId) as string[]
        ).map((j) => JSON.parse(j) as Decision),
      );
    },

    getRecommendation(runId) {
      return guard('read the recommendation', () => {
        const row = db.prepare(`SELECT verdict, reasons_json FROM recommendations WHERE run_id = ?`).get(runId) as
          { verdict: string; reasons_json: string } | undefined;
        return row === undefined
          ? null
          : { verdict: row.verdict as Verdict, reasons: JSON.parse(row.reasons_json) as string[] };
      });
    },

    checkpoint() {
      if (ro) return;
      guard('checkpoint', () => {
        db.pragma('wal_checkpoint(PASSIVE)');
      });
    },

    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
