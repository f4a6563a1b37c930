/**
 * Runs an async task every `intervalMs`, never two at once (the next run is scheduled after the
 * previous one settles, so a slow probe cannot pile up). The timer is unref'd: it never keeps the
 * agent alive by itself. `close()` clears the timer and waits for a run in flight.
 */
import type { Logger } from 'pino';

export class PeriodicTask {
  readonly #intervalMs: number;
  readonly #task: () => Promise<void>;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  #closed = false;

  constructor(options: { intervalMs: number; task: () => Promise<void>; log: Logger }) {
    this.#intervalMs = options.intervalMs;
    this.#task = options.task;
    this.#log = options.log;
  }

  /** Begin ticking; the first run is one interval from now. Idempotent. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#schedule();
  }

  /** Run now (and restart the interval), or join a run already in flight. */
  runNow(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running !== undefined) return this.#running;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#task()
      .catch((err: unknown) => {
        this.#log.error({ err }, 'periodic task failed');
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#started) this.#schedule();
      });
    return this.#running;
  }

  /** Like {@link runNow}, but a run already in flight does not count: it may predate a change. */
  async runFresh(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    await this.runNow();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.runNow();
    }, this.#intervalMs);
    this.#timer.unref();
  }
}
