/**
 * The systemd watchdog (`WatchdogSec=` in the unit, `$WATCHDOG_USEC` in our environment): ping
 * `WATCHDOG=1` every half interval, but only while every registered health check passes. A bare
 * timer would prove only that timers fire; a stuck sampling loop or a dead stream loop must stop the
 * pings so that systemd restarts the daemon (docs/agent.md, watchdog).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SdNotifier } from './sd-notify.js';

/** A health check: null when healthy, otherwise the reason. Called on every ping; keep it cheap. */
export type WatchdogCheck = () => string | null;

/** One failing check. */
export interface WatchdogFailure {
  name: string;
  reason: string;
}

export interface WatchdogOptions {
  notifier: Pick<SdNotifier, 'watchdog'>;
  log: Logger;
  /** `$WATCHDOG_USEC` (from `readDaemonEnv`); null or undefined disables the pings. */
  watchdogUsec: number | null | undefined;
}

export interface WatchdogStats {
  /** Pings handed to the notifier. */
  pings: number;
  /** Ping slots skipped because a check failed. */
  withheld: number;
  /** Names of the checks failing at the last evaluation. */
  failing: string[];
}

export interface Watchdog {
  /** True when systemd expects pings. */
  readonly enabled: boolean;
  /** Ping period (half of `WATCHDOG_USEC`), or null when disabled. */
  readonly intervalMs: number | null;
  /** Adds a check; returns a function that removes it. Names must be unique. */
  register(name: string, check: WatchdogCheck): () => void;
  /** Runs every check now. A check that throws fails with its message. */
  evaluate(): WatchdogFailure[];
  /** Pings at once if healthy, then every `intervalMs`. No-op when disabled or closed. Idempotent. */
  start(): void;
  stats(): WatchdogStats;
  /** Stops the timer. Idempotent. */
  close(): Promise<void>;
}

/** Builds the watchdog, unstarted. */
export function createWatchdog(options: WatchdogOptions): Watchdog {
  return new HealthGatedWatchdog(options);
}

export interface FreshnessCheckOptions {
  /** Monotonic ms of the loop's last sign of life (e.g. `sampler.stats().lastSampleMonoMs`), or null. */
  lastMonoMs: () => number | null;
  /** Older than this is unhealthy. Also the grace before a first sign of life is expected. */
  maxAgeMs: number;
  /** What the loop is, for the reason text. @default 'loop' */
  what?: string;
  /** Monotonic clock in ms, the same as `lastMonoMs` uses. @default performance.now */
  now?: () => number;
}

/**
 * A check that fails when a loop has not shown life for `maxAgeMs`: the sampler's last tick, the
 * stream loop's last send or receive. A loop that never ticked gets `maxAgeMs` from creation.
 */
export function createFreshnessCheck(options: FreshnessCheckOptions): WatchdogCheck {
  const now = options.now ?? (() => performance.now());
  const createdMs = now();
  const what = options.what ?? 'loop';
  return () => {
    const last = options.lastMonoMs();
    const ageMs = now() - (last ?? createdMs);
    if (ageMs <= options.maxAgeMs) return null;
    const age = `${Math.round(ageMs / 100) / 10} s`;
    return last === null
      ? `${what} has not run once in ${age}`
      : `${what} last ran ${age} ago (limit ${options.maxAgeMs / 1000} s)`;
  };
}

class HealthGatedWatchdog implements Watchdog {
  readonly enabled: boolean;
  readonly intervalMs: number | null;
  readonly #notifier: Pick<SdNotifier, 'watchdog'>;
  readonly #log: Logger;
  readonly #checks = new Map<string, WatchdogCheck>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #pings = 0;
  #withheld = 0;
  #failing: string[] = [];

  constructor(options: WatchdogOptions) {
    const usec = options.watchdogUsec ?? null;
    this.enabled = usec !== null && usec > 0;
    // Half the interval, as sd_watchdog_enabled(3) recommends: one late ping is not yet fatal.
    this.intervalMs = this.enabled && usec !== null ? Math.max(1, Math.floor(usec / 2000)) : null;
    this.#notifier = options.notifier;
    this.#log = options.log.child({ component: 'watchdog' });
  }

  register(name: string, check: WatchdogCheck): () => void {
    if (this.#checks.has(name)) throw new Error(`watchdog check "${name}" is already registered`);
    this.#checks.set(name, check);
    return () => {
      if (this.#checks.get(name) === check) this.#checks.delete(name);
    };
  }

  evaluate(): WatchdogFailure[] {
    const failures: WatchdogFailure[] = [];
    for (const [name, check] of this.#checks) {
      let reason: string | null;
      try {
        reason = check();
      } catch (err) {
        reason = `check threw: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (reason !== null) failures.push({ name, reason });
    }
    return failures;
  }

  start(): void {
    if (!this.enabled || this.#closed || this.#timer !== undefined || this.intervalMs === null) return;
    this.#log.info({ intervalMs: this.intervalMs, checks: [...this.#checks.keys()] }, 'watchdog started');
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), this.intervalMs);
    // The agent's sockets and timers keep it alive; the watchdog alone must not.
    this.#timer.unref();
  }

  stats(): WatchdogStats {
    return { pings: this.#pings, withheld: this.#withheld, failing: [...this.#failing] };
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  #tick(): void {
    if (this.#closed) return;
    const failures = this.evaluate();
    const failing = failures.map((f) => f.name);
    // Log transitions only: one line when pings stop, one when they resume, not one per slot.
    if (failing.join('\0') !== this.#failing.join('\0')) {
      if (failures.length > 0) this.#log.warn({ failures }, 'health check failing: watchdog pings withheld');
      else this.#log.info('health checks pass again: watchdog pings resumed');
    }
    this.#failing = failing;
    if (failures.length > 0) {
      this.#withheld++;
      return;
    }
    this.#pings++;
    void this.#notifier.watchdog();
  }
}
