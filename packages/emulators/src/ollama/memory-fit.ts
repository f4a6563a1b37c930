/**
 * Where a model runs and how much memory it takes, following Ollama's rule of thumb: resident
 * size = weights + KV cache (`num_ctx × NUM_PARALLEL × bytes per token`) + compute graph. A model
 * goes on the GPU when all of it fits there, else on the CPU when it fits in free RAM, else the
 * load fails with the text Ollama used from v0.2.2 to v0.24 (HumanBytes2 sizes).
 */
import type { ComputeEngine, HardwareProfile } from '../hardware-profiles.js';
import { kvBytesPerToken, type OllamaModel } from '../model-catalogue.js';
import { humanBytes2 } from './go-time.js';

/** Compute-graph scratch memory llama.cpp reserves on top of weights and KV cache. */
export const GRAPH_OVERHEAD_BYTES = 512 * 1024 ** 2;

/** Where a loaded model lives and what it holds. */
export interface Placement {
  readonly onGpu: boolean;
  /** Total resident bytes (`size` in `/api/ps`). */
  readonly totalBytes: number;
  /** Bytes on the GPU (`size_vram`; 0 on CPU). */
  readonly vramBytes: number;
  /** Bytes taken from host RAM (a unified-memory GPU draws on the same RAM). */
  readonly hostBytes: number;
  readonly engine: ComputeEngine;
}

/** Free memory at one moment, bytes. */
export interface FreeMemory {
  readonly gpuBytes: number;
  readonly hostBytes: number;
}

/** Resident bytes of `model` loaded with `numCtx` context per slot and `numParallel` slots. */
export function requiredBytes(model: OllamaModel, numCtx: number, numParallel: number): number {
  return model.sizeBytes + numCtx * numParallel * kvBytesPerToken(model.shape) + GRAPH_OVERHEAD_BYTES;
}

/** Memory of an otherwise idle node. */
export function emptyNodeMemory(profile: HardwareProfile): FreeMemory {
  return { gpuBytes: profile.gpu?.usableMemBytes ?? 0, hostBytes: profile.memAvailableBytes };
}

/** Places `bytes` given the free memory, preferring the GPU; undefined when nothing fits. */
export function choosePlacement(profile: HardwareProfile, bytes: number, free: FreeMemory): Placement | undefined {
  const gpu = profile.gpu;
  if (gpu && bytes <= free.gpuBytes && (!gpu.unifiedMemory || bytes <= free.hostBytes)) {
    return { onGpu: true, totalBytes: bytes, vramBytes: bytes, hostBytes: gpu.unifiedMemory ? bytes : 0, engine: gpu };
  }
  if (bytes <= free.hostBytes) {
    return { onGpu: false, totalBytes: bytes, vramBytes: 0, hostBytes: bytes, engine: profile.cpu };
  }
  return undefined;
}

/** Ollama's out-of-memory load error (`llm/server.go`, v0.2.2 – v0.24). */
export function oomMessage(profile: HardwareProfile, bytes: number): string {
  return `model requires more system memory (${humanBytes2(bytes)}) than is available (${humanBytes2(profile.memAvailableBytes)})`;
}
