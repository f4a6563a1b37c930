/**
 * Requests from Ollama clients (`/api/chat`, `/api/generate`) turned into OpenAI chat-completions
 * bodies for a backend that speaks only OpenAI (EXO 1.x), and the `model` renaming the gateway
 * needs when it relays a backend's answer under the name the client asked for.
 *
 * The translation refuses rather than drops: a request asking for something EXO v1.0.71 would
 * silently ignore (`format`, which it accepts as `response_format` and never applies) or that the
 * gateway does not carry over (tools, images, raw prompts) fails with KAGE_ERR_GATEWAY_UNSUPPORTED,
 * so a client never gets an answer that looks right and is not. Malformed fields fail with
 * KAGE_ERR_GATEWAY_BAD_REQUEST. Both name the field; the gateway answers 400 `{"error": message}`.
 * Options with no EXO counterpart that only tune the server (`num_ctx`, `num_gpu`, `keep_alive`, …)
 * are ignored, as Ollama itself ignores options it does not know.
 */
import { GatewayError } from './gateway-error.js';

export type OllamaEndpoint = 'chat' | 'generate';

export interface OpenAIChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The OpenAI chat-completions body sent to the backend (only the fields the translation sets). */
export interface OpenAIChatRequest {
  model: string;
  messages: OpenAIChatMessage[];
  stream: boolean;
  /** Asked for when streaming; EXO sends usage regardless, other OpenAI servers only when asked. */
  stream_options?: { include_usage: boolean };
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  seed?: number;
  stop?: string[];
  presence_penalty?: number;
  frequency_penalty?: number;
  repetition_penalty?: number;
  repetition_context_size?: number;
  enable_thinking?: boolean;
  reasoning_effort?: 'low' | 'medium' | 'high' | 'xhigh';
}

type Json = Record<string, unknown>;

function badRequest(field: string, message: string): GatewayError {
  return new GatewayError('KAGE_ERR_GATEWAY_BAD_REQUEST', message, { field });
}

function unsupported(field: string, message: string): GatewayError {
  return new GatewayError('KAGE_ERR_GATEWAY_UNSUPPORTED', `${message} (${field})`, { field });
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Go decodes JSON null into a zero value: a null field is an absent field. */
function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function readObject(body: unknown): Json {
  if (!isObject(body)) throw badRequest('(body)', 'the request body must be a JSON object');
  return body;
}

function optionalString(o: Json, key: string, field = key): string | undefined {
  const value = o[key];
  if (!present(value)) return undefined;
  if (typeof value !== 'string') throw badRequest(field, `${field} must be a string`);
  return value;
}

function optionalBoolean(o: Json, key: string): boolean | undefined {
  const value = o[key];
  if (!present(value)) return undefined;
  if (typeof value !== 'boolean') throw badRequest(key, `${key} must be a boolean`);
  return value;
}

function readModel(o: Json): string {
  const model = optionalString(o, 'model');
  // Ollama's own wording for a missing model.
  if (model === undefined || model.trim() === '') throw badRequest('model', 'model is required');
  return model;
}

/** `stream` is a `*bool` in Ollama: absent or null means stream. */
function readStream(o: Json): boolean {
  return optionalBoolean(o, 'stream') ?? true;
}

function nonEmptyList(o: Json, key: string, field: string): boolean {
  const value = o[key];
  if (!present(value)) return false;
  if (!Array.isArray(value)) throw badRequest(field, `${field} must be an array`);
  return value.length > 0;
}

/** Fields both endpoints share that EXO cannot honour. */
function refuseCommonUnsupported(o: Json): void {
  const format = o['format'];
  if (present(format) && format !== '') {
    throw unsupported('format', 'structured output is not supported on EXO backends: EXO ignores response_format');
  }
  if (optionalBoolean(o, 'logprobs') === true)
    throw unsupported('logprobs', 'log probabilities are not supported on EXO backends');
  const top = o['top_logprobs'];
  if (present(top)) {
    if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > 20) {
      throw badRequest('top_logprobs', 'top_logprobs must be between 0 and 20');
    }
    if (top > 0) throw unsupported('top_logprobs', 'log probabilities are not supported on EXO backends');
  }
}

/** `think`: a bool, or a level; EXO's equivalents are `enable_thinking` and `reasoning_effort`. */
function readThink(o: Json): Pick<OpenAIChatRequest, 'enable_thinking' | 'reasoning_effort'> {
  const think = o['think'];
  if (!present(think)) return {};
  if (typeof think === 'boolean') return { enable_thinking: think };
  if (think === 'low' || think === 'medium' || think === 'high') return { reasoning_effort: think };
  // Ollama's top level; EXO's scale ends at `xhigh`.
  if (think === 'max') return { reasoning_effort: 'xhigh' };
  throw badRequest(
    'think',
    `invalid think value: ${JSON.stringify(think)} (must be "high", "medium", "low", "max", true, or false)`,
  );
}

