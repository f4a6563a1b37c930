import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { createIngestBatcher } from '../src/ingest/ingest-batcher.js';
import type { SampleRow } from '../src/store/sample-row.js';
import { openTelemetryStore, type CommitOutcome } from '../src/store/telemetry-store.js';

const log = pino({ level: 'silent' });

function sample(node: string, seq: number, ts: number, cpu: number | null = 10): SampleRow {
  return {
    node_id: node,
    ts_ms: ts,
    seq,
    cpu_pct: cpu,
    mem_used_bytes: 100 * seq,
    mem_total_bytes: 1000,
    gpu_busy_pct: null,
    gpu_mem_used_bytes: null,
    gpu_mem_total_bytes: null,
    gpus: [],
    services: [],
  };
}

async function tempStore(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'kage-coord-store-'));
  const store = openTelemetryStore({ path: join(dir, 'kage.db'), log });
  t.after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, store };
}

test('records at or below the (node, boot) high-water mark are dropped, across batches and boots', async (t) => {
  const { store } = await tempStore(t);
  const [a] = store.commit([
    { node_id: 'srv1', boot_id: 'b1', samples: [1, 2, 3].map((s) => sample('srv1', s, 1000 * s)), events: [] },
  ]);
  assert.equal(a?.last_seq, 3);
  // A replay overlapping what is held, then the same seqs under a new boot id (a reboot).
  const [b, c] = store.commit([
    { node_id: 'srv1', boot_id: 'b1', samples: [2, 3, 4].map((s) => sample('srv1', s, 1000 * s)), events: [] },
    { node_id: 'srv1', boot_id: 'b2', samples: [1].map((s) => sample('srv1', s, 9000)), events: [] },
  ]);
  assert.deepEqual([b?.duplicates, b?.samples.map((s) => s.seq), b?.last_seq], [2, [4], 4]);
  assert.deepEqual([c?.duplicates, c?.last_seq], [0, 1]);
  assert.equal(store.lastSeq('srv1', 'b1'), 4);
  assert.equal(store.metrics('srv1', 0, 10_000).length, 5);
});

test('the batcher commits once per window and acknowledges only after the commit', async (t) => {
  const { store } = await tempStore(t);
  const acked: number[] = [];
  const batcher = createIngestBatcher({ store, log, maxDelayMs: 10_000, maxRows: 3 });
  t.after(() => batcher.close());
  const push = (seq: number): void =>
    batcher.enqueue({
      node_id: 'srv1',
      boot_id: 'b',
      samples: [sample('srv1', seq, seq * 1000)],
      events: [],
      onCommitted: (o: CommitOutcome) => acked.push(o.last_seq),
      onFailed: (err) => assert.fail(err),
    });
  push(1);
  push(2);
  assert.deepEqual(acked, [], 'nothing acknowledged before the commit');
  assert.equal(batcher.pendingRows(), 2);
  push(3); // reaches maxRows: commits now
  assert.deepEqual(acked, [1, 2, 3]);
  assert.equal(batcher.stats().commits, 1);
});

test('a failed commit acknowledges nothing and keeps the high-water mark where it was', async (t) => {
  const { dir, store } = await tempStore(t);
  store.commit([{ node_id: 'srv1', boot_id: 'b', samples: [sample('srv1', 1, 1000)], events: [] }]);
  // Make the database unwritable under the open connection: a second connection holds the lock.
  const Database = (await import('better-sqlite3')).default;
  const other = new Database(join(dir, 'kage.db'), { timeout: 0 });
  other.prepare('BEGIN IMMEDIATE').run();
  const failures: string[] = [];
  const acked: number[] = [];
  const batcher = createIngestBatcher({ store, log, maxDelayMs: 10_000, maxRows: 1 });
  batcher.enqueue({
    node_id: 'srv1',
    boot_id: 'b',
    samples: [sample('srv1', 2, 2000)],
    events: [],
    onCommitted: (o) => acked.push(o.last_seq),
    onFailed: (err) => failures.push((err as { code?: string }).code ?? err.message),
  });
  other.prepare('ROLLBACK').run();
  other.close();
  assert.deepEqual(acked, []);
  assert.equal(failures.length, 1);
  assert.match(failures[0] ?? '', /KAGE_ERR_DB_LOCKED/);
  assert.equal(store.lastSeq('srv1', 'b'), 1, 'the mark did not move');
  assert.equal(batcher.stats().commit_failures, 1);
  batcher.close();
});

test('minute means are computed from raw samples, and raw samples past retention are dropped', async (t) => {
  const { store } = await tempStore(t);
  const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);
  store.commit([
    {
      node_id: 'srv1',
      boot_id: 'b',
      samples: [sample('srv1', 1, t0 + 1000, 10), sample('srv1', 2, t0 + 2000, 30), sample('srv1', 3, t0 + 61_000, 50)],
      events: [],
    },
  ]);
  // Two hours later with 1 h of raw retention: every raw sample goes, the minutes stay.
  await store.rollupAndPrune(t0 + 2 * 3_600_000, { rawHours: 1, minuteDays: 30 });
  const points = store.metrics('srv1', t0, t0 + 120_000);
  assert.deepEqual(
    points.map((p) => [p.ts, p.cpu_pct, p.resolution]),
    [
      [new Date(t0).toISOString(), 20, 'minute'],
      [new Date(t0 + 60_000).toISOString(), 50, 'minute'],
    ],
  );
});

test('a second coordinator on the same database is refused, naming the holder, and writes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kage-coord-store-'));
  const file = join(dir, 'kage.db');
  const holder = openTelemetryStore({ path: file, log, lease: { staleAfterMs: 15_000 } });
  t.after(async () => {
    holder.close();
    await rm(dir, { recursive: true, force: true });
  });
  const Database = (await import('better-sqlite3')).default;
  const peek = new Database(file, { readonly: true });
  t.after(() => peek.close());
  const snapshot = (): unknown => ({
    schema: peek.prepare(`SELECT component, version, updated_at FROM kage_schema ORDER BY component`).all(),
    lease: peek.prepare(`SELECT * FROM coordinator_lease`).all(),
    objects: peek.prepare(`SELECT type, name FROM sqlite_master ORDER BY name`).all(),
  });
  const before = snapshot();
  // Same host and a live pid that is not ours: the second store believes it is another process.
  const realPid = process.pid;
  Object.defineProperty(process, 'pid', { value: realPid + 1, configurable: true });
  try {
    assert.throws(
      () => openTelemetryStore({ path: file, log, lease: { staleAfterMs: 15_000 } }),
      (err: Error & { code?: string }) =>
        err.code === 'KAGE_ERR_COORDINATOR_DB_IN_USE' &&
        new RegExp(`in use by another coordinator \\(process ${realPid} on `).test(err.message),
    );
  } finally {
    Object.defineProperty(process, 'pid', { value: realPid, configurable: true });
  }
  assert.deepEqual(snapshot(), before, 'the refused open changed nothing');
});
