/**
 * Sleeping to an absolute point on the monotonic clock. Every timed phase of the emulator (load,
 * prefill, each decode step) is due at a deadline computed from the start of its phase, so a late
 * event loop never pushes the schedule back: the next deadline is already fixed, and overdue steps
 * run at once until the emulator is back on time.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** `process.hrtime.bigint()`: monotonic nanoseconds. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** A duration in seconds as whole nanoseconds. */
export function secondsToNs(seconds: number): bigint {
  return BigInt(Math.max(0, Math.round(seconds * 1e9)));
}

/**
 * Resolves once the monotonic clock reaches `deadlineNs`; at once (without yielding) when it
 * already has. Rejects with the abort reason when `signal` fires first.
 *
 * A Node timer counts from the event loop's cached time, which can lag the real clock when the
 * loop is busy, so it may fire early: sleep again for what is left instead of trusting one timer.
 */
export async function sleepUntilNs(deadlineNs: bigint, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const remainingMs = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
    if (remainingMs <= 0) return;
    await delay(Math.max(1, remainingMs), undefined, { signal });
  }
}
