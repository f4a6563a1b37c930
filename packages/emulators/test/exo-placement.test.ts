/**
 * Placement as EXO v1.0.71's master computes it: cycles, memory filter, smallest cycle, proportional
 * layers by largest remainder, per-node checks, tensor and RDMA rules, ring host lists.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_EXO_MODELS } from '../src/index.js';
import { builtInCard, cardJson, fetchedCard } from '../src/exo/model-cards.js';
import {
  allocateLayersProportionally,
  placeInstance,
  PlacementError,
  topologyCycles,
  type InstanceMeta,
  type PlacementView,
  type Sharding,
} from '../src/exo/placement.js';
import { LLAMA_3B, LLAMA_70B, QWEN_3B } from './exo-helpers.js';

const GiB = 1024 ** 3;

function model(id: string) {
  const found = DEFAULT_EXO_MODELS.find((m) => m.id === id);
  if (!found) throw new Error(`no ${id}`);
  return found;
}

/** A fully connected topology of nodes with the given available RAM (GiB), IPs 10.0.0.<i+1>. */
function meshView(memGiB: Record<string, number>): PlacementView {
  const nodes = Object.keys(memGiB);
  return {
    nodes,
    edgeIp: (source, sink) =>
      source !== sink && nodes.includes(sink) ? `10.0.0.${nodes.indexOf(sink) + 1}` : undefined,
    ramAvailable: (id) => (memGiB[id] === undefined ? undefined : memGiB[id] * GiB),
    downloadFraction: () => 0,
  };
}

let counter = 0;
const ids = {
  instanceId: () => `inst-${++counter}`,
  runnerId: () => `runner-${++counter}`,
  ephemeralPort: () => 50000,
};

function place(
  view: PlacementView,
  modelId: string,
  minNodes: number,
  sharding: Sharding = 'Pipeline',
  instanceMeta: InstanceMeta = 'MlxRing',
) {
  const m = model(modelId);
  const card = m.builtInCard ? builtInCard(m) : fetchedCard(m);
  return placeInstance({ card, cardJson: cardJson(card), sharding, instanceMeta, minNodes }, view, ids).MlxRingInstance;
}

function layersByNode(instance: ReturnType<typeof place>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [node, runner] of Object.entries(instance.shardAssignments.nodeToRunner)) {
    const shard = instance.shardAssignments.runnerToShard[runner]!;
    const body = 'PipelineShardMetadata' in shard ? shard.PipelineShardMetadata : shard.TensorShardMetadata;
    out[node] = [body.startLayer, body.endLayer];
  }
  return out;
}

describe('allocateLayersProportionally', () => {
  test('floors shares and hands the remainder out by largest fractional part', () => {
    assert.deepEqual(allocateLayersProportionally(28, [1 / 6, 2 / 6, 3 / 6]), [5, 9, 14]);
    // Equal remainders keep the original order (Python's sort is stable).
    assert.deepEqual(allocateLayersProportionally(28, [1 / 3, 1 / 3, 1 / 3]), [10, 9, 9]);
  });

  test('gives every node at least one layer, taken from the largest', () => {
    assert.deepEqual(allocateLayersProportionally(28, [0.01, 0.99]), [1, 27]);
  });

  test('refuses more nodes than layers with EXO text', () => {
    assert.throws(
      () => allocateLayersProportionally(2, [0.3, 0.3, 0.4]),
      (err: unknown) =>
        err instanceof PlacementError &&
        err.message === 'Cannot distribute 2 layers across 3 nodes (need at least 1 layer per node)',
    );
  });
});

