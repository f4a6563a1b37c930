// The machine a result was measured on, written into every result file and printed above every
// table, so that figures from different machines are not compared unawares.
import { readFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { CLK_TCK } from './proc-stat.mjs';
import { round } from './round.mjs';

/** CPU, memory, kernel, distribution, Node and clock ticks; with `loadAverage`, the 1-minute load average now. */
export async function machineInfo({ loadAverage = false } = {}) {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return {
    cpu_model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    cpu_cores: cpus().length,
    total_memory_bytes: totalmem(),
    free_memory_bytes_at_start: freemem(),
    kernel: `Linux ${release()}`,
    distro: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? 'unknown',
    node_version: process.version,
    clock_ticks_per_s: CLK_TCK,
    ...(loadAverage ? { load_average_1m_at_start: round(loadavg()[0], 2) } : {}),
  };
}

/** The line that heads a benchmark's printed table. */
export function describeMachine(m) {
  return `machine: ${m.cpu_model}, ${m.cpu_cores} cores, ${(m.total_memory_bytes / 2 ** 30).toFixed(1)} GiB, ${m.kernel}, ${m.distro}, node ${m.node_version}`;
}
