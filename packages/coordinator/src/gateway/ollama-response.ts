/**
 * Answers of an OpenAI-speaking backend (EXO 1.x) turned into Ollama's native answers for
 * `/api/chat` and `/api/generate`: a streaming converter fed the parsed SSE events, the
 * non-streaming conversion, and the reply to a load-only request.
 *
 * Ollama's final line carries server timings the gateway cannot see inside EXO, so they are
 * measured on the gateway's clock, from the request's arrival (`startedNs`):
 * - `load_duration`: until the backend answered (headers), when the gateway reports it — the
 *   part of the wait spent before the backend took the request, as Ollama's counts the wait for a
 *   runner; omitted otherwise;
 * - `prompt_eval_duration`: from then until the first token (EXO prefills before its first event);
 * - `eval_duration`: first token to last token;
 * - `total_duration`: until the final line.
 * Counts come from EXO's `usage` (on its finish chunk); without it `eval_count` is the number of
 * token events (EXO sends one token per event) and `prompt_eval_count` is omitted. Zero or unknown
 * metrics are omitted, as Go's `omitempty` does. `context` (token ids, `/api/generate`) is never
 * sent: the gateway has no token ids, and the field is optional and deprecated.
 */
import { readOpenAiChunk, type OpenAiChunkView } from '@kage/bench';
import { GatewayError } from './gateway-error.js';
import { goTimestamp } from './ollama-json.js';
import { ollamaErrorBody, type OllamaErrorBody } from './protocol-errors.js';
import type { OllamaEndpoint } from './protocol-translate.js';

/** Where the converters read time; injected by tests. */
export interface GatewayClock {
  /** Monotonic nanoseconds (durations). */
  monotonicNs(): bigint;
  /** Wall-clock epoch milliseconds (`created_at`). */
  epochMs(): number;
}

export const SYSTEM_CLOCK: GatewayClock = {
  monotonicNs: () => process.hrtime.bigint(),
  epochMs: () => Date.now(),
};

/** The metrics of a final line, integer nanoseconds (each omitted when zero or unknown). */
export interface OllamaMetrics {
  total_duration?: number;
  load_duration?: number;
  prompt_eval_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
}

export type OllamaDoneReason = 'stop' | 'length' | 'load' | 'unload';

export interface OllamaChatLine extends OllamaMetrics {
  model: string;
  created_at: string;
  message: { role: 'assistant'; content: string; thinking?: string };
  done: boolean;
  done_reason?: OllamaDoneReason;
}

export interface OllamaGenerateLine extends OllamaMetrics {
  model: string;
  created_at: string;
  response: string;
  thinking?: string;
  done: boolean;
  done_reason?: OllamaDoneReason;
}

/** The answer line type of an endpoint. */
export type OllamaLineFor<E extends OllamaEndpoint> = E extends 'chat' ? OllamaChatLine : OllamaGenerateLine;

/** One NDJSON line of a native stream (serialise with `ndjsonLine`). */
export type OllamaStreamLine = OllamaChatLine | OllamaGenerateLine | OllamaErrorBody;

export interface OllamaResponseOptions {
  endpoint: OllamaEndpoint;
  /** The model name exactly as the client wrote it: Ollama echoes the request's name. */
  model: string;
  /** @default SYSTEM_CLOCK */
  clock?: GatewayClock;
  /** `clock.monotonicNs()` when the gateway received the request. @default the converter's creation */
  startedNs?: bigint;
}

/** OpenAI finish reasons in Ollama's words: only `length` differs from a plain stop (tool calls end with "stop" too). */
export function ollamaDoneReason(finishReason: string | undefined): 'stop' | 'length' {
  return finishReason === 'length' ? 'length' : 'stop';
}

/** A line in Go's field order: model, created_at, message|response(+thinking), done, done_reason. */
function line(
  endpoint: OllamaEndpoint,
  model: string,
  createdAt: string,
  text: { content: string; thinking: string },
  done: boolean,
  doneReason?: OllamaDoneReason,
): OllamaChatLine | OllamaGenerateLine {
  const thinking = text.thinking === '' ? {} : { thinking: text.thinking };
  const head =
    endpoint === 'chat'
      ? { model, created_at: createdAt, message: { role: 'assistant' as const, content: text.content, ...thinking } }
      : { model, created_at: createdAt, response: text.content, ...thinking };
  return { ...head, done, ...(doneReason === undefined ? {} : { done_reason: doneReason }) };
}

