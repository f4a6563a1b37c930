/**
 * The CLI's pino root. Long-running daemons log JSON to stdout for journald; commands whose stdout
 * is a contract (`emulate` prints its listening line, `bench run` the run id) log to stderr.
 */
import { pino, type Logger } from 'pino';

export function createLogger(options: { destination: 'stdout' | 'stderr'; level?: string }): Logger {
  const fd = options.destination === 'stdout' ? 1 : 2;
  return pino(
    { level: options.level ?? process.env['KAGE_LOG_LEVEL'] ?? 'info', base: { pid: process.pid } },
    pino.destination({ fd, sync: true }),
  );
}
