/**
 * JSON shapes of EXO v1.0.71 as its API serialises them (pydantic, `by_alias=True` for `/state` and
 * the instance routes). `FrozenModel` keys are camelCase; `TaggedModel` values are wrapped as
 * `{"ClassName": {…}}`; plain `BaseModel`s (API types, `Multiaddr`) keep snake_case.
 * Sources: `src/exo/shared/types/{state,memory,profiling,topology,multiaddr}.py`,
 * `src/exo/shared/types/worker/{instances,runners,shards,downloads}.py`,
 * `src/exo/shared/models/model_cards.py` at tag v1.0.71.
 */

/** `Memory` (a FrozenModel): `{"inBytes": n}` by alias. */
export interface MemoryJson {
  inBytes: number;
}

export interface SamplingValuesJson {
  temperature: number | null;
  topP: number | null;
  topK: number | null;
  minP: number | null;
  repetitionPenalty: number | null;
  presencePenalty: number | null;
  frequencyPenalty: number | null;
}

export interface SamplingDefaultsJson extends SamplingValuesJson {
  thinking: SamplingValuesJson | null;
  nonThinking: SamplingValuesJson | null;
}

/** `ModelCard` by alias (field order as declared in model_cards.py). */
export interface ModelCardJson {
  modelId: string;
  storageSize: MemoryJson;
  nLayers: number;
  hiddenSize: number;
  supportsTensor: boolean;
  numKeyValueHeads: number | null;
  tasks: string[];
  components: null;
  family: string;
  quantization: string;
  baseModel: string;
  capabilities: string[];
  contextLength: number;
  usesCfg: boolean;
  trustRemoteCode: boolean;
  isCustom: boolean;
  vision: null;
  samplingDefaults: SamplingDefaultsJson;
}

/** Body of `PipelineShardMetadata` / `TensorShardMetadata`. */
export interface ShardBodyJson {
  modelCard: ModelCardJson;
  deviceRank: number;
  worldSize: number;
  immediateException: boolean;
  shouldTimeout: number | null;
  startLayer: number;
  endLayer: number;
  nLayers: number;
}

export type ShardMetadataJson = { PipelineShardMetadata: ShardBodyJson } | { TensorShardMetadata: ShardBodyJson };

export interface HostJson {
  ip: string;
  port: number;
}

export interface ShardAssignmentsJson {
  modelId: string;
  runnerToShard: Record<string, ShardMetadataJson>;
  nodeToRunner: Record<string, string>;
}

export interface MlxRingInstanceBodyJson {
  instanceId: string;
  shardAssignments: ShardAssignmentsJson;
  hostsByNode: Record<string, HostJson[]>;
  ephemeralPort: number;
}

/** Only `MlxRingInstance` can exist on Linux (MlxJaccl needs RDMA over Thunderbolt). */
export interface InstanceJson {
  MlxRingInstance: MlxRingInstanceBodyJson;
}

/** `RunnerStatus` union, each a TaggedModel. */
export type RunnerStatusJson =
  | { RunnerIdle: Record<string, never> }
  | { RunnerConnecting: Record<string, never> }
  | { RunnerConnected: Record<string, never> }
  | { RunnerLoading: { layersLoaded: number; totalLayers: number } }
  | { RunnerLoaded: Record<string, never> }
  | { RunnerWarmingUp: Record<string, never> }
  | { RunnerReady: Record<string, never> }
  | { RunnerRunning: Record<string, never> }
  | { RunnerShuttingDown: Record<string, never> }
  | { RunnerShutdown: Record<string, never> }
  | { RunnerFailed: { errorMessage: string | null } };

/** `TaskStatus`. */
export type TaskStatusName = 'Pending' | 'Running' | 'Complete' | 'TimedOut' | 'Failed' | 'Cancelled';

/** A `TextGeneration` task (`taskParams` is a plain BaseModel, so its keys stay snake_case). */
export interface TaskJson {
  TextGeneration: {
    taskId: string;
    taskStatus: TaskStatusName;
    instanceId: string;
    commandId: string;
    taskParams: Record<string, unknown>;
    errorType: string | null;
    errorMessage: string | null;
  };
}

/**
 * `DownloadProgressData` (downloads.py): the whole repository's progress, and per file (`files`, keyed
 * by the file's path in the repository, each with `totalFiles: 1` and an empty `files`). `speed` is
 * bytes per second over this session; `etaMs` an integer.
 */
export interface DownloadProgressDataJson {
  total: MemoryJson;
  downloaded: MemoryJson;
  downloadedThisSession: MemoryJson;
  completedFiles: number;
  totalFiles: number;
  speed: number;
  etaMs: number;
  files: Record<string, DownloadProgressDataJson>;
}

/** Fields every `BaseDownloadProgress` variant starts with, in declaration order. */
interface DownloadBaseJson {
  nodeId: string;
  shardMetadata: ShardMetadataJson;
  modelDirectory: string;
}

