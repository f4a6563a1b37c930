/**
 * Opening the store: fresh files get the schema, and every way a database file can be unusable
 * (corrupt, read-only, locked, missing directory, newer schema, closed) gives one coded error that
 * names the file, with nothing written to it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import {
  LATEST_SCHEMA_VERSION,
  hostInfo,
  openBenchStore,
  parseMatrix,
  planCells,
  type BenchStore,
} from '../src/index.js';
import { cellRequestRecord } from './helpers/cell-request-record.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kage-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts `fn` throws a coded error naming `file`, without a driver stack in the message. */
function assertCoded(fn: () => unknown, code: string, file: string): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { code?: string; message?: string; hint?: string };
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.ok(e.message?.includes(file), `message names the file: ${e.message}`);
    assert.ok(!/\n\s+at /.test(e.message ?? ''), 'no stack trace in the message');
    assert.equal(typeof e.hint, 'string');
    return true;
  });
}

function open(t: TestContext, path: string, extra: { busyTimeoutMs?: number } = {}): BenchStore {
  const store = openBenchStore({ path, ...extra });
  t.after(() => store.close());
  return store;
}

void describe('store open', () => {
  void test('a new file gets the schema in WAL mode with foreign keys on', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'kage.db');
    open(t, file).close();
    const db = new Database(file, { readonly: true });
    t.after(() => db.close());
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const version = db.prepare(`SELECT version FROM kage_schema WHERE component = 'bench'`).pluck().get();
    assert.equal(version, LATEST_SCHEMA_VERSION);
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
    for (const name of ['cells', 'decisions', 'recommendations', 'requests', 'runs']) assert.ok(tables.includes(name));
    // Reopening an up-to-date file migrates nothing and keeps working.
    const again = open(t, file);
    assert.deepEqual(again.listRuns(), []);
    // Foreign keys are enforced on the store's connection.
    assert.throws(
      () => again.recordAttempt(999, 1, cellRequestRecord()),
      (e: unknown) => (e as { code?: string }).code === 'KAGE_ERR_DB_IO',
    );
  });

  void test('a version 1 file gains the cached-prompt column; its attempts read back with null', (t) => {
    const file = join(tempDir(t), 'kage.db');
    const first = openBenchStore({ path: file });
    const run = first.createRun(runInput());
    const cell = first.getCells(run.id)[0]!;
    first.beginCell(cell.id, { health_before: null });
    first.recordAttempt(cell.id, 1, cellRequestRecord());
    first.close();
    // Back to what a version 1 file looks like.
    const db = new Database(file);
    db.exec(`ALTER TABLE requests DROP COLUMN server_cached_prompt_tokens`);
    db.prepare(`UPDATE kage_schema SET version = 1 WHERE component = 'bench'`).run();
    db.close();

    const store = open(t, file);
    const [old] = store.getAttempts(cell.id);
    assert.equal(old?.server.cached_prompt_tokens, null);
    store.recordAttempt(
      cell.id,
      1,
      cellRequestRecord({ server: { ...cellRequestRecord().server, cached_prompt_tokens: 17 } }),
    );
    assert.deepEqual(
      store.getAttempts(cell.id).map((a) => a.server.cached_prompt_tokens),
      [null, 17],
    );
    const check = new Database(file, { readonly: true });
    t.after(() => check.close());
    assert.equal(check.prepare(`SELECT version FROM kage_schema WHERE component = 'bench'`).pluck().get(), 2);
  });

  void test('close is idempotent and later use is a coded error', (t) => {
    const file = join(tempDir(t), 'kage.db');
    const store = openBenchStore({ path: file });
    store.close();
    store.close();
    assertCoded(() => store.listRuns(), 'KAGE_ERR_DB_CLOSED', file);
  });

  void test('a corrupt file (random bytes) → KAGE_ERR_DB_CORRUPT, file untouched', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'kage.db');
    const bytes = randomBytes(16384);
    writeFileSync(file, bytes);
    assertCoded(() => openBenchStore({ path: file }), 'KAGE_ERR_DB_CORRUPT', file);
    assertCoded(() => openBenchStore({ path: file, readonly: true }), 'KAGE_ERR_DB_CORRUPT', file);
    assert.deepEqual(readFileSync(file), bytes, 'not a byte changed');
    assert.deepEqual(readdirSync(dir), ['kage.db'], 'no -wal / -shm left behind');
  });

  void test('a missing directory → KAGE_ERR_DB_OPEN', (t) => {
    const file = join(tempDir(t), 'no', 'such', 'kage.db');
    assertCoded(() => openBenchStore({ path: file }), 'KAGE_ERR_DB_OPEN', file);
  });

  void test('a read-only open of a missing or empty file → KAGE_ERR_DB_OPEN', (t) => {
    const dir = tempDir(t);
    assertCoded(() => openBenchStore({ path: join(dir, 'nope.db'), readonly: true }), 'KAGE_ERR_DB_OPEN', 'nope.db');
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    assertCoded(() => openBenchStore({ path: empty, readonly: true }), 'KAGE_ERR_DB_OPEN', empty);
  });

  void test('a file locked by another connection → KAGE_ERR_DB_LOCKED after the busy timeout', (t) => {
    const file = join(tempDir(t), 'kage.db');
    open(t, file).close();
    const other = new Database(file);
    t.after(() => other.close());
    other.exec('BEGIN EXCLUSIVE');
    other.exec(`INSERT INTO kage_schema (component, version, updated_at) VALUES ('other', 1, 'x')`);
    const before = readFileSync(file);
    const t0 = performance.now();
    assertCoded(() => openBenchStore({ path: file, busyTimeoutMs: 150 }), 'KAGE_ERR_DB_LOCKED', file);
    assert.ok(performance.now() - t0 >= 100, 'it waited for the lock before giving up');
    other.exec('ROLLBACK');
    assert.deepEqual(readFileSync(file), before);
    // Once the lock is gone the same file opens fine.
    open(t, file);
  });

  void test('a lock taken after open makes a write fail with KAGE_ERR_DB_LOCKED, not a stack trace', (t) => {
    const file = join(tempDir(t), 'kage.db');
    const store = open(t, file, { busyTimeoutMs: 100 });
    const other = new Database(file);
    t.after(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    assertCoded(() => store.createRun(runInput()), 'KAGE_ERR_DB_LOCKED', file);
    assert.deepEqual(store.listRuns(), [], 'readers are not blocked (WAL), and nothing was half-written');
    other.exec('ROLLBACK');
    store.createRun(runInput());
    assert.equal(store.listRuns().length, 1);
  });

  void test('a schema written by a newer kage → KAGE_ERR_DB_SCHEMA_NEWER, nothing changed', (t) => {
    const file = join(tempDir(t), 'kage.db');
    open(t, file).close();
    const db = new Database(file);
    db.prepare(`UPDATE kage_schema SET version = ? WHERE component = 'bench'`).run(LATEST_SCHEMA_VERSION + 1);
    db.close();
    assertCoded(() => openBenchStore({ path: file }), 'KAGE_ERR_DB_SCHEMA_NEWER', file);
    assertCoded(() => openBenchStore({ path: file, readonly: true }), 'KAGE_ERR_DB_SCHEMA_NEWER', file);
  });

  void test('a read-only open reads, and any write is KAGE_ERR_DB_READONLY', (t) => {
    const file = join(tempDir(t), 'kage.db');
    open(t, file).close();
    const ro = openBenchStore({ path: file, readonly: true });
    t.after(() => ro.close());
    assert.deepEqual(ro.listRuns(), []);
    assertCoded(() => ro.createRun(runInput()), 'KAGE_ERR_DB_READONLY', file);
  });

  void test('a chmod 0444 file → KAGE_ERR_DB_READONLY at open, file untouched', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'kage.db');
    open(t, file).close();
    chmodSync(file, 0o444);
    const before = readFileSync(file);
    if (process.getuid?.() !== 0) {
      assertCoded(() => openBenchStore({ path: file }), 'KAGE_ERR_DB_READONLY', file);
      assert.deepEqual(readFileSync(file), before);
      return;
    }
    // Root ignores file modes, so the open is tried by an unprivileged child (nobody) instead.
    chmodSync(dir, 0o755);
    const moduleUrl = new URL('../src/index.js', import.meta.url).href;
    const script = `import(${JSON.stringify(moduleUrl)}).then((m) => {
      try { m.openBenchStore({ path: ${JSON.stringify(file)} }); console.log('OPENED'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      timeout: 20_000,
    });
    const line = r.stdout?.trim().split('\n').pop() ?? '';
    if (r.error !== undefined || r.status !== 0 || !line.startsWith('{')) {
      t.skip(
        `running as root (chmod does not stop root's writes) and an unprivileged child could not run: ` +
          `${r.error?.message ?? r.stderr?.trim().slice(0, 200) ?? line}`,
      );
      return;
    }
    const got = JSON.parse(line) as { code: string; message: string };
    assert.equal(got.code, 'KAGE_ERR_DB_READONLY', got.message);
    assert.ok(got.message.includes(file));
    assert.deepEqual(readFileSync(file), before);
  });
});

function runInput() {
  const matrix = parseMatrix(
    'name: m\nprompt: p\ntargets: [{ id: a, kind: ollama, url: "http://127.0.0.1:1" }]\nmodels: [{ name: x }]\n',
  );
  return { matrix, plan: planCells(matrix), host: hostInfo() };
}
