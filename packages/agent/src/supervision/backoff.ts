/**
 * Restart pacing for the process driver: exponential backoff with jitter, and the crash-loop budget
 * ("at most N restarts within W seconds"). Pure logic, clock and randomness injected.
 */
import { SupervisionError } from './errors.js';
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from './types.js';

/**
 * Delay before restart number `attempt` (0-based): the ceiling `min(max, initial·2^attempt)` with
 * "equal jitter" — half fixed, half random. Full jitter could pick ~0 ms and restart-storm; the
 * fixed half keeps delays growing while the random half keeps nodes from restarting in lockstep.
 */
export function backoffDelayMs(attempt: number, policy: RestartPolicy, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 0), 30); // 2^30 already exceeds any sane cap
  const ceiling = Math.min(policy.max_delay_ms, policy.initial_delay_ms * 2 ** exponent);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Sliding-window restart budget. `take()` records one automatic restart if fewer than
 * `max_restarts` happened within the window, and refuses (crash loop) otherwise.
 */
export class RestartBudget {
  readonly #max: number;
  readonly #windowMs: number;
  #times: number[] = [];

  constructor(policy: RestartPolicy) {
    this.#max = policy.max_restarts;
    this.#windowMs = policy.window_s * 1000;
  }

  /** Restarts counted within the window ending at `nowMs`. */
  count(nowMs: number): number {
    this.#times = this.#times.filter((t) => nowMs - t < this.#windowMs);
    return this.#times.length;
  }

  /** Spend one restart; false when the budget for the window is used up. */
  take(nowMs: number): boolean {
    if (this.count(nowMs) >= this.#max) return false;
    this.#times.push(nowMs);
    return true;
  }

  /** Forget past restarts (an operator asked for a fresh start). */
  reset(): void {
    this.#times = [];
  }
}

/**
 * Fill a partial `restart` block with the documented defaults (docs/agent.md, "Every key") and
 * check it. The config loader validates types already; this guards the relations a schema cannot
 * express.
 */
export function resolveRestartPolicy(service: string, partial: Partial<RestartPolicy> = {}): RestartPolicy {
  const policy: RestartPolicy = { ...DEFAULT_RESTART_POLICY, ...stripUndefined(partial) };
  const bad = (key: keyof RestartPolicy, why: string): never => {
    throw new SupervisionError(
      'KAGE_ERR_AGENT_SERVICE_CONFIG',
      `services.${service}.restart.${key} ${why} (got ${String(policy[key])})`,
    );
  };
  if (!Number.isInteger(policy.initial_delay_ms) || policy.initial_delay_ms < 0)
    bad('initial_delay_ms', 'must be an integer >= 0');
  if (!Number.isInteger(policy.max_delay_ms) || policy.max_delay_ms < policy.initial_delay_ms)
    bad('max_delay_ms', 'must be an integer >= initial_delay_ms');
  if (!Number.isInteger(policy.max_restarts) || policy.max_restarts < 0) bad('max_restarts', 'must be an integer >= 0');
  if (!(policy.window_s > 0)) bad('window_s', 'must be > 0');
  return Object.freeze(policy);
}

function stripUndefined(partial: Partial<RestartPolicy>): Partial<RestartPolicy> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
}
