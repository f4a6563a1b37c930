/**
 * The process lifetime of every long-running kage command (the emulators, `kage agent`, the
 * coordinator): start one resource, report it ready, keep it running until SIGINT/SIGTERM or until
 * it reports a fatal error, close it exactly once, and leave the exit code saying how it ended.
 *
 * The stop signal is the normal end of such a command, so the process exits after it. That is the
 * difference from `withInterrupt` (interrupt.ts), which only aborts one operation and lets the
 * command carry on to report; stop-signals.ts compares the two.
 */
import type { Logger } from 'pino';
import { onStopSignal } from './stop-signals.js';

/** Calls a resource makes into `runDaemon` when it can no longer run. */
export interface DaemonHooks {
  /**
   * The resource failed and cannot go on: it is closed as on a signal, and the process exits 1.
   * Later calls are logged only.
   */
  onFatal(err: unknown): void;
  /**
   * The resource must die the way a killed process does: exit 1 at once and close nothing, so
   * clients see their connections cut and peers see a node fall silent (the emulators' crash
   * fault). A graceful close would end streams politely and hide exactly what is being tested.
   */
  onCrash(reason: string): void;
}

export interface DaemonResource {
  close(): Promise<void>;
}

export interface RunDaemonOptions<T extends DaemonResource> {
  log: Logger;
  /**
   * Starts the resource. If it rejects, nothing was started (it must clean up after itself) and
   * `runDaemon` rejects with the same error, for the caller to report.
   */
  start: (hooks: DaemonHooks) => Promise<T>;
  /** Called once the resource runs, unless a stop was requested while it was starting. */
  onReady?: (resource: T) => void;
  /**
   * From the stop request (signal or fatal error), how long starting and closing may take before
   * the process exits 1 anyway. A daemon under systemd must stay below the unit's TimeoutStopSec.
   */
  forceExitMs?: number;
}

export const DEFAULT_FORCE_EXIT_MS = 10_000;

/**
 * Resolves once the resource is closed, with `process.exitCode` set: 0 after a signal-driven stop,
 * 1 after a fatal error or a failed close. A crash, or a stop that outlives `forceExitMs`, exits 1
 * without resolving.
 */
export async function runDaemon<T extends DaemonResource>(options: RunDaemonOptions<T>): Promise<void> {
  const { log } = options;
  const forceExitMs = options.forceExitMs ?? DEFAULT_FORCE_EXIT_MS;
  let failed = false;
  let stopping = false;
  let stopRequested!: () => void;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));

  const requestStop = (): void => {
    if (stopping) return;
    stopping = true;
    // Armed at the request rather than when close starts: a start that never finishes must not
    // hang the process either. Unref'd, so it only matters while something still keeps the
    // process alive, which covers a handle the resource leaked after closing too.
    setTimeout(() => {
      log.error({ forceExitMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, forceExitMs).unref();
    stopRequested();
  };

  // Listening before start, so a stop sent while the resource is still starting is honoured once it
  // is up rather than killing the process half-started.
  const stopListening = onStopSignal((signal) => {
    if (stopping) {
      log.info({ signal }, 'shutdown already under way');
      return;
    }
    log.info({ signal }, 'shutdown requested');
    requestStop();
  });
  const hooks: DaemonHooks = {
    onFatal(err) {
      log.error({ err }, stopping ? 'fatal error while stopping' : 'fatal error; shutting down');
      failed = true;
      requestStop();
    },
    onCrash(reason) {
      log.error(`${reason}: exiting`);
      process.exit(1);
    },
  };

  // Signal listeners and the unref'd backstop do not keep Node running. Without this, a resource
  // that holds no handle, or a close awaiting something that never comes, would end the process
  // early with exit 13 (unsettled top-level await) instead of waiting for the signal or the backstop.
  const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
  try {
    const resource = await options.start(hooks);
    if (!stopping && options.onReady) {
      try {
        options.onReady(resource);
      } catch (err) {
        // The resource runs: it must still be closed, so this is a fatal error like any other.
        hooks.onFatal(err);
      }
    }
    await stopped;
    try {
      await resource.close();
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      failed = true;
    }
    process.exitCode = failed ? 1 : 0;
  } finally {
    clearInterval(keepAlive);
    stopListening();
  }
}
