/**
 * Hardware profiles: the physical numbers the timing model turns into seconds.
 * Every figure is documented with its source in docs/emulators.md; keep the two in step.
 */

/** One compute engine on a node: the CPU cores, or a GPU. */
export interface ComputeEngine {
  /** Human name, as a real server would log it. */
  readonly name: string;
  /** Theoretical memory bandwidth the engine streams weights from, bytes/s. */
  readonly memBandwidthBytesPerSec: number;
  /** Fraction of the theoretical bandwidth a llama.cpp / MLX decode loop reaches. */
  readonly decodeEfficiency: number;
  /** Peak dense FLOP/s at the precision prefill runs in. */
  readonly peakFlops: number;
  /** Fraction of peak FLOP/s reached by prefill (matrix-matrix work). */
  readonly prefillEfficiency: number;
}

export interface GpuEngine extends ComputeEngine {
  /** Memory the GPU can hold weights in, bytes. On a unified-memory APU this is VRAM + GTT. */
  readonly usableMemBytes: number;
  /** True when the GPU shares the host's RAM (APU): its memory is not additional to `memTotalBytes`. */
  readonly unifiedMemory: boolean;
}

export interface HardwareProfile {
  readonly id: string;
  readonly description: string;
  /** Host RAM, bytes. */
  readonly memTotalBytes: number;
  /** RAM free for models once the OS and services run, bytes (EXO places by this). */
  readonly memAvailableBytes: number;
  readonly cpu: ComputeEngine;
  /** Absent on CPU-only boxes. EXO 1.x on Linux never uses it (MLX CPU only). */
  readonly gpu?: GpuEngine;
  /** Sequential read speed of the model store, bytes/s (cold load time). */
  readonly diskReadBytesPerSec: number;
  /** One-way latency to a peer on the node's usual link, ms (Tailscale on a LAN by default). */
  readonly linkLatencyMs: number;
}

const GB = 1e9;
const GiB = 1024 ** 3;
const TFLOPS = 1e12;

/** Two identical CPU servers of the seed plan (srv1, srv2): 8-core desktop-class CPU, dual-channel DDR4-3200. */
const cpuServerDdr4: HardwareProfile = {
  id: 'cpu-server-ddr4',
  description: '8-core x86 server, 32 GiB dual-channel DDR4-3200, no GPU',
  memTotalBytes: 32 * GiB,
  memAvailableBytes: 28 * GiB,
  cpu: {
    name: 'x86-64 8C/16T AVX2',
    memBandwidthBytesPerSec: 51.2 * GB,
    decodeEfficiency: 0.6,
    peakFlops: 1.0 * TFLOPS,
    prefillEfficiency: 0.25,
  },
  diskReadBytesPerSec: 2.0 * GB,
  linkLatencyMs: 1.0,
};

/** The seed's ROG Flow Z13: Ryzen AI Max+ 395 with the Radeon 8060S iGPU, 32 GB LPDDR5X-8000 (256-bit). */
const strixHalo32: HardwareProfile = {
  id: 'strix-halo-8060s-32gb',
  description: 'Ryzen AI Max+ 395 laptop, Radeon 8060S iGPU, 32 GB LPDDR5X-8000 unified memory',
  memTotalBytes: 32 * GiB,
  memAvailableBytes: 27 * GiB,
  cpu: {
    name: 'Ryzen AI Max+ 395 16C/32T AVX-512',
    memBandwidthBytesPerSec: 256 * GB,
    // The CPU cluster cannot saturate the 256-bit bus the GPU can (fabric limit).
    decodeEfficiency: 0.45,
    peakFlops: 4.0 * TFLOPS,
    prefillEfficiency: 0.25,
  },
  gpu: {
    name: 'AMD Radeon 8060S (gfx1151)',
    memBandwidthBytesPerSec: 256 * GB,
    decodeEfficiency: 0.7,
    peakFlops: 59.4 * TFLOPS,
    prefillEfficiency: 0.2,
    // BIOS carve-out plus GTT: most of the 32 GB is reachable by the GPU.
    usableMemBytes: 24 * GiB,
    unifiedMemory: true,
  },
  diskReadBytesPerSec: 5.0 * GB,
  linkLatencyMs: 1.0,
};

/** Framework-Desktop-class Strix Halo with 128 GB: a 70B model fits on one node. */
const strixHalo128: HardwareProfile = {
  ...strixHalo32,
  id: 'strix-halo-8060s-128gb',
  description: 'Ryzen AI Max+ 395 desktop, Radeon 8060S iGPU, 128 GB LPDDR5X-8000 unified memory',
  memTotalBytes: 128 * GiB,
  memAvailableBytes: 120 * GiB,
  gpu: { ...strixHalo32.gpu!, usableMemBytes: 112 * GiB },
};

/** A gaming desktop: RTX 4090 (24 GB GDDR6X, 1008 GB/s) and 64 GB dual-channel DDR5-5600. */
const rtx4090Desktop: HardwareProfile = {
  id: 'rtx4090-desktop',
  description: 'Desktop with an RTX 4090 (24 GB GDDR6X) and 64 GB DDR5-5600',
  memTotalBytes: 64 * GiB,
  memAvailableBytes: 58 * GiB,
  cpu: {
    name: 'x86-64 16C/32T AVX2',
    memBandwidthBytesPerSec: 89.6 * GB,
    decodeEfficiency: 0.6,
    peakFlops: 2.0 * TFLOPS,
    prefillEfficiency: 0.25,
  },
  gpu: {
    name: 'NVIDIA GeForce RTX 4090',
    memBandwidthBytesPerSec: 1008 * GB,
    decodeEfficiency: 0.75,
    peakFlops: 165 * TFLOPS,
    prefillEfficiency: 0.3,
    usableMemBytes: 23 * GiB,
    unifiedMemory: false,
  },
  diskReadBytesPerSec: 7.0 * GB,
  linkLatencyMs: 0.3,
};

/** A thin laptop: 16 GB dual-channel DDR5-5600, no usable GPU. */
const laptopDdr5: HardwareProfile = {
  id: 'laptop-ddr5-16gb',
  description: 'Laptop, 16 GB dual-channel DDR5-5600, CPU only',
  memTotalBytes: 16 * GiB,
  memAvailableBytes: 12 * GiB,
  cpu: {
    name: 'x86-64 8C/16T AVX2',
    memBandwidthBytesPerSec: 89.6 * GB,
    decodeEfficiency: 0.55,
    peakFlops: 1.2 * TFLOPS,
    prefillEfficiency: 0.25,
  },
  diskReadBytesPerSec: 3.0 * GB,
  linkLatencyMs: 2.0,
};

export const HARDWARE_PROFILES: ReadonlyMap<string, HardwareProfile> = new Map(
  [cpuServerDdr4, strixHalo32, strixHalo128, rtx4090Desktop, laptopDdr5].map((p) => [p.id, p]),
);

/** The profile used when none is named: the seed's CPU server. */
export const DEFAULT_PROFILE_ID = cpuServerDdr4.id;

/** The seed's three nodes, by hostname. */
export const SEED_NODE_PROFILES: Readonly<Record<'srv1' | 'srv2' | 'rog', string>> = {
  srv1: cpuServerDdr4.id,
  srv2: cpuServerDdr4.id,
  rog: strixHalo32.id,
};

/** Returns the named profile or undefined. */
export function findHardwareProfile(id: string): HardwareProfile | undefined {
  return HARDWARE_PROFILES.get(id);
}
