/**
 * EXO's KV prefix cache of one runner (v1.0.71 `worker/engines/mlx/cache.py` `KVPrefixCache`, used
 * by `generator/batch_generate.py`), with the same bookkeeping but token counts instead of tensors:
 *
 * - an entry is a whole prompt's tokens plus the length of the KV cache kept for it: the prefill
 *   runs over all prompt tokens but the last, and trims the cache by two afterwards, so a fresh
 *   prompt of N tokens keeps N − 2 (the last two are run again by the first decode step);
 * - a lookup takes the first entry whose common prefix covers at least N − 1 tokens ("exact"),
 *   else the entry with the longest common prefix ("partial"); it restores min(kept length,
 *   N − 1) tokens for an exact match and min(kept length, common prefix) for a partial one;
 * - after the prefill the entry that was hit is updated in place when the hit covers at least
 *   max(1000, system prompt tokens) tokens and half the prompt; otherwise the prompt is added as a
 *   new entry, so short prompts sent again pile up duplicates as they do in EXO;
 * - there is no entry limit: before an entry is added, least recently used entries are evicted
 *   while the memory in use exceeds a fraction of RAM (0.70, or 0.75 / 0.80 / 0.85 from 32 / 64 /
 *   128 GiB), the highest share over the instance's nodes.
 *
 * An exact hit reports the prompt rate of the prefill that filled the entry.
 */

/** Memory facts of one stage node, to decide evictions. */
export interface StageMemory {
  readonly memTotalBytes: number;
  /** RAM in use before any cache: the OS and services plus the stage's weights. */
  readonly baseUsedBytes: number;
  /** KV-cache bytes one cached token costs on this stage. */
  readonly kvBytesPerToken: number;
}

export interface PrefixLookup {
  /** Tokens restored from the cache (`prefix_hit_length`, reported as `cached_tokens`). */
  readonly cachedTokens: number;
  readonly matchedIndex: number | null;
  readonly hit: 'none' | 'partial' | 'exact';
  /** The entry's prompt rate, for an exact hit. */
  readonly storedPromptTps: number | null;
}

interface Entry {
  tokens: readonly number[];
  keptLength: number;
  promptTps: number;
  lastUsed: number;
}

/** `_MIN_PREFIX_HIT_RATIO_TO_UPDATE`. */
const MIN_HIT_RATIO_TO_UPDATE = 0.5;
/** The floor of `min_prefix_hit_length`. */
const MIN_PREFIX_HIT_TOKENS = 1000;
/**
 * Not in EXO: a bound on the emulator's own memory and lookup time when a long benchmark sends
 * thousands of short prompts that never reach the memory threshold.
 */
const EMULATOR_ENTRY_LIMIT = 4096;

/** `_default_memory_threshold`: the used-memory fraction above which entries are evicted. */
export function evictionThreshold(memTotalBytes: number): number {
  const gib = memTotalBytes / 1024 ** 3;
  if (gib >= 128) return 0.85;
  if (gib >= 64) return 0.8;
  if (gib >= 32) return 0.75;
  return 0.7;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Kept KV length after prefilling `prompt` from `restored` cached tokens (`prefill` then trim 2). */
export function keptLengthAfterPrefill(promptTokens: number, restored: number): number {
  const prefilled = promptTokens - restored - 1;
  return prefilled > 0 ? promptTokens - 2 : restored;
}

export class PromptPrefixCache {
  private entries: Entry[] = [];
  private accessCounter = 0;

  get size(): number {
    return this.entries.length;
  }

  /** `get_kv_cache`. */
  lookup(prompt: readonly number[]): PrefixLookup {
    const max = prompt.length;
    let best: number | null = null;
    let bestLength = 0;
    let exact = false;
    for (let i = 0; i < this.entries.length; i++) {
      const length = commonPrefix(prompt, this.entries[i]!.tokens);
      if (length >= max - 1) {
        best = i;
        bestLength = length;
        exact = true;
        break;
      }
      if (length > bestLength) {
        best = i;
        bestLength = length;
      }
    }
    if (best === null) return { cachedTokens: 0, matchedIndex: null, hit: 'none', storedPromptTps: null };
    const entry = this.entries[best]!;
    const restored = Math.max(0, Math.min(entry.keptLength, exact ? max - 1 : bestLength));
    this.accessCounter += 1;
    entry.lastUsed = this.accessCounter;
    const hit = restored > 0 ? (exact ? 'exact' : 'partial') : 'none';
    return {
      cachedTokens: restored,
      matchedIndex: best,
      hit,
      storedPromptTps: hit === 'exact' ? entry.promptTps : null,
    };
  }

  /** `_save_prefix_cache`, right after the prefill. */
  save(
    prompt: readonly number[],
    lookup: PrefixLookup,
    minPrefixHitTokens: number,
    promptTps: number,
    memory: readonly StageMemory[],
  ): void {
    const keptLength = keptLengthAfterPrefill(prompt.length, lookup.cachedTokens);
    const ratio = prompt.length > 0 ? lookup.cachedTokens / prompt.length : 0;
    const minHit = Math.max(MIN_PREFIX_HIT_TOKENS, minPrefixHitTokens);
    const matched = lookup.matchedIndex === null ? undefined : this.entries[lookup.matchedIndex];
    this.accessCounter += 1;
    if (matched && lookup.cachedTokens >= minHit && ratio >= MIN_HIT_RATIO_TO_UPDATE) {
      matched.tokens = prompt;
      matched.keptLength = keptLength;
      matched.promptTps = promptTps;
      matched.lastUsed = this.accessCounter;
      return;
    }
    this.evictIfNeeded(memory);
    this.entries.push({ tokens: prompt, keptLength, promptTps, lastUsed: this.accessCounter });
  }

  clear(): void {
    this.entries = [];
  }

  /** The highest used-memory share over the stages, counting what the cache holds. */
  private pressure(memory: readonly StageMemory[]): { share: number; threshold: number } {
    const cachedTokens = this.entries.reduce((sum, e) => sum + e.keptLength, 0);
    let share = 0;
    let threshold = 1;
    for (const m of memory) {
      const s = (m.baseUsedBytes + cachedTokens * m.kvBytesPerToken) / Math.max(1, m.memTotalBytes);
      if (s > share) {
        share = s;
        threshold = evictionThreshold(m.memTotalBytes);
      }
    }
    return { share, threshold };
  }

  private evictIfNeeded(memory: readonly StageMemory[]): void {
    for (;;) {
      if (this.entries.length === 0) return;
      const { share, threshold } = this.pressure(memory);
      if (share <= threshold && this.entries.length < EMULATOR_ENTRY_LIMIT) return;
      let lru = 0;
      for (let i = 1; i < this.entries.length; i++) {
        if (this.entries[i]!.lastUsed < this.entries[lru]!.lastUsed) lru = i;
      }
      this.entries.splice(lru, 1);
    }
  }
}