export interface DownloadPendingJson {
  DownloadPending: DownloadBaseJson & { downloaded: MemoryJson; total: MemoryJson };
}

export interface DownloadOngoingJson {
  DownloadOngoing: DownloadBaseJson & { downloadProgress: DownloadProgressDataJson };
}

export interface DownloadCompletedJson {
  DownloadCompleted: DownloadBaseJson & { total: MemoryJson; readOnly: boolean };
}

export interface DownloadFailedJson {
  DownloadFailed: DownloadBaseJson & { errorMessage: string };
}

/** The `DownloadProgress` union, one TaggedModel per state. */
export type DownloadProgressJson =
  DownloadPendingJson | DownloadOngoingJson | DownloadCompletedJson | DownloadFailedJson;

export interface MemoryUsageJson {
  ramTotal: MemoryJson;
  ramAvailable: MemoryJson;
  swapTotal: MemoryJson;
  swapAvailable: MemoryJson;
}

export interface NodeIdentityJson {
  modelId: string;
  chipId: string;
  friendlyName: string;
  osVersion: string;
  osBuildVersion: string;
}

/** `Multiaddr` is a plain BaseModel with computed fields, so its keys stay snake_case. */
export interface MultiaddrJson {
  address: string;
  address_type: string;
  ip_address: string;
  port: number;
}

export interface SocketConnectionJson {
  sinkMultiaddr: MultiaddrJson;
}

export interface TopologyJson {
  nodes: string[];
  connections: Record<string, Record<string, SocketConnectionJson[]>>;
}

export interface NetworkInterfaceJson {
  name: string;
  ipAddress: string;
  interfaceType: string;
}

/**
 * `State` by alias. v1.0.71 has no `nodeBackends` (it arrived after the tag, PR #2071), so it is
 * absent here on purpose.
 */
export interface StateJson {
  instances: Record<string, InstanceJson>;
  runners: Record<string, RunnerStatusJson>;
  downloads: Record<string, DownloadProgressJson[]>;
  tasks: Record<string, TaskJson>;
  lastSeen: Record<string, string>;
  topology: TopologyJson;
  lastEventAppliedIdx: number;
  nodeIdentities: Record<string, NodeIdentityJson>;
  nodeMemory: Record<string, MemoryUsageJson>;
  nodeDisk: Record<string, { total: MemoryJson; available: MemoryJson }>;
  nodeSystem: Record<string, never>;
  nodeNetwork: Record<string, { interfaces: NetworkInterfaceJson[] }>;
  nodeThunderbolt: Record<string, never>;
  nodeThunderboltBridge: Record<string, never>;
  nodeRdmaCtl: Record<string, never>;
  thunderboltBridgeCycles: string[][];
}

/** Unwraps the only instance variant. */
export function instanceBody(instance: InstanceJson): MlxRingInstanceBodyJson {
  return instance.MlxRingInstance;
}

/** Unwraps either shard variant. */
export function shardBody(shard: ShardMetadataJson): ShardBodyJson {
  return 'PipelineShardMetadata' in shard ? shard.PipelineShardMetadata : shard.TensorShardMetadata;
}

/** Unwraps any download state. */
export function downloadBody(d: DownloadProgressJson): DownloadBaseJson {
  if ('DownloadPending' in d) return d.DownloadPending;
  if ('DownloadOngoing' in d) return d.DownloadOngoing;
  if ('DownloadCompleted' in d) return d.DownloadCompleted;
  return d.DownloadFailed;
}

/** The model a download state is about (EXO keys a node's downloads by it). */
export function downloadModelId(d: DownloadProgressJson): string {
  return shardBody(downloadBody(d).shardMetadata).modelCard.modelId;
}

/** The tag of a runner status (`RunnerReady`, …). */
export function runnerStatusName(status: RunnerStatusJson): string {
  return Object.keys(status)[0] ?? 'RunnerIdle';
}

export function memoryJson(bytes: number): MemoryJson {
  return { inBytes: Math.max(0, Math.round(bytes)) };
}

/** Pydantic prints aware UTC datetimes with microseconds and a `Z`. */
export function pythonUtcIso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** `State()`: what EXO's API serves right after its session changed, before any event arrives. */
export function emptyStateJson(): StateJson {
  return {
    instances: {},
    runners: {},
    downloads: {},
    tasks: {},
    lastSeen: {},
    topology: { nodes: [], connections: {} },
    lastEventAppliedIdx: -1,
    nodeIdentities: {},
    nodeMemory: {},
    nodeDisk: {},
    nodeSystem: {},
    nodeNetwork: {},
    nodeThunderbolt: {},
    nodeThunderboltBridge: {},
    nodeRdmaCtl: {},
    thunderboltBridgeCycles: [],
  };
}
