/**
 * Per-request metrics (docs/benchmarks.md, "What is measured") and the recorder that builds them
 * from wire events. All times come from `process.hrtime.bigint()`; only `started_at` is wall-clock,
 * for aligning with telemetry. Field names are snake_case because they are stored and reported as
 * they are.
 */
import { msBetween, type ExchangeResult } from './http-transport.js';
import type { TargetKind } from './matrix-schema.js';
import { countTextTokens } from './text-tokens.js';

/** Why a request failed. */
export type RequestErrorKind =
  /** Non-2xx answer (404 model not found, 503 busy, 500...). */
  | 'http_status'
  /** The server ran out of memory loading or running the model (a 500 or an error line). */
  | 'oom'
  /** No response: refused, reset before the head, DNS, TLS. */
  | 'connection'
  /** The request took longer than its timeout. */
  | 'timeout'
  /** Cancelled by the caller (not counted as an attempt by the cell runner). */
  | 'aborted'
  /** An error line/event inside a 200 stream. */
  | 'stream_error'
  /** The stream ended (or broke) before its terminator (`done:true` / `[DONE]`). */
  | 'stream_cut'
  /** A line that is not the JSON the protocol promises. */
  | 'bad_line'
  /** The stream completed without a single token. */
  | 'no_tokens';

/** A request failure: kind, the server's or transport's message, and the HTTP status when known. */
export interface RequestError {
  kind: RequestErrorKind;
  message: string;
  status: number | null;
}

/** Server-side counters, when the protocol gives them (`null` otherwise). */
export interface ServerCounters {
  /** Ollama `load_duration` in ms (> 0 means a model load happened inside this request). */
  load_ms: number | null;
  /** Ollama `prompt_eval_duration` in ms. */
  prompt_eval_ms: number | null;
  /** Ollama `eval_duration` in ms. */
  eval_ms: number | null;
  /** Ollama `total_duration` in ms. */
  total_ms: number | null;
  /** EXO `prompt_tps` (prefill rate). */
  prompt_tps: number | null;
  /** EXO `peak_memory_usage` (`inBytes` or `in_bytes`). */
  peak_memory_bytes: number | null;
  /**
   * Prompt tokens the server took from its prompt cache instead of computing them
   * (`usage.prompt_tokens_details.cached_tokens`: EXO and other OpenAI-compatible servers). `null`
   * when the server gives no count: Ollama counts the whole prompt in `prompt_eval_count` and
   * only shortens `prompt_eval_duration`.
   */
  cached_prompt_tokens: number | null;
}

/** Everything measured for one request. */
export interface RequestMetrics {
  protocol: TargetKind;
  model: string;
  /** Wall clock at `t_send` (ISO 8601), for joining with per-node telemetry. */
  started_at: string;
  /** `t_send` on the monotonic clock, in ms; only differences between requests are meaningful. */
  t_send_ms: number;
  /** First response byte (the response head) − t_send. */
  ttfb_ms: number | null;
  /** First event carrying answer or reasoning text − t_send. */
  ttft_ms: number | null;
  /** First event carrying answer (non-reasoning) text − t_send. */
  ttfo_ms: number | null;
  /** Last token event − t_send. */
  e2e_ms: number | null;
  /** End of the exchange (stream closed, failure or abort) − t_send. */
  total_ms: number;
  /** Server count when given (`eval_count`, `usage.completion_tokens`), else token events. */
  output_tokens: number;
  output_tokens_source: 'server' | 'tokenizer' | 'events';
  /** True when only event (chunk) counting was possible: a lower bound with multi-token chunks. */
  output_tokens_approx: boolean;
  server_output_tokens: number | null;
  /** Token-bearing events the client saw. */
  client_token_events: number;
  prompt_tokens: number | null;
  /** (output_tokens − 1) / (t_last_token − t_first_token), tokens/s. */
  decode_tps: number | null;
  /** The server's own decode rate (Ollama eval_count/eval_duration·1e9, EXO generation_tps). */
  server_decode_tps: number | null;
  server: ServerCounters;
  finish_reason: string | null;
  /** Offset of every token event from t_send, in ms. */
  token_offsets_ms: number[];
  /** SSE comments seen (`: keep-alive`, `: prefill_progress`, `: generation_stats`...). */
  comment_events: number;
  success: boolean;
  error: RequestError | null;
}

const OOM_PATTERN =
  /out of memory|requires more system memory|insufficient memory|unable to load full model|hipMalloc failed|cudaMalloc failed|vk_error_out_of_device_memory|\boom\b/i;

/** `'oom'` when a server message says memory ran out, else `fallback`. */
export function classifyServerMessage(message: string, fallback: RequestErrorKind): RequestErrorKind {
  return OOM_PATTERN.test(message) ? 'oom' : fallback;
}

