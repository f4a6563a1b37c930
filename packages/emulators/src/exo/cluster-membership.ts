/**
 * Cluster membership over HTTP, standing in for EXO's libp2p discovery (v1.0.71 `--bootstrap-peers`).
 * Every node heartbeats every address it knows (`--peers` plus addresses learned from other nodes)
 * on `POST /_emulator/heartbeat`; one exchange teaches both sides about each other and about their
 * peers, so a node listed on one side only is still learned. Addresses that do not answer are
 * retried forever. A node unseen for `peerTimeoutMs` is dropped (EXO: 30 s); a node whose address
 * refuses connections is marked unreachable at once (its process is gone, so its MLX ring breaks).
 *
 * A heartbeat that first reaches a node, or a node lost, is a connection change: EXO's libp2p layer
 * reports those, and each one starts a master election (`master-election.ts`). Which node is master
 * is the election's business; this class only carries the master's snapshot to the nodes of its
 * session.
 */
import type { Logger } from 'pino';
import type { HardwareProfile } from '../hardware-profiles.js';
import { sameSession, type SessionId } from './master-election.js';

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
  /** The session it is in: the master it elected and that election's clock. */
  readonly session: SessionId;
  /** Commands it has seen (an election tie-breaker). */
  readonly commandsSeen: number;
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
  /** The master of this node's session. */
  readonly masterId: () => string;
  /** A snapshot arrived from the master of this node's session. */
  readonly onSnapshot: (snapshot: S, from: NodeAnnouncement) => void;
  /** A peer connected (first heartbeat, or back after being unreachable) or was lost. */
  readonly onConnectionChange: (nodeId: string, connected: boolean) => void;
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

  /** `host:port` of every reachable live member: where election messages go. */
  connectedAddresses(): string[] {
    return [...this.members.values()].filter((m) => !m.unreachable).map((m) => joinAddress(m.host, m.ann.apiPort));
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
    const master = this.opts.masterId();
    for (const entry of this.addresses.values()) {
      if (entry.nodeId === master && !entry.isSelf) void this.beat(entry);
    }
  }

  private message(): HeartbeatMessage<S> {
    const self = this.opts.self();
    return { node: self, snapshot: this.opts.masterId() === self.nodeId ? this.opts.snapshot() : null };
  }

  /** EXO's event router drops events of another session or from another node than its master. */
  private accept(msg: HeartbeatMessage<S>): void {
    if (
      msg.snapshot !== null &&
      msg.node.nodeId === this.opts.masterId() &&
      sameSession(msg.node.session, this.opts.self().session)
    ) {
      this.opts.onSnapshot(msg.snapshot, msg.node);
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
    const connected = !existing || existing.unreachable;
    this.members.set(ann.nodeId, {
      ann,
      host,
      lastSeenMs: now,
      lastReachedMs: reachedByUs ? now : (existing?.lastReachedMs ?? 0),
      unreachable: false,
    });
    for (const peer of ann.knownPeers) this.learnAddress(peer);
    if (connected) this.opts.onConnectionChange(ann.nodeId, true);
  }

  private round(): void {
    if (this.stop.signal.aborted) return;
    const now = Date.now();
    for (const [id, m] of this.members) {
      if (now - m.lastSeenMs > this.opts.peerTimeoutMs) {
        this.members.delete(id);
        this.opts.log.info({ peer: id, name: m.ann.friendlyName }, 'node timed out');
        if (!m.unreachable) this.opts.onConnectionChange(id, false);
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
        this.opts.onConnectionChange(member.ann.nodeId, false);
        this.opts.onNodeUnreachable(member.ann.nodeId);
      }
    } finally {
      entry.inFlight = false;
    }
  }
}
