/**
 * The single-owner lease of a coordinator database: one row naming the process that writes to the
 * file, renewed by a heartbeat. It is taken before anything else is written: a coordinator that is
 * refused must leave the file exactly as the owner has it, schema included. So the table is
 * created here on the bare connection, with the same statement migration 1 runs (`IF NOT EXISTS`
 * makes the two orders equivalent).
 */
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { CoordinatorError } from '../coordinator-error.js';

export const LEASE_TABLE_SQL = `
  CREATE TABLE IF NOT EXISTS coordinator_lease (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_ms   INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
  ) STRICT;`;

export interface LeaseOwner {
  host: string;
  pid: number;
}

/** This process, read when asked (tests pose as another process by redefining `process.pid`). */
export function thisProcess(): LeaseOwner {
  return { host: hostname(), pid: process.pid };
}

/**
 * Takes the lease for `owner` in one `BEGIN IMMEDIATE` transaction: free, already ours, stale (no
 * heartbeat for `staleAfterMs`) or held by a dead process on this host.
 *
 * @throws `KAGE_ERR_COORDINATOR_DB_IN_USE` naming the holder; the transaction is rolled back, so
 *   nothing was written (the table existed already: a holder created it)
 */
export function acquireLease(
  db: Database.Database,
  file: string,
  owner: LeaseOwner,
  staleAfterMs: number,
  now: number = Date.now(),
): void {
  db.transaction(() => {
    db.exec(LEASE_TABLE_SQL);
    const row = db.prepare(`SELECT host, pid, heartbeat_ms FROM coordinator_lease WHERE id = 1`).get() as
      { host: string; pid: number; heartbeat_ms: number } | undefined;
    if (row !== undefined && !(row.host === owner.host && row.pid === owner.pid)) {
      const sameHostDead = row.host === owner.host && !processAlive(row.pid);
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
    ).run(owner.host, owner.pid, now, now);
  }).immediate();
}

/**
 * Heartbeat. @returns false when the row is no longer `owner`'s: another coordinator found the
 * lease stale and took it, and two processes now write to the file.
 */
export function renewLease(db: Database.Database, owner: LeaseOwner, now: number = Date.now()): boolean {
  return (
    db
      .prepare(`UPDATE coordinator_lease SET heartbeat_ms = ? WHERE id = 1 AND host = ? AND pid = ?`)
      .run(now, owner.host, owner.pid).changes === 1
  );
}

/** Gives the lease up if `owner` still holds it (never another process's). */
export function releaseLease(db: Database.Database, owner: LeaseOwner): void {
  db.prepare(`DELETE FROM coordinator_lease WHERE id = 1 AND host = ? AND pid = ?`).run(owner.host, owner.pid);
}

/** What the daemon stops with when {@link renewLease} finds the lease taken over. */
export function leaseLostError(file: string): CoordinatorError {
  return new CoordinatorError(
    'KAGE_ERR_COORDINATOR_DB_IN_USE',
    `another coordinator took over the database ${file} (this one missed its lease heartbeats); stopping so that only one writes to it`,
    { hint: 'run one coordinator per db:; if this process was paused or starved, find out why' },
  );
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
