import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bootstrapCi,
  bootstrapTwoSampleCi,
  mean,
  median,
  percentile,
  stddev,
  summarize,
  summarizeCell,
  type CellRequestRecord,
  type CellResult,
} from '../src/index.js';
import { cellRequestRecord } from './helpers/cell-request-record.js';

const close = (actual: number | null | undefined, expected: number, eps = 1e-9): void => {
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= eps, `${actual} ≉ ${expected}`);
};

void describe('statistics: hand-computed values', () => {
  void test('mean, median, sample stddev, interpolated percentiles', () => {
    // sorted: 2 4 4 4 5 5 7 9 — mean 5, squared deviations sum to 32, n − 1 = 7
    const xs = [9, 2, 5, 4, 7, 4, 5, 4];
    assert.equal(mean(xs), 5);
    assert.equal(median(xs), 4.5);
    close(stddev(xs), Math.sqrt(32 / 7));
    const sorted = [...xs].sort((a, b) => a - b);
    close(percentile(sorted, 90), 7.6); // rank 6.3: 7 + 0.3·(9 − 7)
    close(percentile(sorted, 99), 8.86); // rank 6.93
    assert.equal(percentile([10, 20], 50), 15);
    assert.equal(percentile([10, 20, 30], 0), 10);
    assert.equal(percentile([10, 20, 30], 100), 30);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.equal(stddev([7]), 0);
  });

  void test('summarize: every field, CV and the variable flag', () => {
    const s = summarize([9, 2, 5, 4, 7, 4, 5, 4]);
    assert.ok(s);
    assert.equal(s.count, 8);
    assert.equal(s.median, 4.5);
    assert.equal(s.mean, 5);
    close(s.p90, 7.6);
    close(s.p99, 8.86);
    assert.equal(s.min, 2);
    assert.equal(s.max, 9);
    close(s.stddev, Math.sqrt(32 / 7));
    close(s.cv, Math.sqrt(32 / 7) / 5);
    assert.equal(s.variable, true);

    const steady = summarize([100, 101, 99, 100]);
    assert.ok(steady);
    close(steady.cv, Math.sqrt(2 / 3) / 100);
    assert.equal(steady.variable, false);
    assert.equal(summarize([100, 120], { cvThreshold: 0.5 })?.variable, false);
  });

  void test('edge cases: empty, single, constant, non-finite values dropped', () => {
    assert.equal(summarize([]), null);
    assert.equal(summarize([NaN, Infinity]), null);
    const one = summarize([5]);
    assert.deepEqual(one, {
      count: 1,
      median: 5,
      mean: 5,
      p90: 5,
      p99: 5,
      min: 5,
      max: 5,
      stddev: 0,
      cv: 0,
      variable: false,
      ci95: [5, 5],
      mean_ci95: [5, 5],
    });
    assert.equal(summarize([0, 0])?.cv, null);
    assert.equal(summarize([1, NaN, 3])?.count, 2);
  });

  void test('bootstrap: exact on a two-point sample, deterministic per seed, sane bounds', () => {
    // Resampled medians of [1, 2] are 1, 1.5, 2 with probabilities ¼, ½, ¼: the 2.5/97.5 % points are 1 and 2.
    assert.deepEqual(bootstrapCi([1, 2], median), [1, 2]);

    const xs = [40.1, 39.8, 40.3, 41.0, 39.5, 40.7, 40.0, 39.9];
    const a = summarize(xs, { seed: 1 });
    const b = summarize(xs, { seed: 1 });
    const c = summarize(xs, { seed: 2, resamples: 500 });
    assert.ok(a && b && c);
    assert.deepEqual(a.ci95, b.ci95);
    assert.deepEqual(a.mean_ci95, b.mean_ci95);
    assert.notDeepEqual([a.ci95, a.mean_ci95], [c.ci95, c.mean_ci95]);
    for (const [lo, hi] of [a.ci95, a.mean_ci95]) {
      assert.ok(lo <= hi && lo >= a.min && hi <= a.max);
    }
    assert.ok(a.ci95[0] <= a.median && a.median <= a.ci95[1]);
    assert.ok(a.mean_ci95[0] <= a.mean && a.mean <= a.mean_ci95[1]);
    assert.throws(() => bootstrapCi(xs, median, { resamples: 0 }), TypeError);
  });

  void test('two-sample bootstrap of a ratio of medians', () => {
    const ci = bootstrapTwoSampleCi([12, 12, 12], [10, 10], (x, y) => median(x) / median(y) - 1);
    close(ci[0], 0.2);
    close(ci[1], 0.2);
    const spread = bootstrapTwoSampleCi([11, 12, 13, 12.5], [10, 10.2, 9.8], (x, y) => median(x) / median(y) - 1, {
      seed: 9,
    });
    assert.ok(spread[0] < 0.2 && spread[1] > 0.2);
    assert.deepEqual(
      spread,
      bootstrapTwoSampleCi([11, 12, 13, 12.5], [10, 10.2, 9.8], (x, y) => median(x) / median(y) - 1, { seed: 9 }),
    );
  });
});

void describe('statistics: cell summary', () => {
  // 32 tokens at a server rate of 41 tokens/s: the medians the test expects.
  const rec = (over: Partial<CellRequestRecord>): CellRequestRecord =>
    cellRequestRecord({ output_tokens: 32, server_decode_tps: 41, ...over });

  void test('summaries use successful requests only; failures are counted by kind', () => {
    const cell: CellResult = {
      target: 'ollama-rog',
      model: 'qwen2.5:3b',
      model_id: 'qwen2.5:3b',
      concurrency: 1,
      repetitions: 4,
      warmup: 0,
      status: 'completed',
      started_at: '',
      finished_at: '',
      warmup_requests: [],
      requests: [
        rec({ decode_tps: 40, ttft_ms: 100 }),
        rec({ decode_tps: 42, ttft_ms: 110, output_tokens_approx: true }),
        rec({ success: false, decode_tps: 1000, error: { kind: 'stream_cut', message: 'x', status: null } }),
        rec({ success: false, error: { kind: 'aborted', message: 'x', status: null } }),
      ],
      attempts: 3,
      successes: 2,
      success_rate: 2 / 3,
      window_ms: 2000,
      output_tokens_total: 64,
      aggregate_tps: 32,
    };
    const s = summarizeCell(cell);
    assert.equal(s.decode_tps?.median, 41);
    assert.equal(s.decode_tps?.count, 2);
    assert.equal(s.ttft_ms?.p90, 109);
    assert.equal(s.output_tokens?.median, 32);
    assert.equal(s.server_decode_tps?.median, 41);
    assert.equal(s.output_tokens_approx, true);
    assert.deepEqual(s.errors, { stream_cut: 1 });
    assert.equal(s.success_rate, 2 / 3);
    assert.equal(s.aggregate_tps, 32);
    assert.equal(s.target, 'ollama-rog');
  });
});
