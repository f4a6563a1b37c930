/**
 * The telemetry loop: one interval timer, every reader once per tick, one {@link Sample} out.
 *
 * Ticks never overlap. If a tick is still running when the timer fires again (a wedged sysfs read,
 * a starved event loop), that firing is skipped and counted rather than queued, so a slow node gets
 * fewer samples instead of a growing backlog. Everything is read with async fs from /proc and /sys;
 * the only child process is the long-lived nvidia-smi loop.
 */
import type { Logger } from 'pino';
import { createAmdGpuReader } from './amdgpu-reader.js';
import { createCpuReader, type CpuReading } from './cpu-reader.js';
import { createHwmonReader } from './hwmon-reader.js';
import { createMemoryReader, type MemoryReading } from './memory-reader.js';
import { createNetworkReader } from './network-reader.js';
import { createNvidiaSmiMonitor, type NvidiaSmiMonitor } from './nvidia-smi-monitor.js';
import { createFileReader } from './proc-file.js';
import { createServiceUsage, type ServiceTarget } from './service-usage.js';
import type { GpuSample, MonotonicClock, Sample } from './types.js';

export interface SamplerOptions {
  log: Logger;
  /** Called with every sample, synchronously on the tick; exceptions are logged, not propagated. */
  onSample: (sample: Sample) => void;
  /** `sample_interval_ms` from the agent config. @default 1000 */
  intervalMs?: number;
  /** @default '/proc' */
  procRoot?: string;
  /** @default '/sys' */
  sysRoot?: string;
  /** The services to account this tick; called once per tick, so restarts (new pids) are seen. */
  services?: () => readonly ServiceTarget[];
  /**
   * The nvidia-smi loop: false disables it, an object configures it (tests pass a fake `command`).
   * @default { command: 'nvidia-smi' }
   */
  nvidiaSmi?: false | { command?: string; restartInitialDelayMs?: number; restartMaxDelayMs?: number };
  /**
   * amdgpu busy sub-sampling period (the mean is reported per tick); 0 reads busy once per tick.
   * Off by default: each sub-sample is a separate wake-up, and 4 Hz measured ~0.17 % of a core —
   * a third of the agent's budget — while the coordinator's means over a run are unbiased anyway.
   * @default 0
   */
  amdBusySampleIntervalMs?: number;
  /** Force the amdgpu unified-memory flag. @default 'auto' */
  amdUnifiedMemory?: 'auto' | boolean;
  /** How often hwmon sensors and DRM cards are looked up again. @default 60000 */
  rediscoverIntervalMs?: number;
  /** Which network interfaces to report. @default all but `lo` and `veth*` */
  includeInterface?: (iface: string) => boolean;
  /** Monotonic ms. @default performance.now */
  now?: MonotonicClock;
  /** Wall-clock ms for `ts`. @default Date.now */
  wallClock?: () => number;
}

export interface SamplerStats {
  /** Ticks completed (samples produced). */
  ticks: number;
  /** Timer firings skipped because the previous tick was still running. */
  skipped: number;
  /** Ticks in which a reader or the listener threw. */
  failed: number;
  lastTickDurationMs: number | null;
  maxTickDurationMs: number | null;
  /** Monotonic time of the last completed tick: a watchdog can tell a stuck loop from a live one. */
  lastSampleMonoMs: number | null;
}

export interface Sampler {
  /** Starts the timer (first tick at once) and the nvidia-smi child. Idempotent; no-op after close. */
  start(): void;
  /**
   * Takes one sample now and returns it without calling `onSample` (e.g. a one-shot `kage doctor`).
   * Waits for a running tick first; rates are relative to whichever sample came before.
   */
  sampleNow(): Promise<Sample>;
  stats(): SamplerStats;
  /** Stops the timer and the nvidia-smi child; resolves after the in-flight tick. Idempotent. */
  close(): Promise<void>;
}

const UNKNOWN_CPU: CpuReading = { cpu_pct: null, per_core_pct: [], load1: null, load5: null, load15: null };
const UNKNOWN_MEMORY: MemoryReading = {
  mem_used_bytes: null,
  mem_total_bytes: null,
  swap_used_bytes: null,
  swap_total_bytes: null,
};

