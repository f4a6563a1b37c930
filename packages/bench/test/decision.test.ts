import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decide,
  parameterBillions,
  recommend,
  type Decision,
  type DecisionCell,
  type MatrixDecision,
  type Verdict,
} from '../src/index.js';

const RULES: MatrixDecision = {
  candidate: 'exo-cluster',
  baselines: ['ollama-srv1', 'ollama-rog'],
  go_speedup: 0.3,
  evaluate_speedup: 0.1,
  max_ttft_ratio: 2,
};

const around = (v: number): number[] => [v, v * 1.002, v * 0.998, v * 1.001, v * 0.999];

function cell(target: string, decode: number[], over: Partial<DecisionCell> = {}): DecisionCell {
  return {
    target,
    attempts: 5,
    successes: decode.length > 0 ? 5 : 0,
    decode_tps: decode,
    ttft_ms: decode.map(() => 100),
    aggregate_tps: decode.length > 0 ? (decode[0] ?? null) : null,
    ...over,
  };
}

function run(cells: DecisionCell[], clusterOk: boolean | null = true, model = 'qwen2.5:3b', concurrency = 1): Decision {
  return decide({ model, concurrency, decision: RULES, cells, cluster_ok: clusterOk });
}

void describe('decision: verdicts', () => {
  void test('phase-2: speedup ≥ go with a CI clear of every threshold', () => {
    const d = run([cell('exo-cluster', around(15)), cell('ollama-srv1', around(8)), cell('ollama-rog', around(10))]);
    assert.equal(d.verdict, 'phase-2');
    assert.equal(d.baseline, 'ollama-rog', 'the best baseline is the fastest one that ran');
    assert.ok(Math.abs((d.speedup ?? 0) - 0.5) < 1e-9);
    assert.ok(d.speedup_ci95 !== null && d.speedup_ci95[0] > 0.3 && d.speedup_ci95[1] < 0.6);
    assert.equal(d.candidate_decode_tps, 15);
    assert.equal(d.baseline_decode_tps, 10);
    assert.equal(d.ttft_ratio, 1);
    assert.equal(d.ttft_ok, true);
    assert.equal(d.success_ok, true);
    assert.equal(d.cluster_ok, true);
    assert.ok(Math.abs((d.aggregate_speedup ?? 0) - 0.5) < 1e-9);
  });

  void test('evaluate and shelve', () => {
    assert.equal(run([cell('exo-cluster', around(12)), cell('ollama-rog', around(10))]).verdict, 'evaluate');
    const shelve = run([cell('exo-cluster', around(5)), cell('ollama-rog', around(10))]);
    assert.equal(shelve.verdict, 'shelve');
    assert.ok(Math.abs((shelve.speedup ?? 0) + 0.5) < 1e-9);
  });

  void test('inconclusive when the speedup CI straddles a threshold', () => {
    const d = run([cell('exo-cluster', [11, 14, 12.5, 15, 13.5]), cell('ollama-rog', around(10))]);
    assert.ok(d.speedup_ci95 !== null && d.speedup_ci95[0] < 0.3 && d.speedup_ci95[1] >= 0.3, String(d.speedup_ci95));
    assert.equal(d.verdict, 'inconclusive');
    assert.ok(
      d.reasons.some((r) => /straddles the \+30\.0 % threshold/.test(r)),
      d.reasons.join(' | '),
    );
    assert.deepEqual(
      run([cell('exo-cluster', [11, 14, 12.5, 15, 13.5]), cell('ollama-rog', around(10))]).speedup_ci95,
      d.speedup_ci95,
    );
  });

  void test('inconclusive when no decode rate was measurable', () => {
    const d = run([cell('exo-cluster', [], { successes: 5 }), cell('ollama-rog', around(10))]);
    assert.equal(d.verdict, 'inconclusive');
    assert.equal(d.speedup, null);
  });

  void test('cluster-only: no baseline ran the model, the candidate did; ratios are null', () => {
    const d = run(
      [
        cell('exo-cluster', around(3)),
        cell('ollama-rog', [], { attempts: 5 }),
        cell('ollama-srv1', [], { attempts: 5 }),
      ],
      true,
      'llama3.3:70b',
    );
    assert.equal(d.verdict, 'cluster-only');
    assert.equal(d.baseline, null);
    assert.equal(d.speedup, null);
    assert.equal(d.speedup_ci95, null);
    assert.equal(d.ttft_ratio, null);
    assert.equal(d.ttft_ok, null);
    assert.equal(d.success_ok, true);
  });

  void test('failed: the candidate never succeeded, or never ran', () => {
    const a = run([cell('exo-cluster', [], { attempts: 5, successes: 0 }), cell('ollama-rog', around(10))]);
    assert.equal(a.verdict, 'failed');
    assert.equal(a.success_ok, false);
    assert.equal(a.baseline, 'ollama-rog', 'the baseline is still named');
    assert.match(a.reasons[0] ?? '', /never succeeded.*0\/5/);
    const b = run([cell('ollama-rog', around(10))], false);
    assert.equal(b.verdict, 'failed');
    assert.equal(b.cluster_ok, false);
  });

  void test('a baseline that never succeeded is not chosen even if its samples look fast', () => {
    const d = run([
      cell('exo-cluster', around(12)),
      cell('ollama-srv1', around(100), { successes: 0 }),
      cell('ollama-rog', around(10)),
    ]);
    assert.equal(d.baseline, 'ollama-rog');
  });

  void test('ttft_ok, success_ok and cluster_ok', () => {
    const slow = run(
      [cell('exo-cluster', around(15), { ttft_ms: [300, 310, 290] }), cell('ollama-rog', around(10))],
      null,
    );
    assert.equal(slow.ttft_ratio, 3);
    assert.equal(slow.ttft_ok, false);
    assert.equal(slow.cluster_ok, null);
    assert.equal(slow.verdict, 'phase-2', 'TTFT does not change the verdict; the recommendation weighs it');
    const partial = run([
      cell('exo-cluster', around(15), { attempts: 5, successes: 4 }),
      cell('ollama-rog', around(10)),
    ]);
    assert.equal(partial.success_ok, false);
  });

  void test('the JSON has the field names of the report `decisions` entries', () => {
    const d = JSON.parse(
      JSON.stringify(run([cell('exo-cluster', around(15)), cell('ollama-rog', around(10))])),
    ) as Record<string, unknown>;
    for (const key of [
      'model',
      'candidate',
      'baseline',
      'speedup',
      'speedup_ci95',
      'ttft_ratio',
      'ttft_ok',
      'success_ok',
      'cluster_ok',
      'verdict',
    ]) {
      assert.ok(key in d, `missing ${key}`);
    }
    const none = JSON.parse(JSON.stringify(run([cell('exo-cluster', around(3))]))) as Record<string, unknown>;
    assert.equal(none['baseline'], null);
    assert.equal(none['speedup'], null);
    assert.equal(none['ttft_ratio'], null);
  });
});

