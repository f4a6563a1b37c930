/**
 * EXO's `GET /state` as the wire's `ExoInstance` list: each instance with one runner per member
 * node, named by the node's friendly name (its hostname), in pipeline order. What a node holds is
 * its shard's share of the model card's weights; EXO reports no per-runner memory itself.
 */
import { readExoState, type ExoShardView } from '@kage/bench';
import type { ExoInstance, ExoRunner } from '@kage/wire';

/** Every instance the cluster holds; throws a TypeError when the answer is not EXO's state. */
export function readExoInstances(body: unknown): ExoInstance[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('topology' in body)) {
    throw new TypeError('the answer has no "topology": is this EXO\'s /state?');
  }
  const state = readExoState(body);
  return state.instances
    .map((inst) => {
      const runners = Object.entries(inst.nodeToRunner)
        .map(([nodeId, runnerId]): ExoRunner => {
          // A runner EXO has not listed yet is still being created.
          const runner = state.runners.get(runnerId);
          const shard = inst.shards.get(runnerId);
          const weights = shard === undefined ? null : weightsHeld(shard);
          return {
            host: state.nodeNames.get(nodeId) ?? nodeId,
            state: runner?.status ?? 'pending',
            ...(runner?.layersLoaded == null ? {} : { layers_loaded: runner.layersLoaded }),
            ...(runner?.totalLayers == null ? {} : { total_layers: runner.totalLayers }),
            ...(shard?.startLayer == null ? {} : { start_layer: shard.startLayer }),
            ...(shard?.endLayer == null ? {} : { end_layer: shard.endLayer }),
            ...(shard?.nLayers == null ? {} : { n_layers: shard.nLayers }),
            ...(weights === null ? {} : { weights_bytes: weights }),
            ...(runner?.errorMessage == null ? {} : { error: runner.errorMessage }),
          };
        })
        .sort((a, b) => (a.start_layer ?? 0) - (b.start_layer ?? 0) || compare(a.host ?? '', b.host ?? ''));
      return { instance_id: inst.instanceId, model: inst.modelId, kind: inst.kind, runners };
    })
    .sort((a, b) => compare(a.model, b.model) || compare(a.instance_id, b.instance_id));
}

/** A pipeline shard holds its layers' share of the weights; a tensor shard 1/worldSize of each layer. */
function weightsHeld(shard: ExoShardView): number | null {
  const { startLayer: start, endLayer: end, nLayers: layers, modelBytes } = shard;
  if (shard.kind === 'TensorShardMetadata') {
    return modelBytes === null || shard.worldSize === null || shard.worldSize < 1
      ? null
      : Math.round(modelBytes / shard.worldSize);
  }
  if (start === null || end === null || layers === null || modelBytes === null || layers <= 0 || end <= start) {
    return null;
  }
  return Math.round((modelBytes * (end - start)) / layers);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
