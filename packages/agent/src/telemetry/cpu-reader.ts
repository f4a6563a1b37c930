/**
 * Whole-machine and per-CPU busy % from /proc/stat deltas, plus /proc/loadavg.
 *
 * busy = user + nice + system + irq + softirq + steal; idle = idle + iowait. guest and guest_nice
 * are already inside user and nice, so they are not added again. `os.cpus()` would be simpler but
 * has no iowait or steal. The first read has nothing to diff against and returns null rather than
 * the average since boot.
 */
import { join } from 'node:path';
import { createFileReader, parseDecimal, roundTo, type FileReader } from './proc-file.js';

/** One CPU line's counters, in USER_HZ ticks. */
export interface CpuTimes {
  busy: number;
  idle: number;
}

/** /proc/stat's cpu lines: the aggregate and each CPU by id. */
export interface ProcStatCpu {
  total: CpuTimes;
  cores: Map<number, CpuTimes>;
}

export interface CpuReading {
  cpu_pct: number | null;
  per_core_pct: (number | null)[];
  load1: number | null;
  load5: number | null;
  load15: number | null;
}

export interface CpuReaderOptions {
  /** Where procfs is mounted. @default '/proc' */
  procRoot?: string;
  files?: FileReader;
}

export interface CpuReader {
  read(): Promise<CpuReading>;
  /** Releases the kept file descriptors. Idempotent; a later read reopens them. */
  close(): void;
}

function parseCpuFields(fields: string[]): CpuTimes | null {
  // user nice system idle [iowait irq softirq steal guest guest_nice]; at least the first four.
  if (fields.length < 4) return null;
  const v: number[] = [];
  for (let i = 0; i < 8; i++) {
    const f = fields[i];
    if (f === undefined) {
      v.push(0);
      continue;
    }
    if (!/^\d+$/.test(f)) return null;
    v.push(Number(f));
  }
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

/**
 * Parses the `cpu` lines at the top of /proc/stat. Returns null when the aggregate line is missing
 * or garbled; a garbled per-CPU line is left out (that CPU reads as unknown).
 */
export function parseProcStat(text: string): ProcStatCpu | null {
  let total: CpuTimes | null = null;
  const cores = new Map<number, CpuTimes>();
  // The cpu lines come first; the rest (intr with thousands of counters, ctxt, …) is not needed.
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (!text.startsWith('cpu', start)) break;
    const parts = text.slice(start, end).trim().split(/\s+/);
    const head = parts[0] ?? '';
    const times = parseCpuFields(parts.slice(1));
    if (head === 'cpu') total = times;
    else if (/^cpu\d+$/.test(head) && times !== null) cores.set(Number(head.slice(3)), times);
    start = end + 1;
  }
  return total === null ? null : { total, cores };
}

/** Busy % between two readings; null when no time passed. Counters that step back count as 0. */
export function busyPercent(prev: CpuTimes, cur: CpuTimes): number | null {
  // iowait (and so idle) is known to step backwards on NO_HZ kernels; clamp rather than go negative.
  const dBusy = Math.max(0, cur.busy - prev.busy);
  const dIdle = Math.max(0, cur.idle - prev.idle);
  const dTotal = dBusy + dIdle;
  return dTotal === 0 ? null : roundTo((dBusy / dTotal) * 100, 2);
}

/** Parses /proc/loadavg (`0.52 0.58 0.59 1/467 12345`). */
export function parseLoadavg(text: string | null): Pick<CpuReading, 'load1' | 'load5' | 'load15'> {
  const parts = text?.trim().split(/\s+/) ?? [];
  if (parts.length < 3) return { load1: null, load5: null, load15: null };
  return { load1: parseDecimal(parts[0]), load5: parseDecimal(parts[1]), load15: parseDecimal(parts[2]) };
}

/** Creates a CPU reader; it keeps the previous /proc/stat counters between reads. */
export function createCpuReader(options: CpuReaderOptions = {}): CpuReader {
  const procRoot = options.procRoot ?? '/proc';
  const files = options.files ?? createFileReader();
  const statPath = join(procRoot, 'stat');
  const loadavgPath = join(procRoot, 'loadavg');
  let prev: ProcStatCpu | null = null;

  return {
    async read() {
      const [statText, loadText] = await Promise.all([files.readStable(statPath), files.readStable(loadavgPath)]);
      const cur = statText === null ? null : parseProcStat(statText);
      const load = parseLoadavg(loadText);
      if (cur === null) {
        // Unknown now, and the next good read must not diff against a stale baseline either.
        prev = null;
        return { cpu_pct: null, per_core_pct: [], ...load };
      }
      const maxId = cur.cores.size === 0 ? -1 : Math.max(...cur.cores.keys());
      const perCore: (number | null)[] = new Array<number | null>(maxId + 1).fill(null);
      let cpuPct: number | null = null;
      if (prev !== null) {
        cpuPct = busyPercent(prev.total, cur.total);
        for (const [id, times] of cur.cores) {
          const before = prev.cores.get(id);
          if (before !== undefined) perCore[id] = busyPercent(before, times);
        }
      }
      prev = cur;
      return { cpu_pct: cpuPct, per_core_pct: perCore, ...load };
    },
    close() {
      files.release(statPath);
      files.release(loadavgPath);
    },
  };
}
