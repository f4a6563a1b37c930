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

/**
 * Two identical CPU servers of the seed plan (srv1, srv2): 8-core desktop-class CPU, dual-channel DDR4-3200.
 * The exact CPU is not known; these are the figures of a typical 8-core Zen 3 box (see docs/emulators.md).
 */
const cpuServerDdr4: HardwareProfile = {
  id: 'cpu-server-ddr4',
  description: '8-core x86 server, 32 GiB dual-channel DDR4-3200, no GPU',
  memTotalBytes: 32 * GiB,
  memAvailableBytes: 28 * GiB,
  cpu: {
    name: 'x86-64 8C/16T AVX2',
    // 3200 MT/s × 8 bytes × 2 channels.
    memBandwidthBytesPerSec: 51.2 * GB,
    // llama.cpp decode on dual-channel DDR4 streams ~36 GB/s (STREAM on such boxes is ~40-45 GB/s).
    decodeEfficiency: 0.7,
    // 8 cores × 32 FP32 FLOP/cycle (2 × 256-bit FMA) × ~3.9 GHz all-core.
    peakFlops: 1.0 * TFLOPS,
    // llama.cpp prefill uses int8 dot products; measured pp512 on AVX2 cores is ~0.6 of the FP32 FMA peak.
    prefillEfficiency: 0.6,
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
    // 8000 MT/s × 32 bytes (256-bit bus).
    memBandwidthBytesPerSec: 256 * GB,
    // The CPU complexes reach the memory through fabric links: STREAM measures ~100 GB/s, not 256.
    decodeEfficiency: 0.35,
    // 16 cores × 64 FP32 FLOP/cycle (2 × 512-bit FMA, full-width Zen 5) × ~4.5 GHz all-core.
    peakFlops: 4.6 * TFLOPS,
    prefillEfficiency: 0.6,
  },
  gpu: {
    name: 'AMD Radeon 8060S (gfx1151)',
    memBandwidthBytesPerSec: 256 * GB,
    // llama.cpp tg128: Llama-2-7B Q4_0 49 tok/s (~190 GB/s); 70B Q4_K_M reaches ~210 GB/s.
    decodeEfficiency: 0.75,
    // 40 CUs × 512 FP16 ops/clock × 2.9 GHz (WMMA / dual-issue).
    peakFlops: 59.4 * TFLOPS,
    // llama.cpp pp512 on 7B and 70B models both work out to ~13 TFLOPS effective.
    prefillEfficiency: 0.22,
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
    // 5600 MT/s × 8 bytes × 2 channels.
    memBandwidthBytesPerSec: 89.6 * GB,
    decodeEfficiency: 0.6,
    peakFlops: 2.0 * TFLOPS,
    prefillEfficiency: 0.6,
  },
  gpu: {
    name: 'NVIDIA GeForce RTX 4090',
    // 21 Gbps × 384-bit / 8.
    memBandwidthBytesPerSec: 1008 * GB,
    // 7B 4-bit models decode at ~190 tok/s (~720 GB/s).
    decodeEfficiency: 0.72,
    // FP16 tensor, dense, FP16 accumulate (Ada whitepaper).
    peakFlops: 330 * TFLOPS,
    // llama.cpp pp512 on Llama-3-8B Q4_0 measured ~10,400 tok/s (~166 TFLOPS, int8 MMQ kernels).
    prefillEfficiency: 0.5,
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
    // Ollama llama3.2:3b (2.02 GB) at 23.8 tok/s on a DDR5-5600 laptop: ~48 GB/s.
    decodeEfficiency: 0.54,
    peakFlops: 1.2 * TFLOPS,
    prefillEfficiency: 0.6,
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
