/**
 * Turns a placed instance into seconds with the shared timing model. EXO 1.x on Linux runs MLX on
 * the CPU only, so every stage uses its node's `cpu` engine and never `gpu`.
 *
 * Pipeline: a token passes every stage in turn, so per-token time is the sum of the stage decode
 * times plus one hop per stage around the ring (`pipelineSecondsPerToken`).
 * Tensor: every node holds a slice of every layer and the slices run in parallel, but each layer
 * needs two all-reduces across the ring, so per-token time is the slowest slice plus 2 × layers hops.
 */
import type { HardwareProfile } from '../hardware-profiles.js';
import {
  decodeSecondsPerToken,
  loadSeconds,
  pipelinePrefillSeconds,
  pipelineSecondsPerToken,
  prefillSeconds,
  type PipelineStage,
} from '../timing-model.js';
import type { ExoCard } from './model-cards.js';
import type { StageMemory } from './prefix-cache.js';
import type { InstanceJson } from './wire-types.js';
import { instanceBody, shardBody } from './wire-types.js';

/** What the timing needs to know about a node of the instance. */
export interface StageNode {
  readonly profile: HardwareProfile;
  /** One-way latency of this node's link, ms. */
  readonly linkLatencyMs: number;
}

export interface InstanceTiming {
  /** Decode time of one batch step with one stream, seconds. */
  readonly secondsPerToken: number;
  /** Prompt processing time, seconds. */
  prefillSeconds(promptTokens: number): number;
  /** Warm-up after loading: EXO runs a short generation before reporting RunnerReady. */
  readonly warmupSeconds: number;
  /** Memory of every stage node, for the prefix cache's evictions. */
  readonly cacheMemory: readonly StageMemory[];
}

/** One runner's share of the model, in rank order. */
export interface RunnerShare {
  readonly runnerId: string;
  readonly nodeId: string;
  readonly rank: number;
  readonly layers: number;
  /** Weight bytes this runner loads and keeps resident. */
  readonly weightBytes: number;
}

/** The runners of an instance in rank order with the bytes each holds. */
export function runnerShares(instance: InstanceJson, card: ExoCard): RunnerShare[] {
  const body = instanceBody(instance);
  const shares: RunnerShare[] = [];
  for (const [nodeId, runnerId] of Object.entries(body.shardAssignments.nodeToRunner)) {
    const shard = body.shardAssignments.runnerToShard[runnerId];
    if (!shard) continue;
    const isTensor = 'TensorShardMetadata' in shard;
    const s = shardBody(shard);
    const layers = s.endLayer - s.startLayer;
    const weightBytes = isTensor
      ? card.storageBytes / s.worldSize
      : (card.storageBytes * layers) / Math.max(1, card.nLayers);
    shares.push({ runnerId, nodeId, rank: s.deviceRank, layers, weightBytes });
  }
  return shares.sort((a, b) => a.rank - b.rank);
}

/** Seconds a runner needs from creation to fully loaded weights on its node. */
export function runnerLoadSeconds(share: RunnerShare, profile: HardwareProfile): number {
  return loadSeconds(share.weightBytes, profile);
}

/** Mean one-way hop latency around the ring, seconds: a hop costs the slower of its two ends. */
function meanHopSeconds(nodes: readonly StageNode[]): number {
  if (nodes.length < 2) return 0;
  let sum = 0;
  nodes.forEach((node, i) => {
    const next = nodes[(i + 1) % nodes.length] ?? node;
    sum += Math.max(node.linkLatencyMs, next.linkLatencyMs);
  });
  return sum / nodes.length / 1000;
}

/**
 * Timing of an instance whose stage nodes are `nodes`, in rank order. The caller resolves them and
 * fails the request when one is gone.
 */
export function instanceTiming(instance: InstanceJson, card: ExoCard, nodes: readonly StageNode[]): InstanceTiming {
  const shares = runnerShares(instance, card);
  const hop = meanHopSeconds(nodes);
  const isTensor = Object.values(instanceBody(instance).shardAssignments.runnerToShard).some(
    (s) => 'TensorShardMetadata' in s,
  );
  const cacheMemory = shares.map((share, i): StageMemory => {
    const profile = (nodes[i] ?? nodes[0]!).profile;
    const layerShare = isTensor ? 1 / Math.max(1, shares.length) : share.layers / Math.max(1, card.nLayers);
    return {
      memTotalBytes: profile.memTotalBytes,
      baseUsedBytes: profile.memTotalBytes - profile.memAvailableBytes + share.weightBytes,
      kvBytesPerToken: card.kvBytesPerToken * layerShare,
    };
  });
  const stages: PipelineStage[] = shares.map((share, i) => ({
    engine: (nodes[i] ?? nodes[0]!).profile.cpu,
    weightBytes: share.weightBytes,
    parameters: (card.parameters * share.weightBytes) / card.storageBytes,
  }));
  if (isTensor && stages.length > 1) {
    const syncS = 2 * card.nLayers * hop;
    const perToken = Math.max(...stages.map((s) => decodeSecondsPerToken(s.weightBytes, s.engine))) + syncS;
    const prefill = (tokens: number): number =>
      Math.max(...stages.map((s) => prefillSeconds(tokens, s.parameters, s.engine))) + syncS;
    return {
      secondsPerToken: perToken,
      prefillSeconds: prefill,
      warmupSeconds: prefill(16) + 2 * perToken,
      cacheMemory,
    };
  }
  const perToken = pipelineSecondsPerToken(stages, hop);
  const prefill = (tokens: number): number => pipelinePrefillSeconds(stages, tokens, hop);
  return { secondsPerToken: perToken, prefillSeconds: prefill, warmupSeconds: prefill(16) + 2 * perToken, cacheMemory };
}
