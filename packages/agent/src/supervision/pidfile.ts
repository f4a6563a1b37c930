/**
 * Pidfiles for process-driver services, kept in the agent's state directory. They let an agent that
 * was killed (SIGKILL, OOM, crash) find the process group it left behind and kill it before
 * starting a new one: otherwise the orphan keeps the port and the new child crash-loops on
 * EADDRINUSE. The start time from `/proc/PID/stat` and the boot id keep a reused pid from being
 * mistaken for the orphan.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { hasErrnoCode } from './errors.js';
import { listGroupMembers, readBootId, readProcStat, terminateGroup } from './process-group.js';

/** What a pidfile records about a running service child. */
export interface PidRecord {
  service: string;
  pid: number;
  pgid: number;
  /** `/proc/PID/stat` field 22 of `pid` (clock ticks since boot). */
  start_time: number;
  boot_id?: string;
  command: readonly string[];
  written_at: string;
}

/** Where the pidfile of `service` lives inside `stateDir`. */
export function pidfilePath(stateDir: string, service: string): string {
  return join(stateDir, `service-${service}.pid`);
}

/** Record a freshly spawned child; written to a temp file and renamed so a reader never sees half. */
export async function writePidfile(path: string, record: Omit<PidRecord, 'boot_id' | 'written_at'>): Promise<void> {
  const bootId = await readBootId();
  const full: PidRecord = {
    ...record,
    ...(bootId === undefined ? {} : { boot_id: bootId }),
    written_at: new Date().toISOString(),
  };
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(full)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** The recorded child, or undefined when there is no pidfile or it is unreadable. */
export async function readPidfile(path: string): Promise<PidRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (hasErrnoCode(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<PidRecord>;
    const { pid, pgid, start_time: startTime } = value;
    const ok = Number.isInteger(pid) && Number.isInteger(startTime) && typeof pgid === 'number' && pgid > 1;
    return ok ? (value as PidRecord) : undefined;
  } catch {
    return undefined;
  }
}

export async function removePidfile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * If the pidfile names a process group left by a previous agent, kill that group (SIGTERM → grace →
 * SIGKILL) and remove the pidfile. Returns the pids that were found alive and signalled.
 *
 * A group is only killed when it is provably the recorded one: same boot, and either its leader is
 * alive with the recorded start time, or the leader is gone and no other process has taken its pid
 * (the kernel does not hand out a pid that is still some group's id, so members of `pgid` without a
 * new leader are the old group's survivors). Only members started no earlier than the leader count.
 */
export async function reapOrphans(path: string, options: { graceMs: number; log: Logger }): Promise<number[]> {
  const record = await readPidfile(path);
  if (record === undefined) {
    await removePidfile(path);
    return [];
  }
  const bootId = await readBootId();
  if (record.boot_id !== undefined && bootId !== undefined && record.boot_id !== bootId) {
    options.log.info({ pidfile: record }, 'pidfile is from an earlier boot; nothing to clean up');
    await removePidfile(path);
    return [];
  }
  const leader = await readProcStat(record.pgid);
  if (leader !== undefined && leader.startTime !== record.start_time) {
    options.log.info({ pidfile: record, found_start_time: leader.startTime }, 'pid was reused; not an orphan');
    await removePidfile(path);
    return [];
  }
  const members = (await listGroupMembers(record.pgid)).filter((m) => m.startTime >= record.start_time);
  if (members.length > 0) {
    const pids = members.map((m) => m.pid);
    options.log.warn({ pidfile: record, pids }, 'killing processes orphaned by a previous agent');
    const end = await terminateGroup(record.pgid, { graceMs: options.graceMs });
    options.log.info({ pgid: record.pgid, end }, 'orphaned process group gone');
    await removePidfile(path);
    return pids;
  }
  await removePidfile(path);
  return [];
}
