import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { MINUTE_MS, RETENTION_SQL, createRetention } from '../src/store/retention.js';
import type { SampleRow } from '../src/store/sample-row.js';
import { openTelemetryStore, type TelemetryStore } from '../src/store/telemetry-store.js';

const log = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const HOUR = 3_600_000;

function sample(node: string, seq: number, ts: number, cpu: number): SampleRow {
  return {
    node_id: node,
    ts_ms: ts,
    seq,
    cpu_pct: cpu,
    mem_used_bytes: 100,
    mem_total_bytes: 1000,
    gpu_busy_pct: null,
    gpu_mem_used_bytes: null,
    gpu_mem_total_bytes: null,
    gpus: [],
    services: [],
  };
}

/** A migrated store, plus a second plain connection for looking at (and driving retention on) the file. */
async function fixture(t: {
  after: (fn: () => Promise<void> | void) => void;
}): Promise<{ store: TelemetryStore; db: Database.Database }> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-coord-retention-'));
  const store = openTelemetryStore({ path: join(dir, 'kage.db'), log });
  const db = new Database(join(dir, 'kage.db'));
  t.after(async () => {
    db.close();
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, db };
}

/** `perMinute` samples a minute for `minutes` minutes from T0, cpu = the minute's index. */
function commitMinutes(store: TelemetryStore, node: string, minutes: number, perMinute: number, seq0 = 0): void {
  const samples: SampleRow[] = [];
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < perMinute; i++) {
      samples.push(sample(node, seq0 + samples.length + 1, T0 + m * MINUTE_MS + i * (MINUTE_MS / perMinute), m));
    }
  }
  store.commit([{ node_id: node, boot_id: 'b', samples, events: [] }]);
}

function minuteRows(db: Database.Database): { node_id: string; minute_ms: number; samples: number; cpu: number }[] {
  return db
    .prepare(`SELECT node_id, minute_ms, samples, cpu_pct_mean AS cpu FROM sample_minutes ORDER BY node_id, minute_ms`)
    .all() as { node_id: string; minute_ms: number; samples: number; cpu: number }[];
}

