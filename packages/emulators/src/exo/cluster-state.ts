/**
 * The master's share of EXO's event-sourced state: instances, their runners' lifecycle, downloads,
 * and the per-instance batch schedulers. Only the elected master runs one with content; other nodes
 * copy its snapshot (EXO replicates the master's event log, so every node serves the same `/state`).
 *
 * Runner lifecycle (v1.0.71 `runner/llm_inference/runner.py`): RunnerIdle → RunnerConnecting →
 * RunnerConnected (multi-node only) → RunnerLoading{layersLoaded,totalLayers} → RunnerLoaded → (all
 * loaded) RunnerWarmingUp → RunnerReady, and RunnerRunning while requests decode. Statuses are derived
 * from timestamps when the state is read, so no timer per layer is needed.
 *
 * Downloads (`worker/plan.py`): a runner whose node lacks the model's files starts its download
 * (`_model_needs_download`), and no runner of an instance loads before every node of the instance
 * reports `DownloadCompleted` for the model (`_load_model`); meanwhile a single-node runner stays
 * RunnerIdle and a multi-node one connects its group and waits RunnerConnected.
 */
import type { Logger } from 'pino';
import { loadSeconds } from '../timing-model.js';
import type { Random } from '../random.js';
import { NATURAL_ANSWER_TOKENS, tokenText } from '../text-generator.js';
import type { HardwareProfile } from '../hardware-profiles.js';
import { newUuid, randomEphemeralPort } from './ids.js';
import { InstanceScheduler, type GenerationJob } from './instance-scheduler.js';
import { instanceTiming, runnerLoadSeconds, runnerShares, type InstanceTiming } from './instance-timing.js';
import type { CardRegistry, ExoCard } from './model-cards.js';
import { cardJson } from './model-cards.js';
import {
  PlacementError,
  placeInstance,
  placementViewFromState,
  type InstanceMeta,
  type PlacementView,
  type Sharding,
} from './placement.js';
import type { InstanceJson, RunnerStatusJson, ShardMetadataJson, StateJson } from './wire-types.js';
import { emptyStateJson, instanceBody, memoryJson, pythonUtcIso, runnerStatusName } from './wire-types.js';
import { NodeDownloads, type DownloadNode } from './node-downloads.js';
import { multiaddrJson, nodeStaticJson } from './node-info.js';
import { RunnerShutdowns, TaskTable } from './running-tasks.js';

/** A node as the master sees it (itself or a live member). */
export interface DirectoryNode {
  readonly nodeId: string;
  readonly friendlyName: string;
  readonly host: string;
  readonly apiPort: number;
  readonly profile: HardwareProfile;
  readonly linkLatencyMs: number;
  readonly ramTotalBytes: number;
  readonly ramAvailableBytes: number;
  readonly lastSeenMs: number;
  readonly reachable: readonly string[];
  readonly unreachable: boolean;
  /** The node's link to Hugging Face, bytes per second. */
  readonly downloadBytesPerSecond: number;
  /** Models whose files the node had when it started; null: every model the hub serves. */
  readonly downloadedModels: readonly string[] | null;
}

export type ClusterCommand =
  | {
      readonly type: 'place';
      readonly commandId: string;
      readonly card: ExoCard;
      readonly sharding: Sharding;
      readonly instanceMeta: InstanceMeta;
      readonly minNodes: number;
    }
  | { readonly type: 'delete'; readonly commandId: string; readonly instanceId: string }
  | { readonly type: 'add-card'; readonly commandId: string; readonly card: ExoCard }
  /** `CreateInstance`: an instance built by the client (a placement preview), taken as it is. */
  | { readonly type: 'create'; readonly commandId: string; readonly instance: InstanceJson; readonly card: ExoCard }
  /** The download commands go to the target node's coordinator; the emulator's master keeps them all. */
  | {
      readonly type: 'download-start';
      readonly commandId: string;
      readonly targetNodeId: string;
      readonly shard: ShardMetadataJson;
    }
  | {
      readonly type: 'download-delete';
      readonly commandId: string;
      readonly targetNodeId: string;
      readonly modelId: string;
    }
  | {
      readonly type: 'download-cancel';
      readonly commandId: string;
      readonly targetNodeId: string;
      readonly modelId: string;
    };

export interface MasterSnapshot {
  readonly masterId: string;
  readonly state: StateJson;
  readonly instanceCards: Readonly<Record<string, ExoCard>>;
  readonly customCards: readonly ExoCard[];
}

