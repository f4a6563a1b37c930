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

/** A realistic first id (epoch ms × 1000), fixed so the tests can name the ids. */
const FIRST = 1_760_000_000_000_000;
/** The id of the `n`th event (from 1) of a hub made by `fixedHub`. */
const at = (n: number): number => FIRST + n - 1;
const fixedHub = (capacity?: number): EventHub =>
  createEventHub({ firstId: FIRST, ...(capacity === undefined ? {} : { capacity }) });

test('live events arrive as id/event/data frames', async (t) => {
  const { base, world } = await startApi(t);
  const client = await openEvents(base);
  t.after(() => client.close());
  assert.equal(client.status, 200);
  assert.match(client.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.match(client.headers.get('cache-control') ?? '', /no-cache/);

  const sample = world.hub.publish('sample', { node: 'a', cpu_pct: 12.5 });
  world.hub.publish('service', { node: 'a', service: 'ollama', state: 'running', note: 'line\nbreak' });
  const run = world.hub.publish('run', { id: 'run-1', cells_done: 1 });

  // Ids count from the coordinator's start time, so they stay unique across restarts.
  assert.match(String(sample.id), /^[0-9]{16}$/);
  assert.deepEqual(await client.nextEvent(), {
    id: String(sample.id),
    event: 'sample',
    data: '{"node":"a","cpu_pct":12.5}',
  });
  const service = await client.nextEvent();
  assert.equal(service.event, 'service');
  assert.deepEqual(JSON.parse(service.data!), {
    node: 'a',
    service: 'ollama',
    state: 'running',
    note: 'line\nbreak',
  });
  assert.deepEqual(await client.nextEvent(), {
    id: String(run.id),
    event: 'run',
    data: '{"id":"run-1","cells_done":1}',
  });
});

test('Last-Event-ID resumes with exactly the missed events while events keep being published', async (t) => {
  const spy = instrumentedHub(fixedHub());
  const world = createFakeWorld({ hub: spy.hub });
  const { base } = await startApi(t, { world });

  const first = await openEvents(base);
  for (let i = 0; i < 5; i++) world.hub.publish('sample', { n: i });
  const seen: SseFrame[] = [];
  while (seen.length < 5) seen.push(await first.nextEvent());
  assert.deepEqual(ids(seen), [at(1), at(2), at(3), at(4), at(5)]);
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

  const second = await openEvents(base, '/api/v1/events', { 'last-event-id': String(at(5)) });
  t.after(() => second.close());
  await publisher;
  const last = world.hub.lastId();
  const resumed: SseFrame[] = [];
  while (Number(resumed.at(-1)?.id ?? at(5)) < last) resumed.push(await second.nextEvent());

  const expected = Array.from({ length: last - at(5) }, (_, i) => at(6 + i));
  assert.deepEqual(ids(resumed), expected, 'no gap, no duplicate');
  const replayed = spy.calls[0]?.returned ?? 0;
  assert.equal(spy.calls[0]?.lastId, at(5));
  assert.ok(replayed > 0, 'some events came from the replay');
  assert.ok(replayed < expected.length, 'some events came live');
});

test('an event published while the ring is read is sent once', async (t) => {
  const inner = fixedHub();
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

  const client = await openEvents(base, '/api/v1/events', { 'last-event-id': String(at(2)) });
  t.after(() => client.close());
  hub.publish('sample', { n: 'after' });
  const frames: SseFrame[] = [];
  while (Number(frames.at(-1)?.id ?? 0) < at(5)) frames.push(await client.nextEvent());
  assert.deepEqual(ids(frames), [at(3), at(4), at(5)]);
  assert.equal(frames[1]?.event, 'node');
});

test('?last_event_id= resumes too; the Last-Event-ID header wins over it', async (t) => {
  const { base, world } = await startApi(t, { world: createFakeWorld({ hub: fixedHub() }) });
  for (let i = 0; i < 6; i++) world.hub.publish('sample', { n: i });

  const byQuery = await openEvents(base, `/api/v1/events?last_event_id=${at(4)}`);
  t.after(() => byQuery.close());
  assert.deepEqual(ids([await byQuery.nextEvent(), await byQuery.nextEvent()]), [at(5), at(6)]);

  const both = await openEvents(base, `/api/v1/events?last_event_id=${at(1)}`, { 'last-event-id': String(at(5)) });
  t.after(() => both.close());
  assert.equal((await both.nextEvent()).id, String(at(6)));
  world.hub.publish('run', { id: 'run-1' });
  assert.equal((await both.nextEvent()).id, String(at(7)));
  assert.equal((await byQuery.nextEvent()).id, String(at(7)));

  // Resuming from the newest id replays nothing and goes live.
  const current = await openEvents(base, '/api/v1/events', { 'last-event-id': String(at(7)) });
  t.after(() => current.close());
  world.hub.publish('run', { id: 'run-2' });
  assert.equal((await current.nextEvent()).id, String(at(8)));
});

test('a Last-Event-ID the ring no longer holds gives one reset event, then live events', async (t) => {
  const world = createFakeWorld({ hub: fixedHub(5) });
  const { base } = await startApi(t, { world });
  for (let i = 0; i < 20; i++) world.hub.publish('sample', { n: i });

  const client = await openEvents(base, '/api/v1/events', { 'last-event-id': String(at(3)) });
  t.after(() => client.close());
  const reset = await client.nextEvent();
  assert.equal(reset.event, 'reset');
  assert.equal(reset.id, String(at(20)), 'a later reconnect resumes after the reset');
  assert.match(
    (JSON.parse(reset.data!) as { reason: string }).reason,
    new RegExp(`events after ${at(3)} are no longer held`),
  );
  world.hub.publish('node', { node: 'a' });
  assert.deepEqual(ids([await client.nextEvent()]), [at(21)]);

  // An id beyond the newest was never issued by this coordinator: a reset too.
  const ahead = await openEvents(base, '/api/v1/events', { 'last-event-id': String(at(999)) });
  t.after(() => ahead.close());
  const aheadReset = await ahead.nextEvent();
  assert.equal(aheadReset.event, 'reset');
  assert.equal(aheadReset.id, String(at(21)));
  assert.match((JSON.parse(aheadReset.data!) as { reason: string }).reason, /never published here/);

  // The largest id the API accepts (the largest exact JavaScript integer) is just another such id.
  const largest = await openEvents(base, '/api/v1/events', { 'last-event-id': String(Number.MAX_SAFE_INTEGER) });
  t.after(() => largest.close());
  assert.equal(largest.status, 200);
  assert.equal((await largest.nextEvent()).event, 'reset');
});

test('a Last-Event-ID from before a coordinator restart gives a reset, not an unrelated replay', async (t) => {
  const startedMs = Date.now();
  const before = await startApi(t, { world: createFakeWorld({ hub: createEventHub({ epochBaseMs: startedMs }) }) });
  const client = await openEvents(before.base);
  for (let i = 0; i < 10; i++) before.world.hub.publish('sample', { process: 'before', n: i });
  const seen: SseFrame[] = [];
  while (seen.length < 5) seen.push(await client.nextEvent());
  client.close();
  await before.close();

  // The restarted coordinator (started a few seconds later) has published more events than the
  // client had seen; with ids counted from 1 in every process, those would have been replayed.
  const after = await startApi(t, {
    world: createFakeWorld({ hub: createEventHub({ epochBaseMs: startedMs + 3000 }) }),
  });
  for (let i = 0; i < 20; i++) after.world.hub.publish('sample', { process: 'after', n: i });

  const resumed = await openEvents(after.base, '/api/v1/events', { 'last-event-id': seen.at(-1)!.id! });
  t.after(() => resumed.close());
  const reset = await resumed.nextEvent();
  assert.equal(reset.event, 'reset');
  assert.equal(reset.id, String(after.world.hub.lastId()));
  assert.match((JSON.parse(reset.data!) as { reason: string }).reason, /no longer held/);
  const live = after.world.hub.publish('node', { process: 'after', node: 'a' });
  assert.deepEqual(await resumed.nextEvent(), {
    id: String(live.id),
    event: 'node',
    data: '{"process":"after","node":"a"}',
  });
});

test('a malformed Last-Event-ID or last_event_id is 400 naming it', async (t) => {
  const { base } = await startApi(t);
  const header = await request(base, '/api/v1/events', { headers: { 'last-event-id': 'abc' } });
  assert.equal(header.status, 400);
  assert.match((header.body as { message: string }).message, /headers\/last-event-id: must be an event id/);
  const query = await request(base, '/api/v1/events?last_event_id=-1');
  assert.equal(query.status, 400);
  assert.match((query.body as { message: string }).message, /querystring\/last_event_id: must be an event id/);
  // Ids that Number() could not read exactly are refused rather than rounded.
  for (const id of ['9007199254740992', '9999999999999999', '17600000000000001', '1.5e15', '12a']) {
    const tooBig = await request(base, '/api/v1/events', { headers: { 'last-event-id': id } });
    assert.equal(tooBig.status, 400, id);
    const inQuery = await request(base, `/api/v1/events?last_event_id=${encodeURIComponent(id)}`);
    assert.equal(inQuery.status, 400, id);
  }
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
  const event = world.hub.publish('sample', { n: 1 });
  assert.equal((await b.nextEvent()).id, String(event.id), 'the other client is unaffected');
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
  const bad = world.hub.publish('sample', cyclic);
  const good = world.hub.publish('sample', { ok: true });
  const frames: HubEvent[] = [];
  for (let i = 0; i < 2; i++) {
    const f = await client.nextEvent();
    frames.push({ id: Number(f.id), type: f.event as HubEvent['type'], data: JSON.parse(f.data!) as unknown });
  }
  assert.deepEqual(frames, [
    { id: bad.id, type: 'sample', data: null },
    { id: good.id, type: 'sample', data: { ok: true } },
  ]);
});
