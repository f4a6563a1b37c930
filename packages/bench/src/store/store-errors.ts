/**
 * Turns SQLite failures into coded {@link BenchError}s that name the database file, so the CLI and
 * the coordinator print one clear line ("database kage.db is locked by another process") instead
 * of a driver stack trace. The original error stays in `cause` for the debug log.
 */
import { BenchError, type BenchErrorCode } from '../errors.js';

/** SQLite error code (`SQLITE_BUSY`, `SQLITE_IOERR_WRITE`…) of a better-sqlite3 error, if any. */
function sqliteCode(err: unknown): string | null {
  if (err === null || typeof err !== 'object') return null;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : null;
}

/** Maps a primary SQLite code to ours, with a message and a hint for humans. */
function classify(code: string | null): { code: BenchErrorCode; what: string; hint: string } {
  const primary = code === null ? '' : (/^SQLITE_[A-Z]+/.exec(code)?.[0] ?? code);
  switch (primary) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return {
        code: 'KAGE_ERR_DB_LOCKED',
        what: 'is locked by another process',
        hint: 'another kage process is writing to it; wait for it to finish or use another --db',
      };
    case 'SQLITE_READONLY':
      return {
        code: 'KAGE_ERR_DB_READONLY',
        what: 'is read-only',
        hint: 'make the file and its directory writable (SQLite also writes -wal and -shm files beside it)',
      };
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return {
        code: 'KAGE_ERR_DB_CORRUPT',
        what: 'is not a valid kage database (corrupt or another kind of file)',
        hint: 'nothing was written to it; move it aside or point --db at another file',
      };
    case 'SQLITE_FULL':
      return { code: 'KAGE_ERR_DB_FULL', what: 'cannot grow: the disk is full', hint: 'free disk space' };
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_PERM':
    case 'SQLITE_AUTH':
      return {
        code: 'KAGE_ERR_DB_OPEN',
        what: 'cannot be opened',
        hint: 'check that the path exists and is accessible',
      };
    default:
      return { code: 'KAGE_ERR_DB_IO', what: 'failed', hint: 'see the cause in the debug log' };
  }
}

/**
 * Wraps any error thrown while using the database at `file` during `action` ("open", "record an
 * attempt"...). Errors that are already coded pass through unchanged.
 */
export function storeError(err: unknown, file: string, action: string): BenchError {
  if (err instanceof BenchError) return err;
  const code = sqliteCode(err);
  const c = classify(code);
  const detail = err instanceof Error ? err.message : String(err);
  return new BenchError(
    c.code,
    `database ${file} ${c.what} (${action}: ${code === null ? detail : `${code}: ${detail}`})`,
    {
      cause: err,
      hint: c.hint,
    },
  );
}
