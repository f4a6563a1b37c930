// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  CoreLoad as _kage_v1_CoreLoad,
  CoreLoad__Output as _kage_v1_CoreLoad__Output,
} from '../../kage/v1/CoreLoad.js';
import type {
  NetReading as _kage_v1_NetReading,
  NetReading__Output as _kage_v1_NetReading__Output,
} from '../../kage/v1/NetReading.js';
import type {
  TempReading as _kage_v1_TempReading,
  TempReading__Output as _kage_v1_TempReading__Output,
} from '../../kage/v1/TempReading.js';
import type {
  GpuReading as _kage_v1_GpuReading,
  GpuReading__Output as _kage_v1_GpuReading__Output,
} from '../../kage/v1/GpuReading.js';
import type {
  ServiceUsage as _kage_v1_ServiceUsage,
  ServiceUsage__Output as _kage_v1_ServiceUsage__Output,
} from '../../kage/v1/ServiceUsage.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One telemetry snapshot of the node (fields as in DESIGN §3.7 `latest`).
 */
export interface Sample {
  /**
   * Buffer sequence number (see Delivery above).
   */
  seq?: number | string | Long;
  /**
   * When the tick started (epoch ms, agent clock).
   */
  ts_ms?: number | string | Long;
  /**
   * Tick number since the agent's sampler started, from 1; a jump means skipped ticks.
   */
  tick?: number | string | Long;
  /**
   * Whole-machine CPU busy %, 0–100, over the last interval. Unset on the first tick.
   */
  cpu_pct?: number | string;
  /**
   * Per-CPU busy %, indexed by CPU id. Empty when unknown.
   */
  per_core?: _kage_v1_CoreLoad[];
  /**
   * Load averages from /proc/loadavg.
   */
  load1?: number | string;
  load5?: number | string;
  load15?: number | string;
  /**
   * MemTotal − MemAvailable.
   */
  mem_used_bytes?: number | string | Long;
  mem_total_bytes?: number | string | Long;
  swap_used_bytes?: number | string | Long;
  swap_total_bytes?: number | string | Long;
  /**
   * Network interfaces; unset when /proc/net/dev could not be read.
   */
  net?: _kage_v1_NetReading | null;
  /**
   * hwmon temperature channels.
   */
  temps?: _kage_v1_TempReading[];
  /**
   * GPUs, AMD (sysfs) and NVIDIA (nvidia-smi).
   */
  gpus?: _kage_v1_GpuReading[];
  /**
   * CPU and memory of each supervised service.
   */
  services?: _kage_v1_ServiceUsage[];
  _cpu_pct?: 'cpu_pct';
  _load1?: 'load1';
  _load5?: 'load5';
  _load15?: 'load15';
  _mem_used_bytes?: 'mem_used_bytes';
  _mem_total_bytes?: 'mem_total_bytes';
  _swap_used_bytes?: 'swap_used_bytes';
  _swap_total_bytes?: 'swap_total_bytes';
}

/**
 * One telemetry snapshot of the node (fields as in DESIGN §3.7 `latest`).
 */
export interface Sample__Output {
  /**
   * Buffer sequence number (see Delivery above).
   */
  seq: number;
  /**
   * When the tick started (epoch ms, agent clock).
   */
  ts_ms: number;
  /**
   * Tick number since the agent's sampler started, from 1; a jump means skipped ticks.
   */
  tick: number;
  /**
   * Whole-machine CPU busy %, 0–100, over the last interval. Unset on the first tick.
   */
  cpu_pct?: number;
  /**
   * Per-CPU busy %, indexed by CPU id. Empty when unknown.
   */
  per_core: _kage_v1_CoreLoad__Output[];
  /**
   * Load averages from /proc/loadavg.
   */
  load1?: number;
  load5?: number;
  load15?: number;
  /**
   * MemTotal − MemAvailable.
   */
  mem_used_bytes?: number;
  mem_total_bytes?: number;
  swap_used_bytes?: number;
  swap_total_bytes?: number;
  /**
   * Network interfaces; unset when /proc/net/dev could not be read.
   */
  net: _kage_v1_NetReading__Output | null;
  /**
   * hwmon temperature channels.
   */
  temps: _kage_v1_TempReading__Output[];
  /**
   * GPUs, AMD (sysfs) and NVIDIA (nvidia-smi).
   */
  gpus: _kage_v1_GpuReading__Output[];
  /**
   * CPU and memory of each supervised service.
   */
  services: _kage_v1_ServiceUsage__Output[];
  _cpu_pct?: 'cpu_pct';
  _load1?: 'load1';
  _load5?: 'load5';
  _load15?: 'load15';
  _mem_used_bytes?: 'mem_used_bytes';
  _mem_total_bytes?: 'mem_total_bytes';
  _swap_used_bytes?: 'swap_used_bytes';
  _swap_total_bytes?: 'swap_total_bytes';
}
