// Original file: /work/main/proto/kage/v1/agent.proto

import type { Error as _kage_v1_Error, Error__Output as _kage_v1_Error__Output } from '../../kage/v1/Error.js';

/**
 * The answer to a Command carrying a RunProbe.
 */
export interface ProbeResult {
  /**
   * Command.id.
   */
  command_id?: string;
  /**
   * True when the probe ran; the request itself may still have failed (see the metrics' error).
   */
  ok?: boolean;
  /**
   * The bench package's RequestMetrics as JSON (DESIGN §3.3 field names); empty when ok is false.
   */
  metrics_json?: string;
  /**
   * Why the probe could not run, when ok is false.
   */
  error?: _kage_v1_Error | null;
}

/**
 * The answer to a Command carrying a RunProbe.
 */
export interface ProbeResult__Output {
  /**
   * Command.id.
   */
  command_id: string;
  /**
   * True when the probe ran; the request itself may still have failed (see the metrics' error).
   */
  ok: boolean;
  /**
   * The bench package's RequestMetrics as JSON (DESIGN §3.3 field names); empty when ok is false.
   */
  metrics_json: string;
  /**
   * Why the probe could not run, when ok is false.
   */
  error: _kage_v1_Error__Output | null;
}
