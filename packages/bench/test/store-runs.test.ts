/**
 * The store's run lifecycle on a real file: runs with their planned cells, attempts round-tripped
 * column by column (token offsets exact), retries superseding earlier attempts, the outcome stored
 * atomically, run ids, and crashed runs recognised by their dead owner process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { hostInfo, isRunId, newRunId, openBenchStore, parseMatrix, planCells, type BenchStore } from '../src/index.js';
import { cellRequestRecord } from './helpers/cell-request-record.js';

const MATRIX = parseMatrix(`
name: store-test
prompt: hello
repetitions: 2
warmup: 1
concurrency: [1, 2]
targets:
  - { id: ollama-a, kind: ollama, url: "http://127.0.0.1:1" }
  - { id: exo-c, kind: exo, url: "http://127.0.0.1:2", nodes: [n1, n2] }
models:
  - { name: "qwen2.5:3b", exo: "mlx-community/Qwen2.5-3B-Instruct-4bit" }
decision: { candidate: exo-c, baselines: [ollama-a] }
`);

function tempStore(t: TestContext): { store: BenchStore; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kage-store-'));
  const file = join(dir, 'kage.db');
  const store = openBenchStore({ path: file });
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, file };
}

void describe('store runs', () => {
  void test('a run is created with every planned cell pending, in plan order', (t) => {
    const { store } = tempStore(t);
    const run = store.createRun({ matrix: MATRIX, plan: planCells(MATRIX), host: hostInfo() });
    assert.ok(isRunId(run.id));
    assert.equal(run.status, 'running');
    assert.equal(run.name, 'store-test');
    assert.deepEqual(run.matrix, JSON.parse(JSON.stringify(MATRIX)));
    assert.equal(run.owner?.pid, process.pid);
    const cells = store.getCells(run.id);
    assert.deepEqual(
      cells.map((c) => [c.ordinal, c.target, c.concurrency, c.model_id, c.status]),
      [
        [0, 'ollama-a', 1, 'qwen2.5:3b', 'pending'],
        [1, 'ollama-a', 2, 'qwen2.5:3b', 'pending'],
        [2, 'exo-c', 1, 'mlx-community/Qwen2.5-3B-Instruct-4bit', 'pending'],
        [3, 'exo-c', 2, 'mlx-community/Qwen2.5-3B-Instruct-4bit', 'pending'],
      ],
    );
  });

  void test('attempts round-trip every field, in completion order; a retry supersedes them', (t) => {
    const { store, file } = tempStore(t);
    const run = store.createRun({ matrix: MATRIX, plan: planCells(MATRIX), host: hostInfo() });
    const cell = store.getCells(run.id)[0];
    assert.ok(cell);
    const try1 = store.beginCell(cell.id, { health_before: null });
    assert.equal(try1, 1);
    const ok = cellRequestRecord();
    const failed = cellRequestRecord({
      success: false,
      ttft_ms: null,
      ttfo_ms: null,
      e2e_ms: null,
      decode_tps: null,
      output_tokens: 0,
      output_tokens_source: 'events',
      output_tokens_approx: true,
      server_output_tokens: null,
      token_offsets_ms: [],
      error: { kind: 'http_status', message: 'model "x" not found', status: 404 },
      index: 4,
    });
    const warm = cellRequestRecord({ phase: 'warmup', index: 0, client: 0 });
    store.recordAttempt(cell.id, try1, warm);
    store.recordAttempt(cell.id, try1, ok);
    store.recordAttempt(cell.id, try1, failed);

    // Each attempt is committed on its own: another connection sees all three right away.
    const peek = new Database(file, { readonly: true });
    t.after(() => peek.close());
    assert.equal(peek.prepare(`SELECT count(*) FROM requests`).pluck().get(), 3);

    const got = store.getAttempts(cell.id);
    assert.equal(got.length, 3);
    const strip = ({ id: _i, cell_id: _c, try: _t, superseded: _s, ...rest }: (typeof got)[number]) => rest;
    assert.deepEqual(got.map(strip), [warm, ok, failed]);
    assert.deepEqual(
      store.getAttempts(cell.id, { phase: 'measured' }).map((a) => a.index),
      [3, 4],
    );

    // Restarting the cell (a resume) keeps the old attempts as superseded evidence.
    const try2 = store.beginCell(cell.id, { health_before: null });
    assert.equal(try2, 2);
    assert.deepEqual(store.getAttempts(cell.id), []);
    const all = store.getAttempts(cell.id, { includeSuperseded: true });
    assert.equal(all.length, 3);
    assert.ok(all.every((a) => a.superseded && a.try === 1));
    store.recordAttempt(cell.id, try2, ok);
    assert.deepEqual(
      store.getAttempts(cell.id).map((a) => [a.try, a.superseded]),
      [[2, false]],
    );
    assert.equal(store.getCells(run.id)[0]?.tries, 2);
  });

  void test('finishing cells and completing the run stores decisions and the recommendation', (t) => {
    const { store } = tempStore(t);
    const run = store.createRun({ matrix: MATRIX, plan: planCells(MATRIX), host: hostInfo() });
    const [c0, c1] = store.getCells(run.id);
    assert.ok(c0 && c1);
    store.beginCell(c0.id, { health_before: null });
    store.finishCell(c0.id, { status: 'completed', attempts: 2, successes: 1, success_rate: 0.5, aggregate_tps: 10 });
    store.beginCell(c1.id, { health_before: null });
    store.finishCell(c1.id, { status: 'failed', error: { code: 'KAGE_ERR_TARGET_UNREACHABLE', message: 'down' } });
    const cells = store.getCells(run.id);
    assert.equal(cells[0]?.status, 'completed');
    assert.equal(cells[0]?.success_rate, 0.5);
    assert.deepEqual(cells[1]?.error, { code: 'KAGE_ERR_TARGET_UNREACHABLE', message: 'down' });

    const listed = store.listRuns()[0];
    assert.equal(listed?.cells_total, 4);
    assert.equal(listed?.cells_done, 2);
    assert.equal(listed?.cells_failed, 1);
    assert.equal(listed?.verdict, null);

    store.completeRun(run.id, [], { verdict: 'failed', reasons: ['r1'] });
    assert.equal(store.getRun(run.id).status, 'completed');
    assert.ok(store.getRun(run.id).finished_at !== null);
    assert.deepEqual(store.getRecommendation(run.id), { verdict: 'failed', reasons: ['r1'] });
    assert.equal(store.listRuns()[0]?.verdict, 'failed');
  });

  void test('run ids sort by time; latest and lower-case ids resolve; unknown ids are coded', (t) => {
    const { store } = tempStore(t);
    const ids = [newRunId(1000), newRunId(1000), newRunId(2000)];
    assert.deepEqual([...ids].sort(), ids, 'ULIDs made in the same ms still increase');
    const a = store.createRun({ matrix: MATRIX, plan: [], host: hostInfo() });
    const b = store.createRun({ matrix: MATRIX, plan: [], host: hostInfo() });
    assert.equal(store.resolveRunId('latest'), b.id);
    assert.equal(store.resolveRunId(a.id.toLowerCase()), a.id);
    assert.deepEqual(
      store.listRuns().map((r) => r.id),
      [b.id, a.id],
    );
    assert.throws(
      () => store.getRun('01NOPE'),
      (e: unknown) => (e as { code?: string }).code === 'KAGE_ERR_RUN_NOT_FOUND',
    );
  });

  void test('latest in an empty store is KAGE_ERR_RUN_NOT_FOUND', (t) => {
    const { store } = tempStore(t);
    assert.throws(
      () => store.resolveRunId('latest'),
      (e: unknown) => (e as { code?: string }).code === 'KAGE_ERR_RUN_NOT_FOUND',
    );
  });

  void test('a run whose owner process died is reaped as interrupted; a live one is not', (t) => {
    const { store, file } = tempStore(t);
    const live = store.createRun({ matrix: MATRIX, plan: [], host: hostInfo() });
    const dead = store.createRun({ matrix: MATRIX, plan: [], host: hostInfo() });
    // A pid that certainly ended: a child that already exited.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    assert.ok(gone !== undefined);
    const db = new Database(file);
    db.prepare(`UPDATE runs SET owner_pid = ? WHERE id = ?`).run(gone, dead.id);
    db.close();
    assert.deepEqual(store.reapStaleRuns(), [dead.id]);
    assert.equal(store.getRun(dead.id).status, 'interrupted');
    assert.match(store.getRun(dead.id).error ?? '', /crash or kill/);
    assert.equal(store.getRun(live.id).status, 'running');
  });
});
