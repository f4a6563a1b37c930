/**
 * EXO v1.0.71's API pause (`src/exo/api/main.py`: `_pause_on_new_election`, `_send`, `unpause`).
 * The API listens to every election message, its own node's included; one with a clock above the
 * last election this node completed pauses it. While paused, every handler that sends a command
 * (`/place_instance`, `DELETE /instance/{id}`, chat completions) waits before sending it, so the HTTP
 * answer ("Command received.") only comes once this node's election is over. Nothing is dropped or
 * retried: the command is sent once, after the pause. `/models/add` sends its command directly and
 * is never held.
 */
import type { ElectionMessage } from './master-election.js';

export class GateClosedError extends Error {
  readonly code = 'EXO_EMULATOR_NODE_CLOSING';
  constructor() {
    super('node is shutting down');
  }
}

export class CommandGate {
  private lastCompletedElection = 0;
  private pausedFlag = false;
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private closed = false;

  get paused(): boolean {
    return this.pausedFlag;
  }

  get lastCompleted(): number {
    return this.lastCompletedElection;
  }

  /** Every election message this node sees or sends. */
  observe(msg: ElectionMessage): void {
    if (msg.clock > this.lastCompletedElection) this.pausedFlag = true;
  }

  /** `unpause(result_clock)`: this node's election elected. */
  electionCompleted(wonClock: number): void {
    this.lastCompletedElection = wonClock;
    this.pausedFlag = false;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.resolve();
  }

  /** Resolves when commands may be sent; rejects with GateClosedError when the node closes first. */
  whenOpen(): Promise<void> {
    if (this.closed) return Promise.reject(new GateClosedError());
    if (!this.pausedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    this.closed = true;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(new GateClosedError());
  }
}