// Ollama option → OpenAI/EXO field. Integer options accept any JSON number and truncate, as Go's
// `Options.FromMap` does; the error texts are Ollama's.
const FLOAT_OPTIONS = {
  temperature: 'temperature',
  top_p: 'top_p',
  min_p: 'min_p',
  presence_penalty: 'presence_penalty',
  frequency_penalty: 'frequency_penalty',
  repeat_penalty: 'repetition_penalty',
} as const;

function optionNumber(options: Json, key: string, type: 'float32' | 'integer'): number | undefined {
  const value = options[key];
  if (!present(value)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw badRequest(`options.${key}`, `option "${key}" must be of type ${type}`);
  }
  return type === 'integer' ? Math.trunc(value) : value;
}

function readOptions(o: Json): Partial<OpenAIChatRequest> {
  const raw = o['options'];
  if (!present(raw)) return {};
  if (!isObject(raw)) throw badRequest('options', 'options must be an object');
  const out: Partial<OpenAIChatRequest> = {};
  for (const [key, target] of Object.entries(FLOAT_OPTIONS)) {
    const value = optionNumber(raw, key, 'float32');
    if (value !== undefined) out[target] = value;
  }
  // Ollama's "no limit" values have no OpenAI spelling; omitting them leaves EXO's own default:
  // num_predict ≤ 0 (unlimited), seed < 0 (random), top_k ≤ 0 (off), repeat_last_n ≤ 0 (off / num_ctx).
  const numPredict = optionNumber(raw, 'num_predict', 'integer');
  if (numPredict !== undefined && numPredict > 0) out.max_tokens = numPredict;
  const seed = optionNumber(raw, 'seed', 'integer');
  if (seed !== undefined && seed >= 0) out.seed = seed;
  const topK = optionNumber(raw, 'top_k', 'integer');
  if (topK !== undefined && topK > 0) out.top_k = topK;
  const lastN = optionNumber(raw, 'repeat_last_n', 'integer');
  if (lastN !== undefined && lastN > 0) out.repetition_context_size = lastN;
  const stop = raw['stop'];
  if (present(stop)) {
    if (!Array.isArray(stop)) throw badRequest('options.stop', 'option "stop" must be of type array');
    if (!stop.every((s): s is string => typeof s === 'string')) {
      throw badRequest('options.stop', 'option "stop" must be of an array of strings');
    }
    if (stop.length > 0) out.stop = stop;
  }
  return out;
}

function assemble(o: Json, backendModel: string, messages: OpenAIChatMessage[], stream: boolean): OpenAIChatRequest {
  return {
    model: backendModel,
    messages,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    ...readOptions(o),
    ...readThink(o),
  };
}

const ROLES = new Set(['system', 'user', 'assistant']);

function readMessage(value: unknown, index: number): OpenAIChatMessage {
  const at = `messages[${index}]`;
  if (!isObject(value)) throw badRequest(at, `${at} must be an object`);
  const rawRole = optionalString(value, 'role', `${at}.role`) ?? '';
  // api.Message.UnmarshalJSON lowercases the role.
  const role = rawRole.toLowerCase();
  if (role === 'tool') {
    throw unsupported(
      `${at}.role`,
      'tool results are not supported on EXO backends (no tool calling through the gateway)',
    );
  }
  if (!ROLES.has(role)) {
    throw badRequest(
      `${at}.role`,
      `${at}.role must be "system", "user" or "assistant", got ${JSON.stringify(rawRole)}`,
    );
  }
  const content = optionalString(value, 'content', `${at}.content`) ?? '';
  if (nonEmptyList(value, 'images', `${at}.images`)) {
    throw unsupported(`${at}.images`, 'images are not supported on EXO backends');
  }
  if (nonEmptyList(value, 'tool_calls', `${at}.tool_calls`)) {
    throw unsupported(`${at}.tool_calls`, 'tool calls are not supported on EXO backends');
  }
  // `thinking` of earlier assistant turns is dropped: chat templates leave past reasoning out.
  return { role: role as OpenAIChatMessage['role'], content };
}

/**
 * An Ollama `/api/chat` body as an OpenAI chat-completions body for `backendModel` (the EXO id).
 * @throws GatewayError KAGE_ERR_GATEWAY_BAD_REQUEST / KAGE_ERR_GATEWAY_UNSUPPORTED, naming the field
 */
