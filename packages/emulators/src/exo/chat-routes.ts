/**
 * `POST /v1/chat/completions` and `POST /bench/chat/completions` with EXO v1.0.71's wire quirks
 * (`api/main.py`, `api/adapters/chat_completions.py`, `api/keepalive.py`):
 * - 404 "No instance found for model …" unless an instance of the model exists;
 * - streaming: `: keep-alive` first and after every 10 s of silence, `: prefill_progress {…}`
 *   comments, `data:` chunks whose object is `chat.completion` (explicit nulls, as v1.0.71 still
 *   sends them), `finish_reason` and `usage` on the last chunk, a `: generation_stats {…}` comment,
 *   then `data: [DONE]`; a failure mid-stream is `data: {"error":…}` then `data: [DONE]`;
 * - non-streaming: hypercorn only sends headers with the first body byte, so the JSON arrives at the
 *   end and a failure before it is a bare 500 with an empty body;
 * - bench: EOS banned (exactly `max_tokens` tokens), no usage, `generation_stats` and `power_usage`.
 * A client that disconnects cancels its generation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { FaultOptions } from '../faults.js';
import type { Random } from '../random.js';
import { parseChatRequest, type ChatRequest } from './api-requests.js';
import { promptTokenIds, systemPromptTokens } from './chat-template.js';
import type { CardRegistry } from './model-cards.js';
import { taskParamsJson } from './running-tasks.js';
import type { GenerateRequest } from './generation-link.js';
import { sendHttpException, sendValidationError, streamErrorBody } from './http-errors.js';
import { newUuid } from './ids.js';
import type { GenerationFinal, GenerationSink } from './instance-scheduler.js';
import { readJsonObjectBody } from './validation.js';

const KEEPALIVE = ': keep-alive\n\n';
const KEEPALIVE_INTERVAL_MS = 10_000;

/** What the chat routes need from the node. */
export interface ChatHost {
  readonly log: Logger;
  /** True when the node's replicated state holds an instance of the model. */
  hasInstanceFor(modelId: string): boolean;
  /** Runs a generation on the master (locally or over the internal link). */
  startGeneration(req: GenerateRequest, sink: GenerationSink, signal: AbortSignal): void;
  faults(): Readonly<FaultOptions>;
  readonly random: Random;
  /** Counts a started generation; false when the crash fault fired and the request must die. */
  countGenerationRequest(): boolean;
  /** Active command ids → cancel, for `POST /v1/cancel/{command_id}`. */
  readonly commands: Map<string, () => void>;
  /** The node's card cache: `get_card` supplies the sampling defaults of the task. */
  readonly cards: CardRegistry;
}