void describe('recommendation: seed plan criteria', () => {
  const d = (verdict: Verdict, over: Partial<Decision> = {}): Decision => ({
    model: 'qwen2.5:3b',
    concurrency: 1,
    candidate: 'exo-cluster',
    baseline: 'ollama-rog',
    speedup: 0.35,
    speedup_ci95: [0.33, 0.37],
    ttft_ratio: 1.5,
    ttft_ok: true,
    success_ok: true,
    cluster_ok: true,
    verdict,
    candidate_decode_tps: 13.5,
    baseline_decode_tps: 10,
    aggregate_speedup: null,
    reasons: ['because'],
    ...over,
  });

  void test('phase-2 when every primary criterion holds', () => {
    const r = recommend([d('phase-2'), d('phase-2', { model: 'qwen2.5-coder:32b' })]);
    assert.equal(r.verdict, 'phase-2');
    assert.ok(r.reasons.includes('primary: cluster formation met'));
    assert.ok(r.reasons.includes('primary: 100 % success met'));
    assert.ok(r.reasons.includes('secondary: TTFT ≤ max ratio met'));
    assert.ok(r.reasons.includes('secondary: no 70B+ model in the matrix'));
  });

  void test('phase-2 speed without 100 % success is evaluate', () => {
    const r = recommend([d('phase-2', { success_ok: false })]);
    assert.equal(r.verdict, 'evaluate');
    assert.ok(r.reasons.some((x) => x.startsWith('primary: 100 % success NOT met for qwen2.5:3b')));
  });

  void test('the worst model decides: shelve < inconclusive < evaluate < phase-2', () => {
    assert.equal(recommend([d('phase-2'), d('shelve', { model: 'b' })]).verdict, 'shelve');
    assert.equal(recommend([d('evaluate'), d('inconclusive', { model: 'b' })]).verdict, 'inconclusive');
    assert.equal(recommend([d('phase-2'), d('evaluate', { model: 'b' })]).verdict, 'evaluate');
  });

  void test('a cluster that did not form fails the run', () => {
    const r = recommend([d('phase-2', { cluster_ok: false })]);
    assert.equal(r.verdict, 'failed');
    assert.ok(r.reasons.some((x) => x.includes('cluster formation NOT met')));
  });

  void test('all failed, or only cluster-only models', () => {
    assert.equal(recommend([d('failed', { success_ok: false })]).verdict, 'failed');
    const big = recommend([
      d('cluster-only', { model: 'llama3.3:70b', baseline: null, speedup: null, ttft_ratio: null, ttft_ok: null }),
    ]);
    assert.equal(big.verdict, 'cluster-only');
    assert.ok(big.reasons.includes('secondary: a 70B+ model ran on the cluster (llama3.3:70b)'));
    assert.equal(recommend([]).verdict, 'inconclusive');
  });

  void test('the lowest concurrency is primary; others are reported', () => {
    const r = recommend([d('phase-2', { concurrency: 4 }), d('shelve', { concurrency: 1 })]);
    assert.equal(r.verdict, 'shelve');
    assert.ok(r.reasons.some((x) => x.startsWith('qwen2.5:3b @ concurrency 4 (info): phase-2')));
  });

  void test('a slow TTFT and a failed 70B model are reported as secondary misses', () => {
    const r = recommend([
      d('phase-2', { ttft_ok: false, ttft_ratio: 2.5 }),
      d('failed', { model: 'llama3.3:70b', success_ok: false }),
    ]);
    assert.equal(r.verdict, 'evaluate');
    assert.ok(r.reasons.some((x) => x.includes('TTFT ≤ max ratio NOT met for qwen2.5:3b (2.50×)')));
    assert.ok(r.reasons.some((x) => x.includes('70B+ model NOT run on the cluster')));
  });

  void test('parameterBillions reads Ollama tags and Hugging Face ids', () => {
    assert.equal(parameterBillions('llama3.3:70b'), 70);
    assert.equal(parameterBillions('mlx-community/Llama-3.3-70B-Instruct-4bit'), 70);
    assert.equal(parameterBillions('qwen2.5:3b'), 3);
    assert.equal(parameterBillions('qwen2.5-coder:32b'), 32);
    assert.equal(parameterBillions('mlx-community/Qwen2.5-3B-Instruct-4bit'), 3);
    assert.equal(parameterBillions('llama3.2:1.5b'), 1.5);
    assert.equal(parameterBillions('mistral'), null);
  });
});
