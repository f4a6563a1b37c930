/**
 * Run orchestration end to end against scripted in-process servers (an Ollama node, an EXO
 * cluster, a dead address) and a real SQLite file: every attempt committed as it ends, Ollama
 * health before and after each cell, an unreachable target failing only its cells, interruption
 * by signal and by a crash, and a resume that redoes only the unfinished cell. Also what a
 * coordinator plugs in: its own request sender, the measured window of each cell, and the runs it
 * keeps active.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import {
  ActiveRuns,
  RUN_CANCEL_REASON,
  buildReport,
  createClient,
  hostInfo,
  openBenchStore,
  parseMatrix,
  resumeRun,
  runMatrix,
  type BenchStore,
  type CellMeasuredWindow,
  type KageReport,
  type Matrix,
  type RunEvent,
  type RunMatrixOptions,
  type SendRequest,
} from '../src/index.js';
import {
  json,
  ndjsonHead,
  ollamaChunk,
  ollamaDone,
  openaiChunk,
  refusedPort,
  sleep,
  sseData,
  sseHead,
  startScriptedServer,
  write,
  type ScriptedServer,
  readyExoState,
} from './helpers/scripted-server.js';

const HF = 'mlx-community/Qwen2.5-3B-Instruct-4bit';

interface FakeOllama extends ScriptedServer {
  chats: () => number;
  /** What `GET /` answers from now on. */
  setHealthy: (ok: boolean) => void;
}

/** An Ollama node: `GET /` liveness, `/api/chat` streaming 4 tokens `tokenMs` apart. */
async function fakeOllama(t: TestContext, o: { tokenMs?: number; unhealthyAfterChats?: number } = {}) {
  let chats = 0;
  let healthy = true;
  const server = await startScriptedServer(async (req, res) => {
    if (req.method === 'GET' && req.path === '/') {
      if (!healthy) return json(res, 503, { error: 'server busy' });
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Ollama is running');
      return;
    }
    chats += 1;
    if (o.unhealthyAfterChats !== undefined && chats >= o.unhealthyAfterChats) healthy = false;
    ndjsonHead(res);
    for (let i = 0; i < 4; i++) {
      await sleep(o.tokenMs ?? 3);
      await write(res, ollamaChunk(`t${i}`));
    }
    res.end(ollamaDone({ eval_count: 4, eval_duration: 12_000_000 }));
  });
  t.after(() => server.close());
  const fake: FakeOllama = { ...server, chats: () => chats, setHealthy: (ok) => (healthy = ok) };
  return fake;
}

/** An EXO cluster of srv1+srv2 with the model already placed and ready; tokens `tokenMs` apart. */
async function fakeExo(t: TestContext, o: { tokenMs?: number } = {}) {
  let chats = 0;
  const server = await startScriptedServer(async (req, res) => {
    if (req.path === '/node_id') return json(res, 200, 'n1');
    if (req.path === '/state') {
      return json(res, 200, readyExoState(HF));
    }
    chats += 1;
    sseHead(res);
    for (let i = 0; i < 4; i++) {
      await sleep(o.tokenMs ?? 12);
      await write(res, openaiChunk({ role: 'assistant', content: `t${i}` }, { object: 'chat.completion' }));
    }
    await write(res, sseData({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }));
    res.end(sseData('[DONE]'));
  });
  t.after(() => server.close());
  return { ...server, chats: () => chats };
}

function matrixFor(targets: string, extra = ''): Matrix {
  return parseMatrix(`
name: orchestration
prompt: hi
max_tokens: 4
repetitions: 3
warmup: 1
concurrency: [1, 2]
targets:
${targets}
models:
  - { name: "qwen2.5:3b", exo: "${HF}" }
decision: { candidate: exo-cluster, baselines: [ollama-a, ollama-down] }
${extra}`);
}

function tempStore(t: TestContext): { store: BenchStore; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kage-run-'));
  const file = join(dir, 'kage.db');
  const store = openBenchStore({ path: file });
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, file };
}

const fastClients: RunMatrixOptions['createClient'] = (target, options) =>
  createClient(target, { ...options, exoPollIntervalMs: 10 });

/** Keys and value types of a report, with ids, times and measured numbers blanked out. */
function shape(report: KageReport): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, walk(x)]),
      );
    }
    return v === null ? null : typeof v;
  };
  return walk(report);
}

