/**
 * How Ollama 0.32 sizes a model's context (`num_ctx`):
 *
 * - With neither a request / Modelfile `num_ctx` nor `OLLAMA_CONTEXT_LENGTH`, the context is
 *   "automatic": the server picks it once at start from the total VRAM of its GPUs (`server/routes.go`:
 *   ≥ 47 GiB → 262144, ≥ 23 GiB → 32768, else 4096; the thresholds sit a little under 48 / 24 GiB on
 *   purpose).
 * - `OLLAMA_CONTEXT_LENGTH` (or a request's `num_ctx`) replaces that default and is not automatic.
 * - The runner never gets more than the model was trained for (`llm/server.go` caps `num_ctx` at the
 *   GGUF's `context_length`), so `/api/ps` shows the capped value.
 * - An automatic context whose load runs out of memory is lowered one step (262144 → 32768 → 4096,
 *   from the capped value) and the load retried once (`server/sched.go` `reduceAutoNumCtxForLoadOOM`).
 */
import type { HardwareProfile } from '../hardware-profiles.js';

const GiB = 1024 ** 3;

/** The automatic default `num_ctx` for a node with this much GPU memory in total. */
export function vramTierNumCtx(totalVramBytes: number): number {
  if (totalVramBytes >= 47 * GiB) return 262144;
  if (totalVramBytes >= 23 * GiB) return 32768;
  return 4096;
}

/** Total VRAM Ollama sees on a profile (0 without a GPU). */
export function totalVramBytes(profile: HardwareProfile): number {
  return profile.gpu?.usableMemBytes ?? 0;
}

/** The context a runner really gets: the request's, capped at the trained context. */
export function effectiveNumCtx(numCtx: number, trainedContext: number): number {
  return trainedContext > 0 && numCtx > trainedContext ? trainedContext : numCtx;
}

/** `nextLowerAutoNumCtx`: the next smaller automatic context, or undefined at the bottom. */
export function nextLowerAutoNumCtx(numCtx: number): number | undefined {
  if (numCtx > 32768) return 32768;
  if (numCtx > 4096) return 4096;
  return undefined;
}

/** The `num_ctx` one request asks for, and whether it is the server's automatic choice. */
export interface RequestedContext {
  readonly numCtx: number;
  readonly auto: boolean;
}

/**
 * Resolves a request's context: its own `num_ctx`, else `OLLAMA_CONTEXT_LENGTH`, else the VRAM tier
 * (automatic). Values below 4 become 4, as the scheduler does.
 */
export function requestedContext(
  requestNumCtx: number | undefined,
  configuredDefault: number | undefined,
  vramDefault: number,
): RequestedContext {
  if (requestNumCtx !== undefined) return { numCtx: Math.max(4, requestNumCtx), auto: false };
  if (configuredDefault !== undefined && configuredDefault > 0) {
    return { numCtx: Math.max(4, configuredDefault), auto: false };
  }
  return { numCtx: Math.max(4, vramDefault), auto: true };
}
