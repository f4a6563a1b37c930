/**
 * What the gateway knows about one backend, kept current by the monitor (health, models present,
 * models loaded) and by the requests it relays (requests in flight, failures for the circuit
 * breaker, measured prefill and decode rates). The router reads it; nothing here does I/O.
 */
import type { GatewayBackendConfig } from '../config/gateway-config.js';

/** Prefill and decode speed of one model on one backend, tokens per second. */
export interface ModelRates {
  prefillTps: number | null;
  decodeTps: number | null;
  /** Where the numbers come from: a benchmark run, or requests this gateway relayed. */
  source: 'bench' | 'live';
}

/** Weight of the newest observation in the moving averages (about the last 5 requests count). */
const EWMA_WEIGHT = 0.3;

export class BackendState {
  readonly config: GatewayBackendConfig;
  /** The last health read answered as the server should. False until the first read. */
  healthy = false;
  /** Why it is not healthy (for logs, /api/ps-like listings and 503 bodies). */
  healthReason = 'not checked yet';
  /** Models the backend can serve now, by the backend's own name (Ollama tag, EXO id). */
  models = new Set<string>();
  /** Models loaded in memory now (Ollama /api/ps, EXO instances whose runners are all ready). */
  loaded = new Set<string>();
  /** Ollama's own `/api/tags` and `/api/ps` entries by name, relayed in the gateway's listings. */
  tagEntries = new Map<string, Record<string, unknown>>();
  psEntries = new Map<string, Record<string, unknown>>();
  /** Requests relayed to it that have not ended. */
  inFlight = 0;
  /** The backend's version, when it says (Ollama /api/version). */
  version: string | null = null;
  #failures = 0;
  #openUntil = 0;
  readonly #rates = new Map<string, ModelRates>();
  readonly #loadMs = new Map<string, number>();

  constructor(config: GatewayBackendConfig) {
    this.config = config;
  }

  get id(): string {
    return this.config.id;
  }

  /** Requests it can start now without queueing. */
  freeSlots(): number {
    return Math.max(0, this.config.numParallel - this.inFlight);
  }

  /** Closed (usable), or open until some time after the last failures. */
  breakerOpen(now: number): boolean {
    return now < this.#openUntil;
  }

  /** A request or a health read failed; `threshold` in a row open the circuit for `openMs`. */
  recordFailure(now: number, threshold: number, openMs: number): boolean {
    this.#failures += 1;
    if (this.#failures >= threshold) {
      const opened = !this.breakerOpen(now);
      this.#openUntil = now + openMs;
      this.#failures = 0;
      return opened;
    }
    return false;
  }

  recordSuccess(): void {
    this.#failures = 0;
    this.#openUntil = 0;
  }

  /** How long loading `model` took here when it was last loaded (Ollama's `load_duration`). */
  loadMs(model: string): number | undefined {
    return this.#loadMs.get(model);
  }

  /** A request that found `model` not loaded and loaded it in `ms`. */
  observeLoad(model: string, ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) return;
    const old = this.#loadMs.get(model);
    this.#loadMs.set(model, old === undefined ? ms : old + EWMA_WEIGHT * (ms - old));
  }

  rates(model: string): ModelRates | undefined {
    return this.#rates.get(model);
  }

  /** Every model's rates, by model name. */
  allRates(): Array<[string, ModelRates]> {
    return [...this.#rates.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** A benchmark's figures: used until the gateway has measured the model itself. */
  seedRates(model: string, rates: { prefillTps: number | null; decodeTps: number | null }): void {
    const known = this.#rates.get(model);
    if (known === undefined || known.source === 'bench') this.#rates.set(model, { ...rates, source: 'bench' });
  }

  /** One relayed request's speeds (null where it could not be measured). */
  observe(model: string, prefillTps: number | null, decodeTps: number | null): void {
    const known = this.#rates.get(model);
    const mix = (old: number | null | undefined, value: number | null): number | null => {
      if (value === null || !Number.isFinite(value) || value <= 0) return old ?? null;
      if (old === null || old === undefined || known?.source !== 'live') return value;
      return old + EWMA_WEIGHT * (value - old);
    };
    this.#rates.set(model, {
      prefillTps: mix(known?.prefillTps, prefillTps),
      decodeTps: mix(known?.decodeTps, decodeTps),
      source: 'live',
    });
  }
}
