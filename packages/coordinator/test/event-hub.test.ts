/**
 * The event hub: its ring against a naive model at every wrap position, ids that stay unique
 * across coordinator restarts, and a publish cost that does not grow with the capacity.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEventHub, type EventHub, type HubEvent } from '../src/events/event-hub.js';

/** What `since` must answer, from every event published so far and the capacity. */
function naiveSince(published: readonly HubEvent[], capacity: number, firstId: number, lastId: number) {
  if (!Number.isSafeInteger(lastId) || lastId < 0) return null;
  const newest = published.at(-1)?.id ?? firstId - 1;
  const after = lastId === 0 ? firstId - 1 : lastId;
  if (after > newest) return null;
  const held = published.slice(-capacity);
  const oldest = held[0]?.id ?? newest + 1;
  if (after + 1 < oldest) return null;
  return held.filter((e) => e.id > after);
}

/** Checks `since` for every id from 0 and the ids around this hub's range against the model. */
function checkEveryLastId(hub: EventHub, published: readonly HubEvent[], capacity: number, firstId: number): void {
  const newest = published.at(-1)?.id ?? firstId - 1;
  const candidates = new Set<number>([-1, 0, 1, 2, firstId - 2, 0.5, firstId + 0.5]);
  for (let id = Math.max(0, firstId - 2); id <= newest + 2; id++) candidates.add(id);
  for (const lastId of candidates) {
    const want = naiveSince(published, capacity, firstId, lastId);
    const got = hub.since(lastId);
    assert.deepEqual(got, want, `since(${lastId}) after ${published.length} events`);
    // The very objects that were published, not copies.
    if (got !== null && want !== null) got.forEach((e, i) => assert.equal(e, want[i]));
  }
  assert.equal(hub.lastId(), published.at(-1)?.id ?? firstId - 1);
}

for (const firstId of [1, 1_760_000_000_000_000]) {
  test(`the ring matches a naive model through wrap-around (first id ${firstId})`, () => {
    for (const capacity of [1, 5]) {
      const hub = createEventHub({ capacity, firstId });
      const published: HubEvent[] = [];
      checkEveryLastId(hub, published, capacity, firstId);
      for (let i = 0; i < 12; i++) {
        published.push(hub.publish(i % 2 === 0 ? 'sample' : 'run', { n: i }));
        checkEveryLastId(hub, published, capacity, firstId);
      }
      assert.deepEqual(
        published.map((e) => e.id),
        Array.from({ length: 12 }, (_, i) => firstId + i),
      );
    }
  });
}

test('since(): [] at the newest id, null beyond it, below the ring, negative or not an integer', () => {
  const hub = createEventHub({ capacity: 5, firstId: 101 });
  assert.equal(hub.lastId(), 100, 'just below the first id');
  assert.deepEqual(hub.since(0), [], 'nothing published, nothing seen');
  assert.deepEqual(hub.since(100), []);
  assert.equal(hub.since(99), null, 'from before this hub');
  assert.equal(hub.since(101), null, 'not published yet');
  for (let i = 0; i < 7; i++) hub.publish('sample', { n: i });
  assert.equal(hub.lastId(), 107);
  assert.deepEqual(hub.since(107), []);
  assert.equal(hub.since(108), null);
  assert.deepEqual(
    hub.since(102)?.map((e) => e.id),
    [103, 104, 105, 106, 107],
  );
  assert.equal(hub.since(101), null, '102 is no longer held');
  assert.equal(hub.since(0), null, 'the first events are no longer held');
  for (const bad of [-1, 104.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 2]) {
    assert.equal(hub.since(bad), null, String(bad));
  }
});

test('the capacity and the first id are checked', () => {
  for (const capacity of [0, -1, 2.5, Number.NaN]) {
    assert.throws(() => createEventHub({ capacity }), RangeError, String(capacity));
  }
  for (const firstId of [0, -5, 1.5, 2 ** 53]) {
    assert.throws(() => createEventHub({ firstId }), RangeError, String(firstId));
  }
});

test('ids derive from the start time: 16 digits, exact numbers, above an earlier process’s', async () => {
  const before = Date.now();
  const earlier = createEventHub();
  const first = earlier.publish('node', { n: 0 });
  assert.ok(first.id >= before * 1000 && first.id <= Date.now() * 1000, String(first.id));
  assert.ok(Number.isSafeInteger(first.id));
  assert.match(String(first.id), /^[0-9]{16}$/);
  for (let i = 1; i < 1000; i++) earlier.publish('sample', { n: i });

  await sleep(5); // a restart takes far longer than this
  const later = createEventHub();
  assert.equal(later.since(earlier.lastId()), null, 'nothing published yet: still a reset');
  const next = later.publish('node', { n: 'after restart' });
  assert.ok(next.id > earlier.lastId());
});

test('a Last-Event-ID from before a restart gives null, never an unrelated replay', () => {
  const startedMs = 1_760_000_000_000;
  const earlier = createEventHub({ epochBaseMs: startedMs });
  // 999 events within the first millisecond: the most a process may publish (fewer than 1000 per
  // millisecond) while staying below the ids of a process started one millisecond after it.
  const old: HubEvent[] = [];
  for (let i = 0; i < 999; i++) old.push(earlier.publish('sample', { n: i }));

  const later = createEventHub({ epochBaseMs: startedMs + 1 });
  for (const e of old) assert.equal(later.since(e.id), null, `before any event, id ${e.id}`);
  const fresh: HubEvent[] = [];
  for (let i = 0; i < 2000; i++) fresh.push(later.publish('sample', { n: i }));
  assert.ok(fresh[0]!.id > old.at(-1)!.id, 'the ranges do not overlap');
  for (const e of [old[0]!, old[499]!, old.at(-1)!]) assert.equal(later.since(e.id), null, `id ${e.id}`);
  assert.equal(later.since(earlier.lastId()), null);
  // Its own ids still resume exactly.
  assert.deepEqual(later.since(fresh[1996]!.id), fresh.slice(1997));
});

test('a large ring takes many more publishes than it holds, and still answers exactly', () => {
  const capacity = 100_000;
  const total = 300_000;
  const hub = createEventHub({ capacity, firstId: 1 });
  let delivered = 0;
  const off = hub.subscribe(() => {
    delivered += 1;
  });
  for (let i = 0; i < total; i++) hub.publish('sample', i);
  off();
  assert.equal(delivered, total);
  assert.equal(hub.lastId(), total);
  const oldest = total - capacity + 1;
  const all = hub.since(oldest - 1);
  assert.ok(all !== null);
  assert.equal(all.length, capacity);
  assert.equal(all[0]?.id, oldest);
  assert.equal(all[0]?.data, oldest - 1);
  assert.equal(all.at(-1)?.id, total);
  assert.ok(all.every((e, i) => e.id === oldest + i));
  assert.equal(hub.since(oldest - 2), null);
  assert.deepEqual(
    hub.since(total - 3)?.map((e) => e.id),
    [total - 2, total - 1, total],
  );
});

test('subscribers get every event in order until they unsubscribe or the hub closes', () => {
  const hub = createEventHub({ capacity: 2 });
  const a: number[] = [];
  const b: number[] = [];
  const offA = hub.subscribe((e) => a.push(e.id));
  hub.subscribe((e) => b.push(e.id));
  const e1 = hub.publish('sample', 1);
  offA();
  const e2 = hub.publish('sample', 2);
  hub.close();
  hub.publish('sample', 3);
  assert.deepEqual(a, [e1.id]);
  assert.deepEqual(b, [e1.id, e2.id]);
});
