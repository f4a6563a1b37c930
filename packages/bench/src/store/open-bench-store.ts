/**
 * Opening the benchmark store: the connection, its pragmas (WAL, foreign keys, busy timeout,
 * `synchronous = NORMAL`) and the schema migration. Every way a file can be unusable becomes one
 * coded error naming it, and the connection is closed again, so a failed open writes nothing.
 *
 * `synchronous = NORMAL` in WAL mode is durable against process crashes (a power cut may lose the
 * last commits, never the file's integrity) and keeps a commit to tens of microseconds: better-
 * sqlite3 is synchronous, on the same event loop that timestamps in-flight tokens.
 */
import Database from 'better-sqlite3';
import { BenchError } from '../errors.js';
import { silentLogger, type BenchLogger } from '../logger.js';
import { createStore, type BenchStore } from './bench-store.js';
import { LATEST_SCHEMA_VERSION, assertNotNewer, migrate, readSchemaVersion } from './migrations.js';
import { storeError } from './store-errors.js';

/** Options of {@link openBenchStore}. */
export interface OpenBenchStoreOptions {
  /** Database file (created when missing unless `readonly`); `:memory:` for a throwaway store. */
  path: string;
  /** Open for reading only (`kage report`, `kage bench list`): nothing is created or migrated. */
  readonly?: boolean;
  /** How long a write waits for another process's lock before failing with `KAGE_ERR_DB_LOCKED`. @default 5000 */
  busyTimeoutMs?: number;
  logger?: BenchLogger;
}

/**
 * Opens (creating and migrating when needed) the store at `options.path`.
 *
 * @throws {@link BenchError} `KAGE_ERR_DB_OPEN` (missing directory, unreadable), `KAGE_ERR_DB_LOCKED`,
 *   `KAGE_ERR_DB_READONLY`, `KAGE_ERR_DB_CORRUPT` (not a database), `KAGE_ERR_DB_SCHEMA_NEWER`;
 *   nothing is written to the file when opening fails
 */
export function openBenchStore(options: OpenBenchStoreOptions): BenchStore {
  const file = options.path;
  const ro = options.readonly ?? false;
  const log = (options.logger ?? silentLogger).child({ component: 'bench-store' });
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: ro, fileMustExist: ro, timeout: options.busyTimeoutMs ?? 5000 });
  } catch (err) {
    // better-sqlite3 throws a plain TypeError for a missing directory: not a SQLite code.
    if (err instanceof TypeError) {
      throw new BenchError('KAGE_ERR_DB_OPEN', `database ${file} cannot be opened: ${err.message}`, {
        cause: err,
        hint: 'create the directory first or pass another --db',
      });
    }
    throw storeError(err, file, 'open');
  }
  try {
    db.pragma('foreign_keys = ON');
    if (ro) {
      const version = readSchemaVersion(db); // reads the header: a non-database fails here
      assertNotNewer(version, file);
      if (version === 0) {
        throw new BenchError('KAGE_ERR_DB_OPEN', `database ${file} holds no kage benchmark data`, {
          hint: 'run `kage bench run` with this --db first',
        });
      }
      if (version < LATEST_SCHEMA_VERSION) {
        throw new BenchError(
          'KAGE_ERR_DB_READONLY',
          `database ${file} has schema version ${version} and must be upgraded to ${LATEST_SCHEMA_VERSION}, which a read-only open cannot do`,
          { hint: 'open it once without read-only (e.g. `kage bench list`) as a user who can write it' },
        );
      }
    } else {
      // Setting WAL reads the header first: random bytes fail here, before anything is written.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('wal_autocheckpoint = 10000');
      const m = migrate(db, file);
      if (m.from !== m.to) log.info({ file, from: m.from, to: m.to }, 'benchmark schema migrated');
    }
  } catch (err) {
    db.close();
    throw storeError(err, file, 'open');
  }
  return createStore(db, file, ro);
}
