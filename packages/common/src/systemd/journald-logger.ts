/**
 * A daemon's pino root: NDJSON on stdout. Under systemd, journald stores every stdout
 * line at PRIORITY=6 unless the line starts with a `<N>` syslog prefix, which it strips and uses as
 * the priority (sd-daemon(3)); without it `journalctl -p warning` shows nothing (docs/agent.md, Logs). So
 * when stdout *is* the journal stream, each line gets the prefix of its pino level. Anywhere else the
 * lines stay plain JSON, because the prefix would break every JSON consumer.
 */
import { fstatSync } from 'node:fs';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

/** syslog priorities (sd-daemon(3) `SD_ERR` …) by pino level; anything below info is debug. */
const PRIORITY_BY_LEVEL: readonly (readonly [minLevel: number, prefix: string])[] = [
  [60, '<2>'], // fatal → crit
  [50, '<3>'], // error → err
  [40, '<4>'], // warn → warning
  [30, '<6>'], // info → info
  [0, '<7>'], // debug, trace → debug
];

export interface DaemonLoggerOptions {
  /** pino level. @default 'info' */
  level?: Level | 'silent';
  /**
   * `$JOURNAL_STREAM` (from `readDaemonEnv`). Lines get `<N>` prefixes only when it names the
   * device and inode of `fd`, as systemd.exec(5) asks: a service that redirects its stdout keeps the
   * variable but is no longer writing to the journal.
   */
  journalStream?: string | null;
  /** Output file descriptor. @default 1 (stdout) */
  fd?: number;
  /** Fields on every line. @default { pid } */
  base?: Record<string, unknown>;
}

/** syslog priority prefix (`<3>` …) for a numeric pino level. */
export function syslogPrefixForLevel(level: number): string {
  for (const [min, prefix] of PRIORITY_BY_LEVEL) if (level >= min) return prefix;
  return '<7>';
}

/** True when `journalStream` (`dev:inode`) identifies what `fd` is connected to. */
export function isJournalStream(journalStream: string | null | undefined, fd: number): boolean {
  if (journalStream === null || journalStream === undefined) return false;
  const m = /^(\d+):(\d+)$/.exec(journalStream.trim());
  if (m === null) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1] ?? '') && st.ino === BigInt(m[2] ?? '');
  } catch {
    return false; // fd closed or not stat-able: certainly not the journal
  }
}

/**
 * Builds the root logger. Writes are synchronous: at 1 Hz telemetry volume the cost is nil, and a
 * crash or `process.exit` never loses the last lines (no flush to forget on shutdown).
 */
export function createDaemonLogger(options: DaemonLoggerOptions = {}): Logger {
  const fd = options.fd ?? 1;
  const destination = pino.destination({ fd, sync: true });
  const base = options.base ?? { pid: process.pid };
  const level = options.level ?? 'info';
  if (!isJournalStream(options.journalStream, fd)) return pino({ level, base }, destination);
  return pino({ level, base }, createPriorityStream(destination));
}

/**
 * A destination that prefixes each line with the priority of the level it was logged at. pino sets
 * `lastLevel` on a destination that carries `Symbol.for('pino.metadata')` just before each write
 * (pino docs, "destination[Symbol.for('pino.metadata')]"), so nothing is parsed back out of the JSON.
 * pino never emits a raw newline inside a line, so one prefix per write is one prefix per line.
 */
function createPriorityStream(target: DestinationStream): DestinationStream {
  const stream = {
    [Symbol.for('pino.metadata')]: true,
    lastLevel: 30,
    write(line: string): void {
      target.write(syslogPrefixForLevel(stream.lastLevel) + line);
    },
  };
  return stream;
}