/** `omitempty`: only positive metrics, as integers. */
function metrics(values: { [K in keyof OllamaMetrics]: bigint | number | undefined }): OllamaMetrics {
  const out: OllamaMetrics = {};
  for (const key of Object.keys(values) as (keyof OllamaMetrics)[]) {
    const value = values[key];
    if (value !== undefined && value > 0) out[key] = Number(value);
  }
  return out;
}

/**
 * Converts one backend stream. Feed it every parsed SSE `data:` object with {@link push}, then
 * call {@link done} on `data: [DONE]` and {@link end} when the body ends (after [DONE] it returns
 * nothing), or {@link fail} when the connection breaks. Each call returns the lines to write; once
 * a final line or an error line has been returned, every later call returns none.
 */
export class OllamaStreamConverter {
  private readonly clock: GatewayClock;
  private readonly startedNs: bigint;
  private respondedNs: bigint | undefined;
  private firstTokenNs: bigint | undefined;
  private lastTokenNs: bigint | undefined;
  private tokenEvents = 0;
  private finishReason: string | undefined;
  private promptTokens: number | undefined;
  private completionTokens: number | undefined;
  private isFinished = false;

  constructor(private readonly options: OllamaResponseOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.startedNs = options.startedNs ?? this.clock.monotonicNs();
  }

  /** True once a final (`done: true`) or error line was returned. */
  get finished(): boolean {
    return this.isFinished;
  }

  /** The backend's response headers arrived: ends `load_duration`. Only the first call counts. */
  backendResponded(): void {
    this.respondedNs ??= this.clock.monotonicNs();
  }

  /** One parsed SSE `data:` object (not `[DONE]`). */
  push(event: unknown): OllamaStreamLine[] {
    if (this.isFinished) return [];
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      return this.fail('the backend sent a stream event that is not a JSON object');
    }
    const chunk = readOpenAiChunk(event as Record<string, unknown>);
    if (chunk.error !== undefined) return this.fail(chunk.error);
    // EXO's internal finish reason for a failed generation; its API turns it into an error event.
    if (chunk.finishReason === 'error') return this.fail('the backend reported a generation error');
    this.note(chunk);
    // Role-only, finish-only, usage-only and empty deltas carry no token; tool calls cannot
    // occur because the translation refuses `tools`.
    if (chunk.content === '' && chunk.reasoning === '') return [];
    const now = this.clock.monotonicNs();
    this.firstTokenNs ??= now;
    this.lastTokenNs = now;
    this.tokenEvents += 1;
    const { endpoint, model } = this.options;
    const createdAt = goTimestamp(this.clock.epochMs());
    return [line(endpoint, model, createdAt, { content: chunk.content, thinking: chunk.reasoning }, false)];
  }

  /** `data: [DONE]`: the final line. */
  done(): OllamaStreamLine[] {
    if (this.isFinished) return [];
    this.isFinished = true;
    const { endpoint, model } = this.options;
    const final = line(
      endpoint,
      model,
      goTimestamp(this.clock.epochMs()),
      { content: '', thinking: '' },
      true,
      ollamaDoneReason(this.finishReason),
    );
    const now = this.clock.monotonicNs();
    const accepted = this.respondedNs ?? this.startedNs;
    return [
      {
        ...final,
        ...metrics({
          total_duration: now - this.startedNs,
          load_duration: this.respondedNs === undefined ? undefined : this.respondedNs - this.startedNs,
          prompt_eval_count: this.promptTokens,
          prompt_eval_duration: this.firstTokenNs === undefined ? undefined : this.firstTokenNs - accepted,
          eval_count: this.completionTokens ?? this.tokenEvents,
          eval_duration:
            this.firstTokenNs === undefined || this.lastTokenNs === undefined
              ? undefined
              : this.lastTokenNs - this.firstTokenNs,
        }),
      },
    ];
  }

  /**
   * The body ended. After `[DONE]` nothing is left to say; a stream that stopped after its finish
   * chunk but without `[DONE]` still completes; one that stopped before it was cut, which an
   * Ollama client must learn from an error line (ollama-js otherwise waits for `done: true`).
   */
  end(): OllamaStreamLine[] {
    if (this.isFinished) return [];
    if (this.finishReason !== undefined) return this.done();
    return this.fail('the backend stream ended before the response was complete');
  }

  /** The in-stream error line (the stream must end after it). */
  fail(message: string): OllamaStreamLine[] {
    if (this.isFinished) return [];
    this.isFinished = true;
    return [ollamaErrorBody(message)];
  }

  private note(chunk: OpenAiChunkView): void {
    if (chunk.finishReason !== undefined) this.finishReason = chunk.finishReason;
    if (chunk.usage?.promptTokens !== undefined) this.promptTokens = chunk.usage.promptTokens;
    if (chunk.usage?.completionTokens !== undefined) this.completionTokens = chunk.usage.completionTokens;
  }
}

