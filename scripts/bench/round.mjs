// Rounding for the figures the benchmarks write: one rule everywhere, so that a figure that could
// not be measured (null, undefined, NaN, ±Infinity) is written as null, never as a string or a crash.

/** `v` to `d` decimals; null when `v` is not a finite number. */
export const round = (v, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(d)));
