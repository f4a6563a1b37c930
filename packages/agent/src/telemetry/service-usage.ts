/**
 * Per-service CPU and memory: a systemd unit is accounted through its cgroup (two files, every
 * process of the unit included), a child the agent spawned through its process tree.
 */
import type { FileReader } from './proc-file.js';
import { createCgroupUsage, type CgroupReading } from './cgroup-usage.js';
import { createProcessTreeUsage, type TreeUsage } from './process-tree-usage.js';
import type { MonotonicClock, ServiceSample } from './types.js';

/** What to account for one service this tick; the supervisor supplies it (pids change on restart). */
export interface ServiceTarget {
  /** Service name as in the agent config (`ollama`, `exo`). */
  name: string;
  /** Root pid of the service's process tree; used when no cgroup is given. */
  pid?: number | null;
  /** cgroup v2 path relative to the hierarchy root, e.g. `system.slice/ollama.service`. Preferred. */
  cgroup?: string | null;
}

export interface ServiceUsageOptions {
  procRoot?: string;
  sysRoot?: string;
  files?: FileReader;
  now?: MonotonicClock;
  clockTicksPerSec?: number;
  pageSizeBytes?: number;
}

export interface ServiceUsage {
  read(targets: readonly ServiceTarget[]): Promise<ServiceSample[]>;
  /** Releases the kept file descriptors. Idempotent. */
  close(): void;
}

/** Creates the per-service reader (it owns one process-tree and one cgroup sampler). */
export function createServiceUsage(options: ServiceUsageOptions = {}): ServiceUsage {
  const trees = createProcessTreeUsage(options);
  const cgroups = createCgroupUsage(options);

  return {
    async read(targets) {
      const cgroupPaths: string[] = [];
      const rootPids: number[] = [];
      for (const t of targets) {
        if (typeof t.cgroup === 'string' && t.cgroup !== '') cgroupPaths.push(t.cgroup);
        else if (typeof t.pid === 'number' && Number.isSafeInteger(t.pid) && t.pid > 0) rootPids.push(t.pid);
      }
      // No pid-based service: skip the /proc listing entirely.
      const [byCgroup, byPid] = await Promise.all([
        cgroupPaths.length === 0 ? new Map<string, CgroupReading>() : cgroups.read(cgroupPaths),
        rootPids.length === 0 ? new Map<number, TreeUsage>() : trees.read(rootPids),
      ]);
      return targets.map((t): ServiceSample => {
        if (typeof t.cgroup === 'string' && t.cgroup !== '') {
          const r = byCgroup.get(t.cgroup);
          return { name: t.name, cpu_pct: r?.cpu_pct ?? null, rss_bytes: r?.mem_bytes ?? null, source: 'cgroup' };
        }
        const r = typeof t.pid === 'number' ? byPid.get(t.pid) : undefined;
        if (r === undefined) return { name: t.name, cpu_pct: null, rss_bytes: null, source: null };
        return { name: t.name, cpu_pct: r.cpu_pct, rss_bytes: r.rss_bytes, source: 'process-tree' };
      });
    },
    close() {
      cgroups.close();
    },
  };
}
