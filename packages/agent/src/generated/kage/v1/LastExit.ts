// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * How a service's main process ended.
 */
export interface LastExit {
  /**
   * Exit code; unset when killed by a signal or not known.
   */
  code?: number;
  /**
   * Terminating signal name ("SIGKILL"); unset when it exited on its own.
   */
  signal?: string;
  /**
   * When the exit was observed (epoch ms, agent clock).
   */
  at_ms?: number | string | Long;
  _code?: 'code';
  _signal?: 'signal';
}

/**
 * How a service's main process ended.
 */
export interface LastExit__Output {
  /**
   * Exit code; unset when killed by a signal or not known.
   */
  code?: number;
  /**
   * Terminating signal name ("SIGKILL"); unset when it exited on its own.
   */
  signal?: string;
  /**
   * When the exit was observed (epoch ms, agent clock).
   */
  at_ms: number;
  _code?: 'code';
  _signal?: 'signal';
}
