/**
 * Number and time formatting shared by the report renderers. Every function accepts `null` and
 * non-finite numbers (the report JSON has `null` where nothing was measured) and returns a dash,
 * so a renderer never prints `NaN` or `null`.
 *
 * Precision follows what a reader compares: decode rates with 1 decimal, milliseconds with 0–1,
 * seconds with 2. Values too small for that precision keep two significant digits instead of
 * collapsing to zero; values of a million or more switch to exponent notation so a runaway number
 * cannot blow a table column apart.
 */

/** Shown for a missing (null) value. */
export const DASH = '—';

const HUGE = 1e6;

/** `value` with `decimals` decimals; tiny non-zero values keep 2 significant digits, huge ones use exponents. */
export function formatNumber(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const abs = Math.abs(value);
  if (abs >= HUGE) return formatExponent(value);
  if (abs > 0 && abs < 0.5 * 10 ** -decimals) return String(Number(value.toPrecision(2)));
  const fixed = value.toFixed(decimals);
  // `-0.0` reads as a measurement of a negative quantity: drop the sign of a rounded zero.
  return /^-0(\.0*)?$/.test(fixed) ? fixed.slice(1) : fixed;
}

/** `1.23e9` rather than JavaScript's `1.23e+9`. */
function formatExponent(value: number): string {
  return value
    .toExponential(2)
    .replace('e+', 'e')
    .replace(/\.?0+e/, 'e');
}

/** Decode rate in tokens per second: 1 decimal (`40.1`). */
export function formatTps(value: number | null | undefined): string {
  return formatNumber(value, 1);
}

/** Milliseconds: 1 decimal below 10 ms, none above (`3.2`, `101`). */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return formatNumber(value, Math.abs(value) < 10 ? 1 : 0);
}

/** Milliseconds shown as seconds with 2 decimals (`900.3` → `0.90`). */
export function formatSecondsFromMs(valueMs: number | null | undefined): string {
  if (valueMs === null || valueMs === undefined || !Number.isFinite(valueMs)) return DASH;
  return formatNumber(valueMs / 1000, 2);
}

/** A fraction as a signed percentage with 1 decimal (`0.35` → `+35.0 %`). */
export function formatSignedPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return DASH;
  const text = formatNumber(fraction * 100, 1);
  return `${fraction > 0 && !text.startsWith('-') ? '+' : ''}${text} %`;
}

/** A fraction as an unsigned percentage without decimals unless needed (`0.8` → `80 %`, `0.996` → `99.6 %`). */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return DASH;
  const pct = fraction * 100;
  return `${Number.isInteger(Math.round(pct * 10) / 10) ? pct.toFixed(0) : pct.toFixed(1)} %`;
}

/** A ratio with 2 decimals and a times sign (`1.8` → `1.80×`). */
export function formatRatio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${formatNumber(value, 2)}×`;
}

/** A speedup and its 95 % CI (`+35.0 % (95 % CI +33.0 % … +37.0 %)`); the CI part is left out when unknown. */
export function formatSpeedup(speedup: number | null, ci95: readonly [number, number] | null): string {
  if (speedup === null || !Number.isFinite(speedup)) return DASH;
  const head = formatSignedPercent(speedup);
  return ci95 === null ? head : `${head} (95 % CI ${formatSignedPercent(ci95[0])} … ${formatSignedPercent(ci95[1])})`;
}

/** Wall-clock duration between two ISO 8601 instants (`12m 03s`); `null` when either is missing or unparsable. */
export function formatDuration(startIso: string | null, endIso: string | null): string | null {
  if (startIso === null || endIso === null) return null;
  const ms = Date.parse(endIso) - Date.parse(startIso);
  if (!Number.isFinite(ms) || ms < 0) return null;
  const totalS = Math.round(ms / 1000);
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

/** Tick label on a chart axis: compact, no trailing zeros (`0`, `2.5`, `1000`, `1.5e6`). */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= HUGE) return formatExponent(value);
  return String(Number(value.toPrecision(6)));
}
