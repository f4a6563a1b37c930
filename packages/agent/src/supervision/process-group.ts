/**
 * Process-group plumbing on Linux procfs: read `/proc/PID/stat`, find the live members of a group,
 * and terminate a whole group with SIGTERM → grace → SIGKILL. A supervised child is started with
 * `detached: true` (setsid), so its pid is also its process group id and every grandchild that does
 * not start its own session stays in that group.
 */
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasErrnoCode } from './errors.js';

/** The fields of `/proc/PID/stat` supervision needs. */
export interface ProcStat {
  pid: number;
  /** One-letter state: R, S, D, Z (zombie), X (dead), … */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** Field 22: start time in clock ticks since boot. Tells a reused pid from the original. */
  startTime: number;
}

/** Parse one `/proc/PID/stat` line; undefined when it is not one. */
export function parseProcStat(text: string): ProcStat | undefined {
  // comm (field 2) is in parentheses and may itself contain spaces and ')', so split after the last ')'.
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close < 0 || !Number.isInteger(pid)) return undefined;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const num = (field: number): number => Number(rest[field - 3]);
  const stat: ProcStat = {
    pid,
    state: rest[0] ?? '?',
    ppid: num(4),
    pgid: num(5),
    sid: num(6),
    startTime: num(22),
  };
  return Number.isFinite(stat.pgid) && Number.isFinite(stat.startTime) ? stat : undefined;
}

/** `/proc/PID/stat` of a process, or undefined when it does not exist (any more). */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    if (hasErrnoCode(err, 'ENOENT') || hasErrnoCode(err, 'ESRCH')) return undefined;
    throw err;
  }
}

/** This boot's id; a pid and start time are only comparable within one boot. */
export async function readBootId(): Promise<string | undefined> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** True for states that hold no running code: zombie (waiting to be reaped) or dead. */
export function isDeadState(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/**
 * Live members of process group `pgid`. Zombies are skipped: an orphaned grandchild stays a zombie
 * until whoever adopted it reaps it, which some container inits never do.
 */
export async function listGroupMembers(pgid: number): Promise<ProcStat[]> {
  // Cheap pre-check: ESRCH means no process at all (not even a zombie) is in the group.
  if (!signalGroup(pgid, 0)) return [];
  const entries = await readdir('/proc');
  const stats = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readProcStat(Number(e))));
  return stats.filter((s): s is ProcStat => s !== undefined && s.pgid === pgid && !isDeadState(s.state));
}

let ownPgid: number | undefined;

/**
 * Send `signal` to every process in group `pgid`. Returns false when the group is empty (ESRCH).
 * Refuses to signal group 0/1 or the agent's own group: `kill(-pgid)` there would hit the agent.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  ownPgid ??= readOwnPgidSync();
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === ownPgid) {
    throw new Error(`refusing to signal process group ${pgid}`);
  }
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if (hasErrnoCode(err, 'ESRCH')) return false;
    // EPERM: members exist but are not ours to signal; report them as present.
    if (hasErrnoCode(err, 'EPERM')) return true;
    throw err;
  }
}

function readOwnPgidSync(): number {
  // Node has no getpgid(); one synchronous read of /proc/self/stat, once, at first use.
  return parseProcStat(readFileSync('/proc/self/stat', 'utf8'))?.pgid ?? -1;
}

/** How a group ended under {@link terminateGroup}. */
export type GroupEnd = 'empty' | 'terminated' | 'killed';

/**
 * SIGTERM the whole group, wait up to `graceMs` for every member to exit, then SIGKILL the group.
 * Resolves once no live member is left (or a bounded wait after SIGKILL ran out, which only an
 * unkillable D-state process causes). Returns `empty` if there was nothing to signal.
 */
export async function terminateGroup(pgid: number, options: { graceMs: number; pollMs?: number }): Promise<GroupEnd> {
  const pollMs = options.pollMs ?? 25;
  if ((await listGroupMembers(pgid)).length === 0) return 'empty';
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupEmpty(pgid, options.graceMs, pollMs)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  await waitGroupEmpty(pgid, 5000, pollMs);
  return 'killed';
}

/** Poll until group `pgid` has no live member; false if `timeoutMs` ran out first. */
export async function waitGroupEmpty(pgid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await listGroupMembers(pgid)).length === 0) return true;
    if (performance.now() >= deadline) return false;
    await sleep(Math.min(pollMs, Math.max(1, deadline - performance.now())));
  }
}
