/**
 * Request models of EXO's API (`src/exo/api/types/api.py` at v1.0.71), validated as pydantic would:
 * ChatCompletionRequest / BenchChatCompletionRequest, PlaceInstanceParams, AddCustomModelParams and
 * the query parameters of `GET /instance/placement`.
 */
import type { InstanceMeta, Sharding } from './placement.js';
import { FieldReader, type PydanticError } from './validation.js';

/** `MAX_TOKENS` of `worker/engines/mlx/constants.py`: used when `max_tokens` is unset (or 0). */
export const EXO_DEFAULT_MAX_TOKENS = 32168;

const ROLES = ['system', 'user', 'assistant', 'developer', 'tool', 'function'] as const;
const SHARDINGS: readonly Sharding[] = ['Tensor', 'Pipeline'];
const INSTANCE_METAS: readonly InstanceMeta[] = ['MlxRing', 'MlxJaccl'];

export interface ChatMessage {
  readonly role: (typeof ROLES)[number];
  readonly content: string;
}

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly stream: boolean;
  readonly maxTokens: number;
  /** Bench only: `use_prefix_cache` (default false; chat requests always use the cache). */
  readonly usePrefixCache: boolean;
  /** `max_tokens` as sent (null when absent), for the task's `max_output_tokens`. */
  readonly maxTokensRequested: number | null;
  /** The sampling and logprob options as sent (snake_case keys), null when absent. */
  readonly options: Readonly<Record<string, number | boolean | null>>;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; errors: PydanticError[] };

function contentText(content: unknown, reader: FieldReader, loc: string): string | undefined {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  const textOf = (part: unknown): string => {
    if (typeof part === 'object' && part !== null && (part as { type?: unknown }).type === 'text') {
      const text = (part as { text?: unknown }).text;
      return typeof text === 'string' ? text : '';
    }
    return '';
  };
  if (Array.isArray(content)) return content.map(textOf).join('\n');
  if (typeof content === 'object') return textOf(content);
  // pydantic reports every member of the failed union.
  const input = content;
  const base = reader.locOf(loc);
  reader.errors.push(
    { type: 'string_type', loc: [...base, 'str'], msg: 'Input should be a valid string', input },
    ...['ChatCompletionMessageText', 'ChatCompletionMessageImageUrl'].map((cls) => ({
      type: 'model_type',
      loc: [...base, cls],
      msg: `Input should be a valid dictionary or instance of ${cls}`,
      input,
      ctx: { class_name: cls },
    })),
    {
      type: 'list_type',
      loc: [...base, 'list[union[ChatCompletionMessageText,ChatCompletionMessageImageUrl]]'],
      msg: 'Input should be a valid list',
      input,
    },
  );
  return undefined;
}

/** Validates a chat request body (bench adds `use_prefix_cache`). */
export function parseChatRequest(body: Record<string, unknown>, bench: boolean): Parsed<ChatRequest> {
  const r = new FieldReader(body, ['body']);
  const model = r.str('model', true);
  const rawMessages = r.list('messages', true);
  const messages: ChatMessage[] = [];
  rawMessages?.forEach((_, i) => {
    const m = r.nested(rawMessages, 'messages', i, 'ChatCompletionMessage');
    if (!m) return;
    const role = m.literal('role', ROLES, true);
    const content = contentText(m.raw('content'), m, 'content');
    m.str('name', false);
    r.errors.push(...m.errors);
    if (role && content !== undefined) messages.push({ role, content });
  });
  const stream = r.bool('stream');
  const maxTokens = r.int('max_tokens');
  const options: Record<string, number | boolean | null> = {};
  for (const key of ['temperature', 'top_p', 'min_p', 'presence_penalty', 'frequency_penalty', 'repetition_penalty']) {
    options[key] = r.float(key) ?? null;
  }
  for (const key of ['top_k', 'seed', 'n', 'top_logprobs', 'repetition_context_size'])
    options[key] = r.int(key) ?? null;
  options.logprobs = r.bool('logprobs') ?? null;
  const usePrefixCache = bench ? r.bool('use_prefix_cache') : undefined;
  if (r.errors.length > 0 || model === undefined || model === null) return { ok: false, errors: r.errors };
  return {
    ok: true,
    value: {
      model,
      messages,
      stream: stream ?? false,
      // `max_tokens or MAX_TOKENS` in Python: 0 and null both mean the default cap.
      maxTokens: maxTokens ? Math.max(1, maxTokens) : EXO_DEFAULT_MAX_TOKENS,
      usePrefixCache: bench ? (usePrefixCache ?? false) : true,
      maxTokensRequested: maxTokens ?? null,
      options,
    },
  };
}

export interface PlaceParams {
  readonly modelId: string;
  readonly sharding: Sharding;
  readonly instanceMeta: InstanceMeta;
  readonly minNodes: number;
}

function readPlaceParams(r: FieldReader): Parsed<PlaceParams> {
  const modelId = r.str('model_id', true);
  const sharding = r.enumOf('sharding', SHARDINGS) ?? 'Pipeline';
  const instanceMeta = r.enumOf('instance_meta', INSTANCE_METAS) ?? 'MlxRing';
  const minNodes = r.int('min_nodes');
  if (r.errors.length > 0 || typeof modelId !== 'string') return { ok: false, errors: r.errors };
  return { ok: true, value: { modelId, sharding, instanceMeta, minNodes: minNodes ?? 1 } };
}

/** `PlaceInstanceParams` from a JSON body. */
export function parsePlaceParams(body: Record<string, unknown>): Parsed<PlaceParams> {
  return readPlaceParams(new FieldReader(body, ['body']));
}

/** The same parameters from the query string of `GET /instance/placement`. */
export function parsePlacementQuery(query: Record<string, unknown>): Parsed<PlaceParams> {
  const r = new FieldReader(query, ['query']);
  if (query.model_id === undefined) {
    return { ok: false, errors: [{ type: 'missing', loc: ['query', 'model_id'], msg: 'Field required', input: null }] };
  }
  return readPlaceParams(r);
}

/** `search_models(query: str = "", limit: int = 20)`: query parameters, strings on the wire. */
export function parseModelSearch(query: Record<string, unknown>): Parsed<{ query: string; limit: number }> {
  const r = new FieldReader(query, ['query']);
  const text = r.str('query', false);
  const limit = r.int('limit');
  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  return { ok: true, value: { query: text ?? '', limit: limit ?? 20 } };
}

/** `AddCustomModelParams`. */
export function parseAddModel(body: Record<string, unknown>): Parsed<{ modelId: string }> {
  const r = new FieldReader(body, ['body']);
  const modelId = r.str('model_id', true);
  if (r.errors.length > 0 || typeof modelId !== 'string') return { ok: false, errors: r.errors };
  return { ok: true, value: { modelId } };
}
