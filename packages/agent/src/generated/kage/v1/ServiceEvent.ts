// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  ServiceStatus as _kage_v1_ServiceStatus,
  ServiceStatus__Output as _kage_v1_ServiceStatus__Output,
} from '../../kage/v1/ServiceStatus.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A service changed state or health. Carries the full status snapshot after the change.
 */
export interface ServiceEvent {
  /**
   * Buffer sequence number (see Delivery above).
   */
  seq?: number | string | Long;
  /**
   * When the change was observed (epoch ms, agent clock).
   */
  ts_ms?: number | string | Long;
  /**
   * "state" (a lifecycle transition) or "health" (a health change).
   */
  kind?: string;
  /**
   * The service's config name.
   */
  service?: string;
  /**
   * kind = "state": the states before and after (values as ServiceStatus.state); else empty.
   */
  from_state?: string;
  to_state?: string;
  /**
   * kind = "health": the new health (values as ServiceStatus.health); else empty.
   */
  health?: string;
  /**
   * Why the change happened (crash loop, requested stop, failed probe...); empty when not known.
   */
  reason?: string;
  /**
   * The status after the change.
   */
  status?: _kage_v1_ServiceStatus | null;
}

/**
 * A service changed state or health. Carries the full status snapshot after the change.
 */
export interface ServiceEvent__Output {
  /**
   * Buffer sequence number (see Delivery above).
   */
  seq: number;
  /**
   * When the change was observed (epoch ms, agent clock).
   */
  ts_ms: number;
  /**
   * "state" (a lifecycle transition) or "health" (a health change).
   */
  kind: string;
  /**
   * The service's config name.
   */
  service: string;
  /**
   * kind = "state": the states before and after (values as ServiceStatus.state); else empty.
   */
  from_state: string;
  to_state: string;
  /**
   * kind = "health": the new health (values as ServiceStatus.health); else empty.
   */
  health: string;
  /**
   * Why the change happened (crash loop, requested stop, failed probe...); empty when not known.
   */
  reason: string;
  /**
   * The status after the change.
   */
  status: _kage_v1_ServiceStatus__Output | null;
}
