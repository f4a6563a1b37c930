// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * State of the agent's buffer of unacknowledged records.
 */
export interface BufferStats {
  /**
   * Records dropped because they were older than `buffer.max_age_s` before being acknowledged.
   */
  dropped_age?: number | string | Long;
  /**
   * Records dropped (oldest first) because the buffer reached its byte cap.
   */
  dropped_size?: number | string | Long;
  /**
   * Records held and not yet acknowledged.
   */
  buffered_records?: number | string | Long;
  /**
   * Bytes those records take on disk.
   */
  buffered_bytes?: number | string | Long;
  /**
   * seq of the oldest record held; unset when the buffer is empty.
   */
  oldest_seq?: number | string | Long;
  /**
   * Timestamp of the oldest record held (epoch ms); unset when the buffer is empty.
   */
  oldest_ts_ms?: number | string | Long;
  _oldest_seq?: 'oldest_seq';
  _oldest_ts_ms?: 'oldest_ts_ms';
}

/**
 * State of the agent's buffer of unacknowledged records.
 */
export interface BufferStats__Output {
  /**
   * Records dropped because they were older than `buffer.max_age_s` before being acknowledged.
   */
  dropped_age: number;
  /**
   * Records dropped (oldest first) because the buffer reached its byte cap.
   */
  dropped_size: number;
  /**
   * Records held and not yet acknowledged.
   */
  buffered_records: number;
  /**
   * Bytes those records take on disk.
   */
  buffered_bytes: number;
  /**
   * seq of the oldest record held; unset when the buffer is empty.
   */
  oldest_seq?: number;
  /**
   * Timestamp of the oldest record held (epoch ms); unset when the buffer is empty.
   */
  oldest_ts_ms?: number;
  _oldest_seq?: 'oldest_seq';
  _oldest_ts_ms?: 'oldest_ts_ms';
}
