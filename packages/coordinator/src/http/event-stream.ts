/**
 * Server-Sent Events from the event hub to one client (`GET /api/v1/events`).
 *
 * Resumption: the client's `Last-Event-ID` is replayed from the hub's ring before live events, with
 * no gap and no duplicate: the stream subscribes before it reads the ring, then drops live events
 * the replay already covered. When the ring no longer holds what the client missed, or its id comes
 * from a coordinator process that has since restarted, it gets one `reset` event (its id is the
 * newest event's, so a later reconnect resumes from there) and must reload a snapshot.
 *
 * Back-pressure: frames go to the socket while it accepts them; once it does not, later events
 * wait in a queue whose size is bounded, and a client that falls behind by more than that is
 * disconnected (it reconnects and resumes). A slow dashboard never makes the coordinator's memory
 * grow.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { EventHub, HubEvent } from '../events/event-hub.js';

export interface EventStreamOptions {
  /** Interval of the `: keep-alive` comments that keep proxies and idle timers from closing the stream. */
  keepAliveMs: number;
  /** Bytes a client may have waiting (queued frames and the socket's own buffer) before it is dropped. */
  maxBufferedBytes: number;
}

export interface EventStreams {
  /** Takes over `res` and streams events to it until either side closes. */
  open(req: IncomingMessage, res: ServerResponse, lastEventId: number | null): void;
  /** Ends every stream (server shutdown); clients see the end of the stream and reconnect elsewhere or later. */
  endAll(): void;
}

const KEEP_ALIVE_FRAME = ': keep-alive\n\n';

export function createEventStreams(hub: EventHub, log: Logger, options: EventStreamOptions): EventStreams {
  // One serialization per event, however many clients receive it.
  const frames = new WeakMap<HubEvent, string>();
  const active = new Set<ServerResponse>();

  function frameOf(event: HubEvent): string {
    let frame = frames.get(event);
    if (frame === undefined) {
      let data: string;
      try {
        data = JSON.stringify(event.data) ?? 'null';
      } catch (err) {
        log.error({ err, eventId: event.id, type: event.type }, 'event data cannot be serialized; sending null');
        data = 'null';
      }
      // JSON.stringify escapes line breaks, so the data is always one `data:` line.
      frame = `id: ${event.id}\nevent: ${event.type}\ndata: ${data}\n\n`;
      frames.set(event, frame);
    }
    return frame;
  }

  function open(req: IncomingMessage, res: ServerResponse, lastEventId: number | null): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies (nginx) must not buffer the stream.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);

    let closed = false;
    let blocked = false;
    /** False until the replay is known: a live event that comes first must wait behind it. */
    let started = false;
    /** Frames that go first (a reset), then the replay, then live events. */
    const head: string[] = [];
    let replay: HubEvent[] = [];
    let replayIndex = 0;
    const live: { id: number; frame: string }[] = [];
    let liveBytes = 0;
    /** Live events up to this id are covered by the replay (or the reset) and are not sent again. */
    let floor = -1;

    const nextFrame = (): string | undefined => {
      const first = head.shift();
      if (first !== undefined) return first;
      const missed = replay[replayIndex];
      if (missed !== undefined) {
        replayIndex += 1;
        return frameOf(missed);
      }
      const item = live.shift();
      if (item === undefined) return undefined;
      liveBytes -= item.frame.length;
      return item.frame;
    };

    const onDrain = (): void => {
      blocked = false;
      pump();
    };

    function pump(): void {
      while (started && !closed && !blocked) {
        const frame = nextFrame();
        if (frame === undefined) return;
        if (!res.write(frame)) {
          blocked = true;
          res.once('drain', onDrain);
        }
      }
    }

    /** Drops the client at once; 'close' then cleans up. */
    const drop = (): void => {
      closed = true;
      res.destroy();
    };

    const onEvent = (event: HubEvent): void => {
      if (closed || event.id <= floor) return;
      // The hub calls listeners inside publish(): a throw here would cost other clients the event.
      try {
        const frame = frameOf(event);
        live.push({ id: event.id, frame });
        liveBytes += frame.length;
        if (liveBytes + res.writableLength > options.maxBufferedBytes) {
          log.warn(
            { queuedBytes: liveBytes, socketBytes: res.writableLength, limit: options.maxBufferedBytes },
            'event stream client is not reading; disconnecting it (it resumes with Last-Event-ID)',
          );
          drop();
          return;
        }
        pump();
      } catch (err) {
        log.error({ err }, 'event stream failed; disconnecting the client');
        drop();
      }
    };

    // Subscribe first, then read the ring: an event published in between is in both, never in neither.
    const unsubscribe = hub.subscribe(onEvent);
    if (lastEventId !== null) {
      const newest = hub.lastId();
      const missed = hub.since(lastEventId);
      if (missed === null) {
        // Ids grow across coordinator restarts, so an id from an earlier process lands below the
        // ring and reads as "no longer held"; one above the newest was never issued by this process.
        const reason =
          lastEventId > newest
            ? `event ${lastEventId} was never published here; reload the state`
            : `events after ${lastEventId} are no longer held (the coordinator may have restarted); reload the state`;
        head.push(`id: ${newest}\nevent: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
        floor = newest;
      } else {
        replay = missed;
        floor = missed.at(-1)?.id ?? lastEventId;
      }
      // Live events that arrived while the ring was read and that the replay already holds.
      for (let i = live.length - 1; i >= 0; i--) {
        const item = live[i]!;
        if (item.id <= floor) {
          live.splice(i, 1);
          liveBytes -= item.frame.length;
        }
      }
    }

    started = true;

    const keepAlive = setInterval(() => {
      // A blocked stream has data waiting: no comment is needed, and none must add to the queue.
      if (!closed && !blocked) res.write(KEEP_ALIVE_FRAME);
    }, options.keepAliveMs);
    keepAlive.unref();

    active.add(res);
    res.on('close', () => {
      closed = true;
      unsubscribe();
      clearInterval(keepAlive);
      res.removeListener('drain', onDrain);
      active.delete(res);
      live.length = 0;
      replay = [];
      log.debug('event stream closed');
    });
    // A socket error ends the stream through 'close'; the listener keeps it from being an uncaught error.
    res.on('error', (err) => log.debug({ err }, 'event stream socket error'));

    pump();
  }

  return {
    open,
    endAll() {
      for (const res of active) {
        // A client that is not reading would hold the shutdown until its buffer drained.
        if (res.writableNeedDrain) res.destroy();
        else res.end();
      }
    },
  };
}
