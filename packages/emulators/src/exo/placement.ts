/**
 * Instance placement, following `src/exo/master/placement.py` and `placement_utils.py` of v1.0.71:
 * candidate cycles of the topology with at least `min_nodes` nodes, filtered by total available RAM,
 * the smallest of those (preferring cycles with a leaf node, then the most downloaded, then the most
 * RAM), layers split in proportion to each node's available RAM by largest remainder with at least
 * one layer per node, and each node checked for its share. Errors carry EXO's exact texts.
 *
 * One simplification: a set of nodes yields one cycle (in topology order), where rustworkx lists
 * every orientation; EXO keeps the first best, so the outcome differs only in rank order.
 */
import type { ExoCard } from './model-cards.js';
import type {
  DownloadProgressJson,
  HostJson,
  InstanceJson,
  MemoryJson,
  ModelCardJson,
  ShardMetadataJson,
  StateJson,
} from './wire-types.js';
import { downloadModelId } from './wire-types.js';

export type Sharding = 'Pipeline' | 'Tensor';
export type InstanceMeta = 'MlxRing' | 'MlxJaccl';

/** A placement failure; `message` is the ValueError text EXO raises. */
export class PlacementError extends Error {
  readonly code = 'EXO_EMU_PLACEMENT';
  constructor(message: string) {
    super(message);
    this.name = 'PlacementError';
  }
}

/** What placement reads from the cluster state. */
export interface PlacementView {
  /** Topology nodes in insertion order. */
  readonly nodes: readonly string[];
  /** IP of `sink` as `source` reaches it, or undefined when there is no edge source → sink. */
  edgeIp(source: string, sink: string): string | undefined;
  /** `nodeMemory[id].ramAvailable` in bytes; undefined when the node has not reported memory. */
  ramAvailable(nodeId: string): number | undefined;
  /** 0–1: how much of the model the node has downloaded. */
  downloadFraction(nodeId: string, modelId: string): number;
}

/** Placement reads the replicated state, as `place_instance` reads `self.state` in EXO. */
export function placementViewFromState(state: StateJson): PlacementView {
  return {
    nodes: state.topology.nodes,
    edgeIp: (source, sink) => state.topology.connections[source]?.[sink]?.[0]?.sinkMultiaddr.ip_address,
    ramAvailable: (id) => state.nodeMemory[id]?.ramAvailable.inBytes,
    downloadFraction: (id, modelId) => downloadFraction(state.downloads[id] ?? [], modelId),
  };
}

/** `_get_node_download_fraction`: the first state for the model decides; none counts as 0. */
function downloadFraction(list: readonly DownloadProgressJson[], modelId: string): number {
  const d = list.find((x) => downloadModelId(x) === modelId);
  if (!d) return 0;
  const fraction = (done: MemoryJson, total: MemoryJson): number =>
    total.inBytes > 0 ? done.inBytes / total.inBytes : 0;
  if ('DownloadCompleted' in d) return 1;
  if ('DownloadOngoing' in d)
    return fraction(d.DownloadOngoing.downloadProgress.downloaded, d.DownloadOngoing.downloadProgress.total);
  if ('DownloadPending' in d) return fraction(d.DownloadPending.downloaded, d.DownloadPending.total);
  return 0;
}

export interface PlaceRequest {
  readonly card: ExoCard;
  readonly cardJson: ModelCardJson;
  readonly sharding: Sharding;
  readonly instanceMeta: InstanceMeta;
  readonly minNodes: number;
}

/** Identifier sources, injectable so tests are reproducible. */
export interface PlacementIds {
  instanceId(): string;
  runnerId(): string;
  ephemeralPort(): number;
}