export interface ClusterStateOptions {
  readonly selfId: string;
  /** Self first, then live members in join order. */
  readonly directory: () => readonly DirectoryNode[];
  readonly cards: CardRegistry;
  readonly maxConcurrent: number;
  readonly random: Random;
  readonly deterministic: boolean;
  /** `EXO_DEFAULT_MODELS_DIR`, for the `modelDirectory` of downloads. */
  readonly modelsDir: string;
  readonly log: Logger;
}

interface RunnerPlan {
  readonly runnerId: string;
  readonly nodeId: string;
  readonly totalLayers: number;
  readonly weightBytes: number;
  /** Runner process started (and, multi-node, its group connected). */
  readonly startEndMs: number;
  /** Loading begins once started and every node of the instance has the files; Infinity: never. */
  readonly loadStartMs: number;
  readonly loadEndMs: number;
}

interface Lifecycle {
  readonly instance: InstanceJson;
  readonly card: ExoCard;
  readonly t0: number;
  readonly runners: RunnerPlan[];
  readonly readyAtMs: number;
  readonly allLoadedMs: number;
  failed: string | null;
  busy: boolean;
  readonly scheduler: InstanceScheduler;
}

const READY_LIKE = new Set(['RunnerReady', 'RunnerRunning']);

export class ClusterState {
  private readonly lifecycles = new Map<string, Lifecycle>();
  private readonly downloads: NodeDownloads;
  private eventIdx = 0;
  private readonly tasks = new TaskTable(() => this.touch());
  private readonly shutdowns = new RunnerShutdowns(() => this.touch());

  constructor(private readonly opts: ClusterStateOptions) {
    this.downloads = new NodeDownloads({
      modelsDir: opts.modelsDir,
      cards: () => opts.cards.list(),
      hubKnows: (modelId) => hubKnows(opts.cards, modelId),
      log: opts.log,
    });
  }

  /** Counts a state change, as EXO's `lastEventAppliedIdx` does per applied event. */
  touch(): void {
    this.eventIdx += 1;
  }

  /** Executes a command as the master's command processor does; a ValueError is only logged there. */
  apply(cmd: ClusterCommand): { ok: true } | { ok: false; error: string } {
    this.touch();
    switch (cmd.type) {
      case 'add-card':
        this.opts.cards.add(cmd.card);
        return { ok: true };
      case 'delete':
        if (!this.lifecycles.has(cmd.instanceId)) return this.commandFailed(`Instance ${cmd.instanceId} not found`);
        this.remove(cmd.instanceId, `Instance ${cmd.instanceId} was deleted`);
        return { ok: true };
      case 'create': {
        // add_instance_to_placements: no check against the topology; an instance on a node that is
        // not in it is deleted by the next plan loop (pruneInstances). The same id again changes nothing.
        const instanceId = instanceBody(cmd.instance).instanceId;
        if (!this.lifecycles.has(instanceId)) this.create(cmd.instance, cmd.card, Date.now(), false);
        return { ok: true };
      }
      case 'download-start':
      case 'download-delete':
      case 'download-cancel':
        return this.applyDownloadCommand(cmd);
      case 'place':
        try {
          const instance = placeInstance(
            {
              card: cmd.card,
              cardJson: cardJson(cmd.card),
              sharding: cmd.sharding,
              instanceMeta: cmd.instanceMeta,
              minNodes: cmd.minNodes,
            },
            this.placementView(),
            { instanceId: newUuid, runnerId: newUuid, ephemeralPort: randomEphemeralPort },
          );
          this.create(instance, cmd.card, Date.now(), false);
          return { ok: true };
        } catch (err) {
          if (err instanceof PlacementError) return this.commandFailed(err.message);
          throw err;
        }
    }
  }

  /** A download command reaches only the coordinator of its target node; other nodes ignore it. */
  private applyDownloadCommand(
    cmd: Extract<ClusterCommand, { type: 'download-start' | 'download-delete' | 'download-cancel' }>,
  ): { ok: true } | { ok: false; error: string } {
    const node = this.downloadNode(cmd.targetNodeId);
    if (!node) {
      this.opts.log.warn(
        { command: cmd.type, targetNodeId: cmd.targetNodeId },
        'download command for a node not in the cluster: ignored',
      );
      return { ok: true };
    }
    const now = Date.now();
    if (cmd.type === 'download-start') this.downloads.start(node, cmd.shard, now);
    else if (cmd.type === 'download-delete') this.downloads.delete(node, cmd.modelId, now);
    else this.downloads.cancel(node, cmd.modelId, now);
    return { ok: true };
  }