/**
 * A non-streamed OpenAI chat completion as Ollama's single JSON answer. Only `total_duration`
 * can be measured (EXO sends nothing before the whole body), so the phase durations are omitted.
 * @throws GatewayError KAGE_ERR_GATEWAY_BACKEND_REPLY when the body is no completion (an error
 *   body included: its message is kept)
 */
export function openAICompletionToOllama<E extends OllamaEndpoint>(
  completion: unknown,
  options: OllamaResponseOptions & { endpoint: E },
): OllamaLineFor<E> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const now = clock.monotonicNs();
  if (completion === null || typeof completion !== 'object' || Array.isArray(completion)) {
    throw backendResponse('the backend answer is not a JSON object');
  }
  const body = completion as Record<string, unknown>;
  const read = readOpenAiChunk(body);
  if (read.error !== undefined) throw backendResponse(`the backend answered with an error: ${read.error}`);
  const choice = Array.isArray(body['choices']) ? (body['choices'] as unknown[])[0] : undefined;
  const message = typeof choice === 'object' && choice !== null ? (choice as Record<string, unknown>)['message'] : null;
  if (typeof message !== 'object' || message === null)
    throw backendResponse('the backend answer has no choices[0].message');
  const reply = line(
    options.endpoint,
    options.model,
    goTimestamp(clock.epochMs()),
    { content: read.content, thinking: read.reasoning },
    true,
    ollamaDoneReason(read.finishReason),
  );
  const measured = metrics({
    total_duration: options.startedNs === undefined ? undefined : now - options.startedNs,
    prompt_eval_count: read.usage?.promptTokens,
    eval_count: read.usage?.completionTokens,
  });
  return { ...reply, ...measured } as OllamaLineFor<E>;
}

function backendResponse(message: string): GatewayError {
  return new GatewayError('KAGE_ERR_GATEWAY_BACKEND_REPLY', message);
}

/**
 * Ollama's answer to a load-only request (see `ollamaLoadOnly`): `done: true` with `done_reason`
 * `load` (or `unload`) and no metrics. An EXO model the gateway can route to is already loaded in
 * an instance, so the truthful answer needs no backend call.
 */
export function ollamaLoadReply<E extends OllamaEndpoint>(
  endpoint: E,
  model: string,
  doneReason: 'load' | 'unload',
  clock: GatewayClock = SYSTEM_CLOCK,
): OllamaLineFor<E> {
  const reply = line(endpoint, model, goTimestamp(clock.epochMs()), { content: '', thinking: '' }, true, doneReason);
  return reply as OllamaLineFor<E>;
}

/**
 * Prefill and decode speed and load time from Ollama's final line (`done: true`): counts, and
 * durations in nanoseconds. The line is an Ollama backend's own, or the one the gateway made from
 * EXO's stream (ollama-over-openai.ts), which carries the same fields.
 */
export function ollamaFinalRates(final: Record<string, unknown>): {
  prefillTps: number | null;
  decodeTps: number | null;
  loadMs: number | null;
} {
  const rate = (count: unknown, ns: unknown): number | null =>
    typeof count === 'number' && typeof ns === 'number' && ns > 0 ? count / (ns / 1e9) : null;
  const load = final['load_duration'];
  return {
    prefillTps: rate(final['prompt_eval_count'], final['prompt_eval_duration']),
    decodeTps: rate(final['eval_count'], final['eval_duration']),
    loadMs: typeof load === 'number' ? load / 1e6 : null,
  };
}
