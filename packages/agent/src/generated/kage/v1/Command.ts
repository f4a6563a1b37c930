// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  ServiceAction as _kage_v1_ServiceAction,
  ServiceAction__Output as _kage_v1_ServiceAction__Output,
} from '../../kage/v1/ServiceAction.js';
import type {
  RunProbe as _kage_v1_RunProbe,
  RunProbe__Output as _kage_v1_RunProbe__Output,
} from '../../kage/v1/RunProbe.js';

/**
 * Something the coordinator asks the agent to do. The agent answers every command exactly once on
 * the stream it arrived on, unless that stream ends first (results are not buffered: the
 * coordinator treats a command without an answer as failed when the stream ends or it times out).
 * A command id the agent has already seen recently is answered again without running twice.
 */
export interface Command {
  /**
   * Unique id chosen by the coordinator; echoed in the result.
   */
  id?: string;
  /**
   * Start/stop/restart a configured service → CommandResult.
   */
  service_action?: _kage_v1_ServiceAction | null;
  /**
   * Run one benchmark request from this node → ProbeResult.
   */
  run_probe?: _kage_v1_RunProbe | null;
  kind?: 'service_action' | 'run_probe';
}

/**
 * Something the coordinator asks the agent to do. The agent answers every command exactly once on
 * the stream it arrived on, unless that stream ends first (results are not buffered: the
 * coordinator treats a command without an answer as failed when the stream ends or it times out).
 * A command id the agent has already seen recently is answered again without running twice.
 */
export interface Command__Output {
  /**
   * Unique id chosen by the coordinator; echoed in the result.
   */
  id: string;
  /**
   * Start/stop/restart a configured service → CommandResult.
   */
  service_action?: _kage_v1_ServiceAction__Output | null;
  /**
   * Run one benchmark request from this node → ProbeResult.
   */
  run_probe?: _kage_v1_RunProbe__Output | null;
  kind?: 'service_action' | 'run_probe';
}
