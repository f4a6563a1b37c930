/**
 * @kage/common — what every Kage config file and daemon shares: YAML with positions and schema
 * errors turned into {@link Problem}s, the coded error base, printable excerpts of untrusted text,
 * and the systemd plumbing (sd_notify, watchdog, journald-aware logging, the daemon environment).
 */
export { KageError, errorCode, errorHint, errorMessage } from './kage-error.js';
export { formatProblem, formatProblems, type Problem } from './problem.js';
export { excerpt } from './text-excerpt.js';
export { describeFsError, formatMode, isGroupOrWorldReadable } from './file-facts.js';
export {
  ERROR_MESSAGE,
  describeValue,
  formatPath,
  isRecord,
  parseYaml,
  problemAt,
  schemaViolations,
  type ParsedYaml,
  type Segment,
  type YamlSource,
} from './yaml-source.js';
export { readDaemonEnv, scrubDaemonEnv, type DaemonEnv } from './systemd/daemon-env.js';
export {
  createDaemonLogger,
  isJournalStream,
  syslogPrefixForLevel,
  type DaemonLoggerOptions,
} from './systemd/journald-logger.js';
export { buildNotifyArgs, createSdNotifier, type SdNotifier, type SdNotifierOptions } from './systemd/sd-notify.js';
export {
  createFreshnessCheck,
  createWatchdog,
  type FreshnessCheckOptions,
  type Watchdog,
  type WatchdogCheck,
  type WatchdogFailure,
  type WatchdogOptions,
  type WatchdogStats,
} from './systemd/watchdog.js';
