// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  LastExit as _kage_v1_LastExit,
  LastExit__Output as _kage_v1_LastExit__Output,
} from '../../kage/v1/LastExit.js';

/**
 * A point-in-time snapshot of one supervised service.
 */
export interface ServiceStatus {
  /**
   * The service's config name.
   */
  name?: string;
  /**
   * "process" or "systemd".
   */
  driver?: string;
  /**
   * "starting" | "running" | "stopping" | "backoff" | "exited" | "failed".
   */
  state?: string;
  /**
   * Main pid (for the process driver also its process group); unset when not running.
   */
  pid?: number;
  /**
   * Automatic restarts: the agent's own for the process driver, systemd's NRestarts for units.
   */
  restarts?: number;
  /**
   * True only when every health layer passes.
   */
  healthy?: boolean;
  /**
   * "unknown" | "starting" | "healthy" | "unhealthy".
   */
  health?: string;
  /**
   * Why the last health check failed, when it did.
   */
  health_reason?: string;
  /**
   * Why the service is in its state, when known.
   */
  reason?: string;
  /**
   * How the main process last ended; unset when it has not ended since the agent started.
   */
  last_exit?: _kage_v1_LastExit | null;
  /**
   * systemd driver only: the unit's cgroup path.
   */
  cgroup?: string;
  _pid?: 'pid';
  _health_reason?: 'health_reason';
  _reason?: 'reason';
  _cgroup?: 'cgroup';
}

/**
 * A point-in-time snapshot of one supervised service.
 */
export interface ServiceStatus__Output {
  /**
   * The service's config name.
   */
  name: string;
  /**
   * "process" or "systemd".
   */
  driver: string;
  /**
   * "starting" | "running" | "stopping" | "backoff" | "exited" | "failed".
   */
  state: string;
  /**
   * Main pid (for the process driver also its process group); unset when not running.
   */
  pid?: number;
  /**
   * Automatic restarts: the agent's own for the process driver, systemd's NRestarts for units.
   */
  restarts: number;
  /**
   * True only when every health layer passes.
   */
  healthy: boolean;
  /**
   * "unknown" | "starting" | "healthy" | "unhealthy".
   */
  health: string;
  /**
   * Why the last health check failed, when it did.
   */
  health_reason?: string;
  /**
   * Why the service is in its state, when known.
   */
  reason?: string;
  /**
   * How the main process last ended; unset when it has not ended since the agent started.
   */
  last_exit: _kage_v1_LastExit__Output | null;
  /**
   * systemd driver only: the unit's cgroup path.
   */
  cgroup?: string;
  _pid?: 'pid';
  _health_reason?: 'health_reason';
  _reason?: 'reason';
  _cgroup?: 'cgroup';
}
