/**
 * The public API end to end on scripted servers: matrix → clients → prepare → cells → summaries
 * → decision → recommendation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createClient,
  decide,
  decisionCellFromResult,
  modelIdFor,
  parseMatrix,
  recommend,
  runCell,
  summarizeCell,
  type CellResult,
  type PrepareResult,
} from '../src/index.js';
import {
  json,
  ndjsonHead,
  ollamaChunk,
  ollamaDone,
  openaiChunk,
  sleep,
  sseData,
  sseHead,
  startScriptedServer,
  write,
  readyExoState,
} from './helpers/scripted-server.js';

const HF = 'mlx-community/Qwen2.5-3B-Instruct-4bit';

void test('matrix to recommendation: a slower cluster is shelved', async (t) => {
  // Single node: 5 ms per token. Cluster: 50 ms per token (a pipeline over the network). The wide
  // gap keeps the verdict stable even when timers run late on a loaded machine.
  const ollama = await startScriptedServer(async (_req, res) => {
    ndjsonHead(res);
    for (let i = 0; i < 6; i++) {
      await sleep(5);
      await write(res, ollamaChunk(`t${i}`));
    }
    res.end(ollamaDone({ eval_count: 6, eval_duration: 60_000_000 }));
  });
  t.after(() => ollama.close());
  const exo = await startScriptedServer(async (req, res) => {
    if (req.path === '/state') {
      return json(res, 200, readyExoState(HF));
    }
    sseHead(res);
    await write(res, ': keep-alive\n\n');
    for (let i = 0; i < 6; i++) {
      await sleep(50);
      await write(res, openaiChunk({ role: 'assistant', content: `t${i}` }, { object: 'chat.completion' }));
    }
    await write(res, sseData({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 } }));
    res.end(sseData('[DONE]'));
  });
  t.after(() => exo.close());

  const matrix = parseMatrix(`
name: pipeline
prompt: hi
max_tokens: 6
repetitions: 4
warmup: 1
targets:
  - { id: ollama-srv1, kind: ollama, url: "${ollama.url}", nodes: [srv1] }
  - { id: exo-cluster, kind: exo, url: "${exo.url}", nodes: [srv1, srv2] }
models:
  - { name: "qwen2.5:3b", exo: "${HF}" }
decision: { candidate: exo-cluster, baselines: [ollama-srv1] }
`);
  const model = matrix.models[0];
  assert.ok(model && matrix.decision);
  const cells: CellResult[] = [];
  const prepared = new Map<string, PrepareResult>();
  for (const target of matrix.targets) {
    const client = createClient(target, { exoPollIntervalMs: 10 });
    try {
      const modelId = modelIdFor(target, model);
      const prep = await client.prepare(modelId, { timeoutMs: matrix.exo_ready_timeout_s * 1000 });
      assert.equal(prep.ok, true, JSON.stringify(prep.error));
      prepared.set(target.id, prep);
      cells.push(
        await runCell({
          client,
          target: target.id,
          model: modelId,
          modelName: model.name,
          prompt: matrix.prompt,
          maxTokens: matrix.max_tokens,
          numCtx: matrix.num_ctx,
          concurrency: 1,
          repetitions: matrix.repetitions,
          warmup: matrix.warmup,
          uniquePromptPrefix: matrix.unique_prompt_prefix,
          requestTimeoutMs: matrix.request_timeout_s * 1000,
        }),
      );
    } finally {
      client.close();
    }
  }

  const summaries = cells.map((c) => summarizeCell(c));
  assert.ok(summaries.every((s) => s.success_rate === 1 && s.model === 'qwen2.5:3b'));
  const decision = decide({
    model: model.name,
    concurrency: 1,
    decision: matrix.decision,
    cells: cells.map(decisionCellFromResult),
    cluster_ok: prepared.get('exo-cluster')?.cluster_ok ?? null,
  });
  assert.equal(decision.baseline, 'ollama-srv1');
  assert.equal(decision.cluster_ok, true);
  assert.equal(decision.verdict, 'shelve', decision.reasons.join(' | '));
  assert.ok(decision.speedup !== null && decision.speedup < -0.2, String(decision.speedup));
  assert.equal(recommend([decision]).verdict, 'shelve');
});