test('every statement that selects by time reaches its rows through an index', async (t) => {
  const { db } = await fixture(t);
  const indexes = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name`).pluck().all();
  for (const name of ['samples_by_time', 'sample_minutes_by_time', 'service_events_by_time']) {
    assert.ok(indexes.includes(name), `${name} exists`);
  }
  for (const [name, sql] of Object.entries(RETENTION_SQL)) {
    const params = (sql.match(/\?/g) ?? []).map(() => 1);
    const plan = db
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...params)
      .map((r) => (r as { detail: string }).detail);
    const scans = plan.filter((d) => /^SCAN (samples|sample_minutes|service_events)\b/.test(d) && !/USING/.test(d));
    assert.deepEqual(scans, [], `${name}: ${plan.join(' | ')}`);
  }
});

test('only minutes that received samples are rolled up, once they are complete', async (t) => {
  const { store, db } = await fixture(t);
  const keep = { rawHours: 24, minuteDays: 30 };
  commitMinutes(store, 'srv1', 2, 6);
  commitMinutes(store, 'srv2', 1, 6);
  // Minute 2 of srv1 is still under way at T0 + 2.5 min: it waits.
  store.commit([{ node_id: 'srv1', boot_id: 'b', samples: [sample('srv1', 100, T0 + 2 * MINUTE_MS, 7)], events: [] }]);
  assert.deepEqual(await store.rollupAndPrune(T0 + 2.5 * MINUTE_MS, keep), { rolled: 3, pruned: 0 });
  assert.deepEqual(await store.rollupAndPrune(T0 + 2.5 * MINUTE_MS, keep), { rolled: 0, pruned: 0 }, 'nothing again');
  // A late sample for one node's past minute: that minute alone, plus the one that completed.
  store.commit([{ node_id: 'srv2', boot_id: 'b', samples: [sample('srv2', 50, T0 + 30_000, 70)], events: [] }]);
  assert.deepEqual(await store.rollupAndPrune(T0 + 3 * MINUTE_MS, keep), { rolled: 2, pruned: 0 });
  assert.deepEqual(
    minuteRows(db).map((r) => [r.node_id, (r.minute_ms - T0) / MINUTE_MS, r.samples, r.cpu]),
    [
      ['srv1', 0, 6, 0],
      ['srv1', 1, 6, 1],
      ['srv1', 2, 1, 7],
      ['srv2', 0, 7, 10],
    ],
  );
});

test('retention works in short transactions, yielding to the event loop, with the same result', async (t) => {
  const { store, db } = await fixture(t);
  for (const node of ['a', 'b', 'c']) commitMinutes(store, node, 10, 12);
  // Service events and minute means older than minuteDays.
  const insertEvent = db.prepare(
    `INSERT INTO service_events (node_id, boot_id, seq, ts_ms, kind, service, status_json) VALUES ('a', 'b', ?, ?, 'state', 'x', '{}')`,
  );
  for (let i = 0; i < 20; i++) insertEvent.run(1000 + i, T0 - 40 * 86_400_000 + i);
  insertEvent.run(2000, T0);
  const insertMinute = db.prepare(`INSERT INTO sample_minutes (node_id, minute_ms, samples) VALUES ('old', ?, 1)`);
  for (let i = 0; i < 20; i++) insertMinute.run(T0 - 40 * 86_400_000 + i * MINUTE_MS);

  // A connection of its own that was never told which minutes changed (as after a restart): the
  // minutes past the raw cut are rolled up as they are pruned, and only those.
  const retention = createRetention(db, { isClosed: () => false, chunkRows: 7 });
  const now = T0 + 6 * MINUTE_MS + 1 * HOUR + 1000; // raw cut at minute 6
  let settled = false;
  const pass = retention.run(now, { rawHours: 1, minuteDays: 30 });
  assert.equal(retention.run(now, { rawHours: 1, minuteDays: 30 }), pass, 'a second call joins the pass');
  pass.then(
    () => (settled = true),
    () => (settled = true),
  );
  // Between two chunks: the pass is not over, and the database takes a commit.
  const between = await new Promise<boolean>((resolve) => setImmediate(() => resolve(settled)));
  assert.equal(between, false, 'the pass spans several turns of the event loop');
  store.commit([{ node_id: 'd', boot_id: 'b', samples: [sample('d', 1, T0 + 9 * MINUTE_MS, 1)], events: [] }]);
  const outcome = await pass;

  assert.deepEqual(outcome, { rolled: 3 * 6, pruned: 3 * 6 * 12 + 20 + 20 });
  const rows = minuteRows(db);
  assert.equal(rows.length, 3 * 6);
  for (const r of rows) {
    const m = (r.minute_ms - T0) / MINUTE_MS;
    assert.ok(m >= 0 && m < 6, `minute ${m} of ${r.node_id} was being pruned`);
    assert.deepEqual([r.samples, r.cpu], [12, m]);
  }
  const raw = db.prepare(`SELECT node_id, COUNT(*) AS n, MIN(ts_ms) AS oldest FROM samples GROUP BY node_id`).all();
  assert.deepEqual(raw, [
    { node_id: 'a', n: 48, oldest: T0 + 6 * MINUTE_MS },
    { node_id: 'b', n: 48, oldest: T0 + 6 * MINUTE_MS },
    { node_id: 'c', n: 48, oldest: T0 + 6 * MINUTE_MS },
    { node_id: 'd', n: 1, oldest: T0 + 9 * MINUTE_MS },
  ]);
  assert.equal(db.prepare(`SELECT COUNT(*) FROM service_events`).pluck().get(), 1);
  // The store serves minute means before the oldest raw sample, raw after.
  const points = store.metrics('a', T0, T0 + 10 * MINUTE_MS);
  assert.deepEqual(
    [points.filter((p) => p.resolution === 'minute').length, points.filter((p) => p.resolution === 'raw').length],
    [6, 48],
  );
});

test('a pass stops at the next chunk once the store is closed', async (t) => {
  const { store, db } = await fixture(t);
  commitMinutes(store, 'a', 10, 12);
  let closed = false;
  const retention = createRetention(db, { isClosed: () => closed, chunkRows: 7 });
  const pass = retention.run(T0 + 10 * MINUTE_MS + HOUR, { rawHours: 1, minuteDays: 30 });
  // Closed at the first yield, after the first chunk.
  setImmediate(() => (closed = true));
  const outcome = await pass;
  assert.ok(outcome.pruned > 0 && outcome.pruned < 120, `stopped early (${outcome.pruned} pruned)`);
  const left = db.prepare(`SELECT COUNT(*) FROM samples`).pluck().get() as number;
  assert.equal(left + outcome.pruned, 120, 'what was pruned was pruned whole');
  // Whatever was pruned was rolled up first.
  const rolled = db.prepare(`SELECT COALESCE(SUM(samples), 0) FROM sample_minutes`).pluck().get() as number;
  assert.ok(rolled >= outcome.pruned);
});