  private downloadNode(nodeId: string): DownloadNode | undefined {
    const node = this.opts.directory().find((n) => n.nodeId === nodeId);
    if (!node) return undefined;
    const cards = this.opts.cards;
    return {
      nodeId,
      downloadBytesPerSecond: node.downloadBytesPerSecond,
      hadAtStart: (modelId) =>
        node.downloadedModels === null ? hubKnows(cards, modelId) : node.downloadedModels.includes(modelId),
    };
  }

  /**
   * The worker's plan for each runner: start the model's download where it is neither ongoing nor
   * complete, then wait for the last node. Null when some node will never have the files.
   */
  private downloadsDoneMs(instance: InstanceJson, card: ExoCard, now: number): number | null {
    const assignments = instanceBody(instance).shardAssignments;
    let done = now;
    for (const [nodeId, runnerId] of Object.entries(assignments.nodeToRunner)) {
      const node = this.downloadNode(nodeId);
      const shard = assignments.runnerToShard[runnerId];
      if (!node || !shard) return null;
      this.downloads.start(node, shard, now);
      const at = this.downloads.completedAtMs(node, card.modelId, now);
      if (at === null) return null;
      done = Math.max(done, at);
    }
    return done;
  }

  /** The view placement reads: topology, memory and downloads of the live nodes. */
  placementView(): PlacementView {
    return placementViewFromState(this.stateJson());
  }

  private commandFailed(error: string): { ok: false; error: string } {
    this.opts.log.warn({ error }, 'Error in command processor');
    return { ok: false, error };
  }

  /** Sends a request to the model's least-loaded instance; false when there is none. */
  generate(modelId: string, job: GenerationJob): boolean {
    let best: Lifecycle | undefined;
    for (const l of this.lifecycles.values()) {
      if (l.card.modelId !== modelId) continue;
      if (!best || l.scheduler.load < best.scheduler.load) best = l;
    }
    if (!best) return false;
    best.scheduler.submit(this.tasks.track(job, instanceBody(best.instance).instanceId));
    return true;
  }

  hasInstanceFor(modelId: string): boolean {
    return [...this.lifecycles.values()].some((l) => l.card.modelId === modelId);
  }

  /** A member's process is gone: requests on its instances fail now, the instances go at timeout. */
  nodeUnreachable(nodeId: string): void {
    const node = this.opts.directory().find((n) => n.nodeId === nodeId);
    for (const l of this.lifecycles.values()) {
      if (!l.runners.some((r) => r.nodeId === nodeId) || l.failed) continue;
      l.failed = `Runner on node ${nodeId} (${node?.friendlyName ?? 'unknown'}) is unreachable: connection refused`;
      l.scheduler.setReadyAt(null);
      l.scheduler.failAll(l.failed);
      this.touch();
    }
  }

  /** The master's plan loop: delete every instance with a node that left the topology. */
  pruneInstances(): void {
    const live = new Set(this.opts.directory().map((n) => n.nodeId));
    for (const [id, l] of this.lifecycles) {
      const gone = l.runners.find((r) => !live.has(r.nodeId));
      if (gone) {
        this.opts.log.info({ instanceId: id, node: gone.nodeId }, 'deleting instance: node left the topology');
        this.remove(id, `Instance ${id} was deleted: node ${gone.nodeId} left the cluster`);
      }
    }
    for (const nodeId of this.downloads.nodeIds()) if (!live.has(nodeId)) this.downloads.forget(nodeId);
  }

