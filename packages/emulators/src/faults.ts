/**
 * Fault knobs shared by both emulators. Tests set them at start (options / CLI flags) or while
 * running (`PUT /_emulator/faults`), so a single emulator process can play a healthy server, then a
 * slow one, then one that cuts streams.
 */

export interface FaultOptions {
  /** Added before the response starts, ms. */
  extraLatencyMs: number;
  /** Relative spread applied to every timed step (0.1 = ±10 %); 0 with `deterministic`. */
  jitter: number;
  /** Added before the first token only, ms. */
  slowFirstTokenMs: number;
  /** Destroy the connection after this many tokens (a cut stream: no final line). */
  cutAfterTokens: number | null;
  /** Send the server's mid-stream error after this many tokens. */
  errorAfterTokens: number | null;
  /** Fraction (0–1) of generation requests answered with a 500 before streaming. */
  http500Rate: number;
  /** Exit the process (code 1) when this many generation requests have started. */
  crashAfterRequests: number | null;
  /**
   * The server reuses cached prompt prefixes (its default): Ollama the KV cache of a slot's last
   * prompt (the runner's `cache_prompt`), EXO its per-instance prefix cache. False plays a server
   * where every prompt is prefilled in full.
   */
  promptCache: boolean;
}

export const NO_FAULTS: Readonly<FaultOptions> = Object.freeze({
  extraLatencyMs: 0,
  jitter: 0,
  slowFirstTokenMs: 0,
  cutAfterTokens: null,
  errorAfterTokens: null,
  http500Rate: 0,
  crashAfterRequests: null,
  promptCache: true,
});

const NUMBER_KEYS = ['extraLatencyMs', 'jitter', 'slowFirstTokenMs', 'http500Rate'] as const;
const NULLABLE_KEYS = ['cutAfterTokens', 'errorAfterTokens', 'crashAfterRequests'] as const;
const BOOLEAN_KEYS = ['promptCache'] as const;

/**
 * Validates a partial fault patch (from JSON or flags). Returns the merged options or a list of
 * problems naming each bad key.
 */
export function mergeFaults(
  current: Readonly<FaultOptions>,
  patch: unknown,
): { ok: true; faults: FaultOptions } | { ok: false; errors: string[] } {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return { ok: false, errors: ['faults must be a JSON object'] };
  }
  const errors: string[] = [];
  const next: FaultOptions = { ...current };
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if ((NUMBER_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        errors.push(`${key}: must be a non-negative number`);
      } else if ((key === 'http500Rate' || key === 'jitter') && value > 1) {
        errors.push(`${key}: must be between 0 and 1`);
      } else {
        next[key as (typeof NUMBER_KEYS)[number]] = value;
      }
    } else if ((NULLABLE_KEYS as readonly string[]).includes(key)) {
      if (value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
        errors.push(`${key}: must be a non-negative integer or null`);
      } else {
        next[key as (typeof NULLABLE_KEYS)[number]] = value;
      }
    } else if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') errors.push(`${key}: must be true or false`);
      else next[key as (typeof BOOLEAN_KEYS)[number]] = value;
    } else {
      errors.push(`${key}: unknown fault knob`);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, faults: next };
}
