/**
 * Writes `/v1/chat/completions` outcomes the way Ollama's OpenAI middleware does
 * (`middleware/openai.go`, `openai/openai.go`), in the layout of the emulated version:
 *
 * - classic (< 0.32.6): every chunk has `delta.role` and its own `created`; the done response
 *   becomes a chunk with empty content and `finish_reason`.
 * - new (>= 0.32.6, PR #17485): `role` only in the first delta, one `created` per stream, no empty
 *   trailer chunk, a separate finish chunk with `delta: {}`.
 *
 * Either way `stream_options.include_usage` adds a chunk with `choices: []` and `usage`, then
 * `data: [DONE]`. Errors before the stream use the OpenAI shape. An error after the stream started
 * is not an error on the wire: the middleware decodes the `{"error":…}` line as an empty chat
 * response, so it becomes an ordinary chunk with `"model":""` and empty content, and the stream
 * ends there with no finish chunk and no `[DONE]`.
 */
import type { ServerResponse } from 'node:http';
import { goMarshal } from './go-json.js';
import type { InferenceResult, InferenceSink } from './inference.js';
import {
  ChunkedResponse,
  ENCODER_JSON_CONTENT_TYPE,
  SSE_CONTENT_TYPE,
  openAiErrorBody,
  writeComplete,
} from './wire.js';

export interface OpenAiSinkOptions {
  readonly modelName: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly classicLayout: boolean;
  /** `chatcmpl-<0..998>`, as Ollama numbers them. */
  readonly id: string;
}

function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export class OpenAiSink implements InferenceSink {
  private readonly stream: ChunkedResponse;
  private text = '';
  private firstChunkSent = false;
  private createdSec: number | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: OpenAiSinkOptions,
  ) {
    this.stream = new ChunkedResponse(res, SSE_CONTENT_TYPE);
  }

  fail(status: number, message: string): void {
    writeComplete(this.res, status, ENCODER_JSON_CONTENT_TYPE, `${openAiErrorBody(status, message)}\n`);
  }

  /** /v1 requests always carry messages, so they never take the load-only path. */
  loaded(): void {
    this.fail(500, 'unexpected response');
  }

  token(text: string): void {
    this.text += text;
    if (!this.opts.stream) return;
    this.sendChunk(this.contentChunk(text, null));
  }

  finish(result: InferenceResult): void {
    const usage = {
      prompt_tokens: result.promptEvalCount,
      completion_tokens: result.evalCount,
      total_tokens: result.promptEvalCount + result.evalCount,
    };
    if (!this.opts.stream) {
      const body = {
        id: this.opts.id,
        object: 'chat.completion',
        created: unixSeconds(),
        model: this.opts.modelName,
        system_fingerprint: 'fp_ollama',
        choices: [{ index: 0, message: { role: 'assistant', content: this.text }, finish_reason: result.doneReason }],
        usage,
      };
      writeComplete(this.res, 200, ENCODER_JSON_CONTENT_TYPE, `${goMarshal(body)}\n`);
      return;
    }
    let last: Record<string, unknown>;
    if (this.opts.classicLayout) {
      last = this.contentChunk('', result.doneReason);
      this.sendChunk(last);
    } else {
      // A wholly empty completion still opens with a role chunk.
      if (!this.firstChunkSent) this.sendChunk(this.contentChunk('', null));
      last = this.frame([{ index: 0, delta: {}, finish_reason: result.doneReason }]);
      this.sendChunk(last);
    }
    if (this.opts.includeUsage) this.sendChunk({ ...last, choices: [], usage });
    this.stream.write('data: [DONE]\n\n');
    this.stream.end();
  }

  failMidStream(message: string): void {
    if (this.opts.stream && this.stream.started) {
      // The error text is lost: `{"error":…}` unmarshals into a zero ChatResponse (model "", no
      // content, not done), which the chunk writer sends like any other; then the stream closes.
      const withRole = this.opts.classicLayout;
      const delta = withRole ? { role: 'assistant', content: '' } : { content: '' };
      this.sendChunk({ ...this.frame([{ index: 0, delta, finish_reason: null }]), model: '' });
      this.stream.end();
      return;
    }
    this.fail(500, message);
  }

  cut(): void {
    this.stream.cut();
  }

  private created(): number {
    if (this.opts.classicLayout) return unixSeconds();
    this.createdSec ??= unixSeconds();
    return this.createdSec;
  }

  private frame(choices: unknown[]): Record<string, unknown> {
    return {
      id: this.opts.id,
      object: 'chat.completion.chunk',
      created: this.created(),
      model: this.opts.modelName,
      system_fingerprint: 'fp_ollama',
      choices,
    };
  }

  private contentChunk(content: string, finishReason: string | null): Record<string, unknown> {
    const withRole = this.opts.classicLayout || !this.firstChunkSent;
    const delta = withRole ? { role: 'assistant', content } : { content };
    return this.frame([{ index: 0, delta, finish_reason: finishReason }]);
  }

  private sendChunk(chunk: Record<string, unknown>): void {
    this.firstChunkSent = true;
    this.stream.write(`data: ${goMarshal(chunk)}\n\n`);
  }
}
