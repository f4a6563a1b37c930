// The machine may be shared: other processes' CPU takes cores from what is measured and shows up
// as latency. A benchmark waits (bounded) for a quiet moment before it measures, and records how
// busy the rest of the machine was either way.
import { setTimeout as sleep } from 'node:timers/promises';
import { machineTicks, ticksOf } from './proc-stat.mjs';
import { round } from './round.mjs';

/**
 * Which machine ticks count as busy: 'non-idle' (everything but idle and iowait, so IRQ, softirq
 * and steal included) or 'user+system' (user, nice and system only).
 */
function busyTicks(t, busy) {
  if (busy === 'non-idle') return t.busy;
  if (busy === 'user+system') return t.user + t.system;
  throw new Error(`busy: 'non-idle' or 'user+system' (got ${busy})`);
}

/**
 * The CPU of every process but the benchmark's own between two machineTicks() readings, in % of
 * all cores: the machine's busy ticks (see busyTicks) minus `ownTicks`.
 */
export function otherCpuPct(sys0, sys1, ownTicks, busy) {
  const machineBusy = busyTicks(sys1, busy) - busyTicks(sys0, busy);
  return Math.max(0, ((machineBusy - ownTicks) / (sys1.total - sys0.total)) * 100);
}

/**
 * Waits (up to about `limitS`) until processes other than `own` use less than `maxPct` of all
 * cores over a 2 s sample; `busy` as for otherCpuPct. Says on stderr, at `indent`, when it waits
 * and when it gives up. Returns the last sample's figure and the time waited.
 */
export async function waitQuiet({ limitS, signal, busy, own = [process.pid], maxPct = 15, indent = '  ' }) {
  const started = performance.now();
  let said = false;
  for (;;) {
    const sys0 = await machineTicks();
    const own0 = await ticksOf(own);
    await sleep(2000, undefined, { signal });
    const sys1 = await machineTicks();
    const own1 = await ticksOf(own);
    const otherPct = otherCpuPct(sys0, sys1, own1 - own0, busy);
    const waited = (performance.now() - started) / 1000;
    const outcome = { other_processes_cpu_pct_of_all_cores: round(otherPct, 1), waited_s: round(waited, 1) };
    if (otherPct < maxPct) return outcome;
    if (waited >= limitS) {
      process.stderr.write(`${indent}other processes still use ${otherPct.toFixed(0)} % of all cores; going on\n`);
      return outcome;
    }
    if (!said) {
      process.stderr.write(
        `${indent}other processes use ${otherPct.toFixed(0)} % of all cores; waiting up to ${limitS} s for quiet…\n`,
      );
      said = true;
    }
  }
}
