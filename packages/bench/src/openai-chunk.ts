/**
 * What one parsed OpenAI chat-completions SSE event says, whoever sent it: OpenAI itself, vLLM,
 * Ollama's `/v1` (either chunk layout) or EXO 1.x (`object: "chat.completion"`, explicit nulls,
 * usage on the finish chunk, `{"error":{…}}` events). The benchmark clients time these events; the
 * coordinator's gateway re-encodes them for Ollama clients. Both must read a chunk the same way,
 * so the reading lives here once.
 */

/** Token counts of a chunk's `usage`; a field is absent when the server did not send a number. */
export interface OpenAiChunkUsage {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  /** `usage.prompt_tokens_details.cached_tokens` (EXO, Ollama after PR #17943). */
  readonly cachedPromptTokens?: number;
}

export interface OpenAiChunkView {
  /** The message of an in-stream error event (`{"error": …}`); the other fields are then empty. */
  readonly error: string | undefined;
  /** Answer text of the first choice's delta (or `message`, as EXO's legacy line sends), '' if none. */
  readonly content: string;
  /** Reasoning text: `reasoning_content` (EXO, vLLM) or `reasoning` (Ollama's `/v1`), '' if none. */
  readonly reasoning: string;
  /** The delta carries at least one tool call. */
  readonly hasToolCalls: boolean;
  /** `finish_reason` of the first choice when it is a string (`stop`, `length`, `tool_calls`, …). */
  readonly finishReason: string | undefined;
  /** Present when the chunk has a `usage` object (EXO: the finish chunk; others: a `choices: []` chunk). */
  readonly usage: OpenAiChunkUsage | undefined;
}

const NO_TEXT = { content: '', reasoning: '', hasToolCalls: false, finishReason: undefined } as const;

/** Reads one parsed SSE `data:` object. Never throws: unknown shapes read as an empty chunk. */
export function readOpenAiChunk(chunk: Readonly<Record<string, unknown>>): OpenAiChunkView {
  const err = chunk['error'];
  if (err !== undefined && err !== null) {
    return { ...NO_TEXT, error: errorText(err), usage: undefined };
  }
  let text: Omit<OpenAiChunkView, 'error' | 'usage'> = NO_TEXT;
  const choices = Array.isArray(chunk['choices']) ? (chunk['choices'] as unknown[]) : [];
  const choice = choices[0];
  if (isObject(choice)) {
    const delta = choice['delta'] ?? choice['message'];
    const finish = choice['finish_reason'];
    text = {
      content: isObject(delta) ? textOf(delta['content']) : '',
      reasoning: isObject(delta) ? textOf(delta['reasoning_content']) || textOf(delta['reasoning']) : '',
      hasToolCalls: isObject(delta) && Array.isArray(delta['tool_calls']) && delta['tool_calls'].length > 0,
      finishReason: typeof finish === 'string' ? finish : undefined,
    };
  }
  return { ...text, error: undefined, usage: usageOf(chunk['usage']) };
}

function usageOf(value: unknown): OpenAiChunkUsage | undefined {
  if (!isObject(value)) return undefined;
  const usage: { promptTokens?: number; completionTokens?: number; cachedPromptTokens?: number } = {};
  if (typeof value['prompt_tokens'] === 'number') usage.promptTokens = value['prompt_tokens'];
  if (typeof value['completion_tokens'] === 'number') usage.completionTokens = value['completion_tokens'];
  const details = value['prompt_tokens_details'];
  if (isObject(details)) {
    const cached = details['cached_tokens'];
    if (typeof cached === 'number' && Number.isFinite(cached)) usage.cachedPromptTokens = cached;
  }
  return usage;
}

/** The text of an error event: a bare string, `error.message`, or the JSON of whatever came. */
function errorText(err: unknown): string {
  if (typeof err === 'string') return err;
  if (isObject(err) && typeof err['message'] === 'string') return err['message'];
  return JSON.stringify(err);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
