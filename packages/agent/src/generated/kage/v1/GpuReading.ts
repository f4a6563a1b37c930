// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One GPU in one sample.
 */
export interface GpuReading {
  /**
   * As in GpuInfo.
   */
  index?: number;
  id?: string;
  vendor?: string;
  name?: string;
  /**
   * Engine busy %, 0–100.
   */
  busy_pct?: number | string;
  /**
   * Memory the GPU can use that is in use (on an APU: VRAM + GTT used — the same DRAM that the
   * sample's mem_used_bytes counts; never add the two).
   */
  mem_used_bytes?: number | string | Long;
  /**
   * Memory the GPU can use (on an APU: VRAM carve-out + GTT limit).
   */
  mem_total_bytes?: number | string | Long;
  /**
   * amdgpu only: dedicated VRAM (on an APU, the BIOS carve-out).
   */
  vram_used_bytes?: number | string | Long;
  vram_total_bytes?: number | string | Long;
  /**
   * amdgpu only: GTT, system RAM mapped for the GPU.
   */
  gtt_used_bytes?: number | string | Long;
  gtt_total_bytes?: number | string | Long;
  /**
   * True on an APU (GPU memory carved from host DRAM).
   */
  unified_memory?: boolean;
  /**
   * Watts; on an AMD APU the whole SoC package, CPU cores included.
   */
  power_w?: number | string;
  /**
   * Degrees Celsius.
   */
  temp_c?: number | string;
  _busy_pct?: 'busy_pct';
  _mem_used_bytes?: 'mem_used_bytes';
  _mem_total_bytes?: 'mem_total_bytes';
  _vram_used_bytes?: 'vram_used_bytes';
  _vram_total_bytes?: 'vram_total_bytes';
  _gtt_used_bytes?: 'gtt_used_bytes';
  _gtt_total_bytes?: 'gtt_total_bytes';
  _power_w?: 'power_w';
  _temp_c?: 'temp_c';
}

/**
 * One GPU in one sample.
 */
export interface GpuReading__Output {
  /**
   * As in GpuInfo.
   */
  index: number;
  id: string;
  vendor: string;
  name: string;
  /**
   * Engine busy %, 0–100.
   */
  busy_pct?: number;
  /**
   * Memory the GPU can use that is in use (on an APU: VRAM + GTT used — the same DRAM that the
   * sample's mem_used_bytes counts; never add the two).
   */
  mem_used_bytes?: number;
  /**
   * Memory the GPU can use (on an APU: VRAM carve-out + GTT limit).
   */
  mem_total_bytes?: number;
  /**
   * amdgpu only: dedicated VRAM (on an APU, the BIOS carve-out).
   */
  vram_used_bytes?: number;
  vram_total_bytes?: number;
  /**
   * amdgpu only: GTT, system RAM mapped for the GPU.
   */
  gtt_used_bytes?: number;
  gtt_total_bytes?: number;
  /**
   * True on an APU (GPU memory carved from host DRAM).
   */
  unified_memory: boolean;
  /**
   * Watts; on an AMD APU the whole SoC package, CPU cores included.
   */
  power_w?: number;
  /**
   * Degrees Celsius.
   */
  temp_c?: number;
  _busy_pct?: 'busy_pct';
  _mem_used_bytes?: 'mem_used_bytes';
  _mem_total_bytes?: 'mem_total_bytes';
  _vram_used_bytes?: 'vram_used_bytes';
  _vram_total_bytes?: 'vram_total_bytes';
  _gtt_used_bytes?: 'gtt_used_bytes';
  _gtt_total_bytes?: 'gtt_total_bytes';
  _power_w?: 'power_w';
  _temp_c?: 'temp_c';
}
