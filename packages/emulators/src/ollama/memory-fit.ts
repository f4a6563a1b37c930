/**
 * Where a model runs and how much memory it takes under Ollama 0.32, which loads through llama.cpp's
 * `llama-server` and lets its `--fit` pick how many layers go to the GPU:
 *
 * - resident size = weights + KV cache (`num_ctx × NUM_PARALLEL × bytes per token`) + compute graph;
 * - all of it on the GPU when it fits there;
 * - else a partial offload: as many layers (with their share of the KV cache) as fit on the GPU, the
 *   rest in host RAM, and every token runs through both parts, so decode slows down;
 * - on a CPU-only node Ollama turns mmap off, so the whole model must fit in free RAM;
 * - when the host part does not fit either, llama-server fails to allocate and Ollama reports
 *   "llama-server reported out-of-memory during startup: …" (HTTP 500).
 */
import type { HardwareProfile } from '../hardware-profiles.js';
import { kvBytesPerToken, type OllamaModel } from '../model-catalogue.js';
import type { PipelineStage } from '../timing-model.js';
import { humanBytes2 } from './go-time.js';

/** Compute-graph scratch memory llama.cpp reserves on top of weights and KV cache. */
export const GRAPH_OVERHEAD_BYTES = 512 * 1024 ** 2;

/** `llm/llama_server.go`: the wrapper of an out-of-memory load (0.30 and later). */
export const LOAD_OOM_PREFIX = 'llama-server reported out-of-memory during startup: ';

/** Where a loaded model lives and what it holds. */
export interface Placement {
  /** True when at least one layer is on the GPU. */
  readonly onGpu: boolean;
  /** Total resident bytes (`size` in `/api/ps`). */
  readonly totalBytes: number;
  /** Bytes on the GPU (`size_vram`; 0 on CPU). */
  readonly vramBytes: number;
  /** Bytes taken from host RAM (a unified-memory GPU draws on the same RAM). */
  readonly hostBytes: number;
  /** Layers offloaded to the GPU, of `totalLayers` (blocks + the output layer, as llama.cpp counts). */
  readonly gpuLayers: number;
  readonly totalLayers: number;
  /** The engines a token passes through in order (GPU part, then CPU part), for the timing model. */
  readonly stages: readonly PipelineStage[];
}

/** Free memory at one moment, bytes. */
export interface FreeMemory {
  readonly gpuBytes: number;
  readonly hostBytes: number;
}

/** The bytes of one load, split the way llama.cpp allocates them. */
export interface LoadSize {
  readonly weightBytes: number;
  readonly kvBytes: number;
  readonly graphBytes: number;
  readonly totalBytes: number;
}

/** Resident bytes of `model` loaded with `numCtx` context per slot and `numParallel` slots. */
export function loadSize(model: OllamaModel, numCtx: number, numParallel: number): LoadSize {
  const kvBytes = numCtx * numParallel * kvBytesPerToken(model.shape);
  return {
    weightBytes: model.sizeBytes,
    kvBytes,
    graphBytes: GRAPH_OVERHEAD_BYTES,
    totalBytes: model.sizeBytes + kvBytes + GRAPH_OVERHEAD_BYTES,
  };
}

/** Total resident bytes (see loadSize). */
export function requiredBytes(model: OllamaModel, numCtx: number, numParallel: number): number {
  return loadSize(model, numCtx, numParallel).totalBytes;
}

/** Memory of an otherwise idle node. */
export function emptyNodeMemory(profile: HardwareProfile): FreeMemory {
  return { gpuBytes: profile.gpu?.usableMemBytes ?? 0, hostBytes: profile.memAvailableBytes };
}

function stagesFor(
  model: OllamaModel,
  profile: HardwareProfile,
  gpuLayers: number,
  totalLayers: number,
): PipelineStage[] {
  const gpuShare = gpuLayers / totalLayers;
  const stages: PipelineStage[] = [];
  if (profile.gpu && gpuLayers > 0) {
    stages.push({
      engine: profile.gpu,
      weightBytes: model.sizeBytes * gpuShare,
      parameters: model.shape.parameters * gpuShare,
    });
  }
  if (gpuLayers < totalLayers) {
    stages.push({
      engine: profile.cpu,
      weightBytes: model.sizeBytes * (1 - gpuShare),
      parameters: model.shape.parameters * (1 - gpuShare),
    });
  }
  return stages;
}

/**
 * Places `model` given the free memory: all on the GPU, else split between GPU and CPU, else all on
 * the CPU; undefined when the host part does not fit (the load would run out of memory).
 */
export function choosePlacement(
  profile: HardwareProfile,
  model: OllamaModel,
  numCtx: number,
  numParallel: number,
  free: FreeMemory,
): Placement | undefined {
  const bytes = requiredBytes(model, numCtx, numParallel);
  const totalLayers = model.shape.layers + 1;
  const gpu = profile.gpu;
  const make = (gpuLayers: number): Placement => {
    const vramBytes = gpuLayers === totalLayers ? bytes : Math.floor((bytes * gpuLayers) / totalLayers);
    return {
      onGpu: gpuLayers > 0,
      totalBytes: bytes,
      vramBytes,
      hostBytes: gpu?.unifiedMemory === true ? bytes : bytes - vramBytes,
      gpuLayers,
      totalLayers,
      stages: stagesFor(model, profile, gpuLayers, totalLayers),
    };
  };
  if (!gpu) return bytes <= free.hostBytes ? make(0) : undefined;
  if (bytes <= free.gpuBytes && (!gpu.unifiedMemory || bytes <= free.hostBytes)) return make(totalLayers);
  // Partial offload: each layer carries an equal share of weights, KV cache and graph.
  const perLayer = bytes / totalLayers;
  const gpuLayers = Math.max(0, Math.min(totalLayers - 1, Math.floor(Math.max(0, free.gpuBytes) / perLayer)));
  const placement = make(gpuLayers);
  return placement.hostBytes <= free.hostBytes ? placement : undefined;
}

/**
 * The text of a load that ran out of host memory, as Ollama wraps what llama-server printed: the
 * weights' buffer when even they do not fit, else the KV cache's.
 */
export function loadOomMessage(
  profile: HardwareProfile,
  model: OllamaModel,
  numCtx: number,
  numParallel: number,
  llamaServerRunner: boolean,
): string {
  const size = loadSize(model, numCtx, numParallel);
  if (!llamaServerRunner) {
    // v0.2.2 – v0.24 (`llm/server.go`), before llama-server.
    return `model requires more system memory (${humanBytes2(size.totalBytes)}) than is available (${humanBytes2(profile.memAvailableBytes)})`;
  }
  // What stays in host RAM once the GPU holds what it can.
  const gpuBytes = profile.gpu && !profile.gpu.unifiedMemory ? profile.gpu.usableMemBytes : 0;
  const hostFree = profile.memAvailableBytes;
  const hostWeights = Math.max(0, size.weightBytes - gpuBytes);
  if (hostWeights > hostFree) {
    return (
      `${LOAD_OOM_PREFIX}ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size ${hostWeights}\n` +
      'error loading model: unable to allocate CPU buffer'
    );
  }
  return (
    `${LOAD_OOM_PREFIX}ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size ${size.kvBytes}\n` +
    'llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache'
  );
}
