/**
 * Descriptive statistics and seeded bootstrap confidence intervals. Percentiles use linear
 * interpolation between closest ranks (Hyndman–Fan type 7, numpy's default); standard deviation is
 * the sample one (n − 1). Bootstrap CIs are percentile intervals from a seeded xoroshiro128+, so
 * the same samples and seed always give the same interval.
 */
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';

/** Default bootstrap seed ("kage"): fixed so reports are reproducible. */
export const DEFAULT_BOOTSTRAP_SEED = 0x6b616765;
/** Default number of bootstrap resamples. */
export const DEFAULT_RESAMPLES = 2000;
/** A metric is flagged `variable` when its coefficient of variation exceeds this. */
export const DEFAULT_CV_THRESHOLD = 0.1;

/** Summary of one metric over a cell's successful measured requests. */
export interface Summary {
  count: number;
  median: number;
  mean: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  /** Sample standard deviation (0 for a single value). */
  stddev: number;
  /** stddev / mean; `null` when the mean is 0. */
  cv: number | null;
  /** True when `cv` exceeds the threshold (10 % by default): compare with care. */
  variable: boolean;
  /** 95 % bootstrap CI of the median (the statistic every decision uses). */
  ci95: [number, number];
  /** 95 % bootstrap CI of the mean. */
  mean_ci95: [number, number];
}

/** Options shared by the summary and bootstrap functions. */
export interface BootstrapOptions {
  /** @default DEFAULT_BOOTSTRAP_SEED */
  seed?: number;
  /** @default DEFAULT_RESAMPLES */
  resamples?: number;
  /** Confidence level. @default 0.95 */
  level?: number;
}

/** Arithmetic mean; NaN for an empty list. */
export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Median; NaN for an empty list. */
export function median(values: readonly number[]): number {
  return percentile(sortAscending(values), 50);
}

/** Sample standard deviation (n − 1); 0 for one value, NaN for none. */
export function stddev(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  if (values.length === 1) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) ** 2;
  return Math.sqrt(ss / (values.length - 1));
}

/**
 * The p-th percentile (0–100) of an ascending-sorted list, linearly interpolated
 * (rank = p/100 · (n − 1)). NaN for an empty list.
 */
export function percentile(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

/** Summarises a metric; `null` when there are no values. Non-finite values are dropped. */
export function summarize(
  values: readonly number[],
  options: BootstrapOptions & { cvThreshold?: number } = {},
): Summary | null {
  const xs = values.filter((v) => Number.isFinite(v));
  if (xs.length === 0) return null;
  const sorted = sortAscending(xs);
  const m = mean(xs);
  const sd = stddev(xs);
  const cv = m === 0 ? null : sd / Math.abs(m);
  return {
    count: xs.length,
    median: percentile(sorted, 50),
    mean: m,
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    stddev: sd,
    cv,
    variable: cv !== null && cv > (options.cvThreshold ?? DEFAULT_CV_THRESHOLD),
    ci95: bootstrapCi(xs, median, options),
    mean_ci95: bootstrapCi(xs, mean, options),
  };
}

/** Percentile bootstrap CI of `statistic` over `values`. */
export function bootstrapCi(
  values: readonly number[],
  statistic: (sample: readonly number[]) => number,
  options: BootstrapOptions = {},
): [number, number] {
  const draw = createIndexSampler(options.seed ?? DEFAULT_BOOTSTRAP_SEED);
  const stats = resampleStatistics(options.resamples ?? DEFAULT_RESAMPLES, () => statistic(resample(values, draw)));
  return interval(stats, options.level ?? 0.95);
}

/**
 * Percentile bootstrap CI of a two-sample statistic (e.g. the ratio of medians − 1): both samples
 * are resampled independently each round.
 */
export function bootstrapTwoSampleCi(
  a: readonly number[],
  b: readonly number[],
  statistic: (a: readonly number[], b: readonly number[]) => number,
  options: BootstrapOptions = {},
): [number, number] {
  const draw = createIndexSampler(options.seed ?? DEFAULT_BOOTSTRAP_SEED);
  const stats = resampleStatistics(options.resamples ?? DEFAULT_RESAMPLES, () =>
    statistic(resample(a, draw), resample(b, draw)),
  );
  return interval(stats, options.level ?? 0.95);
}

function resampleStatistics(resamples: number, one: () => number): number[] {
  if (!Number.isInteger(resamples) || resamples < 1) throw new TypeError('resamples must be a positive integer');
  const stats: number[] = [];
  for (let i = 0; i < resamples; i++) {
    const s = one();
    if (Number.isFinite(s)) stats.push(s);
  }
  return stats;
}

function interval(stats: number[], level: number): [number, number] {
  if (stats.length === 0) return [NaN, NaN];
  const sorted = sortAscending(stats);
  const tail = ((1 - level) / 2) * 100;
  return [percentile(sorted, tail), percentile(sorted, 100 - tail)];
}

/** A seeded uniform integer sampler in [0, n). */
function createIndexSampler(seed: number): (n: number) => number {
  const rng: RandomGenerator = xoroshiro128plus(seed);
  return (n) => unsafeUniformIntDistribution(0, n - 1, rng);
}

function resample(values: readonly number[], draw: (n: number) => number): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[draw(values.length)] as number;
  return out;
}

function sortAscending(values: readonly number[]): number[] {
  return [...values].sort((x, y) => x - y);
}
