/**
 * `kage agent --config FILE`: the node agent daemon, as the systemd unit runs it. Logs pino JSON on
 * stdout (with syslog priorities under journald); a config problem exits 78 so systemd does not
 * restart into the same error.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { pino, type Level } from 'pino';

const agentVersion = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export function createAgentCommand(): Command {
  return new Command('agent')
    .description('run the node agent: supervise ollama/exo, sample CPU/GPU/memory, stream to the coordinator')
    .requiredOption('--config <file>', 'agent.yaml (see docs/agent.md)')
    .action(async (flags: { config: string }) => {
      const { createAgentDaemon, loadAgentConfig } = await import('@kage/agent');
      const { createDaemonLogger, readDaemonEnv, scrubDaemonEnv } = await import('@kage/common');
      const env = readDaemonEnv();
      // Supervised children must not inherit systemd's notify socket or watchdog.
      scrubDaemonEnv();
      const requested = env.logLevel ?? 'info';
      const known = requested in pino.levels.values || requested === 'silent';
      const log = createDaemonLogger({
        level: (known ? requested : 'info') as Level,
        journalStream: env.journalStream,
      });
      if (!known) log.warn({ KAGE_LOG_LEVEL: requested }, 'unknown log level; using info');
      const config = await loadAgentConfig(flags.config, { log });
      const daemon = createAgentDaemon({ config, env, log, agentVersion });

      let stopping: Promise<void> | undefined;
      const done = new Promise<void>((resolve) => {
        const onSignal = (signal: NodeJS.Signals): void => {
          if (stopping) return;
          log.info({ signal }, 'shutdown requested');
          // Backstop inside systemd's TimeoutStopSec: a stuck close must not hang the unit.
          setTimeout(() => {
            log.error({ forceMs: config.shutdownForceMs }, 'shutdown took too long; exiting');
            process.exit(1);
          }, config.shutdownForceMs).unref();
          stopping = daemon.close().then(resolve, (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exitCode = 1;
            resolve();
          });
        };
        process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
      });
      try {
        await daemon.start();
      } catch (err) {
        await daemon.close();
        throw err;
      }
      await done;
    });
}
