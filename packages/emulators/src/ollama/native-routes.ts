/**
 * The native model-management routes: `/`, `/api/version`, `/api/tags`, `/api/ps`, `/api/show`
 * and the streamed `/api/pull` (status lines of `server/images.go` `PullModel`).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EmulatorContext } from './emulator-context.js';
import { decodeGoBody } from './go-decode.js';
import { goMarshal } from './go-json.js';
import { formatRfc3339Nano, nowEpochNs } from './go-time.js';
import { bodyText } from './inference-routes.js';
import { displayName, modelDetails, modelKey, modelLayers, tagDetails } from './model-store.js';
import { PULL_REQUEST_FIELDS, SHOW_REQUEST_FIELDS, type PullRequest, type ShowRequest } from './request-schemas.js';
import { showResponse } from './show-response.js';
import {
  ChunkedResponse,
  disconnectSignal,
  goErrorBody,
  JSON_CONTENT_TYPE,
  NDJSON_CONTENT_TYPE,
  PLAIN_CONTENT_TYPE,
  replyRaw,
  writeComplete,
} from './wire.js';

/** Progress lines per downloaded layer, and the pause between them. */
const PULL_PROGRESS_STEPS = 4;
const PULL_PROGRESS_INTERVAL_MS = 15;

function sendJson(reply: FastifyReply, status: number, value: unknown): void {
  replyRaw(reply, status, JSON_CONTENT_TYPE, goMarshal(value));
}

function sendError(reply: FastifyReply, status: number, message: string): void {
  replyRaw(reply, status, JSON_CONTENT_TYPE, goErrorBody(message));
}

export function handleRoot(_ctx: EmulatorContext, _request: FastifyRequest, reply: FastifyReply): void {
  replyRaw(reply, 200, PLAIN_CONTENT_TYPE, 'Ollama is running');
}

export function handleVersion(ctx: EmulatorContext, _request: FastifyRequest, reply: FastifyReply): void {
  sendJson(reply, 200, { version: ctx.version });
}

export function handleTags(ctx: EmulatorContext, _request: FastifyRequest, reply: FastifyReply): void {
  const models = ctx.store.list().map((m) => ({
    name: m.name,
    model: m.name,
    modified_at: m.modifiedAt,
    size: m.sizeBytes,
    digest: m.digest,
    details: tagDetails(m),
    capabilities: [...m.capabilities],
  }));
  sendJson(reply, 200, { models });
}

export function handlePs(ctx: EmulatorContext, _request: FastifyRequest, reply: FastifyReply): void {
  const models = ctx.scheduler.loaded().map((r) => ({
    name: r.model.name,
    model: r.model.name,
    size: r.placement.totalBytes,
    digest: r.model.digest,
    details: modelDetails(r.model),
    expires_at: formatRfc3339Nano(r.expiresAtNs, 'local'),
    size_vram: r.placement.vramBytes,
    context_length: r.numCtx,
  }));
  sendJson(reply, 200, { models });
}

export function handleShow(ctx: EmulatorContext, request: FastifyRequest, reply: FastifyReply): void {
  const decoded = decodeGoBody<ShowRequest>(bodyText(request), 'api.ShowRequest', SHOW_REQUEST_FIELDS);
  if (!decoded.ok) return sendError(reply, 400, decoded.eof ? 'missing request body' : decoded.message);
  const name = decoded.value.model || decoded.value.name || '';
  if (name === '') return sendError(reply, 400, 'model is required');
  const model = ctx.store.find(name);
  if (!model) return sendError(reply, 404, `model '${displayName(name)}' not found`);
  sendJson(reply, 200, showResponse(model));
}

export async function handlePull(ctx: EmulatorContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  const decoded = decodeGoBody<PullRequest>(bodyText(request), 'api.PullRequest', PULL_REQUEST_FIELDS);
  if (!decoded.ok) {
    return writeComplete(
      res,
      400,
      JSON_CONTENT_TYPE,
      goErrorBody(decoded.eof ? 'missing request body' : decoded.message),
    );
  }
  const name = decoded.value.model || decoded.value.name || '';
  if (modelKey(name) === undefined)
    return writeComplete(res, 400, JSON_CONTENT_TYPE, goErrorBody('invalid model name'));
  const stream = decoded.value.stream !== false;
  const signal = disconnectSignal(res, ctx.closing);
  const out = new ChunkedResponse(res, NDJSON_CONTENT_TYPE);
  const progress = (line: Record<string, unknown>): void => {
    if (stream) out.write(`${goMarshal(line)}\n`);
  };
  const fail = (message: string): void => {
    // streamResponse writes an error line once bytes are out; waitForStream answers 500.
    if (stream) {
      out.write(`${goErrorBody(message)}\n`);
      out.end();
    } else writeComplete(res, 500, JSON_CONTENT_TYPE, goErrorBody(message));
  };

  try {
    progress({ status: 'pulling manifest' });
    const model = ctx.store.findInRegistry(name);
    if (!model) return fail('pull model manifest: file does not exist');
    const present = ctx.store.isPulled(name);
    for (const layer of modelLayers(model)) {
      const status = `pulling ${layer.digest.slice(7, 19)}`;
      if (present) {
        progress({ status, digest: layer.digest, total: layer.sizeBytes, completed: layer.sizeBytes });
        continue;
      }
      progress({ status, digest: layer.digest, total: layer.sizeBytes });
      for (let step = 1; step <= PULL_PROGRESS_STEPS; step += 1) {
        await delay(PULL_PROGRESS_INTERVAL_MS, undefined, { signal });
        const completed = Math.round((layer.sizeBytes * step) / PULL_PROGRESS_STEPS);
        progress({ status, digest: layer.digest, total: layer.sizeBytes, completed });
      }
    }
    progress({ status: 'verifying sha256 digest' });
    progress({ status: 'writing manifest' });
    if (!present) ctx.store.addPulled(model, formatRfc3339Nano(nowEpochNs(), 'local'));
    if (stream) {
      progress({ status: 'success' });
      out.end();
    } else {
      writeComplete(res, 200, JSON_CONTENT_TYPE, goMarshal({ status: 'success' }));
    }
  } catch (err) {
    if (signal.aborted) return; // client left (or the emulator closed): nothing to answer
    ctx.log.error({ err }, 'pull failed');
    fail(err instanceof Error ? err.message : String(err));
  }
}
