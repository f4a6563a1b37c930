/**
 * The coordinator's tables, in the same database file as the benchmark tables and migrated by the
 * same runner under their own `kage_schema` row (`coordinator`). Never edit a released migration:
 * add the next.
 *
 * Telemetry is stored as the columns the API and the reports read (CPU, memory, GPU busy and
 * memory, summed or averaged over the node's GPUs) plus the per-GPU and per-service detail as
 * small JSON; per-core loads, temperatures and network counters stay on the agent's stream and in
 * the live feed, because keeping them for every second of 24 hours would multiply the file's size
 * for numbers nobody charts from here.
 */
import type { Migration, SchemaComponent } from '@kage/bench';
import { LEASE_TABLE_SQL } from './db-lease.js';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'nodes, boots, samples and minute means, service events, lease, runs, cell utilization',
    sql: `
      CREATE TABLE nodes (
        id                 TEXT PRIMARY KEY,
        hostname           TEXT NOT NULL,
        agent_version      TEXT NOT NULL,
        boot_id            TEXT NOT NULL,
        sample_interval_ms INTEGER NOT NULL,
        inventory_json     TEXT NOT NULL,
        services_json      TEXT NOT NULL,
        first_seen_ms      INTEGER NOT NULL,
        last_seen_ms       INTEGER NOT NULL,
        clock_skew_ms      REAL
      ) STRICT;

      -- Highest seq held per (node, boot): records at or below it are duplicates.
      CREATE TABLE node_boots (
        node_id    TEXT NOT NULL,
        boot_id    TEXT NOT NULL,
        last_seq   INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (node_id, boot_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE samples (
        node_id             TEXT NOT NULL,
        ts_ms               INTEGER NOT NULL,
        seq                 INTEGER NOT NULL,
        cpu_pct             REAL,
        mem_used_bytes      INTEGER,
        mem_total_bytes     INTEGER,
        gpu_busy_pct        REAL,
        gpu_mem_used_bytes  INTEGER,
        gpu_mem_total_bytes INTEGER,
        gpus_json           TEXT,
        services_json       TEXT
      ) STRICT;
      CREATE INDEX samples_by_node_time ON samples (node_id, ts_ms);
      -- Retention finds the oldest raw sample without a scan.
      CREATE INDEX samples_by_time ON samples (ts_ms);

      CREATE TABLE sample_minutes (
        node_id                TEXT NOT NULL,
        minute_ms              INTEGER NOT NULL,
        samples                INTEGER NOT NULL,
        cpu_pct_mean           REAL,
        cpu_pct_max            REAL,
        mem_used_bytes_mean    REAL,
        mem_used_bytes_max     INTEGER,
        mem_total_bytes        INTEGER,
        gpu_busy_pct_mean      REAL,
        gpu_busy_pct_max       REAL,
        gpu_mem_used_bytes_max INTEGER,
        gpu_mem_total_bytes    INTEGER,
        PRIMARY KEY (node_id, minute_ms)
      ) STRICT, WITHOUT ROWID;
      -- Retention deletes old minutes in chunks without a scan.
      CREATE INDEX sample_minutes_by_time ON sample_minutes (minute_ms);

      CREATE TABLE service_events (
        id          INTEGER PRIMARY KEY,
        node_id     TEXT NOT NULL,
        boot_id     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        ts_ms       INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        service     TEXT NOT NULL,
        from_state  TEXT,
        to_state    TEXT,
        health      TEXT,
        reason      TEXT,
        status_json TEXT NOT NULL
      ) STRICT;
      CREATE INDEX service_events_by_node_time ON service_events (node_id, ts_ms);
      -- Retention deletes old events in chunks without a scan.
      CREATE INDEX service_events_by_time ON service_events (ts_ms);

      -- Which coordinator process owns the database (one at a time). Created before this
      -- migration runs when a coordinator opens the file: the lease is taken first.
      ${LEASE_TABLE_SQL}

      -- Runs started through the coordinator (resumed by it after a restart).
      CREATE TABLE coordinator_runs (
        run_id     TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL
      ) STRICT;

      -- Each node's utilization during a cell's measured window.
      CREATE TABLE cell_utilization (
        run_id          TEXT NOT NULL,
        ordinal         INTEGER NOT NULL,
        node_id         TEXT NOT NULL,
        window_start_ms INTEGER NOT NULL,
        window_end_ms   INTEGER NOT NULL,
        summary_json    TEXT NOT NULL,
        PRIMARY KEY (run_id, ordinal, node_id)
      ) STRICT;
    `,
  },
];

export const COORDINATOR_SCHEMA: SchemaComponent = {
  component: 'coordinator',
  migrations: MIGRATIONS,
  label: 'coordinator',
};
