/**
 * The shape of one telemetry sample. Field names follow the `latest` sample of the coordinator's
 * `GET /api/v1/nodes` (docs/coordinator.md, "REST API"): snake_case, units in the name. Everything
 * the agent could not read is `null` — unknown — and never 0: a 0 would be a claim that the node is
 * idle or empty.
 */

/** One network interface from /proc/net/dev. */
export interface NetSample {
  iface: string;
  /** Bytes received since the interface came up (kernel counter). */
  rx_bytes: number | null;
  /** Bytes sent since the interface came up (kernel counter). */
  tx_bytes: number | null;
  /** Receive rate in bits per second over the last interval; null on the first tick or a counter reset. */
  rx_bps: number | null;
  /** Transmit rate in bits per second over the last interval; null on the first tick or a counter reset. */
  tx_bps: number | null;
}

/** One hwmon temperature channel. */
export interface TempSample {
  /** hwmon `name`, e.g. `k10temp`, `amdgpu`, `coretemp`, `nvme`. */
  chip: string;
  /** `tempN_label` when the driver provides one, else `tempN`. */
  label: string;
  celsius: number | null;
}

/** One GPU, AMD (sysfs) or NVIDIA (nvidia-smi). */
export interface GpuSample {
  /** AMD: position among the node's amdgpu cards (by card number); NVIDIA: nvidia-smi's index. */
  index: number;
  /** Stable identity: the DRM card name (`card1`) for AMD, the GPU UUID for NVIDIA. */
  id: string;
  vendor: 'amd' | 'nvidia';
  name: string;
  /** Engine busy %, 0–100. amdgpu: an instant sample, or the mean of sub-samples when enabled. */
  busy_pct: number | null;
  /**
   * Memory the GPU can use that is in use. On a unified-memory APU this is VRAM + GTT used; that
   * memory is the same DRAM /proc/meminfo counts, so never add it to the host's `mem_used_bytes`.
   */
  mem_used_bytes: number | null;
  /** Memory the GPU can use. On a unified-memory APU: VRAM carve-out + GTT limit. */
  mem_total_bytes: number | null;
  /** amdgpu only: dedicated VRAM (on an APU, the BIOS carve-out). */
  vram_used_bytes?: number | null;
  vram_total_bytes?: number | null;
  /** amdgpu only: GTT, system RAM mapped for the GPU. */
  gtt_used_bytes?: number | null;
  gtt_total_bytes?: number | null;
  /** True when GPU memory is carved from host DRAM (an APU): budget it against host memory. */
  unified_memory: boolean;
  /** Watts. On an AMD APU this is the whole SoC package (CPU cores included), not the GPU alone. */
  power_w: number | null;
  temp_c: number | null;
}

/** CPU and memory of one supervised service. */
export interface ServiceSample {
  name: string;
  /** Percent of one core (100 = one core fully busy; can exceed 100). Null on the first tick. */
  cpu_pct: number | null;
  /**
   * Resident memory. From a process tree: the sum of the members' RSS (shared pages count once per
   * process). From a cgroup: `memory.current`, which also includes page cache charged to it.
   */
  rss_bytes: number | null;
  /** Where the numbers came from; null when the service had no pid or cgroup this tick. */
  source: 'process-tree' | 'cgroup' | null;
}

/** One telemetry sample: a snapshot of the node at `ts`. */
export interface Sample {
  /** Wall-clock time the tick started, ISO 8601 (the agent's clock). */
  ts: string;
  /** Monotonic time the tick started, ms (`performance.now()`); for ordering and intervals. */
  mono_ms: number;
  /** Tick number since the sampler started, from 1. */
  seq: number;
  /** Whole-machine CPU busy %, 0–100, over the last interval. Null on the first tick. */
  cpu_pct: number | null;
  /** Per-CPU busy %, indexed by CPU id; null for the first tick or an offline CPU. */
  per_core_pct: (number | null)[];
  load1: number | null;
  load5: number | null;
  load15: number | null;
  /** MemTotal − MemAvailable. */
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  swap_used_bytes: number | null;
  swap_total_bytes: number | null;
  /** Null when /proc/net/dev cannot be read. */
  net: NetSample[] | null;
  temps: TempSample[];
  gpus: GpuSample[];
  services: ServiceSample[];
}

/** Monotonic milliseconds (`performance.now()` by default); injectable for exact tests. */
export type MonotonicClock = () => number;
