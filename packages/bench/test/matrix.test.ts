import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  loadMatrix,
  loadMatrixChecked,
  MatrixInvalidError,
  parseMatrix,
  parseMatrixChecked,
  validateMatrix,
  validateMatrixChecked,
  type MatrixProblem,
} from '../src/index.js';

const VALID = `name: exo-phase1-poc
prompt: "Write a Python function that implements binary search."
max_tokens: 256
repetitions: 5
warmup: 1
concurrency: [1, 2]
targets:
  - { id: ollama-srv1, kind: ollama, url: "http://100.77.248.9:11434/",  nodes: [srv1] }
  - { id: ollama-rog,  kind: ollama, url: "http://100.93.122.109:11434", nodes: [rog] }
  - { id: exo-cluster, kind: exo,    url: "http://100.77.248.9:52415",   nodes: [srv1, srv2, rog] }
models:
  - { name: "qwen2.5:3b",        exo: "mlx-community/Qwen2.5-3B-Instruct-4bit" }
  - { name: "qwen2.5-coder:32b", exo: "mlx-community/Qwen2.5-Coder-32B-Instruct-4bit" }
decision:
  candidate: exo-cluster
  baselines: [ollama-srv1, ollama-rog]
  go_speedup: 0.30
  evaluate_speedup: 0.10
  max_ttft_ratio: 2.0
`;

/** Parses `text` and returns the problems it must be rejected with. */
function problemsOf(text: string, file = 'bad.yaml'): MatrixProblem[] {
  try {
    parseMatrix(text, { file });
  } catch (err) {
    assert.ok(err instanceof MatrixInvalidError, `expected MatrixInvalidError, got ${String(err)}`);
    assert.equal(err.code, 'KAGE_ERR_MATRIX_INVALID');
    assert.equal(err.problems.length > 0, true);
    for (const p of err.problems) assert.ok(err.message.includes(p.reason), 'message lists every reason');
    return [...err.problems];
  }
  assert.fail('matrix was accepted');
}

/** Finds the one problem at `path` and checks its reason and line. */
function expectProblem(problems: MatrixProblem[], path: string, reason: RegExp, line?: number): MatrixProblem {
  const p = problems.find((x) => x.path === path);
  assert.ok(p, `no problem at ${path}; got ${problems.map((x) => `${x.path}: ${x.reason}`).join(' | ')}`);
  assert.match(p.reason, reason);
  if (line !== undefined) assert.equal(p.line, line, `line of ${path}`);
  return p;
}

/** Replaces one line of VALID (1-based). */
function withLine(n: number, replacement: string): string {
  const lines = VALID.split('\n');
  lines[n - 1] = replacement;
  return lines.join('\n');
}

void describe('matrix: valid files', () => {
  void test('a full example matrix parses, with defaults and normalised URLs', () => {
    const m = parseMatrix(VALID, { file: 'm.yaml' });
    assert.equal(m.name, 'exo-phase1-poc');
    assert.deepEqual(m.concurrency, [1, 2]);
    assert.equal(m.targets.length, 3);
    assert.equal(m.targets[0]?.url, 'http://100.77.248.9:11434');
    assert.deepEqual(m.targets[2]?.nodes, ['srv1', 'srv2', 'rog']);
    assert.equal(m.models[0]?.exo, 'mlx-community/Qwen2.5-3B-Instruct-4bit');
    assert.deepEqual(m.decision, {
      candidate: 'exo-cluster',
      baselines: ['ollama-srv1', 'ollama-rog'],
      go_speedup: 0.3,
      evaluate_speedup: 0.1,
      max_ttft_ratio: 2,
    });
    // extras default
    assert.equal(m.num_ctx, 4096);
    assert.equal(m.temperature, null);
    assert.equal(m.seed, null);
    assert.equal(m.unique_prompt_prefix, true);
    assert.equal(m.request_timeout_s, 300);
    assert.equal(m.exo_ready_timeout_s, 1800);
    assert.ok(Object.isFrozen(m) && Object.isFrozen(m.targets[0]), 'deep-frozen');
  });

  void test('JSON gives the same matrix as YAML', () => {
    const yaml = parseMatrix(VALID);
    const json = parseMatrix(JSON.stringify(validateMatrix(yaml), null, '\t'), { file: 'm.json' });
    assert.deepEqual(json, yaml);
  });

  void test('minimal file: defaults, scalar concurrency, extras, no decision', () => {
    const m = parseMatrix(
      [
        'name: x',
        'prompt: hi',
        'concurrency: 4',
        'num_ctx: 8192',
        'temperature: 0',
        'seed: 7',
        'unique_prompt_prefix: false',
        'request_timeout_s: 60',
        'exo_ready_timeout_s: 600',
        'targets: [{ id: a, kind: openai, url: "https://example.test/base/" }]',
        'models: [{ name: m }]',
      ].join('\n'),
    );
    assert.deepEqual(m.concurrency, [4]);
    assert.equal(m.max_tokens, 256);
    assert.equal(m.repetitions, 5);
    assert.equal(m.warmup, 1);
    assert.equal(m.decision, null);
    assert.equal(m.targets[0]?.url, 'https://example.test/base');
    assert.deepEqual(m.targets[0]?.nodes, []);
    assert.equal(m.models[0]?.exo, null);
    assert.equal(m.num_ctx, 8192);
    assert.equal(m.temperature, 0);
    assert.equal(m.seed, 7);
    assert.equal(m.unique_prompt_prefix, false);
    assert.equal(m.request_timeout_s, 60);
    assert.equal(m.exo_ready_timeout_s, 600);
  });
});

