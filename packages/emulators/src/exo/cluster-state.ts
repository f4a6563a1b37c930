/**
 * The master's share of EXO's event-sourced state: instances, their runners' lifecycle, downloads,
 * and the per-instance batch schedulers. Only the elected master runs one with content; other nodes
 * copy its snapshot (EXO replicates the master's event log, so every node serves the same `/state`).
 *
 * Runner lifecycle (v1.0.71 `runner/llm_inference/runner.py`): RunnerIdle → RunnerConnecting →
 * RunnerConnected (multi-node only) → RunnerLoading{layersLoaded,totalLayers} → RunnerLoaded → (all
 * loaded) RunnerWarmingUp → RunnerReady, and RunnerRunning while requests decode. Statuses are derived
 * from timestamps when the state is read, so no timer per layer is needed.
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
import type { DownloadCompletedJson, InstanceJson, RunnerStatusJson, StateJson } from './wire-types.js';
import { instanceBody, memoryJson, pythonUtcIso, runnerStatusName, shardBody } from './wire-types.js';
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
  | { readonly type: 'add-card'; readonly commandId: string; readonly card: ExoCard };

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
  readonly log: Logger;
}

interface RunnerPlan {
  readonly runnerId: string;
  readonly nodeId: string;
  readonly totalLayers: number;
  readonly weightBytes: number;
  readonly startEndMs: number;
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
  private readonly downloads = new Map<string, Map<string, DownloadCompletedJson>>();
  private eventIdx = 0;
  private readonly tasks = new TaskTable(() => this.touch());
  private readonly shutdowns = new RunnerShutdowns(() => this.touch());

  constructor(private readonly opts: ClusterStateOptions) {}

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
    for (const nodeId of [...this.downloads.keys()]) if (!live.has(nodeId)) this.downloads.delete(nodeId);
  }

  private create(instance: InstanceJson, card: ExoCard, t0: number, alreadyReady: boolean): void {
    const body = instanceBody(instance);
    const nodes = this.opts.directory();
    const shares = runnerShares(instance, card);
    const multiNode = shares.length > 1;
    const runners: RunnerPlan[] = shares.map((share) => {
      const profile = nodes.find((n) => n.nodeId === share.nodeId)?.profile;
      const startS = profile ? loadSeconds(0, profile) : 0.4;
      const totalS = profile ? runnerLoadSeconds(share, profile) : startS;
      return {
        runnerId: share.runnerId,
        nodeId: share.nodeId,
        totalLayers: share.layers,
        weightBytes: share.weightBytes,
        startEndMs: alreadyReady ? t0 : t0 + startS * 1000,
        loadEndMs: alreadyReady ? t0 : t0 + totalS * 1000,
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
    lifecycle.scheduler.setReadyAt(lifecycle.readyAtMs);
    this.lifecycles.set(body.instanceId, lifecycle);
    for (const [nodeId, runnerId] of Object.entries(body.shardAssignments.nodeToRunner)) {
      const shard = body.shardAssignments.runnerToShard[runnerId];
      const plan = runners.find((r) => r.runnerId === runnerId);
      if (!shard || !plan) continue;
      const perNode = this.downloads.get(nodeId) ?? new Map<string, DownloadCompletedJson>();
      perNode.set(card.modelId, {
        DownloadCompleted: {
          nodeId,
          shardMetadata: shard,
          modelDirectory: '',
          total: memoryJson(plan.weightBytes),
          readOnly: false,
        },
      });
      this.downloads.set(nodeId, perNode);
    }
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
    if (now >= r.startEndMs) {
      const frac = (now - r.startEndMs) / Math.max(1, r.loadEndMs - r.startEndMs);
      return { RunnerLoading: { layersLoaded: Math.floor(frac * r.totalLayers), totalLayers: r.totalLayers } };
    }
    if (l.runners.length === 1) return { RunnerIdle: {} };
    const startFrac = (now - l.t0) / Math.max(1, r.startEndMs - l.t0);
    if (startFrac < 0.1) return { RunnerIdle: {} };
    return startFrac < 0.9 ? { RunnerConnecting: {} } : { RunnerConnected: {} };
  }

  /** The whole `/state` document as the master serves it. */
  stateJson(now = Date.now()): StateJson {
    const nodes = this.opts.directory();
    const ids = new Set(nodes.map((n) => n.nodeId));
    const state: StateJson = {
      instances: {},
      runners: {},
      downloads: {},
      tasks: {},
      lastSeen: {},
      topology: { nodes: nodes.map((n) => n.nodeId), connections: {} },
      lastEventAppliedIdx: this.eventIdx,
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
    for (const [id, l] of this.lifecycles) {
      state.instances[id] = l.instance;
      for (const r of l.runners) state.runners[r.runnerId] = this.runnerStatus(l, r, now);
    }
    this.shutdowns.addTo(state.runners, now);
    state.tasks = this.tasks.json();
    for (const [nodeId, perModel] of this.downloads) state.downloads[nodeId] = [...perModel.values()];
    for (const node of nodes) {
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
    for (const [nodeId, list] of Object.entries(snapshot.state.downloads)) {
      const perNode = this.downloads.get(nodeId) ?? new Map<string, DownloadCompletedJson>();
      for (const d of list) perNode.set(shardBody(d.DownloadCompleted.shardMetadata).modelCard.modelId, d);
      this.downloads.set(nodeId, perNode);
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
