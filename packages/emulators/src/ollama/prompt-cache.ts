/**
 * The prompt cache of a loaded model. Ollama 0.32 sends every completion to llama-server with
 * `cache_prompt: true`; llama-server keeps, per parallel slot, the KV cache of the last prompt it
 * processed and evaluates only the part of a new prompt after the longest common token prefix.
 * Ollama then reports `prompt_eval_count = cache_n + prompt_n` (the whole prompt) but
 * `prompt_eval_duration` of the `prompt_n` evaluated tokens only, so a repeated prompt's TTFT collapses.
 *
 * Slot choice follows llama-server: among idle slots, the one whose cached prompt shares the longest
 * prefix with the new prompt, if that prefix is more than 10 % of the new prompt
 * (`--slot-prompt-similarity` 0.1); else the least recently used idle slot. At least one token is
 * always evaluated (the logits of the last prompt token are needed), so an exact repeat evaluates 1.
 *
 * Tokens here are stand-ins: the emulator's token estimate (about 4 characters a token) cut into
 * 4-character pieces, plus fixed tokens for the chat template, so equal texts give equal tokens and a
 * changed first line changes the tokens from the start.
 */

/** `--slot-prompt-similarity` default: a slot is reused only above this share of common prefix. */
const SLOT_PROMPT_SIMILARITY = 0.1;

/** One parallel slot of a runner. */
interface Slot {
  /** Tokens whose KV cache the slot holds. */
  tokens: readonly string[];
  busy: boolean;
  lastUsed: number;
}

/** A slot held by one request. Release exactly once. */
export interface SlotLease {
  /** Prompt tokens already in the slot's cache (llama-server's `cache_n`). */
  readonly cachedTokens: number;
  /** Records what the slot's cache holds once the prompt was (partly) evaluated. */
  release(cachedPrompt: readonly string[]): void;
}

/** Length of the common prefix of two token lists. */
export function commonPrefixLength(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i += 1;
  return i;
}

/** The prompt caches of one loaded model: one per parallel slot, dropped with the runner. */
export class SlotPromptCache {
  private readonly slots: Slot[];
  private clock = 0;

  constructor(numSlots: number) {
    this.slots = Array.from({ length: Math.max(1, numSlots) }, () => ({ tokens: [], busy: false, lastUsed: 0 }));
  }

  /**
   * Takes an idle slot for `prompt`. With `reuse` off (the `promptCache` knob) nothing is reused and
   * the slot's cache is replaced. The scheduler never runs more requests than slots, so one is free.
   */
  acquire(prompt: readonly string[], reuse: boolean): SlotLease {
    const idle = this.slots.filter((s) => !s.busy);
    let chosen: Slot | undefined;
    let best = 0;
    if (reuse && prompt.length > 0) {
      for (const slot of idle) {
        const common = commonPrefixLength(slot.tokens, prompt);
        if (common > best && common / prompt.length > SLOT_PROMPT_SIMILARITY) {
          best = common;
          chosen = slot;
        }
      }
    }
    chosen ??= idle.reduce<Slot | undefined>(
      (lru, s) => (lru === undefined || s.lastUsed < lru.lastUsed ? s : lru),
      undefined,
    );
    // Fallback for safety: should the scheduler ever over-admit, share the first slot uncached.
    const slot = chosen ?? this.slots[0]!;
    const common = reuse && chosen ? commonPrefixLength(slot.tokens, prompt) : 0;
    // At least the last prompt token is evaluated again.
    const cachedTokens = Math.max(0, Math.min(common, prompt.length - 1));
    slot.busy = true;
    this.clock += 1;
    slot.lastUsed = this.clock;
    let released = false;
    return {
      cachedTokens,
      release: (cachedPrompt) => {
        if (released) return;
        released = true;
        slot.busy = false;
        slot.tokens = cachedPrompt;
        this.clock += 1;
        slot.lastUsed = this.clock;
      },
    };
  }
}

/** Characters per stand-in token (the emulator's token estimate). */
const CHARS_PER_TOKEN = 4;

/** A text as stand-in tokens: `estimateTokens(text)` pieces (one empty token for empty text). */
export function textTokens(text: string): string[] {
  if (text.length === 0) return [''];
  const tokens: string[] = [];
  for (let i = 0; i < text.length; i += CHARS_PER_TOKEN) tokens.push(text.slice(i, i + CHARS_PER_TOKEN));
  return tokens;
}

/** `count` fixed tokens standing for template text (role headers, default system prompt). */
export function templateTokens(tag: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `\u0000${tag}:${i}`);
}