  private create(instance: InstanceJson, card: ExoCard, t0: number, alreadyReady: boolean): void {
    const body = instanceBody(instance);
    const nodes = this.opts.directory();
    const shares = runnerShares(instance, card);
    const multiNode = shares.length > 1;
    const filesAtMs = alreadyReady ? t0 : (this.downloadsDoneMs(instance, card, t0) ?? Number.POSITIVE_INFINITY);
    const runners: RunnerPlan[] = shares.map((share) => {
      const profile = nodes.find((n) => n.nodeId === share.nodeId)?.profile;
      const startS = profile ? loadSeconds(0, profile) : 0.4;
      const totalS = profile ? runnerLoadSeconds(share, profile) : startS;
      const startEndMs = alreadyReady ? t0 : t0 + startS * 1000;
      const loadStartMs = Math.max(startEndMs, filesAtMs);
      return {
        runnerId: share.runnerId,
        nodeId: share.nodeId,
        totalLayers: share.layers,
        weightBytes: share.weightBytes,
        startEndMs,
        loadStartMs,
        loadEndMs: alreadyReady ? t0 : loadStartMs + (totalS - startS) * 1000,
      };
    });
    const allLoadedMs = Math.max(t0, ...runners.map((r) => r.loadEndMs));
    const timing = this.timingFor(instance, card);
    const warmupMs = alreadyReady || typeof timing === 'string' ? 0 : timing.warmupSeconds * 1000;
    const rank0 = runners[0];
    const lifecycle: Lifecycle = {
      instance,
      card,
      t0,
      runners,
      allLoadedMs,
      readyAtMs: allLoadedMs + warmupMs,
      failed: null,
      busy: false,
      scheduler: new InstanceScheduler({
        timing: () => this.timingFor(instance, card),
        maxConcurrent: this.opts.maxConcurrent,
        random: this.opts.random,
        deterministic: this.opts.deterministic,
        naturalTokens: NATURAL_ANSWER_TOKENS,
        textFor: (i) => tokenText(i, this.opts.deterministic ? undefined : this.opts.random),
        peakMemoryBytes: (tokens) =>
          (rank0?.weightBytes ?? 0) + (card.kvBytesPerToken * (rank0?.totalLayers ?? 0) * tokens) / card.nLayers,
        onBusyChange: (busy) => {
          lifecycle.busy = busy;
          this.touch();
        },
        log: this.opts.log.child({ instanceId: body.instanceId }),
      }),
    };
    lifecycle.scheduler.setReadyAt(Number.isFinite(lifecycle.readyAtMs) ? lifecycle.readyAtMs : null);
    this.lifecycles.set(body.instanceId, lifecycle);
    this.opts.log.info(
      { instanceId: body.instanceId, model: card.modelId, nodes: runners.map((r) => r.nodeId), multiNode },
      'instance created',
    );
    this.touch();
  }

  private remove(instanceId: string, reason: string): void {
    const l = this.lifecycles.get(instanceId);
    if (!l) return;
    this.lifecycles.delete(instanceId);
    this.shutdowns.begin(l.runners.map((r) => r.runnerId));
    void l.scheduler.close(reason);
    this.touch();
  }

  /** Timing of an instance, or the error text when one of its stage nodes is gone. */
  private timingFor(instance: InstanceJson, card: ExoCard): InstanceTiming | string {
    const nodes = this.opts.directory();
    const stages = [];
    for (const share of runnerShares(instance, card)) {
      const node = nodes.find((n) => n.nodeId === share.nodeId);
      if (!node) return `Runner on node ${share.nodeId} is gone: node left the cluster`;
      if (node.unreachable) {
        return `Runner on node ${share.nodeId} (${node.friendlyName}) is unreachable: connection refused`;
      }
      stages.push({ profile: node.profile, linkLatencyMs: node.linkLatencyMs });
    }
    return instanceTiming(instance, card, stages);
  }

  private runnerStatus(l: Lifecycle, r: RunnerPlan, now: number): RunnerStatusJson {
    if (l.failed) return { RunnerFailed: { errorMessage: l.failed } };
    if (now >= l.readyAtMs) return l.busy ? { RunnerRunning: {} } : { RunnerReady: {} };
    if (now >= l.allLoadedMs) return { RunnerWarmingUp: {} };
    if (now >= r.loadEndMs) return { RunnerLoaded: {} };
    if (now >= r.loadStartMs) {
      const frac = (now - r.loadStartMs) / Math.max(1, r.loadEndMs - r.loadStartMs);
      return { RunnerLoading: { layersLoaded: Math.floor(frac * r.totalLayers), totalLayers: r.totalLayers } };
    }
    // Waiting for the model's files: a single runner is still idle, a group member stays connected.
    if (now >= r.startEndMs) return l.runners.length === 1 ? { RunnerIdle: {} } : { RunnerConnected: {} };
    if (l.runners.length === 1) return { RunnerIdle: {} };
    const startFrac = (now - l.t0) / Math.max(1, r.startEndMs - l.t0);
    if (startFrac < 0.1) return { RunnerIdle: {} };
    return startFrac < 0.9 ? { RunnerConnecting: {} } : { RunnerConnected: {} };
  }

