import assert from 'node:assert/strict';
import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createDiskBuffer, ReconnectBackoff, type DiskBufferOptions } from '../src/index.js';
import { captureLogger, closeLater, tempDir } from './stream-test-fixtures.js';

const BOOT = '0b7c2f4e-1111-4222-8333-944455556666';
const OTHER_BOOT = '9f9f9f9f-1111-4222-8333-944455556666';

function buffer(dir: string, clock: { now: number }, extra: Partial<DiskBufferOptions> = {}) {
  return createDiskBuffer({ dir, bootId: BOOT, log: captureLogger().log, now: () => clock.now, ...extra });
}

async function seqsAfter(b: ReturnType<typeof buffer>, after = 0): Promise<number[]> {
  return (await b.readAfter(after, 10_000)).map((r) => r.seq);
}

describe('disk buffer', () => {
  test('assigns consecutive seqs and returns records after a seq, in order, from memory and disk', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    // A memory window of 3 forces older records to be read back from the segment files.
    const b = buffer(dir, clock, { memoryRecords: 3, segmentMaxBytes: 200 });
    closeLater(t, () => b.close());
    await b.open();
    for (let i = 1; i <= 10; i += 1) assert.equal(b.append(i % 4 === 0 ? 'event' : 'sample', clock.now + i, { i }), i);
    await b.flush();
    const records = await b.readAfter(2, 5);
    assert.deepEqual(
      records.map((r) => [r.seq, r.kind, r.data]),
      [
        [3, 'sample', { i: 3 }],
        [4, 'event', { i: 4 }],
        [5, 'sample', { i: 5 }],
        [6, 'sample', { i: 6 }],
        [7, 'sample', { i: 7 }],
      ],
    );
    assert.deepEqual(await seqsAfter(b, 7), [8, 9, 10]);
    assert.ok((await readdir(dir)).filter((f) => f.startsWith('seg-')).length > 1, 'small segments roll over');
  });

  test('acked records are deleted, files included, and never returned again', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    const b = buffer(dir, clock, { segmentMaxBytes: 120 });
    closeLater(t, () => b.close());
    await b.open();
    for (let i = 1; i <= 6; i += 1) b.append('sample', clock.now, { i });
    b.ack(4);
    assert.deepEqual(await seqsAfter(b), [5, 6]);
    assert.equal(b.stats().buffered_records, 2);
    b.ack(6);
    await b.close();
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.startsWith('seg-')),
      [],
    );
  });

  test('drops records older than max_age_s and counts them', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    const b = buffer(dir, clock, { maxAgeS: 10 });
    closeLater(t, () => b.close());
    await b.open();
    for (let i = 0; i < 5; i += 1) b.append('sample', clock.now + i * 1000, { i }); // ts 0..4 s
    clock.now += 12_500; // cutoff at 2.5 s: the records at 0, 1 and 2 s are too old
    const stats = b.stats();
    assert.equal(stats.dropped_age, 3);
    assert.equal(stats.dropped_size, 0);
    assert.equal(stats.oldest_seq, 4);
    assert.deepEqual(await seqsAfter(b), [4, 5]);
  });

  test('a full buffer drops the oldest records and counts them', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    const payload = 'x'.repeat(100);
    const b = buffer(dir, clock, { maxBytes: 1000 });
    closeLater(t, () => b.close());
    await b.open();
    for (let i = 1; i <= 20; i += 1) b.append('sample', clock.now, { payload });
    const stats = b.stats();
    assert.ok(stats.buffered_bytes <= 1000, `buffered ${stats.buffered_bytes} bytes`);
    assert.equal(stats.dropped_size + stats.buffered_records, 20);
    assert.ok(stats.dropped_size > 0);
    const seqs = await seqsAfter(b);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => 21 - seqs.length + i),
      'the newest are kept',
    );
  });

  test('seq numbering, pending records and drop counters survive a restart within the boot', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    const first = buffer(dir, clock, { maxAgeS: 60 });
    await first.open();
    first.append('sample', clock.now - 120_000, { i: 1 }); // already too old: dropped at once
    for (let i = 2; i <= 5; i += 1) first.append('sample', clock.now, { i });
    first.ack(2);
    await first.close();

    const second = buffer(dir, clock, { maxAgeS: 60 });
    closeLater(t, () => second.close());
    await second.open();
    assert.equal(second.lastSeq(), 5);
    assert.equal(second.ackedSeq(), 2);
    assert.equal(second.stats().dropped_age, 1);
    assert.deepEqual(
      (await second.readAfter(0, 10)).map((r) => [r.seq, r.data]),
      [
        [3, { i: 3 }],
        [4, { i: 4 }],
        [5, { i: 5 }],
      ],
    );
    assert.equal(second.append('sample', clock.now, { i: 6 }), 6);
  });

  test('the last seq survives even when every record was acked and deleted', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    const first = buffer(dir, clock);
    await first.open();
    for (let i = 1; i <= 3; i += 1) first.append('sample', clock.now, { i });
    first.ack(3);
    await first.close();
    const second = buffer(dir, clock);
    closeLater(t, () => second.close());
    await second.open();
    assert.equal(second.append('sample', clock.now, {}), 4);
  });

  test('a torn last line (crash mid-write) is cut off and the rest replays', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    const first = buffer(dir, clock);
    await first.open();
    for (let i = 1; i <= 3; i += 1) first.append('sample', clock.now, { i });
    await first.close();
    const [segment] = (await readdir(dir)).filter((f) => f.startsWith('seg-'));
    await appendFile(join(dir, segment as string), '{"seq":4,"ts_ms":1000000,"ki');
    const { log, lines } = captureLogger();
    const second = createDiskBuffer({ dir, bootId: BOOT, log, now: () => clock.now });
    closeLater(t, () => second.close());
    await second.open();
    assert.deepEqual(await seqsAfter(second), [1, 2, 3]);
    assert.equal(second.append('sample', clock.now, {}), 4);
    assert.ok(lines.some((l) => l.msg === 'skipped unreadable lines in buffer segments'));
    assert.ok((await readFile(join(dir, segment as string), 'utf8')).endsWith('}\n'));
  });

  test("a new boot discards the previous boot's unacked records, counts them and restarts at seq 1", async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    const first = buffer(dir, clock);
    await first.open();
    for (let i = 1; i <= 4; i += 1) first.append('sample', clock.now, { i });
    first.ack(1);
    await first.close();
    const next = createDiskBuffer({ dir, bootId: OTHER_BOOT, log: captureLogger().log, now: () => clock.now });
    closeLater(t, () => next.close());
    await next.open();
    assert.equal(next.stats().dropped_reboot, 3);
    assert.deepEqual(await seqsAfter(next), []);
    assert.equal(next.append('sample', clock.now, {}), 1);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.startsWith('seg-') && f.includes(BOOT)),
      [],
    );
  });

  test('advanceTo skips seqs the coordinator already holds; a corrupt state file is survived', async (t) => {
    const dir = await tempDir(t);
    const clock = { now: 1_000_000 };
    await writeFile(join(dir, 'state.json'), '{ not json');
    const b = buffer(dir, clock);
    closeLater(t, () => b.close());
    await b.open();
    b.advanceTo(41);
    assert.equal(b.append('sample', clock.now, {}), 42);
    assert.throws(() => createDiskBuffer({ dir, bootId: BOOT, log: captureLogger().log, maxBytes: 0 }), TypeError);
  });

  test('append before open or after close is refused with a code', async (t) => {
    const dir = await tempDir(t);
    const b = buffer(dir, { now: 0 });
    assert.throws(() => b.append('sample', 0, {}), { code: 'KAGE_ERR_AGENT_STREAM_CLOSED' });
    await b.open();
    await b.close();
    await b.close();
    assert.throws(() => b.append('sample', 0, {}), { code: 'KAGE_ERR_AGENT_STREAM_CLOSED' });
  });
});

describe('reconnect backoff', () => {
  test('grows by steps up to the cap, with jitter inside [ceiling/2, ceiling], and flags new steps only', () => {
    const backoff = new ReconnectBackoff({ initialMs: 100, maxMs: 1000, random: () => 0.999 });
    const delays = Array.from({ length: 8 }, () => backoff.next());
    assert.deepEqual(
      delays.map((d) => d.ceilingMs),
      [100, 200, 400, 800, 1000, 1000, 1000, 1000],
    );
    assert.deepEqual(
      delays.map((d) => d.isNewStep),
      [true, true, true, true, true, false, false, false],
    );
    for (const d of delays) assert.ok(d.delayMs >= d.ceilingMs / 2 && d.delayMs <= d.ceilingMs);
    backoff.reset();
    assert.deepEqual([backoff.next().ceilingMs, backoff.attempts], [100, 1]);
    const low = new ReconnectBackoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    assert.equal(low.next().delayMs, 50);
  });
});