function usageJson(final: GenerationFinal): Record<string, unknown> {
  return {
    prompt_tokens: final.promptTokens,
    completion_tokens: final.completionTokens,
    total_tokens: final.promptTokens + final.completionTokens,
    prompt_tokens_details: { cached_tokens: final.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** `GenerationStats`; memory is `Memory.from_gb(peak / 1e9)`, so 1e9-byte "GB" become GiB. */
function statsJson(final: GenerationFinal, memoryKey: 'in_bytes' | 'inBytes'): Record<string, unknown> {
  return {
    prompt_tps: final.promptTps,
    generation_tps: final.generationTps,
    prompt_tokens: final.promptTokens,
    generation_tokens: final.completionTokens,
    peak_memory_usage: { [memoryKey]: Math.round((final.peakMemoryBytes / 1e9) * 1024 ** 3) },
    prefix_cache_hit: final.prefixCacheHit,
  };
}

function messageJson(content: string): Record<string, unknown> {
  return {
    role: 'assistant',
    content,
    reasoning_content: null,
    name: null,
    tool_calls: null,
    tool_call_id: null,
    function_call: null,
  };
}

const nowS = (): number => Math.floor(Date.now() / 1000);

interface RunContext {
  readonly host: ChatHost;
  readonly chat: ChatRequest;
  readonly commandId: string;
  readonly faults: Readonly<FaultOptions>;
  readonly out: ServerResponse;
  readonly gen: AbortController;
  readonly request: GenerateRequest;
}

/** Starts the generation after the slow-first-token fault, unless the client left meanwhile. */
function launch(ctx: RunContext, sink: GenerationSink): void {
  const go = (): void => {
    if (!ctx.gen.signal.aborted) ctx.host.startGeneration(ctx.request, sink, ctx.gen.signal);
  };
  if (ctx.faults.slowFirstTokenMs > 0) {
    sleep(ctx.faults.slowFirstTokenMs, undefined, { signal: ctx.gen.signal }).then(go, () => undefined);
  } else {
    go();
  }
}

function runStream(ctx: RunContext): void {
  const { out, chat, commandId, faults, gen } = ctx;
  // h11 frames an HTTP/1.1 body without a length as chunked even with `Connection: close`; Node
  // would delimit it by the close instead (and a cut stream would look complete), so say it.
  out.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'close',
    'x-accel-buffering': 'no',
    'transfer-encoding': 'chunked',
  });
  let done = false;
  let tokens = 0;
  let keepalive: NodeJS.Timeout | null = null;
  const arm = (): void => {
    if (keepalive) clearTimeout(keepalive);
    keepalive = setTimeout(() => write(KEEPALIVE), KEEPALIVE_INTERVAL_MS);
    keepalive.unref();
  };
  const write = (text: string): void => {
    if (done || out.destroyed) return;
    out.write(text);
    arm();
  };
  const finish = (how: 'end' | 'cut'): void => {
    if (done) return;
    done = true;
    if (keepalive) clearTimeout(keepalive);
    ctx.host.commands.delete(commandId);
    gen.abort();
    // A cut flushes what was written, then closes the socket without the terminating chunk.
    if (how === 'cut') (out.socket ?? out).end();
    else if (!out.writableEnded) out.end();
  };
  const fail = (message: string): void => {
    write(`data: ${JSON.stringify(streamErrorBody(message))}\n\n`);
    write('data: [DONE]\n\n');
    finish('end');
  };
  /** Fault knobs counted in token chunks; true when the stream was ended here. */
  const faultAfter = (count: number): boolean => {
    if (faults.cutAfterTokens !== null && count >= faults.cutAfterTokens) {
      finish('cut');
      return true;
    }
    if (faults.errorAfterTokens !== null && count >= faults.errorAfterTokens) {
      fail(`Injected error after ${count} tokens`);
      return true;
    }
    return false;
  };
  out.on('close', () => finish('end'));
  // A cancelled command's chunk stream just closes: no [DONE].
  ctx.host.commands.set(commandId, () => finish('end'));
  write(KEEPALIVE);
  if (faultAfter(0)) return;
  launch(ctx, {
    prefill: (processed, total) => {
      const chunk = { PrefillProgressChunk: { model: chat.model, processed_tokens: processed, total_tokens: total } };
      write(`: prefill_progress ${JSON.stringify(chunk)}\n\n`);
    },
    token: (text, final) => {
      if (done) return;
      const chunk = {
        id: commandId,
        object: 'chat.completion',
        created: nowS(),
        model: chat.model,
        choices: [
          {
            index: 0,
            delta: messageJson(text),
            logprobs: null,
            finish_reason: final ? final.finishReason : null,
            usage: null,
          },
        ],
        usage: final ? usageJson(final) : null,
        service_tier: null,
      };
      write(`data: ${JSON.stringify(chunk)}\n\n`);
      tokens += 1;
      if (faultAfter(tokens)) return;
      if (final) {
        write(`: generation_stats ${JSON.stringify(statsJson(final, 'in_bytes'))}\n\n`);
        write('data: [DONE]\n\n');
        finish('end');
      }
    },
    error: fail,
  });
}

/** Non-streaming and bench: collect, then answer once. */
function runCollect(ctx: RunContext, bench: boolean, startedMs: number): void {
  const { out, commandId, faults, gen } = ctx;
  let done = false;
  const parts: string[] = [];
  const finish = (): void => {
    done = true;
    ctx.host.commands.delete(commandId);
    gen.abort();
  };
  const respond = (status: number, body: string, type: string): void => {
    if (done) return;
    finish();
    if (out.destroyed) return;
    out.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    out.end(body);
  };
  /** An exception inside the streamed body before any byte: hypercorn answers a bare 500. */
  const bare500 = (): void => {
    if (done) return;
    finish();
    if (out.destroyed) return;
    out.writeHead(500, { 'content-length': 0, connection: 'close' });
    out.end();
  };
  const failed = (message: string): void => {
    if (bench) respond(500, JSON.stringify(httpException500(message)), 'application/json');
    else bare500();
  };
  const cut = (): void => {
    finish();
    out.destroy();
  };
  out.on('close', () => {
    if (!done) finish();
  });
  ctx.host.commands.set(commandId, () => {
    // collect_chat_response keeps what arrived; with nothing it fails its `model` assertion.
    if (parts.length === 0 || bench) failed('Command cancelled');
    else respond(200, JSON.stringify(completionJson(ctx, parts.join(''), null, null)), 'application/json');
  });
  const faultAfter = (count: number): boolean => {
    if (faults.cutAfterTokens !== null && count >= faults.cutAfterTokens) {
      cut();
      return true;
    }
    if (faults.errorAfterTokens !== null && count >= faults.errorAfterTokens) {
      failed(`Injected error after ${count} tokens`);
      return true;
    }
    return false;
  };
  if (faultAfter(0)) return;
  launch(ctx, {
    prefill: () => undefined,
    token: (text, final) => {
      if (done) return;
      parts.push(text);
      if (faultAfter(parts.length)) return;
      if (!final) return;
      const body = completionJson(ctx, parts.join(''), final, bench ? null : usageJson(final));
      if (bench) {
        body.generation_stats = statsJson(final, 'inBytes');
        // PowerSampler: Linux nodes report no system power (macmon is macOS-only), so no node samples.
        body.power_usage = {
          elapsed_seconds: (Date.now() - startedMs) / 1000,
          nodes: [],
          total_avg_sys_power_watts: 0,
          total_energy_joules: 0,
        };
      }
      respond(200, JSON.stringify(body), 'application/json');
    },
    error: failed,
  });
}

function httpException500(message: string): Record<string, unknown> {
  return { error: { message, type: 'Internal Server Error', param: null, code: 500 } };
}

function completionJson(
  ctx: RunContext,
  content: string,
  final: GenerationFinal | null,
  usage: Record<string, unknown> | null,
): Record<string, unknown> {
  return {
    id: ctx.commandId,
    object: 'chat.completion',
    created: nowS(),
    model: ctx.chat.model,
    choices: [{ index: 0, message: messageJson(content), logprobs: null, finish_reason: final?.finishReason ?? null }],
    usage,
    service_tier: null,
  };
}

async function handleChat(host: ChatHost, request: FastifyRequest, reply: FastifyReply, bench: boolean) {
  const body = readJsonObjectBody(request.body as string | undefined, request.headers['content-type']);
  if (!body.ok) return sendValidationError(reply, body.errors);
  const parsed = parseChatRequest(body.body, bench);
  if (!parsed.ok) return sendValidationError(reply, parsed.errors);
  const chat = parsed.value;
  if (!host.hasInstanceFor(chat.model)) {
    return sendHttpException(reply, 404, `No instance found for model ${chat.model}`);
  }
  if (!host.countGenerationRequest()) {
    reply.hijack();
    request.raw.socket.destroy();
    return reply;
  }
  const faults = host.faults();
  if (faults.http500Rate > 0 && host.random.next() < faults.http500Rate) {
    return sendHttpException(reply, 500, 'Internal server error');
  }
  const startedMs = Date.now();
  if (faults.extraLatencyMs > 0) await sleep(faults.extraLatencyMs);
  reply.hijack();
  const out = reply.raw;
  if (out.destroyed) return reply;
  const tokenIds = promptTokenIds(chat.model, chat.messages);
  const commandId = newUuid();
  const ctx: RunContext = {
    host,
    chat,
    commandId,
    faults,
    out,
    gen: new AbortController(),
    request: {
      modelId: chat.model,
      promptTokens: tokenIds.length,
      promptTokenIds: tokenIds,
      // EXO always builds its runners with a prefix cache; the fault knob stands for "no cache".
      usePrefixCache: chat.usePrefixCache && faults.promptCache,
      systemPromptTokens: systemPromptTokens(chat.messages),
      commandId,
      taskParams: taskParamsJson(chat, bench, host.cards.get(chat.model)),
      maxTokens: chat.maxTokens,
      banEos: bench,
      jitter: faults.jitter,
    },
  };
  host.log.debug({ commandId: ctx.commandId, model: chat.model, stream: chat.stream, bench }, 'chat request');
  if (chat.stream && !bench) runStream(ctx);
  else runCollect(ctx, bench, startedMs);
  return reply;
}

export function registerChatRoutes(app: FastifyInstance, host: ChatHost): void {
  app.post('/v1/chat/completions', (request, reply) => handleChat(host, request, reply, false));
  app.post('/bench/chat/completions', (request, reply) => handleChat(host, request, reply, true));
  app.post<{ Params: { command_id: string } }>('/v1/cancel/:command_id', (request, reply) => {
    const cancel = host.commands.get(request.params.command_id);
    if (!cancel) return sendHttpException(reply, 404, 'Command not found or already completed');
    cancel();
    return reply.send({ message: 'Command cancelled.', command_id: request.params.command_id });
  });
}
