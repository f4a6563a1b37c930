/**
 * The OpenAI-compatible routes: `POST /v1/chat/completions`, `GET /v1/models`,
 * `GET /v1/models/:model`. Request errors caught by the middleware come back through gin's
 * `AbortWithStatusJSON` (`application/json; charset=utf-8`); errors of the wrapped native handler
 * through the middleware's encoder (`application/json`, trailing newline).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EmulatorContext } from './emulator-context.js';
import { decodeGoBody } from './go-decode.js';
import { goMarshal } from './go-json.js';
import { bodyText } from './inference-routes.js';
import { chatPrompt, runInference } from './inference.js';
import { displayName, INVALID_MODEL_NAME_MESSAGE, isValidModelName } from './model-store.js';
import { OpenAiSink } from './openai-sink.js';
import { OPENAI_CHAT_REQUEST_FIELDS, type OpenAiChatRequest } from './request-schemas.js';
import {
  disconnectSignal,
  ENCODER_JSON_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
  openAiErrorBody,
  replyRaw,
  writeComplete,
} from './wire.js';

/** Text of an OpenAI message: a string, or the `text` parts of a content array. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) =>
      typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string'
        ? (part as { text: string }).text
        : '',
    )
    .join('');
}

/** `model.ParseName(name).Namespace`: `library` unless the name has its own. */
function namespaceOf(name: string): string {
  const parts = name.split('/');
  if (parts.length >= 3) return parts[parts.length - 2] ?? 'library';
  if (parts.length === 2) return parts[0] ?? 'library';
  return 'library';
}

function unixOf(rfc3339: string): number {
  return Math.floor(Date.parse(rfc3339) / 1000);
}

export async function handleOpenAiChat(
  ctx: EmulatorContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const startHr = process.hrtime.bigint();
  reply.hijack();
  const res = reply.raw;
  const middlewareFail = (message: string): void =>
    writeComplete(res, 400, JSON_CONTENT_TYPE, openAiErrorBody(400, message));

  const decoded = decodeGoBody<OpenAiChatRequest>(
    bodyText(request),
    'openai.ChatCompletionRequest',
    OPENAI_CHAT_REQUEST_FIELDS,
  );
  if (!decoded.ok) return middlewareFail(decoded.message);
  const req = decoded.value;
  const rawMessages = req.messages ?? [];
  if (rawMessages.length === 0) return middlewareFail("[] is too short - 'messages'");

  const name = req.model ?? '';
  const sink = new OpenAiSink(res, {
    modelName: name,
    stream: req.stream === true,
    includeUsage: req.stream_options?.include_usage === true,
    classicLayout: ctx.classicOpenAiChunks,
    id: `chatcmpl-${Math.floor(ctx.random.next() * 999)}`,
  });
  if (name.trim() === '') return sink.fail(400, 'model is required');
  if (!isValidModelName(name)) return sink.fail(400, INVALID_MODEL_NAME_MESSAGE);
  const model = ctx.store.find(name);
  if (!model) return sink.fail(404, `model '${name}' not found`);

  const messages = rawMessages.map((m) => ({
    role: (m?.role ?? '').toLowerCase(),
    content: contentText(m?.content),
  }));
  await runInference(
    ctx,
    {
      model,
      prompt: chatPrompt(model, messages),
      options: req.max_tokens === undefined ? undefined : { num_predict: req.max_tokens },
      keepAliveMs: undefined,
      loadOnly: false,
      startHr,
    },
    sink,
    disconnectSignal(res, ctx.closing),
  );
}

export function handleOpenAiModels(ctx: EmulatorContext, _request: FastifyRequest, reply: FastifyReply): void {
  const models = ctx.store.list();
  const data =
    models.length === 0
      ? null // Go's nil slice
      : models.map((m) => ({
          id: m.name,
          object: 'model',
          created: unixOf(m.modifiedAt),
          owned_by: namespaceOf(m.name),
        }));
  replyRaw(reply, 200, ENCODER_JSON_CONTENT_TYPE, `${goMarshal({ object: 'list', data })}\n`);
}

export function handleOpenAiModel(ctx: EmulatorContext, request: FastifyRequest, reply: FastifyReply): void {
  const name = (request.params as { model?: string }).model ?? '';
  const model = ctx.store.find(name);
  if (!model) {
    replyRaw(
      reply,
      404,
      ENCODER_JSON_CONTENT_TYPE,
      `${openAiErrorBody(404, `model '${displayName(name)}' not found`)}\n`,
    );
    return;
  }
  const body = { id: name, object: 'model', created: unixOf(model.modifiedAt), owned_by: namespaceOf(name) };
  replyRaw(reply, 200, ENCODER_JSON_CONTENT_TYPE, `${goMarshal(body)}\n`);
}