/** Simple cycles of the directed topology (one orientation per node set) plus singletons. */
export function topologyCycles(view: PlacementView): string[][] {
  const nodes = view.nodes;
  const cycles: string[][] = [];
  const choose = (start: number, picked: string[], size: number): void => {
    if (picked.length === size) {
      const ring = picked.every((n, i) => view.edgeIp(n, picked[(i + 1) % size] ?? n) !== undefined);
      if (ring) cycles.push([...picked]);
      return;
    }
    for (let i = start; i < nodes.length; i++) {
      const node = nodes[i];
      if (node === undefined) continue;
      picked.push(node);
      choose(i + 1, picked, size);
      picked.pop();
    }
  };
  for (let size = 2; size <= nodes.length; size++) choose(0, [], size);
  for (const node of nodes) cycles.push([node]);
  return cycles;
}

/**
 * `allocate_layers_proportionally`: floor each share, hand the remainder out by largest fractional
 * part (stable on ties), then make sure every node holds at least one layer.
 */
export function allocateLayersProportionally(totalLayers: number, fractions: readonly number[]): number[] {
  const n = fractions.length;
  if (n === 0) throw new PlacementError('Cannot allocate layers to an empty node list');
  if (totalLayers < n) {
    throw new PlacementError(
      `Cannot distribute ${totalLayers} layers across ${n} nodes (need at least 1 layer per node)`,
    );
  }
  const raw = fractions.map((f) => f * totalLayers);
  const result = raw.map((r) => Math.floor(r));
  const byRemainder = [...raw.keys()].sort((a, b) => raw[b]! - result[b]! - (raw[a]! - result[a]!));
  const missing = totalLayers - result.reduce((s, x) => s + x, 0);
  for (let i = 0; i < missing; i++) {
    const idx = byRemainder[i]!;
    result[idx] = result[idx]! + 1;
  }
  for (let i = 0; i < n; i++) {
    if (result[i] === 0) {
      let maxIdx = 0;
      for (let j = 1; j < n; j++) if (result[j]! > result[maxIdx]!) maxIdx = j;
      result[maxIdx] = result[maxIdx]! - 1;
      result[i] = 1;
    }
  }
  return result;
}

const GiB = 1024 ** 3;

/** `_allocate_and_validate_layers`: the per-node check behind "has insufficient memory". */
function allocateAndValidate(card: ExoCard, cycle: readonly string[], view: PlacementView): number[] {
  const available = cycle.map((id) => view.ramAvailable(id) ?? 0);
  const total = available.reduce((s, x) => s + x, 0);
  if (total === 0) throw new PlacementError('Cannot create shard assignments: total available memory is 0');
  const layers = allocateLayersProportionally(
    card.nLayers,
    available.map((a) => a / total),
  );
  cycle.forEach((nodeId, i) => {
    const nodeLayers = layers[i] ?? 0;
    const required = Math.floor((card.storageBytes * nodeLayers) / card.nLayers);
    const has = available[i] ?? 0;
    if (required > has) {
      throw new PlacementError(
        `Node ${i} (${nodeId}) has insufficient memory: requires ${(required / GiB).toFixed(2)} GB for ` +
          `${nodeLayers} layers, but only has ${(has / GiB).toFixed(2)} GB available`,
      );
    }
  });
  return layers;
}

function ringHosts(cycle: readonly string[], view: PlacementView, port: number): Record<string, HostJson[]> {
  const hosts: Record<string, HostJson[]> = {};
  const size = cycle.length;
  cycle.forEach((nodeId, rank) => {
    const left = (rank - 1 + size) % size;
    const right = (rank + 1) % size;
    hosts[nodeId] = cycle.map((other, idx): HostJson => {
      if (idx === rank) return { ip: '0.0.0.0', port };
      // RFC 5737 TEST-NET-2 placeholder for non-neighbours, as EXO does.
      if (idx !== left && idx !== right) return { ip: '198.51.100.1', port: 0 };
      const ip = view.edgeIp(nodeId, other);
      if (ip === undefined) {
        throw new PlacementError('MLX ring backend requires connectivity between neighbouring nodes');
      }
      return { ip, port };
    });
  });
  return hosts;
}

function isLeaf(nodeId: string, view: PlacementView): boolean {
  return view.nodes.filter((other) => other !== nodeId && view.edgeIp(nodeId, other) !== undefined).length <= 1;
}

