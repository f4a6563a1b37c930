// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  GpuInfo as _kage_v1_GpuInfo,
  GpuInfo__Output as _kage_v1_GpuInfo__Output,
} from '../../kage/v1/GpuInfo.js';
import type { Long } from '@grpc/proto-loader';

/**
 * Static inventory of the node.
 */
export interface Inventory {
  /**
   * The machine's hostname (may differ from node_id).
   */
  hostname?: string;
  /**
   * e.g. "AMD RYZEN AI MAX+ 395 w/ Radeon 8060S".
   */
  cpu_model?: string;
  /**
   * Logical CPUs.
   */
  cpu_cores?: number;
  /**
   * Physical cores.
   */
  cpu_physical_cores?: number;
  /**
   * Total host memory (MemTotal).
   */
  mem_total_bytes?: number | string | Long;
  /**
   * Distribution name, e.g. "Ubuntu".
   */
  os_distro?: string;
  /**
   * Distribution release, e.g. "24.04.2 LTS".
   */
  os_release?: string;
  /**
   * Kernel release (`uname -r`).
   */
  kernel?: string;
  /**
   * CPU architecture as Node names it: "x64", "arm64".
   */
  arch?: string;
  /**
   * Where the facts came from: "systeminformation" or "os" (the fallback).
   */
  source?: string;
  /**
   * GPUs seen at start (from the first telemetry tick); empty when none or none readable.
   */
  gpus?: _kage_v1_GpuInfo[];
  _cpu_model?: 'cpu_model';
  _cpu_cores?: 'cpu_cores';
  _cpu_physical_cores?: 'cpu_physical_cores';
  _mem_total_bytes?: 'mem_total_bytes';
  _os_distro?: 'os_distro';
  _os_release?: 'os_release';
}

/**
 * Static inventory of the node.
 */
export interface Inventory__Output {
  /**
   * The machine's hostname (may differ from node_id).
   */
  hostname: string;
  /**
   * e.g. "AMD RYZEN AI MAX+ 395 w/ Radeon 8060S".
   */
  cpu_model?: string;
  /**
   * Logical CPUs.
   */
  cpu_cores?: number;
  /**
   * Physical cores.
   */
  cpu_physical_cores?: number;
  /**
   * Total host memory (MemTotal).
   */
  mem_total_bytes?: number;
  /**
   * Distribution name, e.g. "Ubuntu".
   */
  os_distro?: string;
  /**
   * Distribution release, e.g. "24.04.2 LTS".
   */
  os_release?: string;
  /**
   * Kernel release (`uname -r`).
   */
  kernel: string;
  /**
   * CPU architecture as Node names it: "x64", "arm64".
   */
  arch: string;
  /**
   * Where the facts came from: "systeminformation" or "os" (the fallback).
   */
  source: string;
  /**
   * GPUs seen at start (from the first telemetry tick); empty when none or none readable.
   */
  gpus: _kage_v1_GpuInfo__Output[];
  _cpu_model?: 'cpu_model';
  _cpu_cores?: 'cpu_cores';
  _cpu_physical_cores?: 'cpu_physical_cores';
  _mem_total_bytes?: 'mem_total_bytes';
  _os_distro?: 'os_distro';
  _os_release?: 'os_release';
}