void describe('runMatrix', () => {
  void test('runs every cell in order, stores every attempt, records Ollama health, survives a dead target', async (t) => {
    const ollama = await fakeOllama(t);
    const exo = await fakeExo(t);
    const dead = await refusedPort();
    const matrix = matrixFor(`
  - { id: ollama-a, kind: ollama, url: "${ollama.url}" }
  - { id: ollama-down, kind: ollama, url: "http://127.0.0.1:${dead}" }
  - { id: exo-cluster, kind: exo, url: "${exo.url}", nodes: [srv1, srv2] }`);
    const { store, file } = tempStore(t);
    const events: RunEvent[] = [];
    const outcome = await runMatrix({ matrix, store, createClient: fastClients, onEvent: (e) => events.push(e) });

    assert.equal(outcome.status, 'completed');
    assert.deepEqual(outcome.cells, { total: 6, completed: 4, failed: 2, pending: 0 });
    const run = store.getRun(outcome.runId);
    assert.equal(run.status, 'completed');
    assert.ok(run.finished_at !== null);

    // Order: all targets of the model, each target's concurrency levels together.
    const cells = store.getCells(outcome.runId);
    assert.deepEqual(
      cells.map((c) => `${c.target}@${c.concurrency}:${c.status}`),
      [
        'ollama-a@1:completed',
        'ollama-a@2:completed',
        'ollama-down@1:failed',
        'ollama-down@2:failed',
        'exo-cluster@1:completed',
        'exo-cluster@2:completed',
      ],
    );
    // The dead target fails with its reason; the run went on.
    const down = cells[2];
    assert.equal(down?.error?.code, 'KAGE_ERR_TARGET_UNREACHABLE');
    assert.match(down?.error?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${dead}`));
    assert.equal(down?.health_before?.reachable, false);
    assert.equal(down?.health_after?.healthy, false, 'checked again after the cell');

    // Ollama health recorded before and after each of its cells; EXO has none.
    for (const c of cells.filter((x) => x.target === 'ollama-a')) {
      assert.equal(c.health_before?.healthy, true);
      assert.equal(c.health_after?.healthy, true);
      assert.match(c.health_before?.detail ?? '', /Ollama is running/);
    }
    assert.equal(cells[4]?.health_after, null);
    assert.equal(cells[4]?.prepare?.cluster_ok, true);

    // Every attempt is a row: 1 warm-up + 3 measured per completed cell, and nothing else.
    const db = new Database(file, { readonly: true });
    t.after(() => db.close());
    const perCell = db
      .prepare(
        `SELECT c.ordinal, count(r.id) AS n, sum(r.warmup) AS w FROM cells c LEFT JOIN requests r ON r.cell_id = c.id GROUP BY c.id ORDER BY c.ordinal`,
      )
      .all() as Array<{ ordinal: number; n: number; w: number | null }>;
    assert.deepEqual(
      perCell.map((r) => [r.n, r.w ?? 0]),
      [
        [4, 1],
        [4, 1],
        [0, 0],
        [0, 0],
        [4, 1],
        [4, 1],
      ],
    );
    assert.equal(ollama.chats(), 8);
    assert.equal(exo.chats(), 8);

    // Events: run-start first (with the id), cells 0..5 of 6, request-done per attempt, run-end last.
    assert.equal(events[0]?.type, 'run-start');
    assert.equal(events.at(-1)?.type, 'run-end');
    const starts = events.filter((e) => e.type === 'cell-start');
    assert.deepEqual(
      starts.map((e) => (e.type === 'cell-start' ? `${e.index}/${e.total}` : '')),
      ['0/6', '1/6', '2/6', '3/6', '4/6', '5/6'],
    );
    const done = events.filter((e) => e.type === 'request-done');
    assert.equal(done.length, 16);
    const lastEnd = events.filter((e) => e.type === 'cell-end').at(-1);
    assert.ok(lastEnd?.type === 'cell-end');
    assert.equal(lastEnd.requests_done, lastEnd.requests_total, 'ETA inputs reach 100 %, skipped cells included');
    assert.equal(lastEnd.requests_total, 24);

    // Decisions: the live baseline is chosen, the dead one ignored; the cluster is slower here.
    const report = buildReport(store, 'latest');
    assert.equal(report.decisions.length, 2);
    for (const d of report.decisions) {
      assert.equal(d.baseline, 'ollama-a');
      assert.equal(d.cluster_ok, true);
      assert.equal(d.success_ok, true);
      assert.ok(d.speedup !== null && d.speedup < 0, String(d.speedup));
    }
    assert.ok(report.recommendation !== null);
    const rc = report.cells.find((c) => c.target === 'ollama-a' && c.concurrency === 1);
    assert.deepEqual(rc?.ollama_health, { before: true, after: true });
    assert.equal(rc?.attempts, 3);
    assert.equal(rc?.success_rate, 1);
  });

  void test('Ollama unhealthy before a cell fails it without a request; unhealthy after is recorded', async (t) => {
    const sick = await fakeOllama(t);
    sick.setHealthy(false);
    const worsening = await fakeOllama(t, { unhealthyAfterChats: 3 });
    const exo = await fakeExo(t, { tokenMs: 2 });
    const matrix = parseMatrix(`
name: health
prompt: hi
max_tokens: 4
repetitions: 3
warmup: 1
targets:
  - { id: ollama-a, kind: ollama, url: "${worsening.url}" }
  - { id: ollama-down, kind: ollama, url: "${sick.url}" }
  - { id: exo-cluster, kind: exo, url: "${exo.url}", nodes: [srv1, srv2] }
models:
  - { name: "qwen2.5:3b", exo: "${HF}" }
decision: { candidate: exo-cluster, baselines: [ollama-a, ollama-down] }
`);
    const { store } = tempStore(t);
    const outcome = await runMatrix({ matrix, store, createClient: fastClients });
    assert.equal(outcome.status, 'completed');
    const cells = store.getCells(outcome.runId);
    assert.equal(cells[0]?.health_before?.healthy, true);
    assert.equal(cells[0]?.health_after?.healthy, false, 'Ollama went unhealthy during the cell');
    assert.equal(cells[0]?.health_after?.status, 503);
    assert.equal(cells[1]?.status, 'failed');
    assert.equal(cells[1]?.error?.code, 'KAGE_ERR_OLLAMA_UNHEALTHY');
    assert.equal(sick.chats(), 0, 'no benchmark traffic to an unhealthy Ollama');
    const report = buildReport(store, outcome.runId);
    assert.deepEqual(report.cells[0]?.ollama_health, { before: true, after: false });
    assert.deepEqual(report.cells[1]?.ollama_health, { before: false, after: false });
    assert.match(report.cells[1]?.error ?? '', /^KAGE_ERR_OLLAMA_UNHEALTHY: /);
  });

  void test('Ctrl-C mid-cell → interrupted with attempts committed; resume redoes only that cell', async (t) => {
    const ollama = await fakeOllama(t);
    const exo = await fakeExo(t);
    const dead = await refusedPort();
    const targets = `
  - { id: ollama-a, kind: ollama, url: "${ollama.url}" }
  - { id: ollama-down, kind: ollama, url: "http://127.0.0.1:${dead}" }
  - { id: exo-cluster, kind: exo, url: "${exo.url}", nodes: [srv1, srv2] }`;
    const matrix = matrixFor(targets);
    const { store, file } = tempStore(t);
    const ac = new AbortController();
    let committedAtAbort = -1;
    const peek = new Database(file, { readonly: true });
    t.after(() => peek.close());
    const first = await runMatrix({
      matrix,
      store,
      signal: ac.signal,
      createClient: fastClients,
      onEvent: (e) => {
        // Abort inside the first EXO cell, after its warm-up and first measured request.
        if (e.type === 'request-done' && e.index === 4 && e.record.phase === 'measured' && !ac.signal.aborted) {
          committedAtAbort = peek
            .prepare(`SELECT count(*) FROM requests r JOIN cells c ON c.id = r.cell_id WHERE c.ordinal = 4`)
            .pluck()
            .get() as number;
          ac.abort();
        }
      },
    });
    assert.equal(first.status, 'interrupted');
    assert.equal(committedAtAbort, 2, 'each attempt was visible to another connection as soon as it ended');
    assert.equal(store.getRun(first.runId).status, 'interrupted');
    const mid = store.getCells(first.runId);
    assert.deepEqual(
      mid.map((c) => c.status),
      ['completed', 'completed', 'failed', 'failed', 'interrupted', 'pending'],
    );
    assert.equal(buildReport(store, first.runId).recommendation, null);
    const ollamaChats = ollama.chats();
    const attemptsBefore = store.getAttempts(mid[4]?.id ?? -1).length;
    assert.ok(attemptsBefore >= 2);

    const events: RunEvent[] = [];
    const second = await resumeRun({
      runId: first.runId,
      store,
      createClient: fastClients,
      onEvent: (e) => events.push(e),
    });
    assert.equal(second.status, 'completed');
    assert.equal(ollama.chats(), ollamaChats, 'finished Ollama cells were not redone');
    const start = events[0];
    assert.ok(start?.type === 'run-start' && start.resumed);
    assert.equal(start.cells_done, 4);
    assert.deepEqual(
      events.filter((e) => e.type === 'cell-start').map((e) => (e.type === 'cell-start' ? e.index : -1)),
      [4, 5],
    );
    const after = store.getCells(first.runId);
    assert.ok(after.every((c) => c.status === 'completed' || c.status === 'failed'));
    assert.equal(after[4]?.tries, 2);
    assert.equal(store.getAttempts(after[4]?.id ?? -1).length, 4, 'the redone cell has exactly one full set');
    const all = store.getAttempts(after[4]?.id ?? -1, { includeSuperseded: true });
    assert.equal(all.filter((a) => a.superseded).length, attemptsBefore, 'old attempts kept, superseded');

    // The resumed run's report has the same shape as a clean run's.
    const clean = tempStore(t);
    const cleanRun = await runMatrix({ matrix, store: clean.store, createClient: fastClients });
    const resumedReport = buildReport(store, first.runId);
    const cleanReport = buildReport(clean.store, cleanRun.runId);
    assert.deepEqual(shape(resumedReport), shape(cleanReport));
    assert.deepEqual(
      resumedReport.cells.map((c) => [c.target, c.concurrency, c.attempts, c.successes, c.status]),
      cleanReport.cells.map((c) => [c.target, c.concurrency, c.attempts, c.successes, c.status]),
    );
    assert.deepEqual(
      resumedReport.decisions.map((d) => [d.baseline, d.success_ok, d.cluster_ok]),
      cleanReport.decisions.map((d) => [d.baseline, d.success_ok, d.cluster_ok]),
    );

    // A completed run cannot be resumed; an unknown one is not found.
    await assert.rejects(resumeRun({ runId: first.runId, store }), { code: 'KAGE_ERR_RUN_NOT_RESUMABLE' });
    await assert.rejects(resumeRun({ runId: '01J0000000000000000000000Z', store }), {
      code: 'KAGE_ERR_RUN_NOT_FOUND',
    });
  });

  void test('a cancel reason ends the run as cancelled, before any cell if already aborted', async (t) => {
    const ollama = await fakeOllama(t);
    const matrix = parseMatrix(`
name: cancel
prompt: hi
targets: [{ id: ollama-a, kind: ollama, url: "${ollama.url}" }]
models: [{ name: "qwen2.5:3b" }]
`);
    const { store } = tempStore(t);
    const ac = new AbortController();
    ac.abort(RUN_CANCEL_REASON);
    const out = await runMatrix({ matrix, store, signal: ac.signal });
    assert.equal(out.status, 'cancelled');
    assert.equal(ollama.chats(), 0);
    assert.equal(store.getRun(out.runId).error, 'cancelled by the user');
    // A cancelled run can still be finished on purpose.
    const done = await resumeRun({ runId: out.runId, store });
    assert.equal(done.status, 'completed');
    assert.equal(done.recommendation?.verdict, 'inconclusive', 'no decision block: nothing to compare');
  });

  void test('a crash (exception) leaves the run interrupted and resumable', async (t) => {
    const ollama = await fakeOllama(t);
    const exo = await fakeExo(t, { tokenMs: 2 });
    const matrix = matrixFor(`
  - { id: ollama-a, kind: ollama, url: "${ollama.url}" }
  - { id: ollama-down, kind: ollama, url: "${ollama.url}" }
  - { id: exo-cluster, kind: exo, url: "${exo.url}", nodes: [srv1, srv2] }`);
    const { store } = tempStore(t);
    const boom: RunMatrixOptions['createClient'] = (target, options) => {
      if (target.kind === 'exo') throw new Error('client factory exploded');
      return createClient(target, options);
    };
    await assert.rejects(runMatrix({ matrix, store, createClient: boom }), /client factory exploded/);
    const id = store.resolveRunId('latest');
    const run = store.getRun(id);
    assert.equal(run.status, 'interrupted');
    assert.match(run.error ?? '', /client factory exploded/);
    const resumed = await resumeRun({ runId: 'latest', store, createClient: fastClients });
    assert.equal(resumed.status, 'completed');
    assert.deepEqual(resumed.cells, { total: 6, completed: 6, failed: 0, pending: 0 });
  });

  void test('a database failure mid-cell stops the run with a coded error; the run is recoverable', async (t) => {
    const ollama = await fakeOllama(t);
    const matrix = parseMatrix(`
name: locked
prompt: hi
repetitions: 4
warmup: 0
targets: [{ id: ollama-a, kind: ollama, url: "${ollama.url}" }]
models: [{ name: "qwen2.5:3b" }]
`);
    const dir = mkdtempSync(join(tmpdir(), 'kage-run-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'kage.db');
    const store = openBenchStore({ path: file, busyTimeoutMs: 50 });
    t.after(() => store.close());
    const locker = new Database(file);
    t.after(() => locker.close());
    let locked = false;
    await assert.rejects(
      runMatrix({
        matrix,
        store,
        onEvent: (e) => {
          if (e.type === 'request-done' && !locked) {
            locked = true;
            locker.exec('BEGIN IMMEDIATE'); // another process grabs the write lock and keeps it
          }
        },
      }),
      { code: 'KAGE_ERR_DB_LOCKED' },
    );
    locker.exec('ROLLBACK');
    const id = store.resolveRunId('latest');
    const cell = store.getCells(id)[0];
    assert.equal(store.getAttempts(cell?.id ?? -1).length, 1, 'the attempt before the failure is kept');
    // The run could not be marked while locked; the next start in this process recognises it.
    assert.ok(['interrupted', 'running'].includes(store.getRun(id).status));
    const resumed = await resumeRun({ runId: id, store });
    assert.equal(resumed.status, 'completed');
    assert.equal(store.getAttempts(store.getCells(id)[0]?.id ?? -1).length, 4);
  });
});

void describe('runMatrix: what a caller plugs in', () => {
  const twoTargets = (ollamaUrl: string, exoUrl: string): Matrix =>
    parseMatrix(`
name: injected
prompt: hi
max_tokens: 4
repetitions: 3
warmup: 1
concurrency: [1, 2]
targets:
  - { id: ollama-a, kind: ollama, url: "${ollamaUrl}" }
  - { id: exo-cluster, kind: exo, url: "${exoUrl}", nodes: [srv1, srv2] }
models:
  - { name: "qwen2.5:3b", exo: "${HF}" }
decision: { candidate: exo-cluster, baselines: [ollama-a] }
`);

  void test('requests go through sendRequest; EXO preparation and health checks stay here', async (t) => {
    const ollama = await fakeOllama(t);
    const exo = await fakeExo(t, { tokenMs: 2 });
    const matrix = twoTargets(ollama.url, exo.url);
    const { store } = tempStore(t);

    // The clients the run builds may prepare but must not send; the sender has clients of its own.
    const local: string[] = [];
    const createLocal: RunMatrixOptions['createClient'] = (target, options) => {
      const c = fastClients(target, options);
      return {
        kind: c.kind,
        url: c.url,
        prepare: (model, o) => {
          local.push(`prepare ${target.id}`);
          return c.prepare(model, o);
        },
        chat: (request) => {
          local.push(`chat ${target.id}`);
          return c.chat(request);
        },
        close: () => c.close(),
      };
    };
    const remote = new Map<string, ReturnType<typeof createClient>>();
    t.after(() => {
      for (const c of remote.values()) c.close();
    });
    const sent: string[] = [];
    const sendRequest: SendRequest = (target, request, signal) => {
      assert.equal(signal, request.signal);
      sent.push(`${target.id} ${request.model}`);
      let c = remote.get(target.id);
      if (c === undefined) remote.set(target.id, (c = createClient(target)));
      return c.chat(request);
    };
    const order: string[] = [];
    const windows: CellMeasuredWindow[] = [];
    const wallBefore = Date.now();
    const outcome = await runMatrix({
      matrix,
      store,
      createClient: createLocal,
      sendRequest,
      onCellMeasured: (w) => {
        windows.push(w);
        order.push(`window ${w.cell.index}`);
      },
      onEvent: (e) => {
        if (e.type === 'cell-end') order.push(`cell-end ${e.index}`);
      },
    });
    const wallAfter = Date.now();

    assert.equal(outcome.status, 'completed');
    assert.deepEqual(outcome.cells, { total: 4, completed: 4, failed: 0, pending: 0 });
    assert.equal(sent.length, 16, '4 cells × (1 warm-up + 3 measured)');
    assert.equal(sent.filter((x) => x === `exo-cluster ${HF}`).length, 8, 'EXO gets the Hugging Face id');
    assert.deepEqual(local, ['prepare exo-cluster'], 'one preparation for both concurrency levels, no request');
    assert.equal(ollama.chats(), 8);
    assert.equal(exo.chats(), 8);
    const cells = store.getCells(outcome.runId);
    assert.ok(cells.filter((c) => c.target === 'ollama-a').every((c) => c.health_after?.healthy === true));
    assert.equal(store.getAttempts(cells[0]?.id ?? -1).length, 4, 'attempts from the sender are stored');

    // One window per cell, reported before that cell's cell-end, on the wall clock, cells in sequence.
    assert.deepEqual(order, [
      'window 0',
      'cell-end 0',
      'window 1',
      'cell-end 1',
      'window 2',
      'cell-end 2',
      'window 3',
      'cell-end 3',
    ]);
    let previousEnd = wallBefore - 2;
    for (const w of windows) {
      assert.ok(w.result.window_ms !== null);
      assert.ok(Math.abs(w.finished_at_ms - w.started_at_ms - w.result.window_ms) < 0.01, 'the window is window_ms');
      assert.ok(w.started_at_ms >= previousEnd - 2, `cell ${w.cell.index} starts after the one before ends`);
      assert.ok(w.finished_at_ms <= wallAfter + 2);
      assert.equal(w.result.attempts, 3);
      previousEnd = w.finished_at_ms;
    }
  });

  void test('a sender that rejects stops the run with its error, nothing after it stored; resume finishes', async (t) => {
    const ollama = await fakeOllama(t);
    const matrix = parseMatrix(`
name: broken-sender
prompt: hi
repetitions: 4
warmup: 0
targets: [{ id: ollama-a, kind: ollama, url: "${ollama.url}" }]
models: [{ name: "qwen2.5:3b" }]
`);
    const { store } = tempStore(t);
    const target = matrix.targets[0];
    assert.ok(target);
    const client = createClient(target);
    t.after(() => client.close());
    let calls = 0;
    const sendRequest: SendRequest = (_target, request) => {
      calls += 1;
      if (calls === 3) return Promise.reject(new Error('sender exploded'));
      return client.chat(request);
    };
    const measured: CellMeasuredWindow[] = [];
    await assert.rejects(
      runMatrix({ matrix, store, sendRequest, onCellMeasured: (w) => measured.push(w) }),
      /sender exploded/,
    );
    assert.equal(calls, 3, 'no request after the failure');
    const id = store.resolveRunId('latest');
    assert.equal(store.getRun(id).status, 'interrupted');
    assert.match(store.getRun(id).error ?? '', /sender exploded/);
    assert.equal(store.getAttempts(store.getCells(id)[0]?.id ?? -1).length, 2);
    assert.deepEqual(measured, [], 'a cell that did not end is not reported');

    const resumed = await resumeRun({ runId: id, store });
    assert.equal(resumed.status, 'completed');
    assert.equal(store.getAttempts(store.getCells(id)[0]?.id ?? -1).length, 4);
  });

  void test("runs listed in the caller's ActiveRuns are live; by default this process's leftovers are reaped", async (t) => {
    const ollama = await fakeOllama(t);
    const matrix = parseMatrix(`
name: registry
prompt: hi
repetitions: 1
warmup: 0
targets: [{ id: ollama-a, kind: ollama, url: "${ollama.url}" }]
models: [{ name: "qwen2.5:3b" }]
`);
    const { store } = tempStore(t);
    // Another run of this process, still going as far as the store can tell.
    const other = store.createRun({ matrix, plan: [], host: hostInfo() });
    const active = new ActiveRuns();
    active.add(other.id);
    let listedWhileRunning = false;
    const out = await runMatrix({
      matrix,
      store,
      activeRuns: active,
      onEvent: (e) => {
        if (e.type === 'cell-start') listedWhileRunning = active.has(e.run_id);
      },
    });
    assert.equal(out.status, 'completed');
    assert.ok(listedWhileRunning, 'the run is listed while it executes');
    assert.deepEqual(active.ids(), [other.id], 'and unlisted when it ends');
    assert.equal(store.getRun(other.id).status, 'running', 'a listed run is not taken for a leftover');

    // Without a registry of its own, a call counts only its own run as live here.
    await runMatrix({ matrix, store });
    assert.equal(store.getRun(other.id).status, 'interrupted');
  });
});
