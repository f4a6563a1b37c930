/**
 * Pacing of the agent's reconnect loop: exponential steps with jitter, capped, reset once a
 * stream has stayed up long enough. Steps are what the stream logs: one line per new step, so a
 * coordinator that is down for a day costs a handful of log lines, not one per attempt.
 */

export interface ReconnectBackoffOptions {
  /** First delay ceiling. @default 1000 */
  initialMs?: number;
  /** Delay ceiling cap. @default 30000 */
  maxMs?: number;
  /** Growth per step. @default 2 */
  multiplier?: number;
  /** Uniform [0, 1). @default Math.random */
  random?: () => number;
}

/** One planned wait. */
export interface ReconnectDelay {
  /** How long to wait before the next attempt. */
  delayMs: number;
  /** The step (0-based): the delay ceiling is `min(max, initial·multiplier^step)`. */
  step: number;
  /** The ceiling of this step. */
  ceilingMs: number;
  /** Failed attempts in a row, this one included. */
  attempt: number;
  /** True the first time a step is reached since the last reset (log it); false once capped. */
  isNewStep: boolean;
}

export class ReconnectBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #multiplier: number;
  readonly #random: () => number;
  #attempt = 0;
  #lastStep = -1;

  constructor(options: ReconnectBackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 1000;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#multiplier = options.multiplier ?? 2;
    this.#random = options.random ?? Math.random;
    if (!(this.#initialMs > 0) || !(this.#maxMs >= this.#initialMs) || !(this.#multiplier > 1)) {
      throw new TypeError('reconnect backoff needs initialMs > 0, maxMs >= initialMs and multiplier > 1');
    }
  }

  /**
   * The wait before the next attempt, after a failure. "Equal jitter": half the ceiling fixed,
   * half random, so delays keep growing while agents that lost the coordinator together do not
   * come back in lockstep.
   */
  next(): ReconnectDelay {
    this.#attempt += 1;
    let step = 0;
    let ceilingMs = this.#initialMs;
    while (step < this.#attempt - 1 && ceilingMs < this.#maxMs) {
      step += 1;
      ceilingMs = Math.min(this.#maxMs, ceilingMs * this.#multiplier);
    }
    const isNewStep = step !== this.#lastStep;
    this.#lastStep = step;
    const delayMs = Math.round(ceilingMs / 2 + (this.#random() * ceilingMs) / 2);
    return { delayMs, step, ceilingMs, attempt: this.#attempt, isNewStep };
  }

  /** Back to the first step (the connection proved stable). */
  reset(): void {
    this.#attempt = 0;
    this.#lastStep = -1;
  }

  /** Failed attempts in a row so far. */
  get attempts(): number {
    return this.#attempt;
  }
}
