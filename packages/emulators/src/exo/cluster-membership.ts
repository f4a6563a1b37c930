/**
 * Cluster membership over HTTP, standing in for EXO's libp2p discovery (v1.0.71 `--bootstrap-peers`).
 * Every node heartbeats every address it knows (`--peers` plus addresses learned from other nodes)
 * on `POST /_emulator/heartbeat`; one exchange teaches both sides about each other and about their
 * peers, so a node listed on one side only is still learned. Addresses that do not answer are
 * retried forever. A node unseen for `peerTimeoutMs` is dropped (EXO: 30 s); a node whose address
 * refuses connections is marked unreachable at once (its process is gone, so its MLX ring breaks).
 *
 * The master is elected deterministically among reachable live nodes: the longest-running one
 * (earliest start), ties broken by node id. Seniority keeps a newcomer from taking over a cluster.
 */
import type { Logger } from 'pino';
import type { HardwareProfile } from '../hardware-profiles.js';

/** A node's own description, sent with every heartbeat. */
export interface NodeAnnouncement {
  readonly nodeId: string;
  readonly friendlyName: string;
  readonly startedAtMs: number;
  /** Advertised API host; empty when it listens on a wildcard and peers must use the source address. */
  readonly apiHost: string;
  readonly apiPort: number;
  readonly profile: HardwareProfile;
  readonly linkLatencyMs: number;
  readonly ramTotalBytes: number;
  readonly ramAvailableBytes: number;
  /** Every peer address it knows, `host:port`. */
  readonly knownPeers: readonly string[];
  /** Node ids it currently reaches (its outgoing topology edges). */
  readonly reachable: readonly string[];
  /** Its link to Hugging Face, bytes per second (the master models its downloads). */
  readonly downloadBytesPerSecond?: number;
  /** Models whose files it had at start; null or absent: every model the hub serves. */
  readonly downloadedModels?: readonly string[] | null;
}

/** A member as this node sees it. */
export interface MemberNode {
  readonly ann: NodeAnnouncement;
  /** Host this node reaches it at (an IP in practice). */
  readonly host: string;
  readonly lastSeenMs: number;
  readonly unreachable: boolean;
}

export interface HeartbeatMessage<S> {
  readonly node: NodeAnnouncement;
  /** Present when the sender believes it is the master: its cluster snapshot. */
  readonly snapshot: S | null;
}

export interface MembershipOptions<S> {
  readonly self: () => NodeAnnouncement;
  readonly peers: readonly string[];
  readonly heartbeatIntervalMs: number;
  readonly peerTimeoutMs: number;
  /** The snapshot to attach when this node is master. */
  readonly snapshot: () => S | null;
  /** A snapshot arrived from the node this node considers master. */
  readonly onSnapshot: (snapshot: S, fromNodeId: string) => void;
  readonly onNodeDropped: (nodeId: string) => void;
  readonly onNodeUnreachable: (nodeId: string) => void;
  /** Called after every round so the owner can react to membership or master changes. */
  readonly onTick: () => void;
  readonly log: Logger;
}

interface PeerAddress {
  readonly address: string;
  nodeId: string | null;
  inFlight: boolean;
  isSelf: boolean;
}

interface Member {
  ann: NodeAnnouncement;
  host: string;
  lastSeenMs: number;
  lastReachedMs: number;
  unreachable: boolean;
}

const REFUSED = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** `host:port` with IPv4-mapped IPv6 and `localhost` folded to the plain IPv4 form. */
export function normaliseHost(host: string): string {
  const plain = host.replace(/^::ffff:/, '');
  if (plain === 'localhost' || plain === '::1') return '127.0.0.1';
  return plain;
}

export function joinAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function splitAddress(address: string): { host: string; port: number } | null {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address.trim());
  if (!m?.[1] || !m[2]) return null;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1], port } : null;
}

export class ClusterMembership<S> {
  private readonly addresses = new Map<string, PeerAddress>();
  private readonly members = new Map<string, Member>();
  private timer: NodeJS.Timeout | null = null;
  private readonly stop = new AbortController();

  constructor(private readonly opts: MembershipOptions<S>) {
    for (const peer of opts.peers) this.learnAddress(peer);
  }

  start(): void {
    if (this.timer || this.stop.signal.aborted) return;
    this.timer = setInterval(() => this.round(), this.opts.heartbeatIntervalMs);
    this.timer.unref();
    this.round();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stop.abort();
  }

  /** Live members (not yet timed out), in the order they joined. */
  liveMembers(): MemberNode[] {
    return [...this.members.values()].map((m) => ({
      ann: m.ann,
      host: m.host,
      lastSeenMs: m.lastSeenMs,
      unreachable: m.unreachable,
    }));
  }

  member(nodeId: string): MemberNode | undefined {
    return this.liveMembers().find((m) => m.ann.nodeId === nodeId);
  }

  knownAddresses(): string[] {
    return [...this.addresses.values()].filter((a) => !a.isSelf).map((a) => a.address);
  }

