// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  ServiceStatus as _kage_v1_ServiceStatus,
  ServiceStatus__Output as _kage_v1_ServiceStatus__Output,
} from '../../kage/v1/ServiceStatus.js';

/**
 * A service from the agent config.
 */
export interface ConfiguredService {
  /**
   * The key in the config's `services` map ("ollama", "exo").
   */
  name?: string;
  /**
   * "process" (child process group of the agent) or "systemd" (an existing unit).
   */
  driver?: string;
  /**
   * Status at the time of the message.
   */
  status?: _kage_v1_ServiceStatus | null;
}

/**
 * A service from the agent config.
 */
export interface ConfiguredService__Output {
  /**
   * The key in the config's `services` map ("ollama", "exo").
   */
  name: string;
  /**
   * "process" (child process group of the agent) or "systemd" (an existing unit).
   */
  driver: string;
  /**
   * Status at the time of the message.
   */
  status: _kage_v1_ServiceStatus__Output | null;
}
