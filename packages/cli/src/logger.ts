/**
 * The CLI's pino root. Long-running daemons log JSON to stdout for journald; commands whose stdout
 * is a contract (`emulate` prints its listening line, `bench run` the run id) log to stderr.
 */
import { pino, type Logger } from 'pino';

export function createLogger(options: { destination: 'stdout' | 'stderr'; level?: string }): Logger {
  const fd = options.destination === 'stdout' ? 1 : 2;
  return pino(
    {
      level: options.level ?? process.env['KAGE_LOG_LEVEL'] ?? 'info',
      base: { pid: process.pid },
      // A person reads these lines in a terminal: errors carry their code and message, and the
      // stack only when asked for (KAGE_DEBUG=1).
      serializers: { err: process.env['KAGE_DEBUG'] ? pino.stdSerializers.err : errorWithoutStack },
    },
    pino.destination({ fd, sync: true }),
  );
}

function errorWithoutStack(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(code !== undefined && { code }) };
}
