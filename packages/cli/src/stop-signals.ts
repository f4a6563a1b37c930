/**
 * The one place the CLI listens for the signals that ask it to stop: SIGINT (Ctrl-C) and SIGTERM
 * (systemd, `kill`). It has two users that mean different things by a signal:
 *
 * - `runDaemon` (run-daemon.ts) serves commands whose whole job is to keep running (the
 *   emulators, `kage agent`, the coordinator). The first signal ends the command: the resource is
 *   closed once and the process exits.
 * - `withInterrupt` (interrupt.ts) serves one finite operation (a bench run, a demo). The first
 *   signal aborts the operation, which stops at a safe point so the command can still report; a
 *   second one exits at once.
 */

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Calls `handler` on every SIGINT/SIGTERM until the returned function is called. While it is
 * installed Node's default reaction (die at once) is off, so the handler decides what each signal
 * means, including a repeated one.
 */
export function onStopSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, handler);
  };
}
