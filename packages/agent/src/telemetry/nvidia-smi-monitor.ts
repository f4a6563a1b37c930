/**
 * NVIDIA telemetry from ONE long-running `nvidia-smi … -lms N` child whose CSV lines are parsed as
 * they stream. Spawning nvidia-smi per tick re-initialises the driver when persistence mode is off
 * (~1.5 s, GPU pinned at P0), so that is never done. If the child dies it is restarted with
 * exponential backoff; if the binary is absent there is simply no NVIDIA section (logged once).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { roundTo } from './proc-file.js';
import type { GpuSample, MonotonicClock } from './types.js';

/** The fields we ask for, in this order (the parser depends on it). */
export const NVIDIA_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'utilization.gpu',
  'memory.total',
  'memory.used',
  'temperature.gpu',
  'power.draw',
] as const;

export interface NvidiaSmiMonitorOptions {
  log: Logger;
  /** Executable to run; tests point this at a fake script. @default 'nvidia-smi' (from PATH) */
  command?: string;
  /** Loop period handed to `-lms`. @default 1000 */
  intervalMs?: number;
  /** First restart delay after the child dies; doubles per failure. @default 1000 */
  restartInitialDelayMs?: number;
  /** Cap on the restart delay. @default 60000 */
  restartMaxDelayMs?: number;
  /** Readings older than this are dropped (a stuck child). @default max(3 × intervalMs, 3000) */
  staleAfterMs?: number;
  /** How long `close()` waits after SIGTERM before SIGKILL. @default 2000 */
  killGraceMs?: number;
  now?: MonotonicClock;
}

/** `starting`/`running` while a child is up, `backoff` between restarts, `absent` when there is no binary. */
export type NvidiaSmiState = 'idle' | 'starting' | 'running' | 'backoff' | 'absent' | 'closed';

export interface NvidiaSmiMonitor {
  /** Spawns the child. Idempotent. */
  start(): void;
  /**
   * The latest fresh reading per GPU, by index. Null when NVIDIA telemetry is not available at all
   * (binary absent, or not started); an empty array when the child is up but has nothing fresh.
   */
  readings(): GpuSample[] | null;
  readonly state: NvidiaSmiState;
  /** How many times the child has been (re)spawned. */
  readonly spawnCount: number;
  /** Stops the child (SIGTERM, then SIGKILL) and any pending restart. Idempotent. */
  close(): Promise<void>;
}

const MIB = 1024 * 1024;
const MAX_LINE_CHARS = 64 * 1024;

