/**
 * One event stream per tab, resumed after a drop with the id of the last event applied: the
 * coordinator replays exactly what was missed, so nothing is lost and nothing comes twice. The
 * reconnect is ours rather than EventSource's own (which waits seconds and, after a `reset`,
 * would resume from a stale id). A `reset` means the missed events are gone: reload the snapshot.
 */
export type FeedEvent = { id: number; type: 'sample' | 'service' | 'node' | 'run' | 'models'; data: unknown };

export interface FeedStatus {
  connected: boolean;
  /** Ids of every event applied, in order: what the tests check for gaps and duplicates. */
  ids: number[];
}

export interface EventFeed {
  readonly status: FeedStatus;
  /** Closes the stream now and reconnects after `ms` (tests; also what a network drop does). */
  drop(ms: number): void;
  close(): void;
}

const TYPES = ['sample', 'service', 'node', 'run', 'models'] as const;
/** Ids are kept for checking, bounded: a tab left open for days must not grow without end. */
const MAX_IDS = 20_000;

export function openEventFeed(
  startAfter: number,
  handlers: { event(e: FeedEvent): void; reset(): void; connection(connected: boolean): void },
): EventFeed {
  let lastId = startAfter;
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const status: FeedStatus = { connected: false, ids: [] };

  const setConnected = (connected: boolean): void => {
    if (status.connected === connected) return;
    status.connected = connected;
    handlers.connection(connected);
  };

  const connect = (): void => {
    timer = undefined;
    if (closed) return;
    const s = new EventSource(`/api/v1/events?last_event_id=${lastId}`);
    source = s;
    s.onopen = () => setConnected(true);
    for (const type of TYPES) {
      s.addEventListener(type, (m: MessageEvent<string>) => {
        const id = Number(m.lastEventId);
        // A replay and a live event can never repeat an id; this only guards the page's state.
        if (!(id > lastId)) return;
        lastId = id;
        status.ids.push(id);
        if (status.ids.length > MAX_IDS) status.ids.splice(0, status.ids.length - MAX_IDS);
        handlers.event({ id, type, data: JSON.parse(m.data) as unknown });
      });
    }
    s.addEventListener('reset', (m: MessageEvent<string>) => {
      lastId = Number(m.lastEventId);
      handlers.reset();
    });
    s.onerror = () => reconnectIn(1000);
  };

  const reconnectIn = (ms: number): void => {
    source?.close();
    source = null;
    setConnected(false);
    if (!closed && timer === undefined) timer = setTimeout(connect, ms);
  };

  connect();
  return {
    status,
    drop: (ms) => reconnectIn(ms),
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      source?.close();
      setConnected(false);
    },
  };
}
