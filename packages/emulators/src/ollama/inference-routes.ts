/**
 * `POST /api/generate` and `POST /api/chat`, following `GenerateHandler` / `ChatHandler` in
 * `server/routes.go`: bind (400s), model lookup (404), unload (`keep_alive: 0` and nothing to
 * say), capability checks, then scheduling and generation through the shared inference core.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EmulatorContext } from './emulator-context.js';
import { decodeGoBody } from './go-decode.js';
import { goMarshal } from './go-json.js';
import { createdAtNow, parseKeepAliveJson, type KeepAliveMs } from './go-time.js';
import { chatPrompt, generatePrompt, runInference } from './inference.js';
import { INVALID_MODEL_NAME_MESSAGE, isValidModelName } from './model-store.js';
import { NativeSink } from './native-sink.js';
import {
  CHAT_REQUEST_FIELDS,
  GENERATE_REQUEST_FIELDS,
  type ChatRequest,
  type GenerateRequest,
} from './request-schemas.js';
import { disconnectSignal, goErrorBody, JSON_CONTENT_TYPE, writeComplete } from './wire.js';

/** The raw body fastify collected (the catch-all parser keeps it as a Buffer). */
export function bodyText(request: FastifyRequest): string {
  const body = request.body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  return typeof body === 'string' ? body : '';
}

function keepAliveOf(raw: unknown): KeepAliveMs | undefined {
  if (raw === undefined) return undefined;
  const parsed = parseKeepAliveJson(raw);
  return parsed.ok ? parsed.ms : undefined;
}

function wantsThinking(think: boolean | string | undefined): boolean {
  return think === true || typeof think === 'string';
}

/** Go's `%q` for the plain model names used here. */
function goQuoted(s: string): string {
  return JSON.stringify(s);
}

export async function handleGenerate(
  ctx: EmulatorContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const startHr = process.hrtime.bigint();
  reply.hijack();
  const res = reply.raw;
  const fail = (status: number, message: string): void =>
    writeComplete(res, status, JSON_CONTENT_TYPE, goErrorBody(message));

  const decoded = decodeGoBody<GenerateRequest>(bodyText(request), 'api.GenerateRequest', GENERATE_REQUEST_FIELDS);
  if (!decoded.ok) return fail(400, decoded.eof ? 'missing request body' : decoded.message);
  const req = decoded.value;
  const name = req.model ?? '';
  if ((req.top_logprobs ?? 0) < 0 || (req.top_logprobs ?? 0) > 20) {
    return fail(400, 'top_logprobs must be between 0 and 20');
  }
  // parseAndValidateModelRef: an empty name falls through to "not found", a malformed one is a 400.
  if (name.trim() !== '' && !isValidModelName(name)) return fail(400, INVALID_MODEL_NAME_MESSAGE);
  const model = ctx.store.find(name);
  if (!model) return fail(404, `model '${name}' not found`);

  const prompt = req.prompt ?? '';
  const keepAliveMs = keepAliveOf(req.keep_alive);
  if (prompt === '' && keepAliveMs === 0) {
    ctx.scheduler.expire(model);
    const body = { model: name, created_at: createdAtNow(), response: '', done: true, done_reason: 'unload' };
    return writeComplete(res, 200, JSON_CONTENT_TYPE, goMarshal(body));
  }
  const raw = req.raw === true;
  if (raw && ((req.template ?? '') !== '' || (req.system ?? '') !== '' || (req.context?.length ?? 0) > 0)) {
    return fail(400, 'raw mode does not support template, system, or context');
  }
  if (wantsThinking(req.think)) return fail(400, `${goQuoted(name)} does not support thinking`);

  const sink = new NativeSink(res, {
    endpoint: 'generate',
    modelName: name,
    stream: req.stream !== false,
    raw,
    promptText: `${req.system ?? ''}${prompt}`,
  });
  await runInference(
    ctx,
    {
      model,
      prompt: generatePrompt(model, prompt, req.system ?? '', raw),
      options: req.options,
      keepAliveMs,
      loadOnly: prompt === '',
      startHr,
    },
    sink,
    disconnectSignal(res, ctx.closing),
  );
}

export async function handleChat(ctx: EmulatorContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const startHr = process.hrtime.bigint();
  reply.hijack();
  const res = reply.raw;
  const fail = (status: number, message: string): void =>
    writeComplete(res, status, JSON_CONTENT_TYPE, goErrorBody(message));

  const decoded = decodeGoBody<ChatRequest>(bodyText(request), 'api.ChatRequest', CHAT_REQUEST_FIELDS);
  if (!decoded.ok) return fail(400, decoded.eof ? 'missing request body' : decoded.message);
  const req = decoded.value;
  const name = req.model ?? '';
  if ((req.top_logprobs ?? 0) < 0 || (req.top_logprobs ?? 0) > 20) {
    return fail(400, 'top_logprobs must be between 0 and 20');
  }
  if (name.trim() === '') return fail(400, 'model is required');
  if (!isValidModelName(name)) return fail(400, INVALID_MODEL_NAME_MESSAGE);
  const model = ctx.store.find(name);
  if (!model) return fail(404, `model '${name}' not found`);

  const messages = (req.messages ?? []).map((m) => ({
    role: (m?.role ?? '').toLowerCase(),
    content: m?.content ?? '',
  }));
  const keepAliveMs = keepAliveOf(req.keep_alive);
  if (messages.length === 0 && keepAliveMs === 0) {
    ctx.scheduler.expire(model);
    const body = {
      model: name,
      created_at: createdAtNow(),
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: 'unload',
    };
    return writeComplete(res, 200, JSON_CONTENT_TYPE, goMarshal(body));
  }
  if (wantsThinking(req.think)) return fail(400, `${goQuoted(name)} does not support thinking`);

  const sink = new NativeSink(res, {
    endpoint: 'chat',
    modelName: name,
    stream: req.stream !== false,
    raw: false,
    promptText: messages.map((m) => m.content).join('\n'),
  });
  await runInference(
    ctx,
    {
      model,
      prompt: chatPrompt(model, messages),
      options: req.options,
      keepAliveMs,
      loadOnly: messages.length === 0,
      startHr,
    },
    sink,
    disconnectSignal(res, ctx.closing),
  );
}
