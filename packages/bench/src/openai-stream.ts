/**
 * Streams `POST /v1/chat/completions` (Server-Sent Events) and records its timing. Shared by the
 * OpenAI-compatible client and the EXO client, which adds SSE comments (`: keep-alive`,
 * `: prefill_progress`, `: generation_stats`) and `object: "chat.completion"` chunks.
 *
 * What counts as a token event: a choice delta with non-empty `content`, `reasoning` /
 * `reasoning_content` (reasoning channel) or `tool_calls`. Role-only deltas, finish-only deltas,
 * usage-only chunks (`choices: []`) and comments are not tokens.
 */
import { createParser } from 'eventsource-parser';
import { exchange, type AgentPair } from './http-transport.js';
import { readOpenAiChunk } from './openai-chunk.js';
import { endpoint, type ChatRequest } from './protocol-client.js';
import { preloadTokenizer } from './text-tokens.js';
import type { TargetKind } from './matrix-schema.js';
import { classifyServerMessage, RequestRecorder, type RequestMetrics } from './request-metrics.js';

/** Extra handling for SSE comments (EXO); called with the comment text minus `: `. */
export type CommentHandler = (comment: string, rec: RequestRecorder) => void;

/** Streams one chat completion. Never rejects. */
export async function streamChatCompletion(
  protocol: TargetKind,
  baseUrl: string,
  agents: AgentPair,
  request: ChatRequest,
  onComment?: CommentHandler,
): Promise<RequestMetrics> {
  // Before the clock starts: a server that sends no token count is counted by tokenizing.
  await preloadTokenizer();
  const payload: Record<string, unknown> = {
    model: request.model,
    messages: [{ role: 'user', content: request.prompt }],
    stream: true,
    // Ollama's /v1 and vLLM only send usage when asked; EXO always sends it.
    stream_options: { include_usage: true },
    max_tokens: request.maxTokens,
  };
  if (request.temperature != null) payload['temperature'] = request.temperature;
  if (request.seed != null) payload['seed'] = request.seed;

  const rec = new RequestRecorder(protocol, request.model);
  let at = 0n;
  let stop = false;
  let sawDone = false;
  let emptyModelChunk = false;
  const parser = createParser({
    onComment(comment) {
      rec.commentEvents += 1;
      onComment?.(comment, rec);
    },
    onEvent(event) {
      if (stop || sawDone) return;
      const data = event.data.trim();
      if (data === '[DONE]') {
        sawDone = true;
        rec.complete();
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        rec.fail('bad_line', `SSE data is not JSON: ${data.slice(0, 120)}`);
        stop = true;
        return;
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        rec.fail('bad_line', `SSE data is not a JSON object: ${data.slice(0, 120)}`);
        stop = true;
        return;
      }
      const chunk = parsed as Record<string, unknown>;
      // Ollama's /v1 turns an error after streaming started into an ordinary chunk with
      // `"model": ""` and no content, then ends without a finish chunk or [DONE].
      if (chunk['model'] === '') emptyModelChunk = true;
      readChunk(rec, chunk, at);
    },
  });

  const result = await exchange(
    {
      url: endpoint(baseUrl, '/v1/chat/completions'),
      method: 'POST',
      body: JSON.stringify(payload),
      accept: 'text/event-stream',
      agents,
      timeoutMs: request.timeoutMs,
      signal: request.signal,
    },
    (chunk, chunkAt) => {
      at = chunkAt;
      parser.feed(chunk);
      return stop ? 'stop' : sawDone ? 'done' : 'continue';
    },
  );
  if (emptyModelChunk && !sawDone && !stop && result.end.kind === 'ended') {
    rec.fail(
      'stream_cut',
      'the stream ended without [DONE] after a chunk with an empty "model": how Ollama\'s /v1 reports an error ' +
        'that happened after streaming started (the server log has the cause)',
    );
  }
  return rec.finish(result, request.timeoutMs);
}

function readChunk(rec: RequestRecorder, o: Record<string, unknown>, at: bigint): void {
  const chunk = readOpenAiChunk(o);
  if (chunk.error !== undefined) {
    // The mid-stream error event (EXO: `data: {"error":{...}}` then `[DONE]`, status already 200).
    rec.fail(classifyServerMessage(chunk.error, 'stream_error'), chunk.error);
    return;
  }
  if (chunk.content !== '' || chunk.hasToolCalls) rec.token(at, 'answer', chunk.content);
  else if (chunk.reasoning !== '') rec.token(at, 'reasoning', chunk.reasoning);
  if (chunk.finishReason !== undefined) rec.finishReason = chunk.finishReason;
  const usage = chunk.usage;
  if (usage) {
    if (usage.completionTokens !== undefined) rec.serverOutputTokens = usage.completionTokens;
    if (usage.promptTokens !== undefined) rec.promptTokens = usage.promptTokens;
    if (usage.cachedPromptTokens !== undefined) rec.server.cached_prompt_tokens = usage.cachedPromptTokens;
  }
}
