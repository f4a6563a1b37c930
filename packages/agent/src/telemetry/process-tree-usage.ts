/**
 * CPU % and RSS of a process tree (a root pid and all its descendants), for services the agent runs
 * as children rather than as systemd units.
 *
 * Cost: a naive walk reads /proc/PID/stat for every process on the box every tick. Instead the
 * ppid and start time of each pid are cached; a tick lists /proc (one readdir), reads stat only for
 * pids it has not seen before plus the current tree members, and forgets pids that vanished. Only
 * reparenting into the tree (a subreaper) escapes the cache, so the whole table is re-read every
 * `fullRescanEveryTicks` ticks anyway.
 *
 * RSS comes from stat's `rss` field (24): the same kernel counter as statm's `resident`, without a
 * second read per process. It is summed over members, so pages shared between them count per process.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileReader, roundTo, type FileReader } from './proc-file.js';
import type { MonotonicClock } from './types.js';

export interface ProcessTreeUsageOptions {
  /** Where procfs is mounted. @default '/proc' */
  procRoot?: string;
  files?: FileReader;
  now?: MonotonicClock;
  /** USER_HZ, the unit of utime/stime; 100 on every mainstream Linux build. @default 100 */
  clockTicksPerSec?: number;
  /** Page size, the unit of rss. @default 4096 */
  pageSizeBytes?: number;
  /**
   * Re-read every pid's stat this often, to catch a process reparented into the tree (only a
   * subreaper inside the tree does that). Each full pass costs one read per process on the box.
   * @default 300
   */
  fullRescanEveryTicks?: number;
}

export interface TreeUsage {
  /** Percent of one core over the last interval; null on the first tick for this root. */
  cpu_pct: number | null;
  rss_bytes: number | null;
  /** Processes in the tree, root included (0 when the root is gone). */
  process_count: number;
}

export interface ProcessTreeUsage {
  /** Usage of each root's tree, keyed by root pid. One /proc scan serves all roots. */
  read(rootPids: readonly number[]): Promise<Map<number, TreeUsage>>;
}

/** The parts of /proc/PID/stat we use. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, USER_HZ ticks (whole thread group). */
  cpuTicks: number;
  /** Start time after boot, ticks: with the pid, identifies a process across pid reuse. */
  startTicks: number;
  rssPages: number;
}

