/**
 * One emulated EXO node: identity, card cache, fault knobs, cluster membership, its master election
 * and — when elected — the master's state. The nodes of one session serve the same `/state`: the
 * master builds it, the others serve the master's latest snapshot. Commands (place, delete, add card)
 * and generations go to the master, as EXO's API forwards commands and receives the runners' chunks.
 *
 * Sessions, as in EXO v1.0.71 (`src/exo/main.py`, `Node._elect_loop`): a node appears in the
 * master's state only once it announces the master's session, i.e. once its own election is over
 * (EXO's master drops events of another session). A node whose session changed (`isNewMaster`)
 * forgets its state: its API serves an empty state until the new master's arrives, a demoted master
 * drops its instances, and a node promoted into a new session starts with an empty state — the
 * instances of the old session are gone.
 */
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { FaultOptions } from '../faults.js';
import type { HardwareProfile } from '../hardware-profiles.js';
import type { ExoModel } from '../model-catalogue.js';
import type { Random } from '../random.js';
import { ClusterMembership, joinAddress, type HeartbeatMessage, type NodeAnnouncement } from './cluster-membership.js';
import { CommandGate } from './command-gate.js';
import { MasterElection, sameSession, type ElectionMessage, type ElectionResult } from './master-election.js';
import { ClusterState, type ClusterCommand, type DirectoryNode, type MasterSnapshot } from './cluster-state.js';
import { forwardGeneration, type GenerateRequest } from './generation-link.js';
import { newNodeId } from './ids.js';
import type { GenerationSink } from './instance-scheduler.js';
import { CardRegistry } from './model-cards.js';
import type { StateJson } from './wire-types.js';
import { emptyStateJson, instanceBody, runnerStatusName, shardBody } from './wire-types.js';

export interface ExoNodeOptions {
  readonly name: string;
  readonly peers: readonly string[];
  readonly profile: HardwareProfile;
  readonly models: readonly ExoModel[];
  readonly peerTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxConcurrentRequests: number;
  readonly linkLatencyMs: number;
  /** Link to Hugging Face, bytes per second. */
  readonly downloadBytesPerSecond: number;
  /** Models whose files this node has at start; null: all of them. */
  readonly downloadedModels: readonly string[] | null;
  /** `EXO_DEFAULT_MODELS_DIR`. */
  readonly modelsDir: string;
  readonly deterministic: boolean;
  readonly random: Random;
  readonly faults: FaultOptions;
  readonly log: Logger;
  readonly onCrash?: () => void;
  /** @default ELECTION_TIMEOUT_MS (EXO's 3 s) */
  readonly electionTimeoutMs?: number;
}

/** A member that does not announce its link is taken to have the default one (1 Gbit/s). */
const DEFAULT_DOWNLOAD_BYTES_PER_SECOND = 125_000_000;
const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const LOADING_OR_LATER = new Set(['RunnerLoaded', 'RunnerWarmingUp', 'RunnerReady', 'RunnerRunning', 'RunnerFailed']);

/** Bytes of model weights a node's runners hold according to `state`. */
export function residentBytes(state: StateJson, nodeId: string): number {
  let total = 0;
  for (const instance of Object.values(state.instances)) {
    const assignments = instanceBody(instance).shardAssignments;
    const runnerId = assignments.nodeToRunner[nodeId];
    const shard = runnerId ? assignments.runnerToShard[runnerId] : undefined;
    const status = runnerId ? state.runners[runnerId] : undefined;
    if (!shard || !status) continue;
    const s = shardBody(shard);
    const bytes =
      'TensorShardMetadata' in shard
        ? s.modelCard.storageSize.inBytes / s.worldSize
        : (s.modelCard.storageSize.inBytes * (s.endLayer - s.startLayer)) / Math.max(1, s.nLayers);
    if ('RunnerLoading' in status) {
      total += (bytes * status.RunnerLoading.layersLoaded) / Math.max(1, status.RunnerLoading.totalLayers);
    } else if (LOADING_OR_LATER.has(runnerStatusName(status))) {
      total += bytes;
    }
  }
  return total;
}

/** The address peers should use when the node listens on a wildcard: its first external IPv4. */
function externalIpv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) if (addr.family === 'IPv4' && !addr.internal) return addr.address;
  }
  return '127.0.0.1';
}

