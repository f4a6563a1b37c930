/**
 * The physical timing model both emulators follow (written up in docs/emulators.md).
 *
 * Decode is memory-bound: every generated token streams all weights once, so
 *   seconds/token = weight bytes / (bandwidth × efficiency).
 * Prefill is compute-bound: 2 × parameters FLOPs per prompt token at the engine's effective FLOP/s.
 * A pipeline (EXO) runs its stages one after another for each token, so its per-token time is the
 * sum of the stage times plus one link latency per hop around the ring.
 * Batching k streams on one engine costs a little more per step (KV reads), never k times more.
 */
import type { ComputeEngine, HardwareProfile } from './hardware-profiles.js';

/**
 * Extra step time per additional stream in a decode batch (KV-cache and sampling overhead).
 * An estimate: batch 4 costs 1.24× a single step, batch 8 1.56× (docs/emulators.md §6 on its limits).
 */
export const BATCH_STEP_OVERHEAD = 0.08;

/** Fixed per-request overhead (tokenisation, scheduling, HTTP), seconds. An estimate. */
export const REQUEST_OVERHEAD_S = 0.002;

export function decodeSecondsPerToken(weightBytes: number, engine: ComputeEngine): number {
  return weightBytes / (engine.memBandwidthBytesPerSec * engine.decodeEfficiency);
}

export function prefillSeconds(promptTokens: number, parameters: number, engine: ComputeEngine): number {
  return (2 * parameters * promptTokens) / (engine.peakFlops * engine.prefillEfficiency);
}

/** Cold load: read the weights from disk (page cache misses) plus a fixed runner start. */
export function loadSeconds(weightBytes: number, profile: HardwareProfile): number {
  // An estimate at the low end: real Ollama runner starts take from ~0.5 s to a few seconds.
  const RUNNER_START_S = 0.4;
  return RUNNER_START_S + weightBytes / profile.diskReadBytesPerSec;
}

/** Per-step slowdown when `batchSize` streams share one decode loop. */
export function batchFactor(batchSize: number): number {
  return 1 + BATCH_STEP_OVERHEAD * Math.max(0, batchSize - 1);
}

/** One stage of a pipeline: the share of the weights (and layers) a node holds. */
export interface PipelineStage {
  readonly engine: ComputeEngine;
  readonly weightBytes: number;
  readonly parameters: number;
}

/**
 * Per-token decode time of a pipeline: stages run in sequence, and a ring of `stages.length`
 * nodes makes one hop per stage per token (the last rank hands the token back to the first).
 * A single stage makes no hop.
 */
export function pipelineSecondsPerToken(stages: readonly PipelineStage[], linkLatencyS: number): number {
  const compute = stages.reduce((sum, s) => sum + decodeSecondsPerToken(s.weightBytes, s.engine), 0);
  const hops = stages.length > 1 ? stages.length : 0;
  return compute + hops * linkLatencyS;
}

/** Prefill of a pipeline: each stage prefills its layers in turn, plus the hops once. */
export function pipelinePrefillSeconds(
  stages: readonly PipelineStage[],
  promptTokens: number,
  linkLatencyS: number,
): number {
  const compute = stages.reduce((sum, s) => sum + prefillSeconds(promptTokens, s.parameters, s.engine), 0);
  const hops = stages.length > 1 ? stages.length : 0;
  return compute + hops * linkLatencyS;
}

/** Rough prompt token count of a text: about 4 characters per token for English and code. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Prompt tokens llama.cpp evaluates per physical batch (`n_ubatch`, default 512). */
export const PROMPT_UBATCH_TOKENS = 512;

/**
 * Prompt evaluation on one engine: compute-bound (`prefillSeconds`), but never faster than one
 * pass over the weights per batch of up to 512 tokens. The floor is what a short or mostly cached
 * prompt costs: llama.cpp still evaluates at least the prompt's last token, one weight pass.
 */
export function promptEvalSeconds(
  tokens: number,
  parameters: number,
  weightBytes: number,
  engine: ComputeEngine,
): number {
  if (tokens <= 0) return 0;
  const passes = Math.ceil(tokens / PROMPT_UBATCH_TOKENS);
  return Math.max(prefillSeconds(tokens, parameters, engine), passes * decodeSecondsPerToken(weightBytes, engine));
}
