/**
 * The coordinator's live event feed behind `GET /api/v1/events` (Server-Sent Events): node
 * samples, service changes, node online/offline, run progress and loaded models. Every event gets the next id of
 * one process-wide counter and is held in a bounded ring, so a client that reconnects with
 * `Last-Event-ID` gets exactly the events it missed (no gap, no duplicate) while they are held,
 * and is told plainly when they are not.
 *
 * Ids are unique across coordinator restarts without any storage: the counter starts at the
 * process's start time in epoch milliseconds × 1000 (about 1.8e15 today, well below 2^53, so ids
 * stay exact JavaScript numbers until the year 2255). A process that publishes fewer than 1000
 * events per millisecond of its life (1,000,000 events/s) never issues the id just below the first
 * id of a process started after it (which that process reads as "before my first event"), let
 * alone its ids, so every id from an earlier process is below the ring of a later one: `since()`
 * answers `null` for it and the client reloads the state, instead of getting a replay of
 * unrelated events that happen to carry the ids it asked to resume after (which is what a counter
 * starting at 1 in every process gave). This relies on the wall clock not stepping back across a
 * restart.
 */

export type HubEventType = 'sample' | 'service' | 'node' | 'run' | 'models';

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
   * must start over from a snapshot), which includes every id of an earlier coordinator process.
   * `lastId` beyond the newest id, negative or not an integer also gives `null`. `0` means
   * "nothing seen yet", like `lastId()` before the first event: everything this hub published,
   * while it still holds all of it.
   */
  since(lastId: number): HubEvent[] | null;
  /**
   * The id of the newest event; before the first, the id just below it (not 0, so a client that
   * was handed it resumes with an id a later coordinator process recognizes as not its own).
   */
  lastId(): number;
  /** Calls `listener` for every event published from now on; returns the unsubscribe function. */
  subscribe(listener: (event: HubEvent) => void): () => void;
  /** Drops every subscriber. */
  close(): void;
}

export interface EventHubOptions {
  /** Events held for resumption. @default 10000 */
  capacity?: number;
  /** The time the id counter is derived from (see the module comment). @default Date.now() */
  epochBaseMs?: number;
  /** The first event's id, instead of `epochBaseMs` × 1000 (tests). */
  firstId?: number;
}

/** Ids available per millisecond of a process's life before it could reach a later process's ids. */
const IDS_PER_MS = 1000;

export function createEventHub(options: EventHubOptions = {}): EventHub {
  const capacity = options.capacity ?? 10_000;
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(`event hub capacity must be a positive integer, got ${capacity}`);
  }
  const firstId = options.firstId ?? Math.floor(options.epochBaseMs ?? Date.now()) * IDS_PER_MS;
  if (!Number.isSafeInteger(firstId) || firstId < 1) {
    throw new RangeError(`the first event id must be a positive safe integer, got ${firstId}`);
  }

  // A fixed-size circular buffer: the oldest held event is at `head`, the newest `count - 1`
  // slots after it (wrapping). Once full, a publish overwrites the oldest slot, so it costs the
  // same whatever the capacity (shifting an array would copy every held event each time).
  const ring: HubEvent[] = [];
  let head = 0;
  let count = 0;
  let nextId = firstId;
  const listeners = new Set<(event: HubEvent) => void>();

  return {
    publish(type, data) {
      const event: HubEvent = { id: nextId++, type, data };
      if (count < capacity) {
        // Not yet full: `head` is still 0 and the ring grows at its end.
        ring.push(event);
        count += 1;
      } else {
        ring[head] = event;
        head = head + 1 === capacity ? 0 : head + 1;
      }
      for (const listener of listeners) listener(event);
      return event;
    },
    since(lastId) {
      if (!Number.isSafeInteger(lastId) || lastId < 0) return null;
      const newest = nextId - 1;
      // 0 stands for "just before this hub's first event", which is `firstId - 1`.
      const after = lastId === 0 ? firstId - 1 : lastId;
      if (after > newest) return null;
      if (after === newest) return [];
      const oldest = nextId - count;
      if (after + 1 < oldest) return null;
      const skip = after + 1 - oldest;
      const missed = new Array<HubEvent>(count - skip);
      for (let i = 0, slot = (head + skip) % capacity; i < missed.length; i++) {
        missed[i] = ring[slot]!;
        slot = slot + 1 === capacity ? 0 : slot + 1;
      }
      return missed;
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
