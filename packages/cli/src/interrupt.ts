/**
 * Turns Ctrl-C / SIGTERM into an AbortSignal for the duration of one operation, so a run stops
 * between requests and is left `interrupted` (resumable) instead of dying mid-write. This is not
 * the daemon lifetime of run-daemon.ts: the operation ends, the command reports, and the process
 * exits by itself (stop-signals.ts compares the two).
 */
import { onStopSignal } from './stop-signals.js';

/** 128 + SIGINT, what shells report for a command stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

export async function withInterrupt<T>(operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let signals = 0;
  const stopListening = onStopSignal((signal) => {
    signals += 1;
    if (signals > 1) {
      // A second Ctrl-C means "now": the store has committed every finished attempt already.
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write(`\n${signal}: stopping after the requests in flight (press Ctrl-C again to quit now)\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  });
  try {
    return await operation(controller.signal);
  } finally {
    stopListening();
  }
}