/** nvidia-smi prints `[N/A]`, `N/A`, `[Not Supported]`, `[Unknown Error]`… for values it cannot read. */
function numberOrNull(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (!/^-?\d+(\.\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/**
 * Parses one `--format=csv,noheader,nounits` line of {@link NVIDIA_QUERY_FIELDS}. Values are
 * separated by ", "; a GPU name could in principle contain one, so the fixed fields are taken from
 * both ends and the name is what is left in the middle. Returns null for anything that is not a
 * data line (nvidia-smi's error messages go to stdout too).
 */
export function parseNvidiaSmiLine(line: string): GpuSample | null {
  const parts = line.split(', ');
  if (parts.length < NVIDIA_QUERY_FIELDS.length) return null;
  const index = numberOrNull(parts[0]);
  const uuid = parts[1]?.trim() ?? '';
  if (index === null || !Number.isInteger(index) || index < 0 || uuid === '') return null;
  const tail = parts.slice(-5);
  const name = parts
    .slice(2, parts.length - 5)
    .join(', ')
    .trim();
  const [util, memTotal, memUsed, temp, power] = tail.map(numberOrNull);
  const busy = util ?? null;
  return {
    index,
    id: uuid,
    vendor: 'nvidia',
    name: name === '' || name.startsWith('[') ? 'NVIDIA GPU' : name,
    busy_pct: busy !== null && busy >= 0 && busy <= 100 ? busy : null,
    // Integrated parts (GB10) report N/A or 0 device memory; 0 total is not a real size.
    mem_total_bytes: memTotal === null || memTotal === undefined || memTotal <= 0 ? null : memTotal * MIB,
    mem_used_bytes: memUsed === null || memUsed === undefined || memUsed < 0 ? null : memUsed * MIB,
    unified_memory: false,
    power_w: power === null || power === undefined ? null : roundTo(power, 2),
    temp_c: temp ?? null,
  };
}

/** Creates an unstarted monitor. */
export function createNvidiaSmiMonitor(options: NvidiaSmiMonitorOptions): NvidiaSmiMonitor {
  const log = options.log;
  const command = options.command ?? 'nvidia-smi';
  const intervalMs = Math.max(100, Math.round(options.intervalMs ?? 1000));
  const initialDelayMs = options.restartInitialDelayMs ?? 1000;
  const maxDelayMs = options.restartMaxDelayMs ?? 60_000;
  const staleAfterMs = options.staleAfterMs ?? Math.max(3 * intervalMs, 3000);
  const killGraceMs = options.killGraceMs ?? 2000;
  const now = options.now ?? (() => performance.now());
  const args = [
    `--query-gpu=${NVIDIA_QUERY_FIELDS.join(',')}`,
    '--format=csv,noheader,nounits',
    '-lms',
    String(intervalMs),
  ];

  let state: NvidiaSmiState = 'idle';
  let child: ChildProcess | null = null;
  let childExited: Promise<void> = Promise.resolve();
  let restartTimer: NodeJS.Timeout | null = null;
  let failures = 0;
  let spawnCount = 0;
  let closing: Promise<void> | null = null;
  const latest = new Map<number, { sample: GpuSample; at: number }>();

  function scheduleRestart(reason: Record<string, unknown>): void {
    const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** failures);
    failures += 1;
    state = 'backoff';
    // The first failure is worth a warning; a box whose nvidia-smi fails forever must not flood.
    (failures === 1 ? log.warn.bind(log) : log.debug.bind(log))(
      { ...reason, restartInMs: delayMs, failures },
      'nvidia-smi exited; restarting',
    );
    restartTimer = setTimeout(() => {
      restartTimer = null;
      spawnChild();
    }, delayMs);
  }

  function spawnChild(): void {
    if (closing !== null) return;
    state = 'starting';
    spawnCount += 1;
    let proc: ChildProcess;
    try {
      proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      // spawn throws synchronously only for bad arguments (e.g. an empty command).
      state = 'absent';
      log.warn({ err, command }, 'nvidia-smi cannot be started; no NVIDIA telemetry');
      return;
    }
    child = proc;
    let sawData = false;
    let partial = '';
    const stderrTail: string[] = [];
    let settled = false;
    let resolveExited: () => void = () => undefined;
    childExited = new Promise((resolve) => {
      resolveExited = resolve;
    });

    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', (chunk: string) => {
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl !== -1) {
        const line = partial.slice(0, nl).replace(/\r$/, '');
        partial = partial.slice(nl + 1);
        const sample = parseNvidiaSmiLine(line);
        if (sample !== null) {
          latest.set(sample.index, { sample, at: now() });
          if (!sawData) {
            sawData = true;
            if (failures > 0) log.info({ failures }, 'nvidia-smi recovered');
            failures = 0;
            state = 'running';
          }
        } else if (line.trim() !== '') {
          log.debug({ line: line.slice(0, 200) }, 'nvidia-smi line not understood');
        }
        nl = partial.indexOf('\n');
      }
      // A child that never prints a newline must not grow our memory without bound.
      if (partial.length > MAX_LINE_CHARS) partial = '';
    });
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      stderrTail.push(chunk);
      if (stderrTail.length > 8) stderrTail.shift();
    });

    const finish = (err: NodeJS.ErrnoException | null, code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      if (child === proc) child = null;
      resolveExited();
      if (closing !== null) return;
      if (err?.code === 'ENOENT') {
        state = 'absent';
        log.info({ command }, 'nvidia-smi not found; no NVIDIA telemetry');
        return;
      }
      const stderr = stderrTail.join('').trim().slice(-500);
      scheduleRestart({ code, signal, err: err ?? undefined, stderr: stderr === '' ? undefined : stderr });
    };
    proc.on('error', (err: NodeJS.ErrnoException) => finish(err, null, null));
    proc.on('close', (code, signal) => finish(null, code, signal));
  }

  return {
    start() {
      if (state !== 'idle') return;
      spawnChild();
    },
    readings() {
      if (state === 'idle' || state === 'absent' || state === 'closed') return null;
      const t = now();
      const out: GpuSample[] = [];
      for (const [index, r] of latest) {
        if (t - r.at > staleAfterMs) latest.delete(index);
        else out.push(r.sample);
      }
      return out.sort((a, b) => a.index - b.index);
    },
    get state() {
      return state;
    },
    get spawnCount() {
      return spawnCount;
    },
    close() {
      closing ??= (async () => {
        if (restartTimer !== null) clearTimeout(restartTimer);
        restartTimer = null;
        const proc = child;
        if (proc !== null && proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM');
          const killTimer = setTimeout(() => proc.kill('SIGKILL'), killGraceMs);
          await childExited;
          clearTimeout(killTimer);
        }
        state = 'closed';
        latest.clear();
      })();
      return closing;
    },
  };
}
