/**
 * The gateway: one Ollama- and OpenAI-compatible endpoint for the lab, on its own listen address.
 * Each generation request is routed (router.ts) to a backend that has the model and relayed
 * without buffering: every chunk the backend writes is written to the client as it arrives, with
 * `X-Kage-Backend` naming the backend. An Ollama client reaching the EXO cluster gets Ollama's
 * own NDJSON, converted from EXO's OpenAI stream (ollama-over-openai.ts).
 *
 * Failover happens only before the first byte reached the client: a backend that refuses the
 * connection, does not answer in time or answers 5xx is skipped for the next one. Once bytes were
 * sent, a backend that fails ends the client's stream with the protocol's own error form.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config.js';
import { BackendState } from './backend-state.js';
import type { BenchRate } from './bench-rates.js';
import { createBackendMonitor, type BackendMonitor } from './backend-monitor.js';
import { createGatewayMetrics, type GatewayMetrics } from './gateway-metrics.js';
import { listModels, type ClientProtocol } from './model-listing.js';
import { createModelNames, validateModelName, type ModelNames } from './model-names.js';
import { prepareExchange, type Exchange } from './exchange.js';
import { GatewayError } from './gateway-error.js';
import { ollamaLoadReply } from './ollama-response.js';
import { ollamaErrorBody, openAIErrorBody, openAIErrorType } from './protocol-errors.js';
import { ollamaLoadOnly } from './protocol-translate.js';
import { conversationKey, createRouter, type ModelRoute, type Router } from './router.js';
import { createRecentRoutes, type RecentRoutes } from './recent-routes.js';
import { exoShowAnswer, showSource, type ShowSource } from './model-show.js';
import { GATEWAY_OFF, gatewayView, type GatewayView } from './gateway-view.js';
import { formatHostPort } from '../config/listen-address.js';
import { UpstreamError, createUpstreamAgents, upstreamRequest, type UpstreamAgents } from './upstream-request.js';

export interface GatewayOptions {
  config: GatewayConfig;
  log: Logger;
  /** Backend URLs a benchmark run is measuring now: the gateway sends them nothing. */
  busyUrls?: () => ReadonlySet<string>;
  /** Speeds the benchmark runs measured (bench-rates.ts): the router's first guess. */
  benchRates?: () => readonly BenchRate[];
}

/** How often the benchmark's figures are read again (a run may have finished). */
const BENCH_RATES_REFRESH_MS = 60_000;

export interface Gateway {
  /** Listens; resolves with the port. */
  start(): Promise<number>;
  /** The gateway's series, in the Prometheus text format (appended to the coordinator's /metrics). */
  metricsText(): Promise<string>;
  /** What the gateway knows of each backend (the dashboard, tests). */
  backends(): readonly BackendState[];
  /** Where clients connect, `host:port`; null before it listens. */
  listening(): string | null;
  /** Backends and recent routing decisions, as `GET /api/v1/gateway` answers. */
  status(): GatewayView;
  close(): Promise<void>;
}

type Route = 'api_chat' | 'api_generate' | 'v1_chat';