describe('placeInstance', () => {
  const view = meshView({ a: 8, b: 16, c: 24 });

  test('lists every ring of the mesh plus singletons', () => {
    assert.deepEqual(topologyCycles(view), [['a', 'b'], ['a', 'c'], ['b', 'c'], ['a', 'b', 'c'], ['a'], ['b'], ['c']]);
  });

  test('min_nodes 1 picks one node, the one with the most available RAM', () => {
    const instance = place(view, LLAMA_3B, 1);
    assert.deepEqual(layersByNode(instance), { c: [0, 28] });
    assert.deepEqual(instance.hostsByNode, { c: [{ ip: '0.0.0.0', port: 50000 }] });
  });

  test('min_nodes 2 picks the pair with the most RAM, layers in proportion', () => {
    const instance = place(view, LLAMA_3B, 2);
    // 16:24 of 28 layers = 11.2 / 16.8 → 11 + 17 by largest remainder.
    assert.deepEqual(layersByNode(instance), { b: [0, 11], c: [11, 28] });
  });

  test('min_nodes 3 spans all nodes; layers are contiguous and sum to the model', () => {
    const instance = place(view, LLAMA_3B, 3);
    assert.deepEqual(layersByNode(instance), { a: [0, 5], b: [5, 14], c: [14, 28] });
    const shards = Object.values(instance.shardAssignments.runnerToShard).map((s) => {
      assert.ok('PipelineShardMetadata' in s);
      return s.PipelineShardMetadata;
    });
    assert.deepEqual(
      shards.map((s) => [s.deviceRank, s.worldSize, s.nLayers]),
      [
        [0, 3, 28],
        [1, 3, 28],
        [2, 3, 28],
      ],
    );
    assert.equal(shards[0]!.modelCard.modelId, LLAMA_3B);
    // Each node lists itself as 0.0.0.0 and its ring neighbours by IP, all on the ephemeral port.
    assert.deepEqual(instance.hostsByNode.a, [
      { ip: '0.0.0.0', port: 50000 },
      { ip: '10.0.0.2', port: 50000 },
      { ip: '10.0.0.3', port: 50000 },
    ]);
  });

  test('non-neighbours in a larger ring get the TEST-NET-2 placeholder', () => {
    const instance = place(meshView({ a: 8, b: 8, c: 8, d: 8 }), LLAMA_3B, 4);
    assert.deepEqual(instance.hostsByNode.a, [
      { ip: '0.0.0.0', port: 50000 },
      { ip: '10.0.0.2', port: 50000 },
      { ip: '198.51.100.1', port: 0 },
      { ip: '10.0.0.4', port: 50000 },
    ]);
  });

  test('a model larger than every cycle fails with EXO text', () => {
    assert.throws(
      () => place(meshView({ small: 8 }), LLAMA_70B, 1),
      (err: unknown) => err instanceof PlacementError && err.message === 'No cycles found with sufficient memory',
    );
    assert.throws(() => place(view, LLAMA_3B, 4), /No cycles found with sufficient memory/);
  });

  test('a node too small for its one forced layer fails the per-node check', () => {
    assert.throws(
      () => place(meshView({ tiny: 0.05, big: 4 }), LLAMA_3B, 2),
      (err: unknown) =>
        err instanceof PlacementError &&
        err.message ===
          'Node 0 (tiny) has insufficient memory: requires 0.06 GB for 1 layers, but only has 0.05 GB available',
    );
  });

  test('tensor sharding needs tensor support and divisible heads', () => {
    assert.throws(
      () => place(view, QWEN_3B, 2, 'Tensor'),
      /^PlacementError: Requested Tensor sharding but this model does not support tensor parallelism: mlx-community\/Qwen2.5-3B-Instruct-4bit$/,
    );
    assert.throws(
      () => place(view, LLAMA_3B, 3, 'Tensor'),
      /No tensor sharding found for model with hidden_size=3072, num_key_value_heads=8 across candidate cycles/,
    );
    const tensor = place(view, LLAMA_3B, 2, 'Tensor');
    assert.deepEqual(layersByNode(tensor), { b: [0, 28], c: [0, 28] });
  });

  test('MlxJaccl needs RDMA, which Linux nodes lack; a single node falls back to MlxRing', () => {
    assert.throws(() => place(view, LLAMA_3B, 2, 'Pipeline', 'MlxJaccl'), /no RDMA-connected cycles available/);
    assert.deepEqual(layersByNode(place(view, LLAMA_3B, 1, 'Tensor', 'MlxJaccl')), { c: [0, 28] });
  });
});
