/**
 * REST API: the Server-Sent Events feed. Live delivery, exact resumption with `Last-Event-ID`
 * while events keep coming, the reset when the missed events are gone, keep-alives, cleanup on
 * disconnect and the bound on a client that does not read.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { createEventHub, type EventHub, type HubEvent } from '../src/events/event-hub.js';
import { createFakeWorld, openEvents, request, startApi, waitUntil, type SseFrame } from './helpers/api-fakes.js';

/** A hub that counts its live subscribers and records what `since` answered. */
function instrumentedHub(inner: EventHub = createEventHub()) {
  const calls: { lastId: number; returned: number | null }[] = [];
  let subscribers = 0;
  const hub: EventHub = {
    ...inner,
    since(lastId) {
      const missed = inner.since(lastId);
      calls.push({ lastId, returned: missed === null ? null : missed.length });
      return missed;
    },
    subscribe(listener) {
      subscribers += 1;
      const off = inner.subscribe(listener);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        subscribers -= 1;
        off();
      };
    },
  };
  return { hub, calls, subscribers: () => subscribers };
}

function ids(frames: SseFrame[]): number[] {
  return frames.map((f) => Number(f.id));
}

test('live events arrive as id/event/data frames', async (t) => {
  const { base, world } = await startApi(t);
  const client = await openEvents(base);
  t.after(() => client.close());
  assert.equal(client.status, 200);
  assert.match(client.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.match(client.headers.get('cache-control') ?? '', /no-cache/);

  world.hub.publish('sample', { node: 'a', cpu_pct: 12.5 });
  world.hub.publish('service', { node: 'a', service: 'ollama', state: 'running', note: 'line\nbreak' });
  world.hub.publish('run', { id: 'run-1', cells_done: 1 });

  assert.deepEqual(await client.nextEvent(), { id: '1', event: 'sample', data: '{"node":"a","cpu_pct":12.5}' });
  const service = await client.nextEvent();
  assert.equal(service.event, 'service');
  assert.deepEqual(JSON.parse(service.data!), {
    node: 'a',
    service: 'ollama',
    state: 'running',
    note: 'line\nbreak',
  });
  assert.deepEqual(await client.nextEvent(), { id: '3', event: 'run', data: '{"id":"run-1","cells_done":1}' });
});

test('Last-Event-ID resumes with exactly the missed events while events keep being published', async (t) => {
  const spy = instrumentedHub();
  const world = createFakeWorld({ hub: spy.hub });
  const { base } = await startApi(t, { world });

  const first = await openEvents(base);
  for (let i = 0; i < 5; i++) world.hub.publish('sample', { n: i });
  const seen: SseFrame[] = [];
  while (seen.length < 5) seen.push(await first.nextEvent());
  assert.deepEqual(ids(seen), [1, 2, 3, 4, 5]);
  first.close();
  await waitUntil('the first stream to unsubscribe', () => spy.subscribers() === 0);

  // A publisher that never pauses: some events land before the reconnect reads the ring (replay),
  // the rest after (live).
  let publishing = true;
  let afterResume = 0;
  const publisher = (async () => {
    while (publishing) {
      world.hub.publish('sample', { n: world.hub.lastId() });
      if (spy.calls.length > 0 && ++afterResume >= 50) publishing = false;
      await yieldTurn();
    }
  })();
  t.after(() => {
    publishing = false;
  });

  const second = await openEvents(base, '/api/v1/events', { 'last-event-id': '5' });
  t.after(() => second.close());
  await publisher;
  const last = world.hub.lastId();
  const resumed: SseFrame[] = [];
  while (Number(resumed.at(-1)?.id ?? 5) < last) resumed.push(await second.nextEvent());

  const expected = Array.from({ length: last - 5 }, (_, i) => i + 6);
  assert.deepEqual(ids(resumed), expected, 'no gap, no duplicate');
  const replayed = spy.calls[0]?.returned ?? 0;
  assert.equal(spy.calls[0]?.lastId, 5);
  assert.ok(replayed > 0, 'some events came from the replay');
  assert.ok(replayed < expected.length, 'some events came live');
});

test('an event published while the ring is read is sent once', async (t) => {
  const inner = createEventHub();
  let raced = false;
  const hub: EventHub = {
    ...inner,
    since(lastId) {
      // Another producer publishes between the stream's subscribe and its read of the ring.
      if (!raced) {
        raced = true;
        inner.publish('node', { node: 'b', status: 'online' });
      }
      return inner.since(lastId);
    },
  };
  const world = createFakeWorld({ hub });
  const { base } = await startApi(t, { world });
  for (let i = 0; i < 3; i++) hub.publish('sample', { n: i });

  const client = await openEvents(base, '/api/v1/events', { 'last-event-id': '2' });
  t.after(() => client.close());
  hub.publish('sample', { n: 'after' });
  const frames: SseFrame[] = [];
  while (Number(frames.at(-1)?.id ?? 0) < 5) frames.push(await client.nextEvent());
  assert.deepEqual(ids(frames), [3, 4, 5]);
  assert.equal(frames[1]?.event, 'node');
});

test('?last_event_id= resumes too; the Last-Event-ID header wins over it', async (t) => {
  const { base, world } = await startApi(t);
  for (let i = 0; i < 6; i++) world.hub.publish('sample', { n: i });

  const byQuery = await openEvents(base, '/api/v1/events?last_event_id=4');
  t.after(() => byQuery.close());
  assert.deepEqual(ids([await byQuery.nextEvent(), await byQuery.nextEvent()]), [5, 6]);

  const both = await openEvents(base, '/api/v1/events?last_event_id=1', { 'last-event-id': '5' });
  t.after(() => both.close());
  assert.equal((await both.nextEvent()).id, '6');
  world.hub.publish('run', { id: 'run-1' });
  assert.equal((await both.nextEvent()).id, '7');
  assert.equal((await byQuery.nextEvent()).id, '7');

  // Resuming from the newest id replays nothing and goes live.
  const current = await openEvents(base, '/api/v1/events', { 'last-event-id': '7' });
  t.after(() => current.close());
  world.hub.publish('run', { id: 'run-2' });
  assert.equal((await current.nextEvent()).id, '8');
});

test('a Last-Event-ID the ring no longer holds gives one reset event, then live events', async (t) => {
  const world = createFakeWorld({ hub: createEventHub({ capacity: 5 }) });
  const { base } = await startApi(t, { world });
  for (let i = 0; i < 20; i++) world.hub.publish('sample', { n: i });

  const client = await openEvents(base, '/api/v1/events', { 'last-event-id': '3' });
  t.after(() => client.close());
  const reset = await client.nextEvent();
  assert.equal(reset.event, 'reset');
  assert.equal(reset.id, '20', 'a later reconnect resumes after the reset');
  assert.match((JSON.parse(reset.data!) as { reason: string }).reason, /events after 3 are no longer held/);
  world.hub.publish('node', { node: 'a' });
  assert.deepEqual(ids([await client.nextEvent()]), [21]);

  // An id beyond the newest (the coordinator restarted and counts from 1 again) resets too.
  const ahead = await openEvents(base, '/api/v1/events', { 'last-event-id': '999' });
  t.after(() => ahead.close());
  const aheadReset = await ahead.nextEvent();
  assert.equal(aheadReset.event, 'reset');
  assert.equal(aheadReset.id, '21');
  assert.match((JSON.parse(aheadReset.data!) as { reason: string }).reason, /never published here/);
});

test('a malformed Last-Event-ID or last_event_id is 400 naming it', async (t) => {
  const { base } = await startApi(t);
  const header = await request(base, '/api/v1/events', { headers: { 'last-event-id': 'abc' } });
  assert.equal(header.status, 400);
  assert.match((header.body as { message: string }).message, /headers\/last-event-id: must be an event id/);
  const query = await request(base, '/api/v1/events?last_event_id=-1');
  assert.equal(query.status, 400);
  assert.match((query.body as { message: string }).message, /querystring\/last_event_id: must be an event id/);
});

test('a keep-alive comment comes at the configured interval', async (t) => {
  const { base } = await startApi(t, { sseKeepAliveMs: 30 });
  const client = await openEvents(base);
  t.after(() => client.close());
  assert.deepEqual(await client.next(), { comment: 'keep-alive' });
});

test('a client that disconnects is unsubscribed', async (t) => {
  const spy = instrumentedHub();
  const { base, world } = await startApi(t, { world: createFakeWorld({ hub: spy.hub }) });
  const a = await openEvents(base);
  const b = await openEvents(base);
  assert.equal(spy.subscribers(), 2);
  a.close();
  await waitUntil('the closed stream to unsubscribe', () => spy.subscribers() === 1);
  world.hub.publish('sample', { n: 1 });
  assert.equal((await b.nextEvent()).id, '1', 'the other client is unaffected');
  b.close();
  await waitUntil('every stream to unsubscribe', () => spy.subscribers() === 0);
});

test('closing the server ends open streams', { timeout: 10_000 }, async (t) => {
  const spy = instrumentedHub();
  const server = await startApi(t, { world: createFakeWorld({ hub: spy.hub }) });
  const client = await openEvents(server.base);
  assert.equal(spy.subscribers(), 1);
  await server.close();
  await client.ended;
  assert.equal(spy.subscribers(), 0);
});

test('a client that stops reading is disconnected once it falls behind by the limit', async (t) => {
  const spy = instrumentedHub(createEventHub({ capacity: 16 }));
  const limit = 256 * 1024;
  const { base, world } = await startApi(t, { world: createFakeWorld({ hub: spy.hub }), sseMaxBufferedBytes: limit });
  const port = Number(new URL(base).port);

  const socket = connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write('GET /api/v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n');
  const [head] = (await once(socket, 'data')) as [Buffer];
  assert.match(head.toString('latin1'), /^HTTP\/1\.1 200/);
  socket.pause();
  assert.equal(spy.subscribers(), 1);

  // Kernel socket buffers absorb some megabytes first; the bound applies once they are full.
  const payload = 'x'.repeat(16 * 1024);
  let published = 0;
  while (spy.subscribers() > 0) {
    assert.ok(published < 8000, 'the stream was never cut off');
    world.hub.publish('sample', { payload });
    published += 1;
    await yieldTurn();
  }
  assert.ok(
    world.log.some((e) => e.level === 40 && /not reading/.test(e.msg)),
    'the disconnect is logged as a warning',
  );
  socket.resume();
  if (!socket.closed) await once(socket, 'close');
});

test('events that cannot be serialized are sent as null, and the stream goes on', async (t) => {
  const { base, world } = await startApi(t);
  const client = await openEvents(base);
  t.after(() => client.close());
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  world.hub.publish('sample', cyclic);
  world.hub.publish('sample', { ok: true });
  const frames: HubEvent[] = [];
  for (let i = 0; i < 2; i++) {
    const f = await client.nextEvent();
    frames.push({ id: Number(f.id), type: f.event as HubEvent['type'], data: JSON.parse(f.data!) as unknown });
  }
  assert.deepEqual(frames, [
    { id: 1, type: 'sample', data: null },
    { id: 2, type: 'sample', data: { ok: true } },
  ]);
});