/** `place_instance` for one new instance. Throws PlacementError with EXO's message. */
export function placeInstance(req: PlaceRequest, view: PlacementView, ids: PlacementIds): InstanceJson {
  const { card } = req;
  let sharding = req.sharding;
  const candidates = topologyCycles(view).filter((c) => c.length >= req.minNodes);
  let fitting = candidates.filter((cycle) => {
    if (!cycle.every((id) => view.ramAvailable(id) !== undefined)) return false;
    const total = cycle.reduce((s, id) => s + (view.ramAvailable(id) ?? 0), 0);
    return total >= card.storageBytes;
  });
  if (fitting.length === 0) throw new PlacementError('No cycles found with sufficient memory');

  if (sharding === 'Tensor') {
    if (!card.supportsTensor) {
      throw new PlacementError(
        `Requested Tensor sharding but this model does not support tensor parallelism: ${card.modelId}`,
      );
    }
    const kvHeads = card.numKeyValueHeads;
    fitting = fitting.filter((c) => card.hiddenSize % c.length === 0 && (kvHeads === null || kvHeads % c.length === 0));
    if (fitting.length === 0) {
      throw new PlacementError(
        `No tensor sharding found for model with hidden_size=${card.hiddenSize}` +
          `${kvHeads !== null ? `, num_key_value_heads=${kvHeads}` : ''} across candidate cycles`,
      );
    }
  }

  const minSize = Math.min(...fitting.map((c) => c.length));
  let smallest = fitting.filter((c) => c.length === minSize);
  if (req.instanceMeta === 'MlxJaccl') {
    // Linux nodes have no RDMA edges; only a single node trivially counts as an RDMA cycle.
    smallest = smallest.filter((c) => c.length === 1);
    if (smallest.length === 0) {
      throw new PlacementError('Requested RDMA (MlxJaccl) but no RDMA-connected cycles available');
    }
  }
  const withLeaf = smallest.filter((c) => c.some((id) => isLeaf(id, view)));
  const pool = withLeaf.length > 0 ? withLeaf : smallest;
  const score = (c: readonly string[]): [number, number] => [
    c.reduce((s, id) => s + view.downloadFraction(id, card.modelId), 0),
    c.reduce((s, id) => s + (view.ramAvailable(id) ?? 0), 0),
  ];
  let selected = pool[0]!;
  let best = score(selected);
  for (const cycle of pool.slice(1)) {
    const s = score(cycle);
    if (s[0] > best[0] || (s[0] === best[0] && s[1] > best[1])) {
      selected = cycle;
      best = s;
    }
  }
  if (selected.length === 1) sharding = 'Pipeline';

  const runnerToShard: Record<string, ShardMetadataJson> = {};
  const nodeToRunner: Record<string, string> = {};
  const layers = sharding === 'Pipeline' ? allocateAndValidate(card, selected, view) : null;
  let before = 0;
  selected.forEach((nodeId, rank) => {
    const count = layers ? (layers[rank] ?? 0) : card.nLayers;
    const body = {
      modelCard: req.cardJson,
      deviceRank: rank,
      worldSize: selected.length,
      immediateException: false,
      shouldTimeout: null,
      startLayer: layers ? before : 0,
      endLayer: layers ? before + count : card.nLayers,
      nLayers: card.nLayers,
    };
    before += layers ? count : 0;
    const runnerId = ids.runnerId();
    runnerToShard[runnerId] = sharding === 'Pipeline' ? { PipelineShardMetadata: body } : { TensorShardMetadata: body };
    nodeToRunner[nodeId] = runnerId;
  });

  const ephemeralPort = ids.ephemeralPort();
  const instanceId = ids.instanceId();
  return {
    MlxRingInstance: {
      instanceId,
      shardAssignments: { modelId: card.modelId, runnerToShard, nodeToRunner },
      hostsByNode: ringHosts(selected, view, ephemeralPort),
      ephemeralPort,
    },
  };
}
