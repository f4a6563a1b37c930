/**
 * CPU % and memory of a cgroup v2 (a systemd unit such as system.slice/ollama.service): two small
 * files per tick, `cpu.stat` (usage_usec) and `memory.current`, whatever the number of processes.
 * This is the cheap and complete way to account a service, children and forks included; the
 * process-tree walk is for services that are not units. cgroup v1 hierarchies are not read.
 */
import { posix } from 'node:path';
import { createFileReader, parseUint, roundTo, type FileReader } from './proc-file.js';
import type { MonotonicClock } from './types.js';

export interface CgroupUsageOptions {
  /** Where sysfs is mounted; the unified hierarchy is `<sysRoot>/fs/cgroup`. @default '/sys' */
  sysRoot?: string;
  files?: FileReader;
  now?: MonotonicClock;
}

export interface CgroupReading {
  /** Percent of one core over the last interval; null on the first tick or after a reset. */
  cpu_pct: number | null;
  /** `memory.current`: anonymous memory plus page cache charged to the cgroup. */
  mem_bytes: number | null;
}

export interface CgroupUsage {
  /** Usage per cgroup path (as given), e.g. `system.slice/ollama.service`. */
  read(paths: readonly string[]): Promise<Map<string, CgroupReading>>;
  /** Releases the kept file descriptors. Idempotent. */
  close(): void;
}

/**
 * Normalises a cgroup path relative to the hierarchy root. Returns null for a path that would
 * leave it (`..`) — the path comes from config and must not point elsewhere under sysfs.
 */
export function normaliseCgroupPath(path: string): string | null {
  if (path.split('/').includes('..')) return null;
  return posix.normalize(`/${path}`).replace(/^\/+|\/+$/g, '');
}

/** Reads `usage_usec` out of a cgroup v2 cpu.stat. */
export function parseCpuStatUsageUsec(text: string): number | null {
  const m = /^usage_usec (\S+)$/m.exec(text);
  return parseUint(m?.[1]);
}

/** Creates a cgroup sampler; it keeps the previous usage per path between reads. */
export function createCgroupUsage(options: CgroupUsageOptions = {}): CgroupUsage {
  const root = posix.join(options.sysRoot ?? '/sys', 'fs', 'cgroup');
  const files = options.files ?? createFileReader();
  const now = options.now ?? (() => performance.now());
  const prev = new Map<string, { usageUsec: number; at: number }>();
  /** Files kept open per requested path, released when the path is no longer asked for. */
  const opened = new Map<string, string[]>();

  async function readOne(path: string): Promise<CgroupReading> {
    const rel = normaliseCgroupPath(path);
    if (rel === null) return { cpu_pct: null, mem_bytes: null };
    const dir = posix.join(root, rel);
    const cpuPath = posix.join(dir, 'cpu.stat');
    const memPath = posix.join(dir, 'memory.current');
    opened.set(path, [cpuPath, memPath]);
    // Kept open: when the unit restarts, its cgroup is removed and re-created; the stale
    // descriptor then fails (ENODEV) and the file reader reopens the new one.
    const [cpuStat, memCurrent] = await Promise.all([files.readStable(cpuPath), files.readStable(memPath)]);
    const at = now();
    const usageUsec = cpuStat === null ? null : parseCpuStatUsageUsec(cpuStat);
    let cpuPct: number | null = null;
    const before = prev.get(path);
    if (usageUsec === null) {
      prev.delete(path);
    } else {
      // A unit restarted in between gets a new cgroup whose counter starts again: no rate then.
      if (before !== undefined && at > before.at && usageUsec >= before.usageUsec) {
        cpuPct = roundTo(((usageUsec - before.usageUsec) / ((at - before.at) * 1000)) * 100, 2);
      }
      prev.set(path, { usageUsec, at });
    }
    return { cpu_pct: cpuPct, mem_bytes: parseUint(memCurrent) };
  }

  return {
    async read(paths) {
      const results = await Promise.all(paths.map(readOne));
      const out = new Map<string, CgroupReading>();
      paths.forEach((p, i) => out.set(p, results[i] as CgroupReading));
      for (const p of prev.keys()) if (!paths.includes(p)) prev.delete(p);
      for (const [p, list] of opened) {
        if (paths.includes(p)) continue;
        for (const f of list) files.release(f);
        opened.delete(p);
      }
      return out;
    },
    close() {
      for (const list of opened.values()) for (const f of list) files.release(f);
      opened.clear();
      prev.clear();
    },
  };
}