export class ExoNode {
  readonly nodeId = newNodeId();
  readonly startedAtMs = Date.now();
  readonly cards: CardRegistry;
  readonly membership: ClusterMembership<MasterSnapshot>;
  readonly election: MasterElection;
  readonly gate = new CommandGate();
  readonly commands = new Map<string, () => void>();
  readonly log: Logger;
  readonly random: Random;
  private readonly cluster: ClusterState;
  private readonly lifetime = new AbortController();
  private masterSnapshot: MasterSnapshot | null = null;
  private lastMaster: string;
  /** Members whose reports the master's state holds: they announced the master's session once. */
  private readonly admitted = new Set<string>();
  private lastState: StateJson | null = null;
  private apiHost = '';
  private apiPort = 0;
  private selfHost = '127.0.0.1';
  private currentFaults: FaultOptions;
  private generationRequests = 0;
  private crashed = false;
  private closing = false;

  constructor(private readonly opts: ExoNodeOptions) {
    this.log = opts.log;
    this.random = opts.random;
    this.currentFaults = { ...opts.faults };
    this.cards = new CardRegistry(opts.models);
    this.lastMaster = this.nodeId;
    this.election = new MasterElection({
      nodeId: this.nodeId,
      broadcast: (msg) => this.broadcastElection(msg),
      onResult: (result) => this.onElectionResult(result),
      log: opts.log,
      ...(opts.electionTimeoutMs !== undefined ? { timeoutMs: opts.electionTimeoutMs } : {}),
    });
    this.cluster = new ClusterState({
      selfId: this.nodeId,
      directory: () => this.directory(),
      cards: this.cards,
      maxConcurrent: opts.maxConcurrentRequests,
      random: opts.random,
      deterministic: opts.deterministic,
      modelsDir: opts.modelsDir,
      log: opts.log,
    });
    this.membership = new ClusterMembership<MasterSnapshot>({
      self: () => this.announcement(),
      peers: opts.peers,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      peerTimeoutMs: opts.peerTimeoutMs,
      snapshot: () => (this.isMaster() ? this.cluster.snapshot() : null),
      masterId: () => this.masterId(),
      onSnapshot: (snapshot, from) => {
        this.masterSnapshot = snapshot;
        this.election.observeCommandCount(from.commandsSeen);
        for (const card of snapshot.customCards) this.cards.add(card);
      },
      onConnectionChange: () => this.election.connectionChanged(),
      onNodeDropped: (nodeId) => {
        this.admitted.delete(nodeId);
        if (this.isMaster()) this.cluster.pruneInstances();
      },
      onNodeUnreachable: (nodeId) => {
        if (this.isMaster()) this.cluster.nodeUnreachable(nodeId);
      },
      onTick: () => {
        if (this.isMaster()) {
          this.cluster.pruneInstances();
          this.cluster.touch();
        }
        this.lastState = this.state();
      },
      log: opts.log,
    });
  }

  /** Starts heartbeats once the API listens on `host:port`. */
  start(host: string, port: number): void {
    this.apiHost = WILDCARDS.has(host) ? '' : host;
    this.apiPort = port;
    this.selfHost = this.apiHost === '' ? externalIpv4() : this.apiHost === 'localhost' ? '127.0.0.1' : this.apiHost;
    this.election.start();
    this.membership.start();
  }

  /** This node is the master of its session (every node is, of its own, until an election). */
  isMaster(): boolean {
    return this.masterId() === this.nodeId;
  }

  masterId(): string {
    return this.election.session.masterNodeId;
  }

  faults(): Readonly<FaultOptions> {
    return this.currentFaults;
  }

  setFaults(faults: FaultOptions): void {
    this.currentFaults = { ...faults };
  }

  /** The `/state` document this node serves. */
  state(): StateJson {
    if (this.isMaster()) return this.cluster.stateJson();
    return this.masterSnapshot ? this.masterSnapshot.state : emptyStateJson();
  }

  hasInstanceFor(modelId: string): boolean {
    return Object.values(this.state().instances).some((i) => instanceBody(i).shardAssignments.modelId === modelId);
  }

  private announcement(): NodeAnnouncement {
    const p = this.opts.profile;
    return {
      nodeId: this.nodeId,
      friendlyName: this.opts.name,
      startedAtMs: this.startedAtMs,
      apiHost: this.apiHost,
      apiPort: this.apiPort,
      profile: p,
      linkLatencyMs: this.opts.linkLatencyMs,
      ramTotalBytes: p.memTotalBytes,
      ramAvailableBytes: this.ramAvailable(),
      knownPeers: this.membership.knownAddresses(),
      reachable: this.membership.reachableIds(),
      session: this.election.session,
      commandsSeen: this.election.commandsSeen,
      downloadBytesPerSecond: this.opts.downloadBytesPerSecond,
      downloadedModels: this.opts.downloadedModels,
    };
  }

