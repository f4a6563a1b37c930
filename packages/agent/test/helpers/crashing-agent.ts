/**
 * Plays an agent that dies without cleaning up: `node crashing-agent.js STATE_DIR -- ARGV…` starts
 * ARGV as a process-driver service (so a pidfile is written to STATE_DIR), logs pino JSON to stdout
 * and waits to be SIGKILLed by the test, which leaves the service's process group orphaned.
 */
import { pino } from 'pino';
import { createProcessService } from '../../src/index.js';

const [stateDir, separator, ...command] = process.argv.slice(2);
if (stateDir === undefined || separator !== '--' || command.length === 0) {
  process.stderr.write('usage: crashing-agent.js STATE_DIR -- ARGV…\n');
  process.exit(64);
}
const log = pino({ level: 'info' }, pino.destination({ fd: 1, sync: true }));
const service = createProcessService({ name: 'orphan-maker', config: { driver: 'process', command }, log, stateDir });
await service.start();
setInterval(() => undefined, 60_000);
