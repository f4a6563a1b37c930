/**
 * Versioned schema of the benchmark store. Migrations live in code, run in order, each in its own
 * `BEGIN IMMEDIATE` transaction that also bumps the version, so a failure leaves the previous
 * version intact. The version is kept per component in `kage_schema` rather than in
 * `PRAGMA user_version`, because the coordinator keeps its own tables in the same database file
 * and a single file-wide number could not describe both.
 */
import type Database from 'better-sqlite3';
import { BenchError } from '../errors.js';

/** The `kage_schema` row this store owns. */
export const SCHEMA_COMPONENT = 'bench';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

const RUN_STATUS = `'running','completed','interrupted','failed','cancelled'`;
const CELL_STATUS = `'pending','running','completed','failed','interrupted'`;

/** Every migration, oldest first. Never edit a released one: add the next. */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, cells, requests, decisions, recommendations',
    sql: `
      CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN (${RUN_STATUS})),
        matrix_json TEXT NOT NULL,
        host_json   TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        error       TEXT,
        owner_host  TEXT,
        owner_pid   INTEGER,
        updated_at  TEXT NOT NULL
      ) STRICT;

      CREATE TABLE cells (
        id                   INTEGER PRIMARY KEY,
        run_id               TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        ordinal              INTEGER NOT NULL,
        model                TEXT NOT NULL,
        model_id             TEXT NOT NULL,
        target               TEXT NOT NULL,
        target_kind          TEXT NOT NULL,
        concurrency          INTEGER NOT NULL,
        status               TEXT NOT NULL CHECK (status IN (${CELL_STATUS})),
        tries                INTEGER NOT NULL DEFAULT 0,
        started_at           TEXT,
        finished_at          TEXT,
        error_code           TEXT,
        error_message        TEXT,
        health_before_json   TEXT,
        health_after_json    TEXT,
        prepare_json         TEXT,
        attempts             INTEGER NOT NULL DEFAULT 0,
        successes            INTEGER NOT NULL DEFAULT 0,
        success_rate         REAL,
        window_ms            REAL,
        output_tokens_total  INTEGER,
        aggregate_tps        REAL,
        decode_tps_median    REAL,
        ttft_ms_median       REAL,
        e2e_ms_median        REAL,
        summary_json         TEXT,
        UNIQUE (run_id, ordinal),
        UNIQUE (run_id, model, target, concurrency)
      ) STRICT;

      -- One row per attempt, inserted when it ends: rowid order is completion order.
      CREATE TABLE requests (
        id                        INTEGER PRIMARY KEY,
        cell_id                   INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        try                       INTEGER NOT NULL,
        superseded                INTEGER NOT NULL DEFAULT 0,
        warmup                    INTEGER NOT NULL,
        idx                       INTEGER NOT NULL,
        client                    INTEGER NOT NULL,
        protocol                  TEXT NOT NULL,
        model                     TEXT NOT NULL,
        started_at                TEXT NOT NULL,
        t_send_ms                 REAL NOT NULL,
        ttfb_ms                   REAL,
        ttft_ms                   REAL,
        ttfo_ms                   REAL,
        e2e_ms                    REAL,
        total_ms                  REAL NOT NULL,
        output_tokens             INTEGER NOT NULL,
        output_tokens_source      TEXT NOT NULL,
        output_tokens_approx      INTEGER NOT NULL,
        server_output_tokens      INTEGER,
        client_token_events       INTEGER NOT NULL,
        prompt_tokens             INTEGER,
        decode_tps                REAL,
        server_decode_tps         REAL,
        server_load_ms            REAL,
        server_prompt_eval_ms     REAL,
        server_eval_ms            REAL,
        server_total_ms           REAL,
        server_prompt_tps         REAL,
        server_peak_memory_bytes  REAL,
        finish_reason             TEXT,
        comment_events            INTEGER NOT NULL,
        success                   INTEGER NOT NULL,
        error_kind                TEXT,
        error_message             TEXT,
        error_status              INTEGER,
        token_offsets             BLOB NOT NULL
      ) STRICT;
      CREATE INDEX requests_by_cell ON requests (cell_id, superseded, id);

      CREATE TABLE decisions (
        run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        ordinal       INTEGER NOT NULL,
        model         TEXT NOT NULL,
        concurrency   INTEGER NOT NULL,
        verdict       TEXT NOT NULL,
        decision_json TEXT NOT NULL,
        PRIMARY KEY (run_id, model, concurrency)
      ) STRICT;

      CREATE TABLE recommendations (
        run_id       TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        verdict      TEXT NOT NULL,
        reasons_json TEXT NOT NULL,
        created_at   TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: "requests: the server's count of prompt tokens answered from its prompt cache",
    sql: `ALTER TABLE requests ADD COLUMN server_cached_prompt_tokens INTEGER;`,
  },
];

/** The schema version this code writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

/** Version recorded in the file, 0 when the store was never created there. */
export function readSchemaVersion(db: Database.Database, component: string = SCHEMA_COMPONENT): number {
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kage_schema'`).pluck().get();
  if (table === undefined) return 0;
  const v = db.prepare(`SELECT version FROM kage_schema WHERE component = ?`).pluck().get(component);
  return typeof v === 'number' ? v : 0;
}