  /** Node ids this node reached within the timeout: its outgoing topology edges. */
  reachableIds(now = Date.now()): string[] {
    return [...this.members.values()]
      .filter((m) => !m.unreachable && now - m.lastReachedMs <= this.opts.peerTimeoutMs)
      .map((m) => m.ann.nodeId);
  }

  /** The elected master: the earliest-started reachable node, then the smallest id. */
  masterId(): string {
    const self = this.opts.self();
    let best: { id: string; started: number } = { id: self.nodeId, started: self.startedAtMs };
    for (const m of this.members.values()) {
      if (m.unreachable) continue;
      const cand = { id: m.ann.nodeId, started: m.ann.startedAtMs };
      if (cand.started < best.started || (cand.started === best.started && cand.id < best.id)) best = cand;
    }
    return best.id;
  }

  /** `host:port` of a member's API. */
  addressOf(nodeId: string): string | undefined {
    const m = this.members.get(nodeId);
    return m ? joinAddress(m.host, m.ann.apiPort) : undefined;
  }

  /** Handles an incoming heartbeat; returns this node's reply. */
  handleHeartbeat(msg: HeartbeatMessage<S>, remoteHost: string): HeartbeatMessage<S> {
    const host = normaliseHost(msg.node.apiHost || remoteHost);
    const address = joinAddress(host, msg.node.apiPort);
    this.learnAddress(address);
    const entry = this.addresses.get(address);
    if (entry) entry.nodeId = msg.node.nodeId;
    this.record(msg.node, host, false);
    this.accept(msg);
    return this.message();
  }

  /** Heartbeats the master right away (after a forwarded command) to pull its snapshot sooner. */
  pokeMaster(): void {
    const master = this.masterId();
    for (const entry of this.addresses.values()) {
      if (entry.nodeId === master && !entry.isSelf) void this.beat(entry);
    }
  }

  private message(): HeartbeatMessage<S> {
    const self = this.opts.self();
    return { node: self, snapshot: this.masterId() === self.nodeId ? this.opts.snapshot() : null };
  }

  private accept(msg: HeartbeatMessage<S>): void {
    if (msg.snapshot !== null && msg.node.nodeId === this.masterId()) {
      this.opts.onSnapshot(msg.snapshot, msg.node.nodeId);
    }
  }

  private learnAddress(address: string): void {
    const parsed = splitAddress(address);
    if (!parsed) return;
    const key = joinAddress(normaliseHost(parsed.host), parsed.port);
    if (!this.addresses.has(key))
      this.addresses.set(key, { address: key, nodeId: null, inFlight: false, isSelf: false });
  }

  private record(ann: NodeAnnouncement, host: string, reachedByUs: boolean): void {
    const selfId = this.opts.self().nodeId;
    if (ann.nodeId === selfId) return;
    const now = Date.now();
    const existing = this.members.get(ann.nodeId);
    if (!existing) this.opts.log.info({ peer: ann.nodeId, name: ann.friendlyName, host }, 'node joined');
    this.members.set(ann.nodeId, {
      ann,
      host,
      lastSeenMs: now,
      lastReachedMs: reachedByUs ? now : (existing?.lastReachedMs ?? 0),
      unreachable: false,
    });
    for (const peer of ann.knownPeers) this.learnAddress(peer);
  }

  private round(): void {
    if (this.stop.signal.aborted) return;
    const now = Date.now();
    for (const [id, m] of this.members) {
      if (now - m.lastSeenMs > this.opts.peerTimeoutMs) {
        this.members.delete(id);
        this.opts.log.info({ peer: id, name: m.ann.friendlyName }, 'node timed out');
        this.opts.onNodeDropped(id);
      }
    }
    for (const entry of this.addresses.values()) if (!entry.isSelf && !entry.inFlight) void this.beat(entry);
    this.opts.onTick();
  }

  private async beat(entry: PeerAddress): Promise<void> {
    entry.inFlight = true;
    const timeoutMs = Math.max(250, Math.min(this.opts.peerTimeoutMs / 2, 5000));
    try {
      const res = await fetch(`http://${entry.address}/_emulator/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(this.message()),
        signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(timeoutMs)]),
      });
      if (!res.ok) throw new Error(`heartbeat answered ${res.status}`);
      const reply = (await res.json()) as HeartbeatMessage<S>;
      if (reply.node.nodeId === this.opts.self().nodeId) {
        entry.isSelf = true; // our own address was in the peer list
        return;
      }
      entry.nodeId = reply.node.nodeId;
      const parsed = splitAddress(entry.address);
      this.record(reply.node, parsed ? parsed.host : entry.address, true);
      this.accept(reply);
    } catch (err) {
      if (this.stop.signal.aborted) return;
      const code = (err as { cause?: { code?: string } }).cause?.code;
      const member = entry.nodeId ? this.members.get(entry.nodeId) : undefined;
      if (member && code && REFUSED.has(code) && !member.unreachable) {
        member.unreachable = true;
        this.opts.log.warn({ peer: member.ann.nodeId, code }, 'node unreachable');
        this.opts.onNodeUnreachable(member.ann.nodeId);
      }
    } finally {
      entry.inFlight = false;
    }
  }
}
