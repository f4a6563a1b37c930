// The benchmarks start Kage's daemons as the shipped systemd units start them (the unit's node
// flags, the unit's environment), so that what is measured is what the nodes run.
import { readFileSync } from 'node:fs';

/** The node flags of the ExecStart of systemd/kage-NAME.service (`node <flags> …/bin.js NAME …`). */
export function unitNodeFlags(name) {
  const file = `systemd/kage-${name}.service`;
  const unit = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  const m = new RegExp(`^ExecStart=\\S*node((?: --[^\\s]+)*) \\S+bin\\.js ${name} `, 'm').exec(unit);
  if (!m) throw new Error(`${file}: ExecStart does not run \`node … bin.js ${name}\``);
  return m[1].trim().split(/\s+/).filter(Boolean);
}

/**
 * The environment of a daemon under its unit: NODE_ENV=production and info logs, without the
 * systemd notify and watchdog variables or a NODE_OPTIONS that the benchmark's own shell may carry.
 */
export function daemonEnv() {
  const env = { ...process.env, NODE_ENV: 'production', KAGE_LOG_LEVEL: 'info' };
  for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM', 'NODE_OPTIONS']) delete env[k];
  return env;
}
