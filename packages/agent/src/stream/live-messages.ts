/**
 * State the coordinator needs as it is now, not as history: sent on the stream after each Welcome
 * and again whenever it changes, never buffered (a missed change is simply superseded by the
 * next, and a reconnect sends the current state).
 */
import type { AgentMessage } from '@kage/wire';

export interface LiveMessages {
  /** The message to send now, or null when there is nothing to say yet. */
  current(): AgentMessage | null;
  /** Calls `listener` with each new message; returns the unsubscribe function. */
  subscribe(listener: (message: AgentMessage) => void): () => void;
}