  /** The whole `/state` document as the master serves it. */
  stateJson(now = Date.now()): StateJson {
    const nodes = this.opts.directory();
    const ids = new Set(nodes.map((n) => n.nodeId));
    // EXO's key order: the empty state's, with this master's topology and event index in place.
    const state: StateJson = {
      ...emptyStateJson(),
      topology: { nodes: nodes.map((n) => n.nodeId), connections: {} },
      lastEventAppliedIdx: this.eventIdx,
    };
    for (const [id, l] of this.lifecycles) {
      state.instances[id] = l.instance;
      for (const r of l.runners) state.runners[r.runnerId] = this.runnerStatus(l, r, now);
    }
    this.shutdowns.addTo(state.runners, now);
    state.tasks = this.tasks.json();
    for (const node of nodes) {
      const downloadNode = this.downloadNode(node.nodeId);
      if (downloadNode) state.downloads[node.nodeId] = this.downloads.list(downloadNode, now);
      const edges = node.reachable.filter((id) => ids.has(id) && id !== node.nodeId);
      if (edges.length > 0) {
        state.topology.connections[node.nodeId] = Object.fromEntries(
          edges.map((sink) => {
            const dst = nodes.find((n) => n.nodeId === sink)!;
            return [sink, [{ sinkMultiaddr: multiaddrJson(dst.host, dst.apiPort) }]];
          }),
        );
      }
      state.lastSeen[node.nodeId] = pythonUtcIso(node.lastSeenMs);
      const info = nodeStaticJson(node.friendlyName, node.host);
      state.nodeIdentities[node.nodeId] = info.identity;
      state.nodeDisk[node.nodeId] = info.disk;
      state.nodeNetwork[node.nodeId] = info.network;
      state.nodeMemory[node.nodeId] = {
        ramTotal: memoryJson(node.ramTotalBytes),
        ramAvailable: memoryJson(node.ramAvailableBytes),
        swapTotal: memoryJson(0),
        swapAvailable: memoryJson(0),
      };
    }
    return state;
  }

  snapshot(now = Date.now()): MasterSnapshot {
    const instanceCards: Record<string, ExoCard> = {};
    for (const [id, l] of this.lifecycles) instanceCards[id] = l.card;
    return {
      masterId: this.opts.selfId,
      state: this.stateJson(now),
      instanceCards,
      customCards: this.opts.cards.custom(),
    };
  }

  /**
   * Takes over the previous master's instances after an election. Ready instances stay ready;
   * instances still loading start loading again; failed ones stay failed until pruned.
   */
  adopt(snapshot: MasterSnapshot): void {
    const now = Date.now();
    this.eventIdx = Math.max(this.eventIdx, snapshot.state.lastEventAppliedIdx);
    for (const card of snapshot.customCards) this.opts.cards.add(card);
    // Downloads first: the adopted instances' runners look at them.
    for (const [nodeId, list] of Object.entries(snapshot.state.downloads)) {
      const node = this.downloadNode(nodeId);
      if (node) this.downloads.adopt(node, list, now);
    }
    for (const [id, instance] of Object.entries(snapshot.state.instances)) {
      const card = snapshot.instanceCards[id];
      if (!card || this.lifecycles.has(id)) continue;
      const statuses = Object.values(instanceBody(instance).shardAssignments.nodeToRunner).map((r) => {
        const s = snapshot.state.runners[r];
        return s ? runnerStatusName(s) : 'RunnerIdle';
      });
      this.create(
        instance,
        card,
        now,
        statuses.every((s) => READY_LIKE.has(s)),
      );
      if (statuses.includes('RunnerFailed')) {
        const l = this.lifecycles.get(id);
        if (l) {
          l.failed = 'Runner failed before the master changed';
          l.scheduler.setReadyAt(null);
        }
      }
    }
    this.opts.log.info({ instances: this.lifecycles.size }, 'adopted cluster state as new master');
  }

  /** Forgets everything (another node became master). */
  reset(reason: string): void {
    for (const id of [...this.lifecycles.keys()]) this.remove(id, reason);
    this.shutdowns.clear();
    this.downloads.clear();
  }

  async close(): Promise<void> {
    const all = [...this.lifecycles.values()];
    this.lifecycles.clear();
    await Promise.all(all.map((l) => l.scheduler.close('Server shutting down')));
  }
}

/** Whether the emulated Hugging Face serves `modelId` (the catalogue, and nothing else). */
function hubKnows(cards: CardRegistry, modelId: string): boolean {
  try {
    cards.fetchFromHub(modelId);
    return true;
  } catch {
    return false;
  }
}