/** Extracts a human message from an error body in any of the shapes the servers use. */
export function messageFromErrorBody(body: string): string {
  const text = body.trim();
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === 'object') {
      const o = parsed as Record<string, unknown>;
      const err = o['error'];
      if (typeof err === 'string') return err; // Ollama native
      if (err !== null && typeof err === 'object') {
        const m = (err as Record<string, unknown>)['message']; // OpenAI, EXO
        if (typeof m === 'string') return m;
      }
      const detail = o['detail']; // FastAPI
      if (typeof detail === 'string') return detail;
      if (detail !== undefined) return JSON.stringify(detail);
    }
  } catch {
    // not JSON: fall through to the raw text (Go's "404 page not found", proxies' HTML)
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * Accumulates wire events for one request and turns them into {@link RequestMetrics}. Protocol
 * clients call `token()` for every token-bearing event, `fail()` on the first error and
 * `complete()` when the protocol's terminator arrives.
 */
export class RequestRecorder {
  private tFirstNs: bigint | null = null;
  private tFirstAnswerNs: bigint | null = null;
  private tLastNs: bigint | null = null;
  private readonly tokenTimesNs: bigint[] = [];
  /** Answer and reasoning text, for counting tokens when the server gives no count. */
  private text = '';
  private error: RequestError | null = null;
  private completed = false;
  serverOutputTokens: number | null = null;
  promptTokens: number | null = null;
  serverDecodeTps: number | null = null;
  finishReason: string | null = null;
  commentEvents = 0;
  readonly server: ServerCounters = {
    load_ms: null,
    prompt_eval_ms: null,
    eval_ms: null,
    total_ms: null,
    prompt_tps: null,
    peak_memory_bytes: null,
    cached_prompt_tokens: null,
  };

  constructor(
    private readonly protocol: TargetKind,
    private readonly model: string,
  ) {}

  /** A token-bearing event arrived at `atNs` on `channel`. */
  token(atNs: bigint, channel: 'answer' | 'reasoning', text = ''): void {
    this.text += text;
    this.tFirstNs ??= atNs;
    if (channel === 'answer') this.tFirstAnswerNs ??= atNs;
    this.tLastNs = atNs;
    this.tokenTimesNs.push(atNs);
  }

  /** Records the first error; later ones are consequences and are dropped. */
  fail(kind: RequestErrorKind, message: string, status: number | null = null): void {
    this.error ??= { kind, message, status };
  }

  /** The protocol's normal terminator arrived. */
  complete(): void {
    this.completed = true;
  }

  get failed(): boolean {
    return this.error !== null;
  }

  /** Builds the metrics from the recorded events and how the exchange ended. */
  finish(x: ExchangeResult, timeoutMs: number): RequestMetrics {
    this.applyExchangeEnd(x, timeoutMs);
    const events = this.tokenTimesNs.length;
    if (this.error === null && !this.completed) this.fail('stream_cut', 'stream ended before its terminator');
    if (this.error === null && events === 0) this.fail('no_tokens', 'stream completed without a token');

    const fromServer = this.serverOutputTokens !== null;
    const textTokens = fromServer || this.text === '' ? null : countTextTokens(this.text);
    const outputTokens = this.serverOutputTokens ?? textTokens ?? events;
    let decodeTps: number | null = null;
    if (this.tFirstNs !== null && this.tLastNs !== null && outputTokens > 1 && this.tLastNs > this.tFirstNs) {
      decodeTps = (outputTokens - 1) / (Number(this.tLastNs - this.tFirstNs) / 1e9);
    }
    const since = (t: bigint | null): number | null => (t === null ? null : msBetween(x.tSendNs, t));
    const wallAtSend = Date.now() - msBetween(x.tSendNs, x.tEndNs);
    return {
      protocol: this.protocol,
      model: this.model,
      started_at: new Date(wallAtSend).toISOString(),
      t_send_ms: Number(x.tSendNs / 1000n) / 1000,
      ttfb_ms: since(x.tHeadNs),
      ttft_ms: since(this.tFirstNs),
      ttfo_ms: since(this.tFirstAnswerNs),
      e2e_ms: since(this.tLastNs),
      total_ms: msBetween(x.tSendNs, x.tEndNs),
      output_tokens: outputTokens,
      output_tokens_source: fromServer ? 'server' : textTokens !== null ? 'tokenizer' : 'events',
      // Chunk counting is the flagged last resort (a lower bound with multi-token chunks).
      output_tokens_approx: !fromServer && textTokens === null,
      server_output_tokens: this.serverOutputTokens,
      client_token_events: events,
      prompt_tokens: this.promptTokens,
      decode_tps: decodeTps,
      server_decode_tps: this.serverDecodeTps,
      server: { ...this.server },
      finish_reason: this.finishReason,
      token_offsets_ms: this.tokenTimesNs.map((t) => msBetween(x.tSendNs, t)),
      comment_events: this.commentEvents,
      success: this.error === null,
      error: this.error,
    };
  }

  private applyExchangeEnd(x: ExchangeResult, timeoutMs: number): void {
    switch (x.end.kind) {
      case 'connection':
        this.fail('connection', x.end.error.message);
        return;
      case 'timeout':
        this.fail('timeout', `no complete answer within ${timeoutMs} ms`);
        return;
      case 'aborted':
        this.fail('aborted', 'cancelled by the caller');
        return;
      case 'reset':
        if (x.status !== null && (x.status < 200 || x.status >= 300)) break;
        this.fail('stream_cut', `connection broke mid-stream: ${x.end.error.message}`);
        return;
      case 'ended':
      case 'stopped':
        break;
    }
    if (x.status !== null && (x.status < 200 || x.status >= 300)) {
      const message = messageFromErrorBody(x.errorBody ?? '') || `HTTP ${x.status}`;
      this.fail(classifyServerMessage(message, 'http_status'), message, x.status);
    }
  }
}