/**
 * Parses /proc/PID/stat. The command name (field 2) is in parentheses and may itself contain
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseProcPidStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // After ')': state(3) ppid(4) … utime(14) stime(15) … starttime(22) vsize(23) rss(24).
  const rest = text
    .slice(close + 1)
    .trim()
    .split(' ');
  if (rest.length < 22) return null;
  const num = (i: number): number => {
    const s = rest[i - 3];
    return s !== undefined && /^\d+$/.test(s) ? Number(s) : Number.NaN;
  };
  const ppid = num(4);
  const utime = num(14);
  const stime = num(15);
  const startTicks = num(22);
  const rssPages = num(24);
  if (![pid, ppid, utime, stime, startTicks, rssPages].every(Number.isSafeInteger)) return null;
  return { pid, ppid, cpuTicks: utime + stime, startTicks, rssPages };
}

interface RootState {
  startTicks: number;
  at: number;
  ticksByPid: Map<number, number>;
}

/** Creates a process-tree sampler; it keeps a pid cache and per-root baselines between reads. */
export function createProcessTreeUsage(options: ProcessTreeUsageOptions = {}): ProcessTreeUsage {
  const procRoot = options.procRoot ?? '/proc';
  const files = options.files ?? createFileReader();
  const now = options.now ?? (() => performance.now());
  const hz = options.clockTicksPerSec ?? 100;
  const pageSize = options.pageSizeBytes ?? 4096;
  const fullEvery = Math.max(1, options.fullRescanEveryTicks ?? 300);
  /** Every live pid we know, with its last parsed stat. */
  const known = new Map<number, ProcStat>();
  /** Pids that were members of some tree last tick: their stat is re-read every tick. */
  let members = new Set<number>();
  const roots = new Map<number, RootState>();
  let tick = 0;

  async function readStat(pid: number): Promise<ProcStat | null> {
    const st = await files.readText(join(procRoot, String(pid), 'stat'));
    return st === null ? null : parseProcPidStat(st);
  }

  /** Brings `known` up to date; returns the pids that appeared since the previous scan. */
  async function scan(rootPids: readonly number[]): Promise<Set<number> | null> {
    let names: string[];
    try {
      names = await readdir(procRoot);
    } catch {
      return null;
    }
    const full = tick % fullEvery === 0;
    tick += 1;
    const live = new Set<number>();
    for (const n of names) if (/^\d+$/.test(n)) live.add(Number(n));
    for (const pid of known.keys()) if (!live.has(pid)) known.delete(pid);
    const fresh = new Set<number>();
    const toRead: number[] = [];
    for (const pid of live) {
      if (!known.has(pid)) {
        fresh.add(pid);
        toRead.push(pid);
      } else if (full || members.has(pid) || rootPids.includes(pid)) {
        toRead.push(pid);
      }
    }
    // A small fixed number of reads in flight: enough to keep the libuv pool busy, few buffers.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < toRead.length) {
        const pid = toRead[next++] as number;
        const st = await readStat(pid);
        // Gone between readdir and read (or garbled): forget it; a later scan sees it again if alive.
        if (st === null) known.delete(pid);
        else known.set(pid, st);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, toRead.length) }, worker));
    return fresh;
  }

  return {
    async read(rootPids) {
      const out = new Map<number, TreeUsage>();
      const fresh = await scan(rootPids);
      const at = now();
      const children = new Map<number, number[]>();
      for (const st of known.values()) {
        const list = children.get(st.ppid);
        if (list === undefined) children.set(st.ppid, [st.pid]);
        else list.push(st.pid);
      }
      const nextMembers = new Set<number>();
      for (const rootPid of rootPids) {
        const root = fresh === null ? undefined : known.get(rootPid);
        if (root === undefined) {
          roots.delete(rootPid);
          out.set(rootPid, { cpu_pct: null, rss_bytes: null, process_count: 0 });
          continue;
        }
        const tree: ProcStat[] = [];
        const queue = [rootPid];
        const seen = new Set<number>();
        while (queue.length > 0) {
          const pid = queue.pop() as number;
          if (seen.has(pid)) continue;
          seen.add(pid);
          const st = known.get(pid);
          if (st === undefined) continue;
          tree.push(st);
          nextMembers.add(pid);
          for (const c of children.get(pid) ?? []) queue.push(c);
        }
        let rssPages = 0;
        const ticksByPid = new Map<number, number>();
        for (const st of tree) {
          rssPages += st.rssPages;
          ticksByPid.set(st.pid, st.cpuTicks);
        }
        const prev = roots.get(rootPid);
        let cpuPct: number | null = null;
        if (prev !== undefined && prev.startTicks === root.startTicks && at > prev.at) {
          let delta = 0;
          for (const st of tree) {
            const before = prev.ticksByPid.get(st.pid);
            // Born during the interval: all its CPU time is new. A process that joined the tree
            // some other way (reparented in) starts its baseline now.
            if (before !== undefined) delta += Math.max(0, st.cpuTicks - before);
            else if (fresh?.has(st.pid) === true) delta += st.cpuTicks;
          }
          cpuPct = roundTo((delta / hz / ((at - prev.at) / 1000)) * 100, 2);
        }
        roots.set(rootPid, { startTicks: root.startTicks, at, ticksByPid });
        out.set(rootPid, { cpu_pct: cpuPct, rss_bytes: rssPages * pageSize, process_count: tree.length });
      }
      for (const pid of roots.keys()) if (!rootPids.includes(pid)) roots.delete(pid);
      members = nextMembers;
      return out;
    },
  };
}