export function createGateway(o: GatewayOptions): Gateway {
  const { config } = o;
  const log = o.log.child({ component: 'gateway' });
  const backends = config.backends.map((b) => new BackendState(b));
  const router: Router = createRouter(backends, { sticky: config.sticky });
  const names: ModelNames = createModelNames(config.models);
  const metrics: GatewayMetrics = createGatewayMetrics();
  const routes: RecentRoutes = createRecentRoutes();
  let listening: string | null = null;
  const agents: UpstreamAgents = createUpstreamAgents();
  const urlOf = new Map(backends.map((b) => [normalUrl(b.config.url), b.id]));
  let monitor: BackendMonitor | null = null;
  let ratesTimer: NodeJS.Timeout | undefined;

  const seedBenchRates = (): void => {
    if (o.benchRates === undefined) return;
    try {
      for (const rate of o.benchRates()) {
        const b = backends.find((x) => x.id === urlOf.get(normalUrl(rate.url)));
        b?.seedRates(rate.model, { prefillTps: null, decodeTps: rate.decodeTps });
      }
    } catch (err) {
      log.warn({ err }, 'benchmark speeds could not be read; the gateway measures its own');
    }
  };

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: config.maxBodyBytes, return503OnClosing: false });
  // Bodies are read as bytes and parsed here, whatever the content type says (Ollama's clients
  // and curl do not all send application/json), so a malformed one gets the protocol's own error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const protocol = protocolOf(request.url);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      metrics.errors.inc({ kind: 'too_large' });
      return sendError(
        reply,
        protocol,
        413,
        `request body larger than ${config.maxBodyBytes} bytes`,
        'invalid_request_error',
      );
    }
    if (err.statusCode !== undefined && err.statusCode < 500) {
      metrics.errors.inc({ kind: 'bad_request' });
      return sendError(reply, protocol, err.statusCode, err.message, 'invalid_request_error');
    }
    log.error({ err, url: request.url }, 'gateway request failed');
    return sendError(reply, protocol, 500, 'internal error in the gateway', 'api_error');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      protocolOf(request.url),
      404,
      `${request.method} ${request.url.split('?')[0]} is not served by the Kage gateway`,
      'invalid_request_error',
    ),
  );

  // Only with client tokens: an open gateway pays nothing per request for authentication.
  if (config.clientTokens.size > 0)
    app.addHook('onRequest', async (request, reply) => {
      const header = request.headers.authorization ?? '';
      const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
      if (!config.clientTokens.has(token)) {
        metrics.errors.inc({ kind: 'unauthorized' });
        await sendError(reply, protocolOf(request.url), 401, 'missing or wrong bearer token', 'invalid_request_error');
      }
    });

  app.get('/', (_req, reply) =>
    reply.header('x-kage-backend', 'gateway').type('text/plain; charset=utf-8').send('Ollama is running'),
  );
  app.get('/api/version', (_req, reply) => {
    const versions = backends.flatMap((b) => (b.config.kind === 'ollama' && b.version !== null ? [b.version] : []));
    // The lowest version: a client that checks features must not assume one some node lacks.
    const version = versions.sort(compareVersions)[0] ?? '0.0.0';
    return reply.header('x-kage-backend', 'gateway').send({ version });
  });
  for (const path of ['/api/tags', '/api/ps', '/v1/models'] as const) {
    app.get(path, (_req, reply) => {
      const listing = listModels(path, backends, names);
      return reply.header('x-kage-backend', listing.backends.join(',') || 'gateway').send(listing.body);
    });
  }
  app.post('/api/show', (request, reply) => show(request, reply));
  app.post('/api/chat', (request, reply) => relay(request, reply, 'api_chat'));
  app.post('/api/generate', (request, reply) => relay(request, reply, 'api_generate'));
  app.post('/v1/chat/completions', (request, reply) => relay(request, reply, 'v1_chat'));

  async function relay(request: FastifyRequest, reply: FastifyReply, route: Route): Promise<void> {
    const protocol: ClientProtocol = route === 'v1_chat' ? 'openai' : 'ollama';
    const started = process.hrtime.bigint();
    let body: Record<string, unknown>;
    const rawBody = rawBodyOf(request);
    try {
      body = jsonObject(rawBody);
    } catch (err) {
      metrics.errors.inc({ kind: 'bad_request' });
      metrics.requests.inc({ route, backend: 'none', status: '400' });
      return sendError(reply, protocol, 400, `invalid JSON body: ${(err as Error).message}`, 'invalid_request_error');
    }
    const requested = body['model'];
    if (typeof requested !== 'string' || requested === '') {
      metrics.errors.inc({ kind: 'bad_request' });
      metrics.requests.inc({ route, backend: 'none', status: '400' });
      return sendError(reply, protocol, 400, 'model is required', 'invalid_request_error', 'model');
    }
    let model: ModelRoute;
    try {
      validateModelName(requested);
      const resolved = names.resolve(requested);
      model = { requested, ollama: resolved?.ollama ?? null, exo: resolved?.exo ?? null };
    } catch (err) {
      metrics.errors.inc({ kind: 'bad_request' });
      metrics.requests.inc({ route, backend: 'none', status: '400' });
      return sendError(reply, protocol, 400, (err as Error).message, 'invalid_request_error', 'model');
    }
    const opening = openingOf(body, route);
    const result = router.route(
      {
        model,
        promptTokens: Math.ceil(opening.chars / 4),
        maxTokens: maxTokensOf(body, route),
        conversation: conversationKey(requested, opening.start),
      },
      busyBackends(),
    );
    const record = (backend: string, reason: string, status: number, outcome: string, ttftMs: number | null): void =>
      routes.record({
        at: new Date().toISOString(),
        route,
        model: requested,
        backend,
        reason,
        status,
        outcome,
        ttft_ms: ttftMs,
        duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
      });
    if (result.kind === 'unknown-model') {
      record('none', 'unknown-model', 404, 'unknown-model', null);
      metrics.errors.inc({ kind: 'unknown_model' });
      metrics.requests.inc({ route, backend: 'none', status: '404' });
      return sendError(
        reply,
        protocol,
        404,
        `model '${requested}' not found on any backend of the gateway`,
        'api_error',
        'model',
      );
    }
    if (result.kind === 'unavailable') {
      record('none', 'unavailable', 503, 'unavailable', null);
      metrics.errors.inc({ kind: 'unavailable' });
      metrics.requests.inc({ route, backend: 'none', status: '503' });
      const why = Object.entries(result.reasons)
        .map(([id, r]) => `${id}: ${r}`)
        .join('; ');
      return sendError(reply, protocol, 503, `no backend can serve '${requested}' now (${why})`, 'api_error');
    }

    // The client going away cancels the backend's request (and frees its slot).
    const abort = new AbortController();
    const raw: ServerResponse = reply.raw;
    const onClose = (): void => {
      if (!raw.writableEnded) {
        metrics.errors.inc({ kind: 'client_gone' });
        abort.abort();
      }
    };
    raw.on('close', onClose);

    const endpoint = route === 'api_chat' ? 'chat' : 'generate';
    const first = result.choices[0];
    const loadOnly = route === 'v1_chat' ? null : ollamaLoadOnly(endpoint, body);
    if (loadOnly !== null && first?.backend.config.kind === 'exo') {
      // `ollama run` loads before its first turn; an EXO model the gateway routes to is loaded
      // already (its instance is ready), so the truthful answer needs no call to EXO.
      reply.hijack();
      raw.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-kage-backend': first.backend.id });
      raw.end(JSON.stringify(ollamaLoadReply(endpoint, requested, loadOnly)));
      record(first.backend.id, first.reason, 200, 'load-only', null);
      return finish(route, first.backend.id, 200);
    }
    reply.hijack();

    let attempt = 0;
    for (const choice of result.choices) {
      const b = choice.backend;
      let exchange: Exchange;
      try {
        exchange = prepareExchange(route, body, rawBody, b.config.kind, choice.backendModel, requested);
      } catch (err) {
        // The request cannot be said in this backend's protocol (a field EXO does not take).
        if (!(err instanceof GatewayError)) throw err;
        raw.off('close', onClose);
        metrics.errors.inc({ kind: 'bad_request' });
        raw.writeHead(err.status, { 'content-type': 'application/json; charset=utf-8', 'x-kage-backend': b.id });
        raw.end(JSON.stringify(errorBody(protocol, err.message, openAIErrorType(err.status), err.field ?? null)));
        return finish(route, b.id, err.status);
      }
      b.inFlight += 1;
      metrics.inFlight.set({ backend: b.id }, b.inFlight);
      metrics.routed.inc({ backend: b.id, reason: attempt === 0 ? choice.reason : 'retry' });
      let upstream: IncomingMessage;
      try {
        upstream = await upstreamRequest(agents, {
          url: `${b.config.url}${exchange.path}`,
          method: 'POST',
          body: exchange.body,
          connectTimeoutMs: config.connectTimeoutMs,
          firstByteTimeoutMs: config.firstByteTimeoutMs,
          signal: abort.signal,
        });
      } catch (err) {
        done(b);
        if (abort.signal.aborted) {
          record(b.id, attempt === 0 ? choice.reason : 'retry', 499, 'client-gone', null);
          return finish(route, b.id, 499);
        }
        const phase = err instanceof UpstreamError ? err.phase : 'network';
        metrics.errors.inc({ kind: phase === 'first-byte' ? 'upstream_first_byte' : 'upstream_connect' });
        b.recordFailure(Date.now(), config.breakerFailures, config.breakerOpenMs);
        log.warn(
          { backend: b.id, model: requested, err: (err as Error).message },
          'backend failed before answering; trying the next',
        );
        attempt += 1;
        continue;
      }
      if (upstream.statusCode !== undefined && upstream.statusCode >= 500) {
        upstream.resume();
        done(b);
        metrics.errors.inc({ kind: 'upstream_5xx' });
        b.recordFailure(Date.now(), config.breakerFailures, config.breakerOpenMs);
        log.warn(
          { backend: b.id, model: requested, status: upstream.statusCode },
          'backend answered 5xx before any byte; trying the next',
        );
        attempt += 1;
        continue;
      }
      router.served(conversationKey(requested, opening.start), b.id);
      // From the request reaching the gateway, as the client sees it (the relay's own figure
      // starts at the backend's headers).
      let ttftMs: number | null = null;
      const outcome = await exchange.relay(upstream, raw, {
        backendId: b.id,
        onFirstByte: () => {
          ttftMs = Number(process.hrtime.bigint() - started) / 1e6;
          metrics.ttft.observe({ backend: b.id }, ttftMs / 1000);
        },
      });
      done(b);
      if (outcome.kind === 'ok') {
        b.recordSuccess();
        if (outcome.decodeTps !== null) metrics.decodeTps.observe({ backend: b.id }, outcome.decodeTps);
        b.observe(choice.backendModel, outcome.prefillTps, outcome.decodeTps);
        // A cold start's load time is what the next cold choice will cost.
        if (!choice.loaded && outcome.loadMs != null) b.observeLoad(choice.backendModel, outcome.loadMs);
      } else if (outcome.kind === 'cut') {
        metrics.errors.inc({ kind: 'stream_cut' });
        b.recordFailure(Date.now(), config.breakerFailures, config.breakerOpenMs);
      }
      log.info(
        {
          route,
          model: requested,
          backend: b.id,
          reason: attempt === 0 ? choice.reason : 'retry',
          status: outcome.status,
          outcome: outcome.kind,
          ttft_ms: ttftMs,
          duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'relayed',
      );
      record(b.id, attempt === 0 ? choice.reason : 'retry', outcome.status, outcome.kind, ttftMs);
      return finish(route, b.id, outcome.status);
    }
    raw.off('close', onClose);
    metrics.errors.inc({ kind: 'unavailable' });
    const status = 503;
    const body503 = errorBody(protocol, `every backend that has '${requested}' failed before answering`, 'api_error');
    raw.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-kage-backend': 'gateway' });
    raw.end(JSON.stringify(body503));
    record('none', 'all-failed', status, 'unavailable', null);
    return finish(route, 'none', status);
  }

  /** `POST /api/show` (model-show.ts): relayed to an Ollama backend with the model, streamed through. */
  async function show(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = jsonObject(rawBodyOf(request));
    } catch (err) {
      metrics.errors.inc({ kind: 'bad_request' });
      return sendError(reply, 'ollama', 400, `invalid JSON body: ${(err as Error).message}`, 'invalid_request_error');
    }
    // Ollama takes `model`, and the older `name` (which some clients still send).
    const requested = body['model'] ?? body['name'];
    if (typeof requested !== 'string' || requested === '') {
      metrics.errors.inc({ kind: 'bad_request' });
      return sendError(reply, 'ollama', 400, 'model is required', 'invalid_request_error');
    }
    let source: ShowSource;
    try {
      validateModelName(requested);
      source = showSource(backends, names.resolve(requested));
    } catch (err) {
      metrics.errors.inc({ kind: 'bad_request' });
      return sendError(reply, 'ollama', 400, (err as Error).message, 'invalid_request_error');
    }
    if (source.kind === 'unknown') {
      metrics.errors.inc({ kind: 'unknown_model' });
      return sendError(reply, 'ollama', 404, `model '${requested}' not found`, 'api_error');
    }
    if (source.kind === 'exo') {
      return reply.header('x-kage-backend', source.backend.id).send(exoShowAnswer());
    }
    const b = source.backend;
    let upstream: IncomingMessage;
    try {
      const { name: _legacy, ...rest } = body;
      upstream = await upstreamRequest(agents, {
        url: `${b.config.url}/api/show`,
        method: 'POST',
        body: Buffer.from(JSON.stringify({ ...rest, model: source.model })),
        connectTimeoutMs: config.connectTimeoutMs,
        firstByteTimeoutMs: config.firstByteTimeoutMs,
        signal: AbortSignal.timeout(config.firstByteTimeoutMs),
      });
    } catch (err) {
      metrics.errors.inc({ kind: 'upstream_connect' });
      return sendError(
        reply,
        'ollama',
        502,
        `${b.id} did not answer /api/show: ${(err as Error).message}`,
        'api_error',
      );
    }
    reply.hijack();
    const raw: ServerResponse = reply.raw;
    raw.writeHead(upstream.statusCode ?? 502, {
      'content-type': upstream.headers['content-type'] ?? 'application/json; charset=utf-8',
      'x-kage-backend': b.id,
    });
    upstream.on('error', () => raw.destroy());
    raw.on('close', () => upstream.destroy());
    upstream.pipe(raw);
  }

  function done(b: BackendState): void {
    b.inFlight -= 1;
    metrics.inFlight.set({ backend: b.id }, b.inFlight);
  }

  function finish(route: Route, backend: string, status: number): void {
    metrics.requests.inc({ route, backend, status: String(status) });
  }

  function busyBackends(): ReadonlySet<string> {
    const urls = o.busyUrls?.() ?? new Set<string>();
    const busy = new Set<string>();
    for (const url of urls) {
      const id = urlOf.get(normalUrl(url));
      if (id !== undefined) busy.add(id);
    }
    return busy;
  }

  return {
    async start() {
      monitor = createBackendMonitor({
        backends,
        agents,
        intervalMs: config.healthIntervalMs,
        breakerFailures: config.breakerFailures,
        breakerOpenMs: config.breakerOpenMs,
        log,
      });
      await monitor.refresh();
      seedBenchRates();
      ratesTimer = setInterval(seedBenchRates, BENCH_RATES_REFRESH_MS).unref();
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.port;
      log.info({ port, backends: backends.map((b) => `${b.id} ${b.healthy ? 'up' : 'down'}`) }, 'gateway listening');
      listening = formatHostPort({ host: config.host, port });
      return port;
    },
    metricsText: () => metrics.registry.metrics(),
    backends: () => backends,
    listening: () => listening,
    status: () => (listening === null ? GATEWAY_OFF : gatewayView(listening, backends, routes, Date.now())),
    async close() {
      monitor?.close();
      clearInterval(ratesTimer);
      await app.close();
      agents.close();
    },
  };
}

