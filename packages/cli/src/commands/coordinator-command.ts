/**
 * `kage coordinator --config FILE`: the coordinator daemon, as the systemd unit runs it. Logs pino
 * JSON on stdout (with syslog priorities under journald); a config problem exits 78 so systemd
 * does not restart into the same error; a database held by another coordinator exits 69.
 * SIGTERM stops it cleanly with exit 0: running benchmark runs are left interrupted and resume at
 * the next start.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { pino, type Level } from 'pino';
import { runDaemon } from '../run-daemon.js';

const version = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Inside the unit's TimeoutStopSec (30 s): a stuck close ends in our own exit 1 with a log line. */
const SHUTDOWN_FORCE_MS = 20_000;

export function createCoordinatorCommand(): Command {
  return new Command('coordinator')
    .description(
      'run the coordinator: accept agents, store telemetry, serve the REST API, run benchmarks through agents',
    )
    .requiredOption('--config <file>', 'coordinator.yaml (see docs/coordinator.md)')
    .action(async (flags: { config: string }) => {
      const { createCoordinatorDaemon, loadCoordinatorConfig } = await import('@kage/coordinator');
      const { createDaemonLogger, readDaemonEnv } = await import('@kage/common');
      const env = readDaemonEnv();
      const requested = env.logLevel ?? 'info';
      const known = requested in pino.levels.values || requested === 'silent';
      const log = createDaemonLogger({
        level: (known ? requested : 'info') as Level,
        journalStream: env.journalStream,
      });
      if (!known) log.warn({ KAGE_LOG_LEVEL: requested }, 'unknown log level; using info');
      const config = await loadCoordinatorConfig(flags.config);
      await runDaemon({
        log,
        forceExitMs: SHUTDOWN_FORCE_MS,
        start: async (hooks) => {
          const daemon = createCoordinatorDaemon({ config, env, log, version, onFatal: (err) => hooks.onFatal(err) });
          try {
            // The bound ports (useful with port 0) are in the "coordinator started" log line.
            await daemon.start();
          } catch (err) {
            await daemon.close();
            throw err;
          }
          return daemon;
        },
      });
    });
}