void describe('matrix: warnings about what the numbers will mean', () => {
  void test('num_ctx unset with an Ollama target is a warning naming the targets and the context sent', () => {
    const { matrix, warnings } = parseMatrixChecked(VALID, { file: 'seed.yaml' });
    assert.equal(matrix.num_ctx, 4096, 'still pinned to the default');
    assert.equal(warnings.length, 1);
    const w = warnings[0]!;
    assert.equal(w.file, 'seed.yaml');
    assert.equal(w.path, '');
    assert.equal(w.line, null, 'a missing key has no line');
    assert.match(w.reason, /^num_ctx is not set: every Ollama request \(ollama-srv1, ollama-rog\) asks for 4096/);
    assert.match(w.reason, /4096, 32768 or 262144/);

    assert.deepEqual(parseMatrixChecked(`num_ctx: 8192\n${VALID}`).warnings, [], 'set: no warning');
    const openaiOnly = [
      'name: x',
      'prompt: hi',
      'targets: [{ id: a, kind: openai, url: "https://example.test" }]',
      'models: [{ name: m }]',
    ].join('\n');
    assert.deepEqual(parseMatrixChecked(openaiOnly).warnings, [], 'no Ollama target: num_ctx is never sent');
  });

  void test('unique_prompt_prefix: false warns that TTFT measures a cached prefill, at its line', () => {
    const { warnings } = parseMatrixChecked(`num_ctx: 4096\nunique_prompt_prefix: false\n${VALID}`, { file: 'm.yaml' });
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.path, 'unique_prompt_prefix');
    assert.equal(warnings[0]?.line, 2);
    assert.match(warnings[0]?.reason ?? '', /prompt cache and TTFT measures a cached prefill/);
  });

  void test('REST bodies and files give the same warnings; the unchecked readers return the same matrix', async (t) => {
    const body = validateMatrix(parseMatrix(VALID)) as unknown as Record<string, unknown>;
    const { num_ctx: _pinned, ...withoutCtx } = body;
    const checked = validateMatrixChecked(withoutCtx);
    assert.equal(checked.warnings.length, 1);
    assert.equal(checked.warnings[0]?.line, null, 'a REST body has no lines');
    const dir = await mkdtemp(join(tmpdir(), 'kage-matrix-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'm.yaml');
    await writeFile(file, VALID);
    const fromFile = await loadMatrixChecked(file);
    assert.equal(fromFile.warnings[0]?.file, file);
    assert.deepEqual(fromFile.matrix, await loadMatrix(file));
  });
});

void describe('matrix: every rejection names file, key path, line and reason', () => {
  void test('unknown key at the top level and inside a target', () => {
    const problems = problemsOf(
      withLine(8, '  - { id: ollama-srv1, kind: ollama, url: "http://100.77.248.9:11434", nodes: [srv1], port: 1 }') +
        'retries: 3\n',
    );
    expectProblem(problems, 'targets[0].port', /unknown key/, 8);
    expectProblem(problems, 'retries', /unknown key/, 20);
    assert.ok(problems.every((p) => p.file === 'bad.yaml'));
  });

  void test('wrong types', () => {
    const problems = problemsOf(withLine(4, 'repetitions: five').replace('warmup: 1', 'warmup: -1'));
    expectProblem(problems, 'repetitions', /integer.*"five"/, 4);
    expectProblem(problems, 'warmup', /greater or equal to 0/, 5);
  });

  void test('missing required key', () => {
    const problems = problemsOf(withLine(2, ''));
    expectProblem(problems, 'prompt', /required key is missing/);
  });

  void test('concurrency must be positive and distinct', () => {
    expectProblem(problemsOf(withLine(6, 'concurrency: [1, 0]')), 'concurrency', /positive integers/, 6);
    expectProblem(problemsOf(withLine(6, 'concurrency: [2, 2]')), 'concurrency', /distinct/, 6);
  });

  void test('duplicate target ids', () => {
    const problems = problemsOf(
      withLine(9, '  - { id: ollama-srv1, kind: ollama, url: "http://100.93.122.109:11434" }'),
    );
    expectProblem(problems, 'targets[1].id', /duplicate target id "ollama-srv1" \(first used by targets\[0\]\)/, 9);
  });

  void test('bad URLs: scheme, unparsable, query', () => {
    const a = problemsOf(withLine(9, '  - { id: ollama-rog, kind: ollama, url: "ftp://10.0.0.1:11434" }'));
    expectProblem(a, 'targets[1].url', /must use http or https, not ftp/, 9);
    const b = problemsOf(withLine(9, '  - { id: ollama-rog, kind: ollama, url: "not a url" }'));
    expectProblem(b, 'targets[1].url', /not a valid URL/, 9);
    const c = problemsOf(withLine(9, '  - { id: ollama-rog, kind: ollama, url: "http://h:1/?x=1" }'));
    expectProblem(c, 'targets[1].url', /query or a fragment/, 9);
    // A common slip with OpenAI-compatible servers: the base URL already ends in /v1.
    const d = problemsOf(withLine(9, '  - { id: ollama-rog, kind: openai, url: "http://h:8000/v1" }'));
    expectProblem(d, 'targets[1].url', /root URL, without the trailing \/v1/, 9);
  });

  void test('kind not in ollama|exo|openai', () => {
    const problems = problemsOf(withLine(9, '  - { id: ollama-rog, kind: vllm, url: "http://h:1" }'));
    expectProblem(problems, 'targets[1].kind', /must be one of ollama\|exo\|openai/, 9);
  });

  void test('an exo target needs an exo alias on every model, and nodes', () => {
    const problems = problemsOf(
      withLine(13, '  - { name: "qwen2.5-coder:32b" }').replace('nodes: [srv1, srv2, rog] ', ''),
    );
    expectProblem(problems, 'models[1].exo', /"exo-cluster".*Hugging Face id of "qwen2.5-coder:32b"/, 13);
    expectProblem(problems, 'targets[2].nodes', /required for kind exo/, 10);
  });

  void test('exo alias must be a Hugging Face repo id; duplicate models', () => {
    const problems = problemsOf(withLine(13, '  - { name: "qwen2.5:3b", exo: "qwen2.5:32b" }'));
    expectProblem(problems, 'models[1].exo', /not a Hugging Face repo id/, 13);
    expectProblem(problems, 'models[1].name', /duplicate model "qwen2.5:3b"/, 13);
  });

  void test('decision naming unknown targets, or the candidate as a baseline', () => {
    const a = problemsOf(
      withLine(15, '  candidate: exo-big').replace('[ollama-srv1, ollama-rog]', '[ollama-srv1, ollama-x]'),
    );
    expectProblem(
      a,
      'decision.candidate',
      /unknown target "exo-big" \(known: ollama-srv1, ollama-rog, exo-cluster\)/,
      15,
    );
    expectProblem(a, 'decision.baselines[1]', /unknown target "ollama-x"/, 16);
    const b = problemsOf(withLine(16, '  baselines: [ollama-srv1, exo-cluster]'));
    expectProblem(b, 'decision.baselines[1]', /is the candidate/, 16);
  });

  void test('thresholds out of order', () => {
    const a = problemsOf(withLine(18, '  evaluate_speedup: 0.40'));
    expectProblem(
      a,
      'decision.evaluate_speedup',
      /out of order: evaluate_speedup \(0.4\) must be below go_speedup \(0.3\)/,
      18,
    );
    const b = problemsOf(withLine(18, '').replace('go_speedup: 0.30', 'go_speedup: 0.05'));
    expectProblem(b, 'decision.go_speedup', /out of order/, 17);
    expectProblem(problemsOf(withLine(19, '  max_ttft_ratio: 0')), 'decision.max_ttft_ratio', /greater than 0/, 19);
  });

  void test('all problems are reported at once, in line order', () => {
    const text = VALID.replace('repetitions: 5', 'repetitions: 0')
      .replace('kind: exo,   ', 'kind: exox,  ')
      .replace('"http://100.93.122.109:11434"', '"gopher://x"')
      .replace('candidate: exo-cluster', 'candidate: nope')
      .replace('max_tokens: 256', 'max_tokens: 256\nbogus: true');
    const problems = problemsOf(text, 'all.yaml');
    const paths = problems.map((p) => p.path);
    for (const path of ['bogus', 'repetitions', 'targets[1].url', 'targets[2].kind', 'decision.candidate']) {
      assert.ok(paths.includes(path), `missing ${path} in ${paths.join(', ')}`);
    }
    const lines = problems.map((p) => p.line ?? 0);
    assert.deepEqual(
      lines,
      [...lines].sort((x, y) => x - y),
    );
    try {
      parseMatrix(text, { file: 'all.yaml' });
    } catch (err) {
      assert.ok(err instanceof MatrixInvalidError);
      assert.match(err.message, /^invalid matrix all\.yaml \(\d+ problems\):/);
      assert.match(err.message, /all\.yaml:4:\d+: bogus: unknown key/);
    }
  });

  void test('YAML syntax errors and duplicate keys carry lines', () => {
    expectProblem(problemsOf('name: a\nname: b\n'), '', /syntax: Map keys must be unique/, 2);
    const p = problemsOf('name: a\ntargets: [1, 2\n');
    assert.ok(p[0]?.reason.startsWith('YAML syntax:'));
    assert.equal(typeof p[0]?.line, 'number');
  });

  void test('empty file and non-mapping top level', () => {
    expectProblem(problemsOf(''), '', /empty/);
    expectProblem(problemsOf('- a\n- b\n'), '', /mapping/);
  });

  void test('validateMatrix on an object (REST body): key paths without lines', () => {
    try {
      validateMatrix(
        { name: 'x', prompt: 'p', targets: [{ id: 'a', kind: 'ollama', url: 'x' }], models: [] },
        { file: 'body' },
      );
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof MatrixInvalidError);
      const urlProblem = err.problems.find((q) => q.path === 'targets[0].url');
      assert.ok(urlProblem);
      assert.equal(urlProblem.line, null);
      assert.match(err.message, /body: targets\[0\]\.url: "x" is not a valid URL/);
      assert.ok(err.problems.some((q) => q.path === 'models'));
    }
  });
});

void describe('matrix: loadMatrix', () => {
  void test('reads a file and names it in problems; unreadable file has its own code', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'kage-matrix-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const good = join(dir, 'good.yaml');
    await writeFile(good, VALID);
    assert.equal((await loadMatrix(good)).name, 'exo-phase1-poc');

    const bad = join(dir, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({ name: 'x', prompt: 'p', targets: [], models: [{ name: 'm' }], extra: 1 }, null, 2),
    );
    await assert.rejects(loadMatrix(bad), (err: unknown) => {
      assert.ok(err instanceof MatrixInvalidError);
      assert.ok(err.problems.every((p) => p.file === bad));
      const extra = err.problems.find((p) => p.path === 'extra');
      assert.equal(extra?.line, 10);
      return true;
    });
    await assert.rejects(loadMatrix(join(dir, 'missing.yaml')), { code: 'KAGE_ERR_MATRIX_READ' });
  });
});
