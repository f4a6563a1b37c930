/**
 * The coordinator's live event feed behind `GET /api/v1/events` (Server-Sent Events): node
 * samples, service changes, node online/offline and run progress. Every event gets the next id of
 * one process-wide counter and is held in a bounded ring, so a client that reconnects with
 * `Last-Event-ID` gets exactly the events it missed (no gap, no duplicate) while they are held,
 * and is told plainly when they are not.
 */

export type HubEventType = 'sample' | 'service' | 'node' | 'run';

export interface HubEvent {
  id: number;
  type: HubEventType;
  data: unknown;
}

export interface EventHub {
  /** Appends an event and hands it to every subscriber. */
  publish(type: HubEventType, data: unknown): HubEvent;
  /**
   * Events after `lastId`, oldest first; `null` when some of them are no longer held (the client
   * must start over from a snapshot). `lastId` beyond the newest id also gives `null`.
   */
  since(lastId: number): HubEvent[] | null;
  /** The id of the newest event, 0 when none. */
  lastId(): number;
  /** Calls `listener` for every event published from now on; returns the unsubscribe function. */
  subscribe(listener: (event: HubEvent) => void): () => void;
  /** Drops every subscriber. */
  close(): void;
}

export interface EventHubOptions {
  /** Events held for resumption. @default 10000 */
  capacity?: number;
}

export function createEventHub(options: EventHubOptions = {}): EventHub {
  const capacity = options.capacity ?? 10_000;
  const ring: HubEvent[] = [];
  let nextId = 1;
  const listeners = new Set<(event: HubEvent) => void>();
  return {
    publish(type, data) {
      const event: HubEvent = { id: nextId++, type, data };
      ring.push(event);
      if (ring.length > capacity) ring.splice(0, ring.length - capacity);
      for (const listener of listeners) listener(event);
      return event;
    },
    since(lastId) {
      const newest = nextId - 1;
      if (lastId > newest || lastId < 0) return null;
      if (lastId === newest) return [];
      const oldest = ring[0]?.id ?? nextId;
      if (lastId + 1 < oldest) return null;
      return ring.slice(lastId + 1 - oldest);
    },
    lastId: () => nextId - 1,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      listeners.clear();
    },
  };
}
