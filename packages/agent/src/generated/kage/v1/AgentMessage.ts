// Original file: /work/main/proto/kage/v1/agent.proto

import type { Hello as _kage_v1_Hello, Hello__Output as _kage_v1_Hello__Output } from '../../kage/v1/Hello.js';
import type {
  SampleBatch as _kage_v1_SampleBatch,
  SampleBatch__Output as _kage_v1_SampleBatch__Output,
} from '../../kage/v1/SampleBatch.js';
import type {
  ServiceEvent as _kage_v1_ServiceEvent,
  ServiceEvent__Output as _kage_v1_ServiceEvent__Output,
} from '../../kage/v1/ServiceEvent.js';
import type {
  CommandResult as _kage_v1_CommandResult,
  CommandResult__Output as _kage_v1_CommandResult__Output,
} from '../../kage/v1/CommandResult.js';
import type {
  ProbeResult as _kage_v1_ProbeResult,
  ProbeResult__Output as _kage_v1_ProbeResult__Output,
} from '../../kage/v1/ProbeResult.js';
import type {
  Heartbeat as _kage_v1_Heartbeat,
  Heartbeat__Output as _kage_v1_Heartbeat__Output,
} from '../../kage/v1/Heartbeat.js';

/**
 * Agent → coordinator.
 */
export interface AgentMessage {
  /**
   * First message of every call, exactly once.
   */
  hello?: _kage_v1_Hello | null;
  /**
   * One or more buffered samples, in seq order.
   */
  sample_batch?: _kage_v1_SampleBatch | null;
  /**
   * One buffered service state or health change.
   */
  service_event?: _kage_v1_ServiceEvent | null;
  /**
   * Outcome of a Command carrying a ServiceAction.
   */
  command_result?: _kage_v1_CommandResult | null;
  /**
   * Outcome of a Command carrying a RunProbe.
   */
  probe_result?: _kage_v1_ProbeResult | null;
  /**
   * Application-level liveness, sent every Welcome.heartbeat_interval_ms.
   */
  heartbeat?: _kage_v1_Heartbeat | null;
  body?: 'hello' | 'sample_batch' | 'service_event' | 'command_result' | 'probe_result' | 'heartbeat';
}

/**
 * Agent → coordinator.
 */
export interface AgentMessage__Output {
  /**
   * First message of every call, exactly once.
   */
  hello?: _kage_v1_Hello__Output | null;
  /**
   * One or more buffered samples, in seq order.
   */
  sample_batch?: _kage_v1_SampleBatch__Output | null;
  /**
   * One buffered service state or health change.
   */
  service_event?: _kage_v1_ServiceEvent__Output | null;
  /**
   * Outcome of a Command carrying a ServiceAction.
   */
  command_result?: _kage_v1_CommandResult__Output | null;
  /**
   * Outcome of a Command carrying a RunProbe.
   */
  probe_result?: _kage_v1_ProbeResult__Output | null;
  /**
   * Application-level liveness, sent every Welcome.heartbeat_interval_ms.
   */
  heartbeat?: _kage_v1_Heartbeat__Output | null;
  body?: 'hello' | 'sample_batch' | 'service_event' | 'command_result' | 'probe_result' | 'heartbeat';
}
