/**
 * The wall-clock window of a cell's measured requests, for callers that line cells up with other
 * wall-clock data (a coordinator summarising how busy each node was during each cell). Requests
 * are timed on the monotonic clock; the window is mapped onto the wall clock once, at the end,
 * so it has the monotonic clock's precision and cannot be bent by a clock step mid-cell.
 */
import type { CellResult } from '../cell-runner.js';
import { nowNs } from '../http-transport.js';
import type { CellPosition } from './run-events.js';

/** What `onCellMeasured` receives for each cell that measured something. */
export interface CellMeasuredWindow {
  cell: CellPosition;
  /** Wall clock, epoch ms, when the first counted measured request was sent. */
  started_at_ms: number;
  /** Wall clock, epoch ms, when the last counted measured request ended. */
  finished_at_ms: number;
  /** The cell's result as it was stored. */
  result: CellResult;
}

/** The same monotonic and wall-clock instant, both in ms. */
export interface ClockPair {
  monotonic_ms: number;
  wall_ms: number;
}

/** Now, on both clocks; `t_send_ms` of the request metrics is on the same monotonic clock. */
export function clockPairNow(): ClockPair {
  return { monotonic_ms: Number(nowNs() / 1000n) / 1000, wall_ms: Date.now() };
}

/**
 * Start and end (epoch ms) of the measured requests that `window_ms` covers: those not cancelled
 * by the caller. Null when there is none.
 */
export function measuredWindow(
  result: CellResult,
  at: ClockPair = clockPairNow(),
): { started_at_ms: number; finished_at_ms: number } | null {
  const counted = result.requests.filter((r) => r.error?.kind !== 'aborted');
  if (counted.length === 0) return null;
  const start = Math.min(...counted.map((r) => r.t_send_ms));
  const end = Math.max(...counted.map((r) => r.t_send_ms + r.total_ms));
  const toWall = (monotonicMs: number): number => at.wall_ms - (at.monotonic_ms - monotonicMs);
  return { started_at_ms: toWall(start), finished_at_ms: toWall(end) };
}
