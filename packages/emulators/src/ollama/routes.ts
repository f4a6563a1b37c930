/**
 * Route table of the Ollama emulator and gin's routing behaviour on top of fastify: a wrong
 * method on a known path answers `405 method not allowed` (Ollama sets
 * `HandleMethodNotAllowed`), an unknown path `404 page not found`, both `text/plain`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { mergeFaults } from '../faults.js';
import type { EmulatorContext } from './emulator-context.js';
import { goMarshal } from './go-json.js';
import { bodyText, handleChat, handleGenerate } from './inference-routes.js';
import { handlePs, handlePull, handleRoot, handleShow, handleTags, handleVersion } from './native-routes.js';
import { handleOpenAiChat, handleOpenAiModel, handleOpenAiModels } from './openai-routes.js';
import { JSON_CONTENT_TYPE, replyRaw } from './wire.js';

type Handler = (ctx: EmulatorContext, request: FastifyRequest, reply: FastifyReply) => void | Promise<void>;

interface RouteDef {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  readonly url: string;
  readonly handler: Handler;
}

const ALL_METHODS: readonly HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** gin's plain-text bodies (`text/plain`, no charset). */
const GIN_PLAIN = 'text/plain';

function handleGetFaults(ctx: EmulatorContext, _request: FastifyRequest, reply: FastifyReply): void {
  replyRaw(reply, 200, JSON_CONTENT_TYPE, goMarshal(ctx.faults()));
}

function handlePutFaults(ctx: EmulatorContext, request: FastifyRequest, reply: FastifyReply): void {
  let patch: unknown;
  try {
    patch = JSON.parse(bodyText(request) || 'null') as unknown;
  } catch {
    patch = undefined;
  }
  const merged = mergeFaults(ctx.faults(), patch);
  if (!merged.ok) {
    replyRaw(reply, 400, JSON_CONTENT_TYPE, goMarshal({ error: 'invalid fault options', errors: merged.errors }));
    return;
  }
  ctx.setFaults(merged.faults);
  ctx.log.info({ faults: merged.faults }, 'fault options changed');
  replyRaw(reply, 200, JSON_CONTENT_TYPE, goMarshal(merged.faults));
}

/** Ollama's routes as `server/routes.go` registers them (the subset the emulator serves). */
const ROUTES: readonly RouteDef[] = [
  { method: 'HEAD', url: '/', handler: handleRoot },
  { method: 'GET', url: '/', handler: handleRoot },
  { method: 'HEAD', url: '/api/version', handler: handleVersion },
  { method: 'GET', url: '/api/version', handler: handleVersion },
  { method: 'POST', url: '/api/pull', handler: handlePull },
  { method: 'HEAD', url: '/api/tags', handler: handleTags },
  { method: 'GET', url: '/api/tags', handler: handleTags },
  { method: 'POST', url: '/api/show', handler: handleShow },
  { method: 'GET', url: '/api/ps', handler: handlePs },
  { method: 'POST', url: '/api/generate', handler: handleGenerate },
  { method: 'POST', url: '/api/chat', handler: handleChat },
  { method: 'POST', url: '/v1/chat/completions', handler: handleOpenAiChat },
  { method: 'GET', url: '/v1/models', handler: handleOpenAiModels },
  { method: 'GET', url: '/v1/models/:model', handler: handleOpenAiModel },
  // Emulator control, not part of Ollama.
  { method: 'GET', url: '/_emulator/faults', handler: handleGetFaults },
  { method: 'PUT', url: '/_emulator/faults', handler: handlePutFaults },
];

/** Registers every route, the 405 answers for other methods and the 404 handler. */
export function installRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const methodsByUrl = new Map<string, string[]>();
  for (const route of ROUTES) {
    app.route({
      method: route.method,
      url: route.url,
      handler: (request, reply) => route.handler(ctx, request, reply),
    });
    methodsByUrl.set(route.url, [...(methodsByUrl.get(route.url) ?? []), route.method]);
  }
  for (const [url, allowed] of methodsByUrl) {
    const others = ALL_METHODS.filter((m) => !allowed.includes(m));
    app.route({
      method: [...others],
      url,
      handler: (_request, reply) => {
        reply.header('allow', allowed.join(', '));
        void reply.code(405).header('content-type', GIN_PLAIN).send('405 method not allowed');
      },
    });
  }
  app.setNotFoundHandler((request, reply) => {
    // gin's RedirectTrailingSlash: `/api/tags/` redirects to `/api/tags` (301 for GET, else 307).
    const [path = '', query] = request.url.split('?', 2);
    const trimmed = path.replace(/\/+$/, '');
    const allowed = methodsByUrl.get(trimmed);
    if (path.endsWith('/') && trimmed !== '' && allowed?.includes(request.method) === true) {
      const location = query === undefined ? trimmed : `${trimmed}?${query}`;
      reply.header('location', location);
      if (request.method === 'GET') {
        void reply
          .code(301)
          .header('content-type', 'text/html; charset=utf-8')
          .send(`<a href="${location}">Moved Permanently</a>.\n\n`);
      } else {
        void reply.code(307).send();
      }
      return;
    }
    void reply.code(404).header('content-type', GIN_PLAIN).send('404 page not found');
  });
}
