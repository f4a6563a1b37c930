// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One GPU's identity and capacity.
 */
export interface GpuInfo {
  /**
   * AMD: position among the node's amdgpu cards; NVIDIA: nvidia-smi's index.
   */
  index?: number;
  /**
   * Stable identity: the DRM card name ("card1") for AMD, the GPU UUID for NVIDIA.
   */
  id?: string;
  /**
   * "amd" or "nvidia".
   */
  vendor?: string;
  /**
   * Marketing name.
   */
  name?: string;
  /**
   * True on an APU: GPU memory is host DRAM; budget it against host memory, never add to it.
   */
  unified_memory?: boolean;
  /**
   * Memory the GPU can use (on an APU: VRAM carve-out + GTT limit).
   */
  mem_total_bytes?: number | string | Long;
  /**
   * amdgpu only: dedicated VRAM (on an APU, the BIOS carve-out).
   */
  vram_total_bytes?: number | string | Long;
  /**
   * amdgpu only: GTT limit (system RAM the GPU may map).
   */
  gtt_total_bytes?: number | string | Long;
  _mem_total_bytes?: 'mem_total_bytes';
  _vram_total_bytes?: 'vram_total_bytes';
  _gtt_total_bytes?: 'gtt_total_bytes';
}

/**
 * One GPU's identity and capacity.
 */
export interface GpuInfo__Output {
  /**
   * AMD: position among the node's amdgpu cards; NVIDIA: nvidia-smi's index.
   */
  index: number;
  /**
   * Stable identity: the DRM card name ("card1") for AMD, the GPU UUID for NVIDIA.
   */
  id: string;
  /**
   * "amd" or "nvidia".
   */
  vendor: string;
  /**
   * Marketing name.
   */
  name: string;
  /**
   * True on an APU: GPU memory is host DRAM; budget it against host memory, never add to it.
   */
  unified_memory: boolean;
  /**
   * Memory the GPU can use (on an APU: VRAM carve-out + GTT limit).
   */
  mem_total_bytes?: number;
  /**
   * amdgpu only: dedicated VRAM (on an APU, the BIOS carve-out).
   */
  vram_total_bytes?: number;
  /**
   * amdgpu only: GTT limit (system RAM the GPU may map).
   */
  gtt_total_bytes?: number;
  _mem_total_bytes?: 'mem_total_bytes';
  _vram_total_bytes?: 'vram_total_bytes';
  _gtt_total_bytes?: 'gtt_total_bytes';
}