  /** EXO places by psutil's available RAM, which drops as runners load weights. */
  private ramAvailable(): number {
    const used = this.lastState ? residentBytes(this.lastState, this.nodeId) : 0;
    return Math.max(0, this.opts.profile.memAvailableBytes - used);
  }

  /** This node and the live members, in topology order. */
  directory(): DirectoryNode[] {
    const now = Date.now();
    const self: DirectoryNode = {
      nodeId: this.nodeId,
      friendlyName: this.opts.name,
      host: this.selfHost,
      apiPort: this.apiPort,
      profile: this.opts.profile,
      linkLatencyMs: this.opts.linkLatencyMs,
      ramTotalBytes: this.opts.profile.memTotalBytes,
      ramAvailableBytes: this.ramAvailable(),
      lastSeenMs: now,
      reachable: this.membership.reachableIds(now),
      unreachable: false,
      downloadBytesPerSecond: this.opts.downloadBytesPerSecond,
      downloadedModels: this.opts.downloadedModels,
    };
    const session = this.election.session;
    const inSession = this.membership.liveMembers().filter((m) => {
      if (sameSession(m.ann.session, session)) this.admitted.add(m.ann.nodeId);
      return this.admitted.has(m.ann.nodeId);
    });
    const members = inSession.map((m): DirectoryNode => ({
      nodeId: m.ann.nodeId,
      friendlyName: m.ann.friendlyName,
      host: m.host,
      apiPort: m.ann.apiPort,
      profile: m.ann.profile,
      linkLatencyMs: m.ann.linkLatencyMs,
      ramTotalBytes: m.ann.ramTotalBytes,
      ramAvailableBytes: m.ann.ramAvailableBytes,
      lastSeenMs: m.lastSeenMs,
      reachable: m.ann.reachable,
      unreachable: m.unreachable,
      downloadBytesPerSecond: m.ann.downloadBytesPerSecond ?? DEFAULT_DOWNLOAD_BYTES_PER_SECOND,
      downloadedModels: m.ann.downloadedModels ?? null,
    }));
    return [self, ...members];
  }

