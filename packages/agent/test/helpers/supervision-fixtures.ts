/**
 * Shared fixtures of the supervision tests: helper script paths, a log capture, bounded polling,
 * temp dirs and a fake systemctl wrapper. Every wait is bounded; nothing here sleeps blindly.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { SupervisionTimings } from '../../src/index.js';

export const SERVICE_CHILD = fileURLToPath(new URL('./service-child.js', import.meta.url));
export const FAKE_SYSTEMCTL = fileURLToPath(new URL('./fake-systemctl.js', import.meta.url));
export const CRASHING_AGENT = fileURLToPath(new URL('./crashing-agent.js', import.meta.url));

/** Timings in tens of milliseconds so a whole file runs in seconds. */
export const FAST: Partial<SupervisionTimings> = {
  stopGraceMs: 300,
  healthIntervalMs: 30,
  healthTimeoutMs: 2000,
  startupGraceMs: 0,
  stableAfterMs: 60_000,
  systemctlTimeoutMs: 10_000,
};

/** argv running the service-child helper with `flags`. */
export function childCommand(...flags: string[]): string[] {
  return [process.execPath, SERVICE_CHILD, ...flags];
}

export type LogEntry = Record<string, unknown> & { level: number; msg?: string };

/** A pino logger whose entries land in an array (level 20 = debug and up). */
export function captureLog(): { log: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as LogEntry) });
  return { log, entries };
}

/** The ready line the service-child helper printed (as captured from the service's output log). */
export interface ReadyLine {
  ready: true;
  pid: number;
  grandchild?: number;
  port?: number;
}

/** Ready lines printed so far, oldest first. */
export function readyLines(entries: readonly LogEntry[]): ReadyLine[] {
  const out: ReadyLine[] = [];
  for (const e of entries) {
    if (e.msg !== 'output' || typeof e['line'] !== 'string' || !e['line'].startsWith('{"ready"')) continue;
    out.push(JSON.parse(e['line']) as ReadyLine);
  }
  return out;
}

/** Poll `probe` every 10 ms until it returns a truthy value; fail after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** True while `pid` exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** SIGKILL a pid if it is still around (test cleanup only; never a group). */
export function killQuietly(pid: number | undefined): void {
  if (pid === undefined || pid <= 1) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The part of node:test's TestContext the fixtures use. */
export interface HasAfter {
  after: (fn: () => Promise<void>) => void;
}

const cleanups = new WeakMap<HasAfter, (() => unknown)[]>();

/**
 * Register cleanup for the current test, run last-in first-out in one `t.after` hook, every step
 * even if an earlier one throws. Plain `t.after` hooks run first-in first-out and node:test skips
 * the remaining ones after a throw: a temp dir removed (or failing to be removed) before the
 * service writing into it is closed would leave a supervised child running, and restarted, forever.
 */
export function defer(t: HasAfter, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (stack === undefined) {
    const steps: (() => unknown)[] = [];
    stack = steps;
    cleanups.set(t, steps);
    t.after(async () => {
      const errors: unknown[] = [];
      for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'test cleanup failed');
    });
  }
  stack.push(fn);
}

/** A fresh temp dir, removed after the test (after everything registered later is closed). */
export async function tempDir(t: HasAfter): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-supervision-'));
  defer(t, () => rm(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}

export interface FakeUnit {
  ActiveState: string;
  SubState: string;
  MainPID: number;
  NRestarts: number;
  ExecMainStatus: number;
  ControlGroup: string;
}

export interface FakeSystemctlState {
  units: Record<string, FakeUnit>;
  calls: string[][];
  fail?: Record<string, string>;
}

/**
 * Write an executable `systemctl` wrapper into `dir` that runs the fake with its own state file.
 * Returns its path and accessors for the state.
 */
export async function fakeSystemctl(
  dir: string,
  units: Record<string, FakeUnit>,
): Promise<{
  path: string;
  read: () => Promise<FakeSystemctlState>;
  update: (fn: (s: FakeSystemctlState) => void) => Promise<void>;
}> {
  const statePath = join(dir, 'systemctl-state.json');
  const path = join(dir, 'systemctl');
  const state: FakeSystemctlState = { units, calls: [] };
  await writeFile(statePath, JSON.stringify(state));
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  await writeFile(
    path,
    `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(FAKE_SYSTEMCTL)} ${quote(`--state=${statePath}`)} "$@"\n`,
  );
  await chmod(path, 0o755);
  const read = async (): Promise<FakeSystemctlState> =>
    JSON.parse(await readFile(statePath, 'utf8')) as FakeSystemctlState;
  return {
    path,
    read,
    update: async (fn) => {
      const current = await read();
      fn(current);
      await writeFile(statePath, JSON.stringify(current));
    },
  };
}

/** A running unit as systemd would show it. */
export function activeUnit(unit: string, pid = 4242): FakeUnit {
  return {
    ActiveState: 'active',
    SubState: 'running',
    MainPID: pid,
    NRestarts: 0,
    ExecMainStatus: 0,
    ControlGroup: `/system.slice/${unit}`,
  };
}
