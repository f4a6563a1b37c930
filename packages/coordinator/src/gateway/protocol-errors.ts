/**
 * Error bodies in each client protocol's own shape, before and after a stream has started.
 *
 * - Ollama native (`/api/*`): always `{"error":"<message>"}`, any status. Once NDJSON lines are
 *   out the status stays 200 and the same object is the last line (no `done:true` line follows);
 *   ollama-js throws on a line with an `error` key.
 * - OpenAI (`/v1/*`): `{"error":{"message","type","param","code"}}`, field order as OpenAI and
 *   Ollama's `/v1` send it; Ollama sends `param` and `code` as null and picks `type` from the
 *   status. Mid-stream, OpenAI's SDKs raise on a `data:` event whose object has an `error` key,
 *   which is also what EXO sends (followed by `data: [DONE]`).
 */
import { goJson, ndjsonLine } from './ollama-json.js';

export interface OllamaErrorBody {
  error: string;
}

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

/** Ollama's error body: `{ error: message }`. */
export function ollamaErrorBody(message: string): OllamaErrorBody {
  return { error: message };
}

/** The in-stream form: the error body as the NDJSON line that ends a started `/api/*` stream. */
export function ollamaErrorLine(message: string): string {
  return ndjsonLine(ollamaErrorBody(message));
}

/** OpenAI's error body; `param` and `code` are null unless given (as Ollama's `/v1` always sends them). */
export function openAIErrorBody(
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/**
 * The `type` Ollama's `/v1` gives an error of this HTTP status (`openai.NewError`):
 * 400 `invalid_request_error`, 404 `not_found_error`, anything else `api_error`.
 */
export function openAIErrorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

/** The in-stream form: one SSE event carrying the error body. Send {@link OPENAI_SSE_DONE} after it. */
export function openAIErrorEvent(
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
): string {
  return openAISseEvent(openAIErrorBody(message, type, code, param));
}

/** One SSE `data:` event for a JSON payload. */
export function openAISseEvent(payload: unknown): string {
  return `data: ${goJson(payload)}\n\n`;
}

/** The event that ends every OpenAI chat-completions stream, also after an error event. */
export const OPENAI_SSE_DONE = 'data: [DONE]\n\n';
