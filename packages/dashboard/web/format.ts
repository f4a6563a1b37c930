/** How numbers read on the page: units always shown, unknown values as an en dash. */
export const NONE = '–';

export function pct(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined ? NONE : `${v.toFixed(digits)} %`;
}

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined) return NONE;
  const gib = v / 1024 ** 3;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${(v / 1024 ** 2).toFixed(0)} MiB`;
}

export function num(v: number | null | undefined, digits = 1, unit = ''): string {
  return v === null || v === undefined ? NONE : `${v.toFixed(digits)}${unit === '' ? '' : ` ${unit}`}`;
}

export function signedPct(v: number | null | undefined): string {
  if (v === null || v === undefined) return NONE;
  const p = v * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)} %`;
}

/**
 * "12 s ago", "3 min ago", or the time of day for anything older than an hour (`t` in ms since the
 * epoch). Whole units elapsed (rounded down): a node heard every second stays at "0 s ago" rather
 * than flipping to "1 s ago" between its samples, which would rewrite the text (and repaint).
 */
export function ago(t: number | null, now = Date.now()): string {
  if (t === null) return 'never';
  if (!Number.isFinite(t)) return NONE;
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return new Date(t).toLocaleString();
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
