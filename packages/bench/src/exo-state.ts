/**
 * Reads the parts of EXO 1.x `GET /state` the benchmark needs. Keys are camelCase and
 * tagged unions are wrapped as `{"ClassName": {...}}`. Node ids are random per EXO start, so nodes
 * are named by `nodeIdentities[id].friendlyName` (the hostname).
 */

/** One runner's state. */
export interface ExoRunnerView {
  /** The tag, e.g. `RunnerReady`, `RunnerLoading`, `RunnerFailed`; `pending` when not in `runners` yet. */
  status: string;
  layersLoaded: number | null;
  totalLayers: number | null;
  errorMessage: string | null;
}

/** One runner's share of a model (`runnerToShard[runner]`); layer numbers are null when not given. */
export interface ExoShardView {
  /** `PipelineShardMetadata` or `TensorShardMetadata`. */
  kind: string;
  /** The layers held: [startLayer, endLayer) of nLayers. */
  startLayer: number | null;
  endLayer: number | null;
  nLayers: number | null;
  /** How many runners share the model (a tensor shard holds 1/worldSize of every layer). */
  worldSize: number | null;
  /** The model card's `storageSize`: the whole model's weights on disk. */
  modelBytes: number | null;
}

/** One model instance and the nodes/runners it spans. */
export interface ExoInstanceView {
  instanceId: string;
  modelId: string;
  /** The instance's tag, e.g. `MlxRingInstance`. */
  kind: string;
  /** Node id → runner id. */
  nodeToRunner: Record<string, string>;
  /** Runner id → its shard. */
  shards: Map<string, ExoShardView>;
}

/**
 * One node's download of one model (`/state` → `downloads[nodeId][]`): `DownloadPending`,
 * `DownloadOngoing` (with progress), `DownloadCompleted` or `DownloadFailed`. Byte counts and rates
 * are `null` when the state does not carry them.
 */
export interface ExoDownloadView {
  nodeId: string;
  modelId: string;
  status: string;
  totalBytes: number | null;
  downloadedBytes: number | null;
  /** Bytes per second, as EXO measures it. */
  speed: number | null;
  etaMs: number | null;
  errorMessage: string | null;
}

/** The benchmark's view of `/state`. */
export interface ExoStateView {
  /** Node id → friendly name (hostname); the node id itself when no identity is known yet. */
  nodeNames: Map<string, string>;
  instances: ExoInstanceView[];
  runners: Map<string, ExoRunnerView>;
  downloads: ExoDownloadView[];
}

/** Download tags that mean the files are on the node. */
export const DOWNLOADED_STATES: ReadonlySet<string> = new Set(['DownloadCompleted']);

/**
 * Runner tags that mean "serving". `RunnerRunning` is a ready runner busy with some request (EXO
 * moves Ready → Running while it generates), so it counts as ready too.
 */
export const READY_RUNNER_STATES: ReadonlySet<string> = new Set(['RunnerReady', 'RunnerRunning']);

/** Parses `/state`; tolerant of missing sections (a fresh node has no instances or runners). */
export function readExoState(body: unknown): ExoStateView {
  const root = asRecord(body);
  const nodeNames = new Map<string, string>();
  const identities = asRecord(pick(root, 'nodeIdentities', 'node_identities'));
  for (const [id, ident] of Object.entries(identities)) {
    const name = pick(asRecord(ident), 'friendlyName', 'friendly_name');
    nodeNames.set(id, typeof name === 'string' && name !== '' ? name : id);
  }
  const topology = asRecord(root['topology']);
  if (Array.isArray(topology['nodes'])) {
    for (const id of topology['nodes']) if (typeof id === 'string' && !nodeNames.has(id)) nodeNames.set(id, id);
  }

  const instances: ExoInstanceView[] = [];
  for (const [key, wrapped] of Object.entries(asRecord(root['instances']))) {
    const { tag: kind, value: inst } = unwrapTagged(wrapped);
    const shardsOf = asRecord(pick(inst, 'shardAssignments', 'shard_assignments'));
    const modelId = pick(shardsOf, 'modelId', 'model_id');
    const instanceId = pick(inst, 'instanceId', 'instance_id');
    const nodeToRunner: Record<string, string> = {};
    for (const [node, runner] of Object.entries(asRecord(pick(shardsOf, 'nodeToRunner', 'node_to_runner')))) {
      if (typeof runner === 'string') nodeToRunner[node] = runner;
    }
    if (typeof modelId !== 'string') continue;
    const shards = new Map<string, ExoShardView>();
    for (const [runner, shard] of Object.entries(asRecord(pick(shardsOf, 'runnerToShard', 'runner_to_shard')))) {
      shards.set(runner, readShard(shard));
    }
    instances.push({
      instanceId: typeof instanceId === 'string' ? instanceId : key,
      modelId,
      kind,
      nodeToRunner,
      shards,
    });
  }

  const runners = new Map<string, ExoRunnerView>();
  for (const [id, wrapped] of Object.entries(asRecord(root['runners']))) {
    const { tag, value } = unwrapTagged(wrapped);
    const num = (a: string, b: string): number | null => {
      const v = pick(value, a, b);
      return typeof v === 'number' ? v : null;
    };
    const err = pick(value, 'errorMessage', 'error_message');
    runners.set(id, {
      status: tag,
      layersLoaded: num('layersLoaded', 'layers_loaded'),
      totalLayers: num('totalLayers', 'total_layers'),
      errorMessage: typeof err === 'string' ? err : null,
    });
  }
  return { nodeNames, instances, runners, downloads: readDownloads(asRecord(root['downloads'])) };
}

