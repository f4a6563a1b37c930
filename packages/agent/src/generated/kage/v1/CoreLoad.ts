// Original file: /work/main/proto/kage/v1/agent.proto

/**
 * Busy % of one logical CPU.
 */
export interface CoreLoad {
  /**
   * 0–100; unset on the first tick or for an offline CPU.
   */
  busy_pct?: number | string;
  _busy_pct?: 'busy_pct';
}

/**
 * Busy % of one logical CPU.
 */
export interface CoreLoad__Output {
  /**
   * 0–100; unset on the first tick or for an offline CPU.
   */
  busy_pct?: number;
  _busy_pct?: 'busy_pct';
}
