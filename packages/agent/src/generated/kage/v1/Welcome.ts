// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The coordinator's answer to Hello.
 */
export interface Welcome {
  /**
   * False when the coordinator refuses this agent (node id not allowed for the token, protocol
   * version unsupported...); `reason` says why and the coordinator then ends the call. The agent
   * logs the reason and reconnects with backoff.
   */
  accepted?: boolean;
  /**
   * Why the agent was refused; empty when accepted.
   */
  reason?: string;
  /**
   * Highest seq the coordinator already holds for (node_id, boot_id) from Hello; 0 when none.
   * The agent resumes with the first record after it, and may delete everything up to it.
   */
  last_acked_seq?: number | string | Long;
  /**
   * How often the agent should send Heartbeat; 0 lets the agent pick its default.
   */
  heartbeat_interval_ms?: number;
  /**
   * The coordinator's version (semver), for logs.
   */
  coordinator_version?: string;
}

/**
 * The coordinator's answer to Hello.
 */
export interface Welcome__Output {
  /**
   * False when the coordinator refuses this agent (node id not allowed for the token, protocol
   * version unsupported...); `reason` says why and the coordinator then ends the call. The agent
   * logs the reason and reconnects with backoff.
   */
  accepted: boolean;
  /**
   * Why the agent was refused; empty when accepted.
   */
  reason: string;
  /**
   * Highest seq the coordinator already holds for (node_id, boot_id) from Hello; 0 when none.
   * The agent resumes with the first record after it, and may delete everything up to it.
   */
  last_acked_seq: number;
  /**
   * How often the agent should send Heartbeat; 0 lets the agent pick its default.
   */
  heartbeat_interval_ms: number;
  /**
   * The coordinator's version (semver), for logs.
   */
  coordinator_version: string;
}
