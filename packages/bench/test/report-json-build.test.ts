/**
 * The report JSON (docs/benchmarks.md) built from a stored run: exact field names, `null` baseline
 * and ratio fields where no baseline ran, JSON-safe numbers, `latest`, unknown ids, and `listRuns`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import {
  REPORT_SCHEMA,
  buildReport,
  createClient,
  listRuns,
  openBenchStore,
  parseMatrix,
  runMatrix,
  type BenchStore,
} from '../src/index.js';
import {
  json,
  openaiChunk,
  refusedPort,
  sleep,
  sseData,
  sseHead,
  startScriptedServer,
  write,
  readyExoState,
} from './helpers/scripted-server.js';

const HF = 'mlx-community/Llama-3.3-70B-Instruct-4bit';

function tempStore(t: TestContext): BenchStore {
  const dir = mkdtempSync(join(tmpdir(), 'kage-report-'));
  const store = openBenchStore({ path: join(dir, 'kage.db') });
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const keys = (o: object): string[] => Object.keys(o).sort();

void describe('buildReport', () => {
  void test('a cluster-only run: documented field names, null baseline fields, JSON-safe', async (t) => {
    const exo = await startScriptedServer(async (req, res) => {
      if (req.path === '/node_id') return json(res, 200, 'n1');
      if (req.path === '/state') {
        return json(res, 200, readyExoState(HF));
      }
      sseHead(res);
      for (let i = 0; i < 3; i++) {
        await sleep(3);
        await write(res, openaiChunk({ role: 'assistant', content: `t${i}` }, { object: 'chat.completion' }));
      }
      await write(res, sseData({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } }));
      res.end(sseData('[DONE]'));
    });
    t.after(() => exo.close());
    const dead = await refusedPort();
    const matrix = parseMatrix(`
name: big-model
prompt: hi
repetitions: 2
warmup: 0
targets:
  - { id: ollama-rog, kind: ollama, url: "http://127.0.0.1:${dead}" }
  - { id: exo-cluster, kind: exo, url: "${exo.url}", nodes: [srv1, srv2] }
models:
  - { name: "llama3.3:70b", exo: "${HF}" }
decision: { candidate: exo-cluster, baselines: [ollama-rog] }
`);
    const store = tempStore(t);
    const out = await runMatrix({
      matrix,
      store,
      createClient: (target, o) => createClient(target, { ...o, exoPollIntervalMs: 10 }),
    });
    const report = buildReport(store, 'latest');
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'plain JSON: no undefined, NaN or Infinity');

    assert.deepEqual(keys(report), ['cells', 'decisions', 'recommendation', 'run', 'schema']);
    assert.equal(report.schema, REPORT_SCHEMA);
    assert.equal(report.schema, 'kage.report/v1');
    assert.deepEqual(keys(report.run), ['error', 'finished_at', 'id', 'name', 'prompt_policy', 'started_at', 'status']);
    assert.equal(report.run.prompt_policy, 'unique_prefix', 'the default policy');
    assert.equal(report.run.id, out.runId);
    assert.equal(report.run.status, 'completed');
    assert.ok(!Number.isNaN(Date.parse(report.run.started_at)));
    assert.ok(report.run.finished_at !== null && !Number.isNaN(Date.parse(report.run.finished_at)));

    assert.equal(report.cells.length, 2);
    for (const c of report.cells) {
      assert.deepEqual(keys(c), [
        'aggregate_tps',
        'attempts',
        'cached_prompt_tokens',
        'concurrency',
        'decode_tps',
        'e2e_ms',
        'error',
        'failures',
        'model',
        'ollama_health',
        'output_tokens',
        'status',
        'success_rate',
        'successes',
        'target',
        'ttft_ms',
      ]);
      assert.deepEqual(keys(c.decode_tps), ['ci95', 'mean', 'median']);
      assert.deepEqual(keys(c.ttft_ms), ['ci95', 'median', 'p90']); // documented, plus the extra CI for the chart
      assert.deepEqual(keys(c.e2e_ms), ['median']);
      assert.deepEqual(keys(c.output_tokens), ['median']);
    }
    const [down, cluster] = report.cells;
    assert.equal(down?.status, 'failed');
    assert.equal(down?.attempts, 0);
    assert.equal(down?.success_rate, 0);
    assert.deepEqual(down?.decode_tps, { median: null, mean: null, ci95: null });
    assert.match(down?.error ?? '', /^KAGE_ERR_TARGET_UNREACHABLE: /);
    assert.deepEqual(down?.ollama_health, { before: false, after: false });
    assert.equal(cluster?.model, 'llama3.3:70b', 'the matrix model name, not the Hugging Face id');
    assert.equal(cluster?.attempts, 2);
    assert.equal(cluster?.successes, 2);
    assert.equal(cluster?.success_rate, 1);
    assert.equal(cluster?.output_tokens.median, 3);
    assert.ok((cluster?.decode_tps.median ?? 0) > 0);
    assert.ok(cluster?.decode_tps.ci95 !== null);
    assert.equal(cluster?.ollama_health, null);
    assert.deepEqual(cluster?.failures, {});

    assert.equal(report.decisions.length, 1);
    const d = report.decisions[0];
    assert.ok(d);
    assert.deepEqual(keys(d), [
      'aggregate_speedup',
      'baseline',
      'candidate',
      'cluster_ok',
      'concurrency',
      'model',
      'reasons',
      'speedup',
      'speedup_ci95',
      'success_ok',
      'ttft_ok',
      'ttft_ratio',
      'verdict',
    ]);
    assert.equal(d.verdict, 'cluster-only');
    assert.equal(d.candidate, 'exo-cluster');
    assert.equal(d.baseline, null);
    assert.equal(d.speedup, null);
    assert.equal(d.speedup_ci95, null);
    assert.equal(d.ttft_ratio, null);
    assert.equal(d.ttft_ok, null);
    assert.equal(d.aggregate_speedup, null);
    assert.equal(d.success_ok, true);
    assert.equal(d.cluster_ok, true);

    assert.ok(report.recommendation !== null);
    assert.deepEqual(keys(report.recommendation), ['reasons', 'verdict']);
    assert.equal(report.recommendation.verdict, 'cluster-only');
    assert.ok(report.recommendation.reasons.length > 0);

    const list = listRuns(store);
    assert.equal(list.length, 1);
    assert.deepEqual(list[0], {
      id: out.runId,
      name: 'big-model',
      status: 'completed',
      started_at: report.run.started_at,
      finished_at: report.run.finished_at,
      cells_total: 2,
      cells_done: 2,
      cells_failed: 1,
      verdict: 'cluster-only',
    });
  });

  void test('an unknown run id → KAGE_ERR_RUN_NOT_FOUND; an empty store has no latest', (t) => {
    const store = tempStore(t);
    assert.throws(() => buildReport(store, 'latest'), { code: 'KAGE_ERR_RUN_NOT_FOUND' });
    assert.throws(
      () => buildReport(store, '01J0000000000000000000000Z'),
      (e: unknown) => {
        const err = e as { code?: string; message?: string };
        assert.equal(err.code, 'KAGE_ERR_RUN_NOT_FOUND');
        assert.match(err.message ?? '', /01J0000000000000000000000Z/);
        return true;
      },
    );
    assert.deepEqual(listRuns(store), []);
  });

  void test('an unfinished run reports the cells that ran, no decisions, no recommendation', (t) => {
    const store = tempStore(t);
    const matrix = parseMatrix(`
name: partial
prompt: hi
targets: [{ id: a, kind: openai, url: "http://127.0.0.1:1" }]
models: [{ name: m }]
concurrency: [1, 2]
`);
    const run = store.createRun({
      matrix,
      plan: [
        { model: 'm', model_id: 'm', target: 'a', target_kind: 'openai', concurrency: 1 },
        { model: 'm', model_id: 'm', target: 'a', target_kind: 'openai', concurrency: 2 },
      ],
      host: { ...hostStub },
    });
    const first = store.getCells(run.id)[0];
    assert.ok(first);
    store.beginCell(first.id, {});
    store.finishCell(first.id, { status: 'interrupted' });
    store.setRunStatus(run.id, 'interrupted', { error: 'interrupted (signal)' });
    const report = buildReport(store, run.id);
    assert.equal(report.run.status, 'interrupted');
    assert.equal(report.run.error, 'interrupted (signal)');
    assert.deepEqual(
      report.cells.map((c) => [c.concurrency, c.status]),
      [[1, 'interrupted']],
    );
    assert.deepEqual(report.decisions, []);
    assert.equal(report.recommendation, null);
  });
});

const hostStub = {
  hostname: 'h',
  platform: 'linux',
  release: '6',
  arch: 'x64',
  cpu_model: 'cpu',
  cpu_cores: 2,
  total_memory_bytes: 1,
  node_version: 'v20',
};
