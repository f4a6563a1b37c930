/**
 * Layered health of one service: process alive → HTTP health URL → optional
 * inference probe. Failures during the startup grace (until the first healthy check or the grace
 * runs out) are reported as `starting`, not `unhealthy`: model servers take minutes to load and must
 * not look broken meanwhile. Changes are logged once each, never per probe.
 */
import type { Logger } from 'pino';
import { probeHttp } from './http-probe.js';
import type { ServiceEvents } from './service-events.js';
import type { SupervisionTimings } from './service-options.js';
import { hasVersionSource, readServiceVersion } from './service-version.js';
import type { HealthState, InferenceProbe, ServiceStatus, VersionSource } from './types.js';

export interface HealthMonitorOptions {
  service: string;
  /** HTTP(S) URL; 2xx = healthy. Without it, a live process is healthy (before the probe layer). */
  url?: string;
  timeoutMs: number;
  startupGraceMs: number;
  probe?: InferenceProbe;
  /** The inference probe costs a generation: run it at most this often and reuse its verdict. */
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** Where the service's version is read each time it becomes healthy; none when empty. */
  version?: VersionSource;
  log: Logger;
  onChange: (health: HealthState, reason: string | undefined) => void;
}

export class HealthMonitor {
  readonly #o: HealthMonitorOptions;
  readonly #abort = new AbortController();
  #state: HealthState = 'unknown';
  #reason: string | undefined;
  #graceUntil = 0;
  #healthySinceStart = false;
  #lastProbeAt = Number.NEGATIVE_INFINITY;
  #lastProbeFailure: string | undefined;
  #version: string | undefined;
  // Bumped on every start and stop: a probe that was in flight across one reports on a process
  // that is gone, so its verdict is dropped.
  #epoch = 0;

  constructor(options: HealthMonitorOptions) {
    this.#o = options;
  }

  get state(): HealthState {
    return this.#state;
  }

  get reason(): string | undefined {
    return this.#reason;
  }

  /**
   * The version read when the service last became healthy. It is kept while the service is down
   * (the installed version is still worth reporting) and replaced at the next healthy check.
   */
  get version(): string | undefined {
    return this.#version;
  }

  /** The service (re)started: a new startup grace begins and old verdicts no longer apply. */
  markStarted(): void {
    this.#epoch++;
    this.#graceUntil = performance.now() + this.#o.startupGraceMs;
    this.#healthySinceStart = false;
    this.#lastProbeAt = Number.NEGATIVE_INFINITY;
    this.#lastProbeFailure = undefined;
  }

  /** The service is not running: nothing to probe. The state change itself is logged elsewhere. */
  markDown(): void {
    this.#epoch++;
    this.#set('unknown', undefined, false);
  }

  /** Run the layers once. `alive` is layer one, decided by the driver. */
  async check(alive: boolean): Promise<HealthState> {
    if (!alive) {
      this.#set('unknown', undefined, false);
      return this.#state;
    }
    const epoch = this.#epoch;
    const failure = await this.#failure();
    if (this.#abort.signal.aborted || epoch !== this.#epoch) return this.#state;
    if (failure === undefined) {
      // Read before the change is published, so the event saying "healthy" carries the version.
      if (this.#state !== 'healthy' && (await this.#readVersion(epoch)) === 'stale') return this.#state;
      this.#healthySinceStart = true;
      this.#set('healthy', undefined, true);
    } else if (!this.#healthySinceStart && performance.now() < this.#graceUntil) {
      this.#set('starting', failure, true);
    } else {
      this.#set('unhealthy', failure, true);
    }
    return this.#state;
  }

  /** Abort a probe in flight; further checks are ignored. */
  close(): void {
    this.#abort.abort();
  }

  async #failure(): Promise<string | undefined> {
    const { url, probe } = this.#o;
    if (url !== undefined) {
      const result = await probeHttp(url, { timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal });
      if (!result.ok) return `${url}: ${result.reason}`;
    }
    if (probe === undefined) return undefined;
    if (performance.now() - this.#lastProbeAt >= this.#o.probeIntervalMs) {
      this.#lastProbeAt = performance.now();
      this.#lastProbeFailure = await this.#runProbe(probe);
    }
    return this.#lastProbeFailure;
  }

  async #readVersion(epoch: number): Promise<'read' | 'stale'> {
    const source = this.#o.version;
    if (source === undefined || !hasVersionSource(source)) return 'read';
    const version = await readServiceVersion(source, { timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal });
    if (this.#abort.signal.aborted || epoch !== this.#epoch) return 'stale';
    if (version === null) {
      this.#o.log.warn({ source }, 'service version could not be read');
    } else if (version !== this.#version) {
      this.#o.log.info({ version }, 'service version');
    }
    this.#version = version ?? undefined;
    return 'read';
  }

  async #runProbe(probe: InferenceProbe): Promise<string | undefined> {
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.probeTimeoutMs)]);
    try {
      return (await probe({ service: this.#o.service, signal })) ? undefined : 'inference probe failed';
    } catch (err) {
      return `inference probe failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  #set(state: HealthState, reason: string | undefined, log: boolean): void {
    this.#reason = reason;
    if (state === this.#state) return;
    const from = this.#state;
    this.#state = state;
    if (log) {
      if (state === 'unhealthy') this.#o.log.warn({ from, to: state, reason }, 'health changed');
      else this.#o.log.info({ from, to: state, reason }, 'health changed');
    }
    this.#o.onChange(state, reason);
  }
}

/** What {@link createServiceHealthMonitor} needs from a supervised service of either driver. */
export interface ServiceHealthOptions {
  service: string;
  url: string | undefined;
  probe: InferenceProbe | undefined;
  version: VersionSource;
  timings: Pick<SupervisionTimings, 'healthTimeoutMs' | 'startupGraceMs' | 'probeIntervalMs' | 'probeTimeoutMs'>;
  log: Logger;
  events: ServiceEvents;
  /** The service's status at the moment of the change, carried by the event. */
  status: () => ServiceStatus;
}

/** A health monitor whose changes are published as the service's `health` events (both drivers). */
export function createServiceHealthMonitor(o: ServiceHealthOptions): HealthMonitor {
  return new HealthMonitor({
    service: o.service,
    ...(o.url === undefined ? {} : { url: o.url }),
    ...(o.probe === undefined ? {} : { probe: o.probe }),
    timeoutMs: o.timings.healthTimeoutMs,
    startupGraceMs: o.timings.startupGraceMs,
    probeIntervalMs: o.timings.probeIntervalMs,
    probeTimeoutMs: o.timings.probeTimeoutMs,
    version: o.version,
    log: o.log,
    onChange: (health, reason) => {
      o.events.emit({
        type: 'health',
        service: o.service,
        health,
        ...(reason === undefined ? {} : { reason }),
        status: o.status(),
      });
    },
  });
}