  /** Sends a status to the connected peers and, as EXO's router feeds it back, to this node's API. */
  private broadcastElection(msg: ElectionMessage): void {
    this.gate.observe(msg);
    const body = JSON.stringify(msg);
    for (const address of this.membership.connectedAddresses()) {
      fetch(`http://${address}/_emulator/election`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(2000)]),
      }).then(
        (res) => res.body?.cancel(),
        () => undefined, // gossip is best effort; the campaign's rebroadcast covers a lost message
      );
    }
  }

  /** A status from a peer: the API pauses on it, the election counts it. */
  receiveElectionMessage(msg: ElectionMessage): void {
    if (this.closing) return;
    this.gate.observe(msg);
    this.election.receive(msg);
  }

  /** `_elect_loop`: demote or promote the master, reset what belongs to the old session, unpause. */
  private onElectionResult(result: ElectionResult): void {
    const master = result.session.masterNodeId;
    const previous = this.lastMaster;
    this.lastMaster = master;
    if (previous === this.nodeId && master !== this.nodeId) this.cluster.reset('Master changed');
    if (result.isNewMaster) {
      // A new session: EXO builds a new Master (empty State) and resets the API's state.
      if (master === this.nodeId) this.cluster.reset('Master changed');
      this.masterSnapshot = null;
      this.admitted.clear();
    }
    if (master !== previous || result.isNewMaster) {
      this.log.info({ master, previous, clock: result.wonClock, isNewMaster: result.isNewMaster }, 'master elected');
    }
    this.gate.electionCompleted(result.wonClock);
  }

  /** True once `close()` began: the node no longer takes part in the cluster. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Handles an incoming heartbeat. */
  heartbeat(msg: HeartbeatMessage<MasterSnapshot>, remoteHost: string): HeartbeatMessage<MasterSnapshot> {
    if (this.isMaster()) this.cluster.touch();
    return this.membership.handleHeartbeat(msg, remoteHost);
  }

  /**
   * Sends a command to the master (fire and forget, like EXO). Resolves once it is sent: while an
   * election runs that is only after it, as EXO's API holds `_send` until it unpauses. `/models/add`
   * bypasses the pause in EXO, and so does `add-card` here.
   */
  async sendCommand(cmd: ClusterCommand): Promise<void> {
    if (cmd.type !== 'add-card') await this.gate.whenOpen();
    this.election.commandSeen();
    void this.executeCommand(cmd, 0);
  }

  /** Runs a command here when this node is master, else forwards it once more. */
  async executeCommand(cmd: ClusterCommand, hops: number): Promise<{ ok: boolean; error?: string }> {
    if (this.isMaster()) {
      if (hops > 0) this.election.commandSeen(); // the sender counted its own
      return this.cluster.apply(cmd);
    }
    const address = this.membership.addressOf(this.masterId());
    if (!address || hops > 1) {
      this.log.warn({ command: cmd.type }, 'no master reachable for command');
      return { ok: false, error: 'No master reachable' };
    }
    try {
      const res = await fetch(`http://${address}/_emulator/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cmd, hops: hops + 1 }),
        signal: AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(10_000)]),
      });
      const result = (await res.json()) as { ok: boolean; error?: string };
      this.membership.pokeMaster();
      return result;
    } catch (err) {
      if (!this.lifetime.signal.aborted) this.log.warn({ err, command: cmd.type }, 'forwarding command failed');
      return { ok: false, error: 'Forwarding to the master failed' };
    }
  }

  /** Starts a generation on the master: here, or over the internal link. */
  startGeneration(req: GenerateRequest, sink: GenerationSink, signal: AbortSignal): void {
    // A chat completion sends a TextGeneration command: it waits for the election like any other.
    if (this.gate.paused) {
      this.gate.whenOpen().then(
        () => {
          if (!signal.aborted) this.startGeneration(req, sink, signal);
        },
        () => sink.error('Server shutting down'),
      );
      return;
    }
    this.election.commandSeen();
    if (this.isMaster()) {
      this.generateAsMaster(req, sink, signal);
      return;
    }
    const address = this.membership.addressOf(this.masterId());
    if (!address) {
      sink.error('No master node reachable');
      return;
    }
    void forwardGeneration(address, req, sink, AbortSignal.any([signal, this.lifetime.signal]));
  }

  /** The master side of a generation: EXO picks the model's instance with the fewest tasks. */
  generateAsMaster(req: GenerateRequest, sink: GenerationSink, signal: AbortSignal): void {
    if (!this.cluster.generate(req.modelId, { ...req, sink, signal })) {
      sink.error(`No instance found for model ${req.modelId}`);
    }
  }

  /** Counts a generation request; fires the crash fault. False when this request must die. */
  countGenerationRequest(): boolean {
    if (this.crashed) return false;
    this.generationRequests += 1;
    const limit = this.currentFaults.crashAfterRequests;
    if (limit === null || this.generationRequests < limit) return true;
    this.crashed = true;
    this.log.error({ requests: this.generationRequests }, 'crash fault: exiting');
    if (this.opts.onCrash) this.opts.onCrash();
    else process.exit(1);
    return false;
  }

  info(): Record<string, unknown> {
    return {
      nodeId: this.nodeId,
      name: this.opts.name,
      address: joinAddress(this.selfHost, this.apiPort),
      masterId: this.masterId(),
      isMaster: this.isMaster(),
      election: {
        clock: this.election.clock,
        seniority: this.election.seniority,
        commandsSeen: this.election.commandsSeen,
        session: this.election.session,
        inProgress: this.election.inProgress,
        commandsPaused: this.gate.paused,
        lastCompletedClock: this.gate.lastCompleted,
      },
      knownPeers: this.membership.knownAddresses(),
      members: this.membership.liveMembers().map((m) => ({
        nodeId: m.ann.nodeId,
        name: m.ann.friendlyName,
        address: joinAddress(m.host, m.ann.apiPort),
        unreachable: m.unreachable,
      })),
    };
  }

  async close(): Promise<void> {
    // From here on heartbeats are refused: a master that is shutting down would otherwise answer
    // them with a snapshot already emptied by the close below, and the node that takes over would
    // adopt that instead of the last real state.
    this.closing = true;
    this.election.close();
    this.gate.close();
    this.membership.close();
    // Requests decoding here end with an error chunk first; forwarded ones just stop.
    await this.cluster.close();
    this.lifetime.abort();
    for (const cancel of [...this.commands.values()]) cancel();
  }
}
