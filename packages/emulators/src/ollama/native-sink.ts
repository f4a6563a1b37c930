/**
 * Writes `/api/generate` and `/api/chat` outcomes in Ollama's native format: NDJSON chunks when
 * streaming (one object per token, flushed), one object otherwise, the final object with
 * `done_reason` and integer-nanosecond metrics that are omitted when zero (Go `omitempty`).
 */
import type { ServerResponse } from 'node:http';
import { goMarshal } from './go-json.js';
import { createdAtNow } from './go-time.js';
import type { InferenceResult, InferenceSink } from './inference.js';
import { ChunkedResponse, JSON_CONTENT_TYPE, NDJSON_CONTENT_TYPE, goErrorBody, writeComplete } from './wire.js';

export interface NativeSinkOptions {
  readonly endpoint: 'generate' | 'chat';
  /** The model name as the client wrote it (Ollama echoes it). */
  readonly modelName: string;
  readonly stream: boolean;
  /** Generate only: `raw` requests get no `context`. */
  readonly raw: boolean;
  /** Generate only: seeds the fake `context` token ids. */
  readonly promptText: string;
}

/** `omitempty` for Go numbers. */
function nonZero(value: number): number | undefined {
  return value > 0 ? Math.round(value) : undefined;
}

/** Plausible token ids for `context`: stable for the same prompt. */
function contextIds(seedText: string, count: number): number[] {
  let state = 2166136261;
  for (let i = 0; i < seedText.length; i += 1) state = Math.imul(state ^ seedText.charCodeAt(i), 16777619) >>> 0;
  const ids: number[] = [];
  for (let i = 0; i < count; i += 1) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    ids.push(state % 151_000);
  }
  return ids;
}

export class NativeSink implements InferenceSink {
  private readonly stream: ChunkedResponse;
  private text = '';

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: NativeSinkOptions,
  ) {
    this.stream = new ChunkedResponse(res, NDJSON_CONTENT_TYPE);
  }

  fail(status: number, message: string): void {
    writeComplete(this.res, status, JSON_CONTENT_TYPE, goErrorBody(message));
  }

  loaded(): void {
    writeComplete(this.res, 200, JSON_CONTENT_TYPE, goMarshal(this.envelope('', true, 'load')));
  }

  token(text: string): void {
    if (!this.opts.stream) {
      this.text += text;
      return;
    }
    this.stream.write(`${goMarshal(this.envelope(text, false))}\n`);
  }

  finish(result: InferenceResult): void {
    const content = this.opts.stream ? '' : this.text;
    const final: Record<string, unknown> = this.envelope(content, true, result.doneReason);
    if (this.opts.endpoint === 'generate' && !this.opts.raw) {
      final.context = contextIds(this.opts.promptText, result.promptEvalCount + result.evalCount);
    }
    final.total_duration = nonZero(result.totalNs);
    final.load_duration = nonZero(result.loadNs);
    final.prompt_eval_count = nonZero(result.promptEvalCount);
    final.prompt_eval_duration = nonZero(result.promptEvalNs);
    final.eval_count = nonZero(result.evalCount);
    final.eval_duration = nonZero(result.evalNs);
    if (this.opts.stream) {
      this.stream.write(`${goMarshal(final)}\n`);
      this.stream.end();
    } else {
      writeComplete(this.res, 200, JSON_CONTENT_TYPE, goMarshal(final));
    }
  }

  failMidStream(message: string): void {
    if (this.opts.stream && this.stream.started) {
      // streamResponse: once bytes are out the status stays 200 and an error line ends the stream.
      this.stream.write(`${goErrorBody(message)}\n`);
      this.stream.end();
      return;
    }
    this.fail(500, message);
  }

  cut(): void {
    this.stream.cut();
  }

  /** The fields every chunk starts with, in Go's struct order. */
  private envelope(content: string, done: boolean, doneReason?: string): Record<string, unknown> {
    const head: Record<string, unknown> = { model: this.opts.modelName, created_at: createdAtNow() };
    if (this.opts.endpoint === 'generate') head.response = content;
    else head.message = { role: 'assistant', content };
    head.done = done;
    if (doneReason !== undefined) head.done_reason = doneReason;
    return head;
  }
}
