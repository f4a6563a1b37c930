// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  Inventory as _kage_v1_Inventory,
  Inventory__Output as _kage_v1_Inventory__Output,
} from '../../kage/v1/Inventory.js';
import type {
  ConfiguredService as _kage_v1_ConfiguredService,
  ConfiguredService__Output as _kage_v1_ConfiguredService__Output,
} from '../../kage/v1/ConfiguredService.js';
import type {
  BufferStats as _kage_v1_BufferStats,
  BufferStats__Output as _kage_v1_BufferStats__Output,
} from '../../kage/v1/BufferStats.js';
import type { Long } from '@grpc/proto-loader';

/**
 * Who the agent is, what it has, and where its buffer stands.
 */
export interface Hello {
  /**
   * Version of this contract the agent speaks. Currently 1.
   */
  protocol_version?: number;
  /**
   * The node's name: `node` from agent.yaml (default: the hostname). Stable across reboots.
   */
  node_id?: string;
  /**
   * proc/sys/kernel/random/boot_id: changes on every boot, so seq restarts from 1 with it.
   */
  boot_id?: string;
  /**
   * The agent's package version (semver).
   */
  agent_version?: string;
  /**
   * Static facts collected once at agent start.
   */
  inventory?: _kage_v1_Inventory | null;
  /**
   * Every service named in the agent's config, in config order, with its status right now.
   */
  services?: _kage_v1_ConfiguredService[];
  /**
   * Highest seq assigned so far in this boot; 0 when none.
   */
  last_seq?: number | string | Long;
  /**
   * Where the agent's buffer stands (drop counters are cumulative for this boot).
   */
  buffer?: _kage_v1_BufferStats | null;
  /**
   * When the agent process started (epoch ms, agent clock).
   */
  started_at_ms?: number | string | Long;
  /**
   * `sample_interval_ms` from the agent config: the expected spacing of samples.
   */
  sample_interval_ms?: number;
}

/**
 * Who the agent is, what it has, and where its buffer stands.
 */
export interface Hello__Output {
  /**
   * Version of this contract the agent speaks. Currently 1.
   */
  protocol_version: number;
  /**
   * The node's name: `node` from agent.yaml (default: the hostname). Stable across reboots.
   */
  node_id: string;
  /**
   * proc/sys/kernel/random/boot_id: changes on every boot, so seq restarts from 1 with it.
   */
  boot_id: string;
  /**
   * The agent's package version (semver).
   */
  agent_version: string;
  /**
   * Static facts collected once at agent start.
   */
  inventory: _kage_v1_Inventory__Output | null;
  /**
   * Every service named in the agent's config, in config order, with its status right now.
   */
  services: _kage_v1_ConfiguredService__Output[];
  /**
   * Highest seq assigned so far in this boot; 0 when none.
   */
  last_seq: number;
  /**
   * Where the agent's buffer stands (drop counters are cumulative for this boot).
   */
  buffer: _kage_v1_BufferStats__Output | null;
  /**
   * When the agent process started (epoch ms, agent clock).
   */
  started_at_ms: number;
  /**
   * `sample_interval_ms` from the agent config: the expected spacing of samples.
   */
  sample_interval_ms: number;
}
