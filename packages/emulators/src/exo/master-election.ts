/**
 * EXO v1.0.71's master election (`src/exo/shared/election.py`, class `Election`), one per node.
 *
 * Every node starts as the master of its own session `(itself, clock 0)`: its first campaign has a
 * timeout of 0 and elects itself at once. Every change of its peer connections (a peer joined or
 * left; `_connection_receiver`) is collected for 0.2 s, then the node bumps its clock and campaigns
 * for 3 s (`DEFAULT_ELECTION_TIMEOUT`). A campaign broadcasts the node's status, gathers the
 * statuses of the same clock, broadcasts its own once more and elects the greatest: higher clock,
 * then higher seniority, then more commands seen, then the greater node id. A node whose session it
 * is proposes that session unchanged, so the incumbent master keeps its session when it wins; a
 * winner gains seniority (the number of candidates it saw), which is why the first master of a
 * cluster keeps winning as nodes join. A message with a higher clock makes every node join that
 * round and restart its 3 s timer. Only the node whose session changed sees `isNewMaster`.
 */
import type { Logger } from 'pino';

/** `SessionId`: who is master and the clock of the election that made it master. */
export interface SessionId {
  readonly masterNodeId: string;
  readonly electionClock: number;
}

/** `ElectionMessage`: a node's status in one round. */
export interface ElectionMessage {
  readonly clock: number;
  readonly seniority: number;
  readonly proposedSession: SessionId;
  readonly commandsSeen: number;
}

/** `ElectionResult`: what a finished campaign elected. */
export interface ElectionResult {
  readonly session: SessionId;
  readonly wonClock: number;
  readonly isNewMaster: boolean;
}

/** `DEFAULT_ELECTION_TIMEOUT` (3.0 s): how long a campaign gathers statuses. */
export const ELECTION_TIMEOUT_MS = 3000;
/** `_connection_receiver` sleeps 0.2 s after a connection change to batch the ones that follow. */
export const CONNECTION_SETTLE_MS = 200;

export function sameSession(a: SessionId, b: SessionId): boolean {
  return a.masterNodeId === b.masterNodeId && a.electionClock === b.electionClock;
}

/** `ElectionMessage.__lt__` as a comparator: negative when `a` loses to `b`. */
export function compareElectionMessages(a: ElectionMessage, b: ElectionMessage): number {
  if (a.clock !== b.clock) return a.clock - b.clock;
  if (a.seniority !== b.seniority) return a.seniority - b.seniority;
  if (a.commandsSeen !== b.commandsSeen) return a.commandsSeen - b.commandsSeen;
  const x = a.proposedSession.masterNodeId;
  const y = b.proposedSession.masterNodeId;
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface MasterElectionOptions {
  readonly nodeId: string;
  /** Sends a status to every connected peer (EXO gossips it, and it feeds back to its own API). */
  readonly broadcast: (msg: ElectionMessage) => void;
  readonly onResult: (result: ElectionResult) => void;
  readonly log: Logger;
  /** @default ELECTION_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default CONNECTION_SETTLE_MS */
  readonly settleMs?: number;
}

interface Campaign {
  readonly clock: number;
  readonly timer: NodeJS.Timeout;
}

export class MasterElection {
  private clockValue = 0;
  private seniorityValue = 0;
  private commandsSeenValue = 0;
  private current: SessionId;
  private candidates: ElectionMessage[] = [];
  private campaign: Campaign | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly timeoutMs: number;
  private readonly settleMs: number;

  constructor(private readonly opts: MasterElectionOptions) {
    this.current = { masterNodeId: opts.nodeId, electionClock: 0 };
    this.timeoutMs = opts.timeoutMs ?? ELECTION_TIMEOUT_MS;
    this.settleMs = opts.settleMs ?? CONNECTION_SETTLE_MS;
  }

  get session(): SessionId {
    return this.current;
  }

  get clock(): number {
    return this.clockValue;
  }

  get seniority(): number {
    return this.seniorityValue;
  }

  get commandsSeen(): number {
    return this.commandsSeenValue;
  }

  /** True from a connection change until the campaign it started has elected. */
  get inProgress(): boolean {
    return this.campaign !== null || this.settleTimer !== null;
  }

  /** The initial campaign (timeout 0): the node elects itself before it knows any peer. */
  start(): void {
    const status = this.status(this.clockValue);
    this.candidates = [status];
    this.opts.broadcast(status);
    this.finish(this.candidates);
  }

  /** A peer connected or disconnected. */
  connectionChanged(): void {
    if (this.closed || this.settleTimer) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      this.clockValue += 1;
      this.candidates = [];
      this.runCampaign(this.candidates);
    }, this.settleMs);
    this.settleTimer.unref();
  }

  /** `_election_receiver`: a status from a peer. */
  receive(msg: ElectionMessage): void {
    if (this.closed) return;
    // The router feeds a node's own messages back to it.
    if (msg.proposedSession.masterNodeId === this.opts.nodeId) return;
    if (msg.clock > this.clockValue) {
      this.clockValue = msg.clock;
      this.candidates = [msg];
      this.runCampaign(this.candidates);
      return;
    }
    if (msg.clock < this.clockValue) return;
    this.candidates.push(msg);
  }

  /** `_command_counter`: every command a node sees makes it a stronger candidate. */
  commandSeen(): void {
    this.commandsSeenValue += 1;
  }

  /** Commands the rest of the session saw reach this node too (gossip); take the master's count. */
  observeCommandCount(count: number): void {
    if (count > this.commandsSeenValue) this.commandsSeenValue = count;
  }

  close(): void {
    this.closed = true;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    if (this.campaign) clearTimeout(this.campaign.timer);
    this.settleTimer = null;
    this.campaign = null;
  }

  private runCampaign(candidates: ElectionMessage[]): void {
    if (this.campaign) clearTimeout(this.campaign.timer); // a newer round cancels the old one
    const clock = this.clockValue;
    const status = this.status(clock);
    candidates.push(status);
    this.opts.broadcast(status);
    this.opts.log.debug({ clock }, 'election campaign started');
    const timer = setTimeout(() => {
      if (this.campaign?.timer !== timer) return;
      this.campaign = null;
      // "rebroadcast status in case anyone has missed it"
      this.opts.broadcast(status);
      this.finish(candidates);
    }, this.timeoutMs);
    timer.unref();
    this.campaign = { clock, timer };
  }

  private finish(candidates: readonly ElectionMessage[]): void {
    if (this.closed) return;
    let elected = candidates[0]!;
    for (const c of candidates) if (compareElectionMessages(c, elected) > 0) elected = c;
    if (elected.proposedSession.masterNodeId === this.opts.nodeId && this.seniorityValue >= 0) {
      this.seniorityValue = Math.max(this.seniorityValue, candidates.length);
    }
    const isNewMaster = !sameSession(elected.proposedSession, this.current);
    this.current = elected.proposedSession;
    this.opts.log.info(
      { master: this.current.masterNodeId, clock: elected.clock, candidates: candidates.length, isNewMaster },
      'election finished',
    );
    this.opts.onResult({ session: this.current, wonClock: elected.clock, isNewMaster });
  }

  private status(clock: number): ElectionMessage {
    return {
      clock,
      seniority: this.seniorityValue,
      proposedSession:
        this.current.masterNodeId === this.opts.nodeId
          ? this.current
          : { masterNodeId: this.opts.nodeId, electionClock: clock },
      commandsSeen: this.commandsSeenValue,
    };
  }
}
