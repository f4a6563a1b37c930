// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * CPU and memory of one supervised service.
 */
export interface ServiceUsage {
  /**
   * The service's config name.
   */
  name?: string;
  /**
   * Percent of one core (100 = one core busy; can exceed 100). Unset on the first tick.
   */
  cpu_pct?: number | string;
  /**
   * Resident memory: sum of the process tree's RSS, or the cgroup's memory.current.
   */
  rss_bytes?: number | string | Long;
  /**
   * "process-tree" or "cgroup"; unset when the service had no pid or cgroup this tick.
   */
  source?: string;
  _cpu_pct?: 'cpu_pct';
  _rss_bytes?: 'rss_bytes';
  _source?: 'source';
}

/**
 * CPU and memory of one supervised service.
 */
export interface ServiceUsage__Output {
  /**
   * The service's config name.
   */
  name: string;
  /**
   * Percent of one core (100 = one core busy; can exceed 100). Unset on the first tick.
   */
  cpu_pct?: number;
  /**
   * Resident memory: sum of the process tree's RSS, or the cgroup's memory.current.
   */
  rss_bytes?: number;
  /**
   * "process-tree" or "cgroup"; unset when the service had no pid or cgroup this tick.
   */
  source?: string;
  _cpu_pct?: 'cpu_pct';
  _rss_bytes?: 'rss_bytes';
  _source?: 'source';
}