function protocolOf(url: string): ClientProtocol {
  return url.startsWith('/v1/') ? 'openai' : 'ollama';
}

function errorBody(protocol: ClientProtocol, message: string, type: string, param: string | null = null): unknown {
  return protocol === 'openai' ? openAIErrorBody(message, type, null, param) : ollamaErrorBody(message);
}

/** The request's body as the gateway's content parser left it: bytes, whatever the content type. */
function rawBodyOf(request: FastifyRequest): Buffer {
  return (request.body as Buffer | undefined) ?? Buffer.alloc(0);
}

/** A body that must be a JSON object; throws with why it is not. */
function jsonObject(raw: Buffer): Record<string, unknown> {
  const parsed: unknown = JSON.parse(raw.toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function sendError(
  reply: FastifyReply,
  protocol: ClientProtocol,
  status: number,
  message: string,
  type: string,
  param: string | null = null,
): FastifyReply {
  return reply
    .code(status)
    .header('x-kage-backend', 'gateway')
    .send(errorBody(protocol, message, type, param));
}

/** `http://Host:11434/` → `http://host:11434`: how run targets and backends are matched. */
function normalUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`.toLowerCase();
  } catch {
    return url;
  }
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The start of a conversation (for stickiness) and the prompt's size (for the time estimate). */
function openingOf(body: Record<string, unknown>, route: Route): { start: string[]; chars: number } {
  if (route === 'api_generate') {
    const prompt = typeof body['prompt'] === 'string' ? body['prompt'] : '';
    const system = typeof body['system'] === 'string' ? body['system'] : '';
    return { start: [], chars: prompt.length + system.length };
  }
  const messages = Array.isArray(body['messages']) ? body['messages'] : [];
  const texts = messages.map((m) => {
    const content = (m as { content?: unknown } | null)?.content;
    return typeof content === 'string' ? content : JSON.stringify(content ?? '');
  });
  // The system prompt and the first user turn identify a conversation across its turns.
  return { start: texts.slice(0, 2), chars: texts.reduce((n, t) => n + t.length, 0) };
}

function maxTokensOf(body: Record<string, unknown>, route: Route): number | null {
  const options = body['options'] as { num_predict?: unknown } | undefined;
  const value = route === 'v1_chat' ? (body['max_completion_tokens'] ?? body['max_tokens']) : options?.num_predict;
  return typeof value === 'number' && value > 0 ? value : null;
}
