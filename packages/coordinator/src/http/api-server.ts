/**
 * The coordinator's REST API (fastify): nodes, services, runs, the live event feed, health and
 * Prometheus metrics, with its OpenAPI document and Swagger UI at `/docs`.
 *
 * Cross-cutting rules live here: every request part is checked against its TypeBox schema, every
 * error is answered by `error-mapping.ts`, every state-changing request needs the API token, and
 * the server logs through one child logger of the coordinator's.
 *
 * @example
 * const app = await buildApiServer(deps);
 * await app.listen({ host: '0.0.0.0', port: 8080 });
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { excerpt } from '@kage/common';
import { DASHBOARD_DIR } from '@kage/dashboard';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { CoordinatorError } from '../coordinator-error.js';
import type { ApiDeps } from './api-deps.js';
import { ApiError } from './api-error.js';
import type { ApiApp } from './api-app.js';
import { createTokenCheck } from './auth.js';
import { registerAuthRoutes } from './routes-auth.js';
import { mapError } from './error-mapping.js';
import { createEventStreams } from './event-stream.js';
import { createMetricsExporter } from './prometheus.js';
import { registerEventRoutes } from './routes-events.js';
import { registerHealthRoutes } from './routes-health.js';
import { registerNodeRoutes } from './routes-nodes.js';
import { registerRunRoutes } from './routes-runs.js';
import { registerDashboardRoutes } from './routes-dashboard.js';
import { registerSnapshotRoutes } from './routes-snapshot.js';
import { registerModelRoutes } from './routes-models.js';
import { registerGatewayRoutes } from './routes-gateway.js';
import { formatSchemaErrors, typeboxValidatorCompiler } from './validation.js';

/** How stale the node list may be: half the agents' default sample interval. */
const NODES_LIST_MAX_AGE_MS = 500;

export interface ApiServerOptions {
  /** Largest request body accepted (bytes); larger ones get 413. @default 1 MiB (a matrix is a few KiB) */
  bodyLimit?: number;
  /** How old a served `GET /api/v1/nodes` may be (ms); 0 builds it for every request. @default 500 */
  nodesListMaxAgeMs?: number;
  /** Interval of the event stream's keep-alive comments (ms). @default 15000 */
  sseKeepAliveMs?: number;
  /** Bytes an event stream client may fall behind before it is disconnected. @default 4 MiB */
  sseMaxBufferedBytes?: number;
  /** Where the dashboard's built files are. @default the @kage/dashboard package's build */
  dashboardDir?: string;
}

/** Fastify's per-request lines at debug: at info they would drown the coordinator's own log. */
class RequestLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const entry = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    // An error here is the response stream's (the client went away); the error handler logs the rest.
    if (error) request.log.debug({ ...entry, err: error }, 'response not completed');
    else request.log.debug(entry, 'request');
  }
}

/** Answers any error through the mapping, logging it as the mapping says. */
function answerError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = mapError(err);
  const context = { method: request.method, url: request.url, status: mapped.status, code: mapped.body.code };
  switch (mapped.logLevel) {
    case 'error':
      request.log.error({ ...context, err }, 'request failed');
      break;
    case 'warn':
      request.log.warn({ ...context, reason: mapped.body.message }, 'request failed');
      break;
    case 'debug':
      request.log.debug({ ...context, reason: mapped.body.message }, 'request refused');
      break;
  }
  return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
}

export async function buildApiServer(deps: ApiDeps, options: ApiServerOptions = {}): Promise<FastifyInstance> {
  const log = deps.log.child({ component: 'http' });
  const loggerInstance: FastifyBaseLogger = log;
  const app: ApiApp = Fastify({
    loggerInstance,
    logController: new RequestLogController(),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Requests during shutdown get a coded 503 from the hook below instead of fastify's own body.
    return503OnClosing: false,
    schemaErrorFormatter: formatSchemaErrors,
    // Errors the router raises before any route (bad URL encoding, an overlong path parameter).
    frameworkErrors: (err, request, reply) => void answerError(err, request, reply),
    // Above the schemas' 256 so that an overlong id is refused by its schema, naming the field.
    routerOptions: { maxParamLength: 512 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(typeboxValidatorCompiler);
  // The routes read JSON only; any other body type is refused with 415 before a handler runs.
  app.removeContentTypeParser('text/plain');

  const streams = createEventStreams(deps.events, log, {
    keepAliveMs: options.sseKeepAliveMs ?? 15_000,
    maxBufferedBytes: options.sseMaxBufferedBytes ?? 4 * 1024 * 1024,
  });
  const exporter = createMetricsExporter(deps);
  const checkToken = createTokenCheck(deps.apiToken);

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    // Event streams never end by themselves; the server cannot close while they are open.
    streams.endAll();
    done();
  });
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      if (closing) throw new CoordinatorError('KAGE_ERR_COORDINATOR_CLOSED', 'the coordinator is shutting down');
      checkToken(request.method, request.headers.authorization);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    // A kept-alive connection would hold the shutdown until the client's idle timeout.
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.setErrorHandler(answerError);
  app.setNotFoundHandler((request) => {
    const path = request.url.split('?', 1)[0] ?? '';
    throw new ApiError('KAGE_ERR_NOT_FOUND', `no route ${request.method} ${excerpt(path, 200)}`);
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Kage coordinator API',
        version: deps.version,
        description:
          'Nodes, services and benchmark runs of a Kage lab. Reads are open; every POST needs ' +
          '`Authorization: Bearer <api token>`. Errors are `{ code, message }`.',
      },
      tags: [
        { name: 'nodes', description: 'Nodes, their metrics and their services' },
        { name: 'runs', description: 'Benchmark runs' },
        { name: 'events', description: 'Live event feed' },
        { name: 'gateway', description: 'The gateway: backends and routing decisions' },
        { name: 'auth', description: 'The API token' },
        { name: 'health', description: 'Liveness, readiness, Prometheus metrics' },
      ],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });
  // The UI's assets come from the npm package, never a CDN: the lab may have no internet access.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });

  registerHealthRoutes(app, deps, exporter);
  registerNodeRoutes(app, deps, { listMaxAgeMs: options.nodesListMaxAgeMs ?? NODES_LIST_MAX_AGE_MS });
  registerModelRoutes(app, deps);
  registerGatewayRoutes(app, deps);
  registerRunRoutes(app, deps);
  registerEventRoutes(app, streams);
  registerAuthRoutes(app);
  registerSnapshotRoutes(app, deps);
  registerDashboardRoutes(app, options.dashboardDir ?? DASHBOARD_DIR, log);

  return app;
}
