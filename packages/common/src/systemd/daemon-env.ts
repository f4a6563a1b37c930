/**
 * The environment systemd hands a service (systemd.exec(5) "Environment variables in spawned
 * processes"), read in one place and passed to the logger, the notifier and the watchdog
 * as plain values.
 */

/** What the daemon learns from its environment. Every field is null outside systemd. */
export interface DaemonEnv {
  /** `$NOTIFY_SOCKET`: where sd_notify messages go (a path, or `@name` for an abstract socket). */
  notifySocket: string | null;
  /**
   * `$WATCHDOG_USEC` in microseconds, or null when no watchdog is configured or when
   * `$WATCHDOG_PID` names another process (the variable was inherited, not meant for us).
   */
  watchdogUsec: number | null;
  /** `$JOURNAL_STREAM` (`dev:inode` of the journal stream stdout/stderr was connected to). */
  journalStream: string | null;
  /** First entry of `$STATE_DIRECTORY` (from the unit's `StateDirectory=`). */
  stateDirectory: string | null;
  /** `$KAGE_LOG_LEVEL` (pino level name). */
  logLevel: string | null;
}

/** The variables that make a child believe it may talk to our service manager. */
const NOTIFY_VARIABLES = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/** Reads {@link DaemonEnv}; `pid` is the process the watchdog variables must be meant for. */
export function readDaemonEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  pid: number = process.pid,
): DaemonEnv {
  const nonEmpty = (name: string): string | null => {
    const v = env[name];
    return v === undefined || v === '' ? null : v;
  };
  let watchdogUsec: number | null = null;
  const usec = nonEmpty('WATCHDOG_USEC');
  const watchdogPid = nonEmpty('WATCHDOG_PID');
  if (usec !== null && /^\d+$/.test(usec) && Number(usec) > 0) {
    if (watchdogPid === null || Number(watchdogPid) === pid) watchdogUsec = Number(usec);
  }
  const stateDirectory = nonEmpty('STATE_DIRECTORY')?.split(':')[0] ?? null;
  return {
    notifySocket: nonEmpty('NOTIFY_SOCKET'),
    watchdogUsec,
    journalStream: nonEmpty('JOURNAL_STREAM'),
    stateDirectory: stateDirectory === '' ? null : stateDirectory,
    logLevel: nonEmpty('KAGE_LOG_LEVEL'),
  };
}

/**
 * Removes `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `env` (what `sd_notify(3)`'s
 * `unset_environment` does). Call it after {@link readDaemonEnv}: with `NotifyAccess=all`, a
 * supervised child that inherited them could otherwise send READY/STOPPING/WATCHDOG for the agent.
 * The notifier keeps the socket it was given and passes it to `systemd-notify` explicitly.
 */
export function scrubDaemonEnv(env: Record<string, string | undefined> = process.env): void {
  for (const name of NOTIFY_VARIABLES) Reflect.deleteProperty(env, name);
}
