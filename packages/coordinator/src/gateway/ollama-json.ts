/**
 * Bytes as Ollama's Go server writes them, for bodies the gateway makes up itself: `encoding/json`
 * escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings (HTML-safe output, which
 * `JSON.stringify` does not do), and `created_at` is RFC 3339 in UTC with the fraction's trailing
 * zeros trimmed (`time.RFC3339Nano`). Clients parse either spelling; matching it keeps byte-level
 * comparisons with a real Ollama honest.
 */

const GO_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** `json.Marshal`: JSON.stringify plus Go's HTML-safe escapes (these characters occur only inside strings). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c);
}

/** One NDJSON line (`application/x-ndjson`): the object as Go encodes it, then `\n`. */
export function ndjsonLine(value: unknown): string {
  return `${goJson(value)}\n`;
}

/** `time.Time` marshalled: `2026-01-02T03:04:05.12Z` (RFC3339Nano: no trailing zeros, no dot when whole). */
export function goTimestamp(epochMs: number): string {
  const iso = new Date(epochMs).toISOString(); // always `.sssZ`
  const [seconds = iso, fraction = ''] = iso.slice(0, -1).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  return trimmed === '' ? `${seconds}Z` : `${seconds}.${trimmed}Z`;
}
