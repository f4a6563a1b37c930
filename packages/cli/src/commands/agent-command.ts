/**
 * `kage agent --config FILE`: the node agent daemon, as the systemd unit runs it. Logs pino JSON on
 * stdout (with syslog priorities under journald); a config problem exits 78 so systemd does not
 * restart into the same error. SIGTERM stops it cleanly with exit 0; a failed or overlong
 * shutdown exits 1.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { pino, type Level } from 'pino';
import { runDaemon } from '../run-daemon.js';

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
      await runDaemon({
        log,
        // Inside the unit's TimeoutStopSec, so a stuck close ends in our own exit 1 with a log line
        // rather than in systemd's SIGKILL.
        forceExitMs: config.shutdownForceMs,
        start: async () => {
          const daemon = createAgentDaemon({ config, env, log, agentVersion });
          try {
            await daemon.start();
          } catch (err) {
            // Whatever did start (the buffer, supervised children) must not outlive the failure.
            await daemon.close();
            throw err;
          }
          return daemon;
        },
      });
    });
}
