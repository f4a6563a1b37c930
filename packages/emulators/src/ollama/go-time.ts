/**
 * Go time and size formatting as Ollama prints them: `time.ParseDuration`, `keep_alive` parsing
 * (`api.Duration`), RFC 3339 timestamps with trimmed nanoseconds, and `format.HumanBytes2`.
 */

/** A keep-alive in milliseconds; `Infinity` means "never unload" (Go stores MaxInt64). */
export type KeepAliveMs = number;

/** Go's `math.MaxInt64` nanoseconds: what a negative keep-alive becomes. */
export const MAX_DURATION_NS = 9_223_372_036_854_775_807n;

const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** `strconv.Quote` for the ASCII strings durations are made of. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** `time.ParseDuration`: nanoseconds, or Go's exact error text. */
export function parseGoDuration(input: string): { ok: true; ns: number } | { ok: false; message: string } {
  const invalid = { ok: false as const, message: `time: invalid duration ${goQuote(input)}` };
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ns: 0 };
  if (s === '') return invalid;
  let total = 0;
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = num?.[1] ?? '';
    const frac = num?.[2];
    if (!(s.startsWith('.') || /^\d/.test(s))) return invalid;
    if (whole === '' && (frac === undefined || frac === '')) return invalid;
    s = s.slice(num?.[0].length ?? 0);
    const unitMatch = /^[^0-9.]*/.exec(s);
    const unit = unitMatch?.[0] ?? '';
    if (unit === '') return { ok: false, message: `time: missing unit in duration ${goQuote(input)}` };
    const scale = UNIT_NS[unit];
    if (scale === undefined) {
      return { ok: false, message: `time: unknown unit ${goQuote(unit)} in duration ${goQuote(input)}` };
    }
    s = s.slice(unit.length);
    total += Number(`${whole === '' ? '0' : whole}.${frac ?? '0'}`) * scale;
    if (total > Number(MAX_DURATION_NS)) return invalid;
  }
  return { ok: true, ns: negative ? -total : total };
}

function goReflectTypeName(value: unknown): string {
  if (Array.isArray(value)) return '[]interface {}';
  if (typeof value === 'object') return 'map[string]interface {}';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

/**
 * `api.Duration.UnmarshalJSON` for a request's `keep_alive`: a number is seconds, a string a Go
 * duration, and anything negative means forever.
 */
export function parseKeepAliveJson(value: unknown): { ok: true; ms: KeepAliveMs } | { ok: false; message: string } {
  if (typeof value === 'number') {
    return { ok: true, ms: value < 0 ? Infinity : value * 1000 };
  }
  if (typeof value === 'string') {
    const parsed = parseGoDuration(value);
    if (!parsed.ok) return parsed;
    return { ok: true, ms: parsed.ns < 0 ? Infinity : parsed.ns / 1e6 };
  }
  return { ok: false, message: `Unsupported type: '${goReflectTypeName(value)}'` };
}

/**
 * `envconfig.KeepAlive` for `OLLAMA_KEEP_ALIVE`: a Go duration, else whole seconds, else 5m;
 * negative means forever.
 */
export function parseKeepAliveSetting(value: string | number | undefined): KeepAliveMs {
  const fallback = 5 * 60_000;
  let ms = fallback;
  if (typeof value === 'number') ms = value * 1000;
  else if (value !== undefined && value !== '') {
    const parsed = parseGoDuration(value);
    if (parsed.ok) ms = parsed.ns / 1e6;
    else if (/^[+-]?\d+$/.test(value)) ms = Number(value) * 1000;
  }
  return ms < 0 ? Infinity : ms;
}

// Wall clock in nanoseconds: one Date.now() anchor plus the monotonic high-resolution timer,
// so timestamps have nanosecond digits like Go's and never run backwards.
const CLOCK_ANCHOR_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Current Unix time in nanoseconds. */
export function nowEpochNs(): bigint {
  return CLOCK_ANCHOR_NS + process.hrtime.bigint();
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/**
 * Go's RFC3339Nano: trailing zeros of the fraction trimmed; `Z` when the offset is zero.
 * `zone: 'utc'` for `created_at`, `'local'` for `modified_at` / `expires_at`.
 */
export function formatRfc3339Nano(epochNs: bigint, zone: 'utc' | 'local'): string {
  const seconds = epochNs / 1_000_000_000n;
  const fraction = epochNs % 1_000_000_000n;
  const date = new Date(Number(seconds) * 1000);
  const offsetMin = zone === 'utc' ? 0 : -date.getTimezoneOffset();
  const shifted = new Date(date.getTime() + offsetMin * 60_000);
  const fractionText = fraction === 0n ? '' : `.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}`;
  let zoneText = 'Z';
  if (offsetMin !== 0) {
    const abs = Math.abs(offsetMin);
    zoneText = `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }
  return (
    `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}` +
    `T${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}` +
    `${fractionText}${zoneText}`
  );
}

/** `created_at` for a response written now. */
export function createdAtNow(): string {
  return formatRfc3339Nano(nowEpochNs(), 'utc');
}

const KiB = 1024;
const MiB = KiB * 1024;
const GiB = MiB * 1024;

/** `format.HumanBytes2`: binary units with one decimal (`7.5 GiB`). */
export function humanBytes2(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= KiB) return `${(bytes / KiB).toFixed(1)} KiB`;
  return `${Math.floor(bytes)} B`;
}
