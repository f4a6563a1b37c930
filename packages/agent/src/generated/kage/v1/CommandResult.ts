// Original file: /work/main/proto/kage/v1/agent.proto

import type { Error as _kage_v1_Error, Error__Output as _kage_v1_Error__Output } from '../../kage/v1/Error.js';
import type {
  ServiceStatus as _kage_v1_ServiceStatus,
  ServiceStatus__Output as _kage_v1_ServiceStatus__Output,
} from '../../kage/v1/ServiceStatus.js';

/**
 * The answer to a Command carrying a ServiceAction.
 */
export interface CommandResult {
  /**
   * Command.id.
   */
  command_id?: string;
  /**
   * True when the action was carried out (the service's state may still say it failed to start).
   */
  ok?: boolean;
  /**
   * Why not, when ok is false.
   */
  error?: _kage_v1_Error | null;
  /**
   * The service's status after the action; unset when the service is unknown.
   */
  status?: _kage_v1_ServiceStatus | null;
}

/**
 * The answer to a Command carrying a ServiceAction.
 */
export interface CommandResult__Output {
  /**
   * Command.id.
   */
  command_id: string;
  /**
   * True when the action was carried out (the service's state may still say it failed to start).
   */
  ok: boolean;
  /**
   * Why not, when ok is false.
   */
  error: _kage_v1_Error__Output | null;
  /**
   * The service's status after the action; unset when the service is unknown.
   */
  status: _kage_v1_ServiceStatus__Output | null;
}