/** One component's schema: its `kage_schema` row and its migrations, oldest first. */
export interface SchemaComponent {
  component: string;
  migrations: readonly Migration[];
  /** Words for the "newer" error: `benchmark`, `coordinator`. */
  label: string;
}

/**
 * The one migration runner of a Kage database: the bench store and the coordinator keep their
 * tables in the same file, each versioned under its own `kage_schema` row. Brings `schema` up to
 * its latest version. Always opens at least one write transaction, so a locked or read-only file
 * is reported at open time, not at the first write.
 *
 * @returns the version found and the version now in the file
 * @throws {@link BenchError} `KAGE_ERR_DB_SCHEMA_NEWER` when the file was written by a newer kage
 */
export function runMigrations(
  db: Database.Database,
  file: string,
  schema: SchemaComponent,
): { from: number; to: number } {
  const latest = schema.migrations.reduce((v, m) => Math.max(v, m.version), 0);
  let from = 0;
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS kage_schema (
      component  TEXT PRIMARY KEY,
      version    INTEGER NOT NULL,
      updated_at TEXT NOT NULL
    ) STRICT`);
    from = readSchemaVersion(db, schema.component);
  }).immediate();
  assertVersionKnown(from, latest, file, schema.label);

  for (const m of schema.migrations) {
    db.transaction(() => {
      // Re-read inside the transaction: another process may have migrated meanwhile.
      if (readSchemaVersion(db, schema.component) >= m.version) return;
      db.exec(m.sql);
      db.prepare(
        `INSERT INTO kage_schema (component, version, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
      ).run(schema.component, m.version, new Date().toISOString());
    }).immediate();
  }
  return { from, to: readSchemaVersion(db, schema.component) };
}

/** Brings the benchmark tables up to {@link LATEST_SCHEMA_VERSION}. */
export function migrate(db: Database.Database, file: string): { from: number; to: number } {
  return runMigrations(db, file, { component: SCHEMA_COMPONENT, migrations: MIGRATIONS, label: 'benchmark' });
}

function assertVersionKnown(version: number, latest: number, file: string, label: string): void {
  if (version > latest) {
    throw new BenchError(
      'KAGE_ERR_DB_SCHEMA_NEWER',
      `database ${file} has ${label} schema version ${version}; this kage understands up to ${latest}`,
      { hint: 'upgrade kage, or use another --db; nothing was changed' },
    );
  }
}

/** @throws {@link BenchError} `KAGE_ERR_DB_SCHEMA_NEWER` when `version` is beyond this code's. */
export function assertNotNewer(version: number, file: string): void {
  if (version > LATEST_SCHEMA_VERSION) {
    throw new BenchError(
      'KAGE_ERR_DB_SCHEMA_NEWER',
      `database ${file} has benchmark schema version ${version}; this kage understands up to ${LATEST_SCHEMA_VERSION}`,
      { hint: 'upgrade kage, or use another --db; nothing was changed' },
    );
  }
}