export function ollamaChatToOpenAI(body: unknown, backendModel: string): OpenAIChatRequest {
  const o = readObject(body);
  readModel(o);
  const stream = readStream(o);
  refuseCommonUnsupported(o);
  if (nonEmptyList(o, 'tools', 'tools')) throw unsupported('tools', 'tool calling is not supported on EXO backends');
  const raw = o['messages'];
  if (present(raw) && !Array.isArray(raw)) throw badRequest('messages', 'messages must be an array');
  const messages = ((raw ?? []) as unknown[]).map(readMessage);
  // Empty messages only load a model (see ollamaLoadOnly); there is nothing to send.
  if (messages.length === 0) throw badRequest('messages', 'messages is empty: there is nothing to generate');
  return assemble(o, backendModel, messages, stream);
}

/**
 * An Ollama `/api/generate` body as an OpenAI chat-completions body: `system` becomes a system
 * message, `prompt` the user message (EXO applies the model's chat template, as Ollama does
 * unless `raw`).
 * @throws GatewayError KAGE_ERR_GATEWAY_BAD_REQUEST / KAGE_ERR_GATEWAY_UNSUPPORTED, naming the field
 */
export function ollamaGenerateToOpenAI(body: unknown, backendModel: string): OpenAIChatRequest {
  const o = readObject(body);
  readModel(o);
  const stream = readStream(o);
  refuseCommonUnsupported(o);
  const prompt = optionalString(o, 'prompt') ?? '';
  const system = optionalString(o, 'system') ?? '';
  if (optionalBoolean(o, 'raw') === true)
    throw unsupported('raw', 'raw prompts are not supported on EXO backends (EXO always applies the chat template)');
  if ((optionalString(o, 'suffix') ?? '') !== '') {
    throw unsupported('suffix', 'fill-in-the-middle is not supported on EXO backends');
  }
  if ((optionalString(o, 'template') ?? '') !== '') {
    throw unsupported('template', 'custom prompt templates are not supported on EXO backends');
  }
  if (nonEmptyList(o, 'context', 'context')) {
    throw unsupported(
      'context',
      'context token ids are not supported on EXO backends; send the conversation to /api/chat',
    );
  }
  if (nonEmptyList(o, 'images', 'images')) throw unsupported('images', 'images are not supported on EXO backends');
  // An empty prompt only loads a model (see ollamaLoadOnly); there is nothing to send.
  if (prompt === '') throw badRequest('prompt', 'prompt is empty: there is nothing to generate');
  const messages: OpenAIChatMessage[] = [];
  if (system !== '') messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: prompt });
  return assemble(o, backendModel, messages, stream);
}

/** Go's `time.ParseDuration` / keep-alive seconds that mean zero: "0", 0, "0s", "0.0m", … */
function isZeroKeepAlive(value: unknown): boolean {
  if (typeof value === 'number') return value === 0;
  return typeof value === 'string' && /^[-+]?(?:0+(?:\.0*)?|\.0+)(?:ns|us|µs|μs|ms|s|m|h)?$/.test(value);
}

/**
 * Ollama's load-only requests, which generate nothing: `/api/chat` without messages and
 * `/api/generate` with an empty prompt (`ollama run` sends one first). With `keep_alive: 0` they
 * unload instead. Returns the `done_reason` Ollama answers them with, or null for a real request
 * (also for a malformed one: the translation reports that).
 */
export function ollamaLoadOnly(endpoint: OllamaEndpoint, body: unknown): 'load' | 'unload' | null {
  if (!isObject(body)) return null;
  const empty =
    endpoint === 'chat'
      ? !present(body['messages']) || (Array.isArray(body['messages']) && body['messages'].length === 0)
      : !present(body['prompt']) || body['prompt'] === '';
  if (!empty) return null;
  return isZeroKeepAlive(body['keep_alive']) ? 'unload' : 'load';
}

/**
 * A copy of an OpenAI chat completion or stream chunk whose `model` is `model` — the name the
 * client asked for, when the backend was sent another (an EXO id for an Ollama tag, a normalised
 * tag for an alias). Works for both backends' chunks; objects without a non-empty string `model`
 * (EXO's `{"error":…}` events) come back unchanged. An empty `model` is kept: it is how Ollama's
 * `/v1` marks a chunk that stands for an error after the stream started, which the relay must
 * still be able to see.
 */
export function renameModelInOpenAIChunk<T>(chunk: T, model: string): T {
  if (!isObject(chunk) || typeof chunk['model'] !== 'string' || chunk['model'] === '') return chunk;
  return { ...chunk, model };
}

/** The same for an Ollama native line or response from an Ollama backend (`{"error":…}` lines unchanged). */
export function renameModelInOllamaChunk<T>(chunk: T, model: string): T {
  return renameModelInOpenAIChunk(chunk, model);
}
