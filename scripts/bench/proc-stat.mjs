// Readers of Linux's /proc: the benchmarks measure the processes under test from the outside, in
// clock ticks and bytes, so that measuring costs the measured process nothing.
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';

/** Clock ticks per second (USER_HZ), the unit of every tick count below; 100 when getconf cannot say. */
export const CLK_TCK = await promisify(execFile)('getconf', ['CLK_TCK']).then(
  (r) => Number(r.stdout.trim()) || 100,
  () => 100,
);

/**
 * /proc/PID/stat: the command name, the parent, the ticks of the process's threads (utime, stime)
 * and of its reaped children (cutime, cstime), and the start time; null once the process is gone.
 */
export async function readStat(pid) {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (text === null) return null;
  // The name may hold spaces and parentheses: the fields follow the last ')'.
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  const n = (i) => Number(f[i]);
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    ppid: n(1),
    utime: n(11),
    stime: n(12),
    cutime: n(13),
    cstime: n(14),
    starttime: f[19],
  };
}

/** utime+stime of every thread of a process, in ticks; null once it is gone. */
export async function cpuTicks(pid) {
  const st = await readStat(pid);
  return st === null ? null : st.utime + st.stime;
}

/** utime+stime summed over `pids`; a process that is gone counts 0. */
export async function ticksOf(pids) {
  let sum = 0;
  for (const pid of pids) sum += (await cpuTicks(pid)) ?? 0;
  return sum;
}

/** VmRSS of /proc/PID/status in bytes; null once the process is gone. */
export async function rssBytes(pid) {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/** Every live process: pid → readStat(pid), in the order /proc lists them. */
async function everyStat() {
  const out = new Map();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = await readStat(name);
    if (st !== null) out.set(Number(name), st);
  }
  return out;
}

/** utime+stime of every live process on the machine, with its name. */
export async function allProcessTicks() {
  const out = new Map();
  for (const [pid, st] of await everyStat()) out.set(pid, { comm: st.comm, ticks: st.utime + st.stime });
  return out;
}

/** The direct children of a process (nginx's workers). */
export async function childPids(pid) {
  const out = [];
  for (const [child, st] of await everyStat()) if (st.ppid === pid) out.push(child);
  return out;
}

/** The root and every live descendant (one pass over /proc; the benchmark pays for it). */
export async function processTree(rootPid) {
  const children = new Map();
  for (const [pid, st] of await everyStat()) {
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** Ticks of the whole machine (all cores) from /proc/stat: busy (not idle, not iowait), total and the parts. */
export async function machineTicks() {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total, user: user + nice, system, iowait, softirq: softirq + irq, steal };
}
