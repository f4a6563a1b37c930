// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  BufferStats as _kage_v1_BufferStats,
  BufferStats__Output as _kage_v1_BufferStats__Output,
} from '../../kage/v1/BufferStats.js';
import type { Long } from '@grpc/proto-loader';

/**
 * Sent every Welcome.heartbeat_interval_ms, even when samples flow, so the coordinator can tell an
 * agent that is connected but stuck (no heartbeats) from one with a stuck sampler (no samples).
 */
export interface Heartbeat {
  /**
   * When it was sent (epoch ms, agent clock).
   */
  ts_ms?: number | string | Long;
  /**
   * Highest seq assigned so far in this boot.
   */
  last_seq?: number | string | Long;
  /**
   * Buffer state and cumulative drop counters for this boot.
   */
  buffer?: _kage_v1_BufferStats | null;
  /**
   * Commands received and still running.
   */
  commands_running?: number;
}

/**
 * Sent every Welcome.heartbeat_interval_ms, even when samples flow, so the coordinator can tell an
 * agent that is connected but stuck (no heartbeats) from one with a stuck sampler (no samples).
 */
export interface Heartbeat__Output {
  /**
   * When it was sent (epoch ms, agent clock).
   */
  ts_ms: number;
  /**
   * Highest seq assigned so far in this boot.
   */
  last_seq: number;
  /**
   * Buffer state and cumulative drop counters for this boot.
   */
  buffer: _kage_v1_BufferStats__Output | null;
  /**
   * Commands received and still running.
   */
  commands_running: number;
}