/** Creates an unstarted sampler. Throws TypeError for an invalid interval. */
export function createSampler(options: SamplerOptions): Sampler {
  const intervalMs = options.intervalMs ?? 1000;
  if (!Number.isFinite(intervalMs) || intervalMs < 10) {
    throw new TypeError(`sample interval must be at least 10 ms, got ${intervalMs}`);
  }
  const log = options.log.child({ component: 'telemetry' });
  const now = options.now ?? (() => performance.now());
  const wallClock = options.wallClock ?? (() => Date.now());
  const shared = { files: createFileReader(), now, procRoot: options.procRoot, sysRoot: options.sysRoot };
  const rediscoverIntervalMs = options.rediscoverIntervalMs ?? 60_000;

  const cpu = createCpuReader(shared);
  const memory = createMemoryReader(shared);
  const network = createNetworkReader({ ...shared, includeInterface: options.includeInterface });
  const hwmon = createHwmonReader({ ...shared, rediscoverIntervalMs });
  const amd = createAmdGpuReader({
    ...shared,
    log,
    rediscoverIntervalMs,
    busySampleIntervalMs: options.amdBusySampleIntervalMs ?? 0,
    unifiedMemory: options.amdUnifiedMemory ?? 'auto',
  });
  const services = createServiceUsage(shared);
  const nvidia: NvidiaSmiMonitor | null =
    options.nvidiaSmi === false
      ? null
      : createNvidiaSmiMonitor({ log: log.child({ child: 'nvidia-smi' }), intervalMs, now, ...options.nvidiaSmi });

  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<Sample> | null = null;
  let closing: Promise<void> | null = null;
  let seq = 0;
  const stats: SamplerStats = {
    ticks: 0,
    skipped: 0,
    failed: 0,
    lastTickDurationMs: null,
    maxTickDurationMs: null,
    lastSampleMonoMs: null,
  };
  /** Readers that already logged a failure: one warning each, not one per second. */
  const warned = new Set<string>();

  function guard<T>(name: string, work: () => Promise<T>, unknown: T, failed: { any: boolean }): Promise<T> {
    return work().catch((err: unknown) => {
      failed.any = true;
      if (!warned.has(name)) {
        warned.add(name);
        log.warn({ err, reader: name }, 'telemetry reader failed');
      }
      return unknown;
    });
  }

  async function collect(): Promise<Sample> {
    const started = now();
    const ts = new Date(wallClock()).toISOString();
    const failed = { any: false };
    let targets: readonly ServiceTarget[] = [];
    try {
      targets = options.services?.() ?? [];
    } catch (err) {
      failed.any = true;
      log.warn({ err }, 'service target provider failed');
    }
    const [c, m, net, temps, amdGpus, svc] = await Promise.all([
      guard('cpu', () => cpu.read(), UNKNOWN_CPU, failed),
      guard('memory', () => memory.read(), UNKNOWN_MEMORY, failed),
      guard('network', () => network.read(), null, failed),
      guard('hwmon', () => hwmon.read(), [], failed),
      guard('amdgpu', () => amd.read(), [], failed),
      guard(
        'services',
        () => services.read(targets),
        targets.map((t) => ({ name: t.name, cpu_pct: null, rss_bytes: null, source: null })),
        failed,
      ),
    ]);
    const gpus: GpuSample[] = [...amdGpus, ...(nvidia?.readings() ?? [])];
    seq += 1;
    const sample: Sample = {
      ts,
      mono_ms: roundMs(started),
      seq,
      ...c,
      ...m,
      net,
      temps,
      gpus,
      services: svc,
    };
    const took = now() - started;
    stats.ticks += 1;
    if (failed.any) stats.failed += 1;
    stats.lastTickDurationMs = roundMs(took);
    stats.maxTickDurationMs = Math.max(stats.maxTickDurationMs ?? 0, stats.lastTickDurationMs);
    stats.lastSampleMonoMs = roundMs(now());
    return sample;
  }

  function runTick(): Promise<Sample> {
    const p = collect().finally(() => {
      if (inFlight === p) inFlight = null;
    });
    inFlight = p;
    return p;
  }

  function onTimer(): void {
    if (closing !== null) return;
    if (inFlight !== null) {
      stats.skipped += 1;
      (stats.skipped === 1 ? log.warn.bind(log) : log.debug.bind(log))(
        { skipped: stats.skipped, intervalMs },
        'telemetry tick skipped: previous tick still running',
      );
      return;
    }
    runTick().then(
      (sample) => {
        if (closing !== null) return;
        try {
          options.onSample(sample);
        } catch (err) {
          stats.failed += 1;
          log.warn({ err }, 'sample listener threw');
        }
      },
      (err: unknown) => {
        stats.failed += 1;
        log.error({ err }, 'telemetry tick failed');
      },
    );
  }

  return {
    start() {
      if (timer !== null || closing !== null) return;
      log.info({ intervalMs, nvidiaSmi: nvidia !== null }, 'telemetry sampling started');
      nvidia?.start();
      amd.start();
      timer = setInterval(onTimer, intervalMs);
      onTimer();
    },
    async sampleNow() {
      while (inFlight !== null) await inFlight.catch(() => undefined);
      return runTick();
    },
    stats() {
      return { ...stats };
    },
    close() {
      closing ??= (async () => {
        if (timer !== null) clearInterval(timer);
        timer = null;
        amd.close();
        await inFlight?.catch(() => undefined);
        await nvidia?.close();
        // After the last tick: a descriptor is never closed under a read in flight.
        shared.files.close();
        log.info({ ticks: stats.ticks, skipped: stats.skipped, failed: stats.failed }, 'telemetry sampling stopped');
      })();
      return closing;
    },
  };
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