function readShard(wrapped: unknown): ExoShardView {
  const { tag, value } = unwrapTagged(wrapped);
  const int = (a: string, b: string): number | null => {
    const v = pick(value, a, b);
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
  };
  const card = asRecord(pick(value, 'modelCard', 'model_card'));
  return {
    kind: tag,
    startLayer: int('startLayer', 'start_layer'),
    endLayer: int('endLayer', 'end_layer'),
    nLayers: int('nLayers', 'n_layers'),
    worldSize: int('worldSize', 'world_size'),
    modelBytes: memoryBytes(pick(card, 'storageSize', 'storage_size')),
  };
}

function readDownloads(byNode: Record<string, unknown>): ExoDownloadView[] {
  const out: ExoDownloadView[] = [];
  for (const [nodeId, list] of Object.entries(byNode)) {
    if (!Array.isArray(list)) continue;
    for (const wrapped of list) {
      const { tag, value } = unwrapTagged(wrapped);
      const shard = unwrapTagged(pick(value, 'shardMetadata', 'shard_metadata')).value;
      const card = asRecord(pick(shard, 'modelCard', 'model_card'));
      const modelId = pick(card, 'modelId', 'model_id');
      if (typeof modelId !== 'string') continue;
      // Ongoing downloads nest their numbers; pending and completed ones carry total/downloaded directly.
      const progress = asRecord(pick(value, 'downloadProgress', 'download_progress'));
      const numbers = Object.keys(progress).length > 0 ? progress : value;
      const speed = numbers['speed'];
      const eta = pick(numbers, 'etaMs', 'eta_ms');
      const err = pick(value, 'errorMessage', 'error_message');
      out.push({
        nodeId,
        modelId,
        status: tag,
        totalBytes: memoryBytes(numbers['total']),
        downloadedBytes: memoryBytes(numbers['downloaded']),
        speed: typeof speed === 'number' && Number.isFinite(speed) ? speed : null,
        etaMs: typeof eta === 'number' && Number.isFinite(eta) ? eta : null,
        errorMessage: typeof err === 'string' ? err : null,
      });
    }
  }
  return out;
}

/** EXO's `Memory` is `{"inBytes": N}` on the wire. */
function memoryBytes(v: unknown): number | null {
  const bytes = pick(asRecord(v), 'inBytes', 'in_bytes');
  return typeof bytes === 'number' && Number.isFinite(bytes) ? bytes : null;
}

/** The runners of an instance, keyed by the node's friendly name. */
export function instanceRunners(
  state: ExoStateView,
  inst: ExoInstanceView,
): Array<{ node: string; runner: ExoRunnerView }> {
  return Object.entries(inst.nodeToRunner).map(([nodeId, runnerId]) => ({
    node: state.nodeNames.get(nodeId) ?? nodeId,
    runner: state.runners.get(runnerId) ?? {
      status: 'pending',
      layersLoaded: null,
      totalLayers: null,
      errorMessage: null,
    },
  }));
}

/** Friendly names of the nodes an instance spans, sorted. */
export function instanceNodes(state: ExoStateView, inst: ExoInstanceView): string[] {
  return Object.keys(inst.nodeToRunner)
    .map((id) => state.nodeNames.get(id) ?? id)
    .sort();
}

function unwrapTagged(v: unknown): { tag: string; value: Record<string, unknown> } {
  const o = asRecord(v);
  const keys = Object.keys(o);
  if (keys.length === 1 && /^[A-Z]/.test(keys[0] ?? '')) {
    const tag = keys[0] as string;
    return { tag, value: asRecord(o[tag]) };
  }
  return { tag: 'unknown', value: o };
}

function pick(o: Record<string, unknown>, camel: string, snake: string): unknown {
  return o[camel] ?? o[snake];
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
