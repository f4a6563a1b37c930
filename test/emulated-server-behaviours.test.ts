/**
 * The benchmark against the server behaviours that move its numbers, end to end through the
 * emulators over real sockets: prompt caches (a repeated prompt's TTFT collapses; the default
 * unique prefix keeps full prefill), EXO model downloads before a placement (progress, and never
 * in a TTFT), and Ollama's /v1 error after streaming started (a failed request, not a short one).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  buildReport,
  openBenchStore,
  runMatrix,
  validateMatrix,
  type BenchStore,
  type KageReport,
  type RunEvent,
} from '@kage/bench';
import type { RunningEmulator } from '@kage/emulators';
import { startExoCluster, startOllama } from './src/emulated-lab.js';

const OLLAMA_MODEL = 'qwen2.5:3b';
const EXO_MODEL = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
/** Long enough that prefill dominates TTFT (about 420 prompt tokens), short enough to keep the test quick. */
const LONG_PROMPT = `Review this module and list every bug you find.\n${'def f(x):\n    return x * 2  # doubles x\n'.repeat(40)}`;

async function tempStore(t: TestContext): Promise<BenchStore> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-server-behaviours-'));
  const store = openBenchStore({ path: join(dir, 'kage.db') });
  t.after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

function closeAll(t: TestContext, emulators: RunningEmulator[]): void {
  t.after(() => Promise.all(emulators.map((e) => e.close())).then(() => undefined));
}

async function run(
  store: BenchStore,
  matrix: Record<string, unknown>,
  onEvent?: (e: RunEvent) => void,
): Promise<KageReport> {
  const outcome = await runMatrix({ store, matrix: validateMatrix(matrix), ...(onEvent ? { onEvent } : {}) });
  assert.equal(outcome.status, 'completed', outcome.error ?? '');
  return buildReport(store, outcome.runId);
}

function matrix(targets: object[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'server-behaviours',
    prompt: LONG_PROMPT,
    max_tokens: 4,
    repetitions: 3,
    warmup: 1,
    num_ctx: 4096,
    temperature: 0,
    seed: 1,
    targets,
    models: [{ name: OLLAMA_MODEL, exo: EXO_MODEL }],
    ...extra,
  };
}

test('prompt caches: a repeated prompt skips its prefill on Ollama and EXO; the default unique prefix does not', async (t) => {
  // The 8060S node: Ollama prefills on its GPU, EXO (CPU only on Linux) on its 16 cores.
  const ollama = await startOllama('strix-halo-8060s-32gb');
  const exo = await startExoCluster([{ name: 'srv1', profile: 'strix-halo-8060s-32gb' }]);
  closeAll(t, [ollama, ...exo]);
  const targets = [
    { id: 'ollama', kind: 'ollama', url: ollama.url, nodes: ['srv1'] },
    { id: 'exo', kind: 'exo', url: exo[0]!.url, nodes: ['srv1'] },
  ];
  const store = await tempStore(t);
  const unique = await run(store, matrix(targets));
  const same = await run(store, matrix(targets, { unique_prompt_prefix: false }));

  assert.equal(unique.run.prompt_policy, 'unique_prefix');
  assert.equal(same.run.prompt_policy, 'same_prompt');
  const cell = (r: KageReport, target: string) => r.cells.find((c) => c.target === target)!;
  for (const target of ['ollama', 'exo']) {
    const full = cell(unique, target).ttft_ms.median!;
    const cached = cell(same, target).ttft_ms.median!;
    assert.ok(cached * 3 < full, `${target}: repeated prompt TTFT ${cached} ms vs full prefill ${full} ms`);
  }
  // EXO says what it took from its cache; Ollama gives no count.
  const exoPrompt = cell(same, 'exo');
  assert.equal(cell(same, 'ollama').cached_prompt_tokens, null);
  const repeated = exoPrompt.cached_prompt_tokens?.median ?? 0;
  assert.ok(repeated > 300, `a repeated prompt is nearly all cached on EXO (${repeated} tokens)`);
  const fresh = cell(unique, 'exo').cached_prompt_tokens?.median ?? Infinity;
  assert.ok(fresh < 64, `with a unique prefix only the chat template can be cached (${fresh} tokens)`);
});

test('EXO downloads the model to a node without it: progress per node during preparation, none of it in TTFT', async (t) => {
  // rog has none of the files and a 4 Gbit/s link: the 1.9 GB model takes about 4 s to arrive.
  const exo = await startExoCluster([
    { name: 'srv1', profile: 'cpu-server-ddr4' },
    { name: 'srv2', profile: 'cpu-server-ddr4' },
    { name: 'rog', profile: 'strix-halo-8060s-32gb', extra: { downloadedModels: [], downloadRateMbps: 4000 } },
  ]);
  closeAll(t, exo);
  const store = await tempStore(t);
  const prepares: { phase: string; message: string; elapsedMs: number }[] = [];
  const report = await run(
    store,
    matrix([{ id: 'exo-cluster', kind: 'exo', url: exo[0]!.url, nodes: ['srv1', 'srv2', 'rog'] }], {
      prompt: 'Write a haiku about caches.',
    }),
    (e) => {
      if (e.type === 'prepare') prepares.push({ ...e.progress });
    },
  );
  const downloading = prepares.filter((p) => p.phase === 'downloading');
  assert.ok(downloading.length > 0, `phases: ${[...new Set(prepares.map((p) => p.phase))].join(', ')}`);
  assert.ok(
    downloading.some((p) => /rog \d+\.\d+\/\d+\.\d+ GB \(\d+ %\) at \d+\.\d MB\/s/.test(p.message)),
    downloading.map((p) => p.message).join('\n'),
  );
  assert.ok(
    downloading.every((p) => !/srv1|srv2/.test(p.message)),
    'only the node without the files downloads',
  );
  const downloadMs = downloading.at(-1)!.elapsedMs - downloading[0]!.elapsedMs;
  assert.ok(downloadMs > 1500, `the download took a while (${downloadMs} ms)`);
  const cell = report.cells[0]!;
  assert.equal(cell.successes, 3);
  assert.ok(cell.ttft_ms.median! < downloadMs, `TTFT ${cell.ttft_ms.median} ms holds no download time`);
});

test("Ollama's /v1 error after streaming started is a failed request (cut stream), never a short success", async (t) => {
  const ollama = await startOllama('cpu-server-ddr4', { errorAfterTokens: 2 });
  closeAll(t, [ollama]);
  const store = await tempStore(t);
  const report = await run(
    store,
    matrix([{ id: 'ollama-v1', kind: 'openai', url: ollama.url }], { prompt: 'hi', max_tokens: 8 }),
  );
  const cell = report.cells[0]!;
  assert.equal(cell.successes, 0);
  assert.equal(cell.success_rate, 0);
  assert.deepEqual(cell.failures, { stream_cut: 3 });
  const attempts = store.getAttempts(store.getCells(report.run.id)[0]!.id);
  assert.ok(attempts.length > 0);
  for (const a of attempts) {
    assert.match(a.error?.message ?? '', /empty "model".*Ollama's \/v1 reports an error/);
    assert.equal(a.client_token_events, 2, 'the tokens before the error were received');
  }
});
