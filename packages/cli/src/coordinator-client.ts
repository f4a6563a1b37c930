/**
 * A small typed client for the coordinator's REST API, used by the operator commands (`kage
 * nodes`, `kage status`, `kage service`, `kage bench run --coordinator`, `kage doctor --all`). It speaks HTTP only: the
 * coordinator may run on another machine and be another build, so the response shapes are copied
 * here as the API documents them instead of being imported from the coordinator package.
 *
 * Every request is bounded by a timeout. Every failure is a {@link CoordinatorRequestError} with a
 * stable code the CLI maps to an exit code: the coordinator's own code when it answered with an
 * error, or a `KAGE_ERR_COORDINATOR_*` code when no usable answer came.
 */
import { readFile } from 'node:fs/promises';
import { KageError } from '@kage/common';
import { createParser } from 'eventsource-parser';
import { CliError, EXIT_NOINPUT, EXIT_USAGE } from './errors.js';
import type {
  ModelsView,
  NodeView,
  RunDetail,
  ServiceActionName as ServiceAction,
  ServiceActionResult,
  ServiceView,
} from '@kage/coordinator';

export const DEFAULT_COORDINATOR_URL = 'http://127.0.0.1:7080';
/** Bound of one ordinary request (reads, starting or cancelling a run). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

// ---- Response shapes: the coordinator's own types (type-only: nothing of it is loaded) -------

export type {
  ExoInstanceView,
  GpuView,
  LatestView,
  ModelsView,
  NodeStatus,
  NodeView,
  RunDetail,
  ServiceActionName as ServiceAction,
  ServiceActionResult,
  ServiceView,
} from '@kage/coordinator';
export type { RunStatus } from '@kage/bench';

/** Every error answer of the API. */
export interface ErrorBody {
  code: string;
  message: string;
  problems?: { path: string; reason: string }[];
  offline?: string[];
  /** The service after an action the agent refused. */
  service?: ServiceView | null;
}

// ---- Errors ----------------------------------------------------------------------------------

export type CoordinatorClientErrorCode =
  /** Nothing answered at the URL: connection refused, unknown host, no route. */
  | 'KAGE_ERR_COORDINATOR_UNREACHABLE'
  /** The coordinator did not answer within the request's bound. */
  | 'KAGE_ERR_COORDINATOR_TIMEOUT'
  /** The answer is not what the API documents (not JSON, or an error without a Kage code). */
  | 'KAGE_ERR_COORDINATOR_RESPONSE';

/**
 * A request that failed. `code` is the coordinator's own (`KAGE_ERR_NODE_OFFLINE`,
 * `KAGE_ERR_UNAUTHORIZED`, …) when it answered with an error body, else a
 * {@link CoordinatorClientErrorCode}.
 */
export class CoordinatorRequestError extends KageError {
  /** The HTTP status, null when no answer came. */
  readonly status: number | null;
  /** The error body, when the coordinator sent one. */
  readonly body: ErrorBody | null;

  constructor(
    code: string,
    message: string,
    options: { status?: number | null; body?: ErrorBody | null; hint?: string; cause?: unknown } = {},
  ) {
    super(code, message, {
      ...(options.hint !== undefined && { hint: options.hint }),
      ...(options.cause !== undefined && { cause: options.cause }),
    });
    this.status = options.status ?? null;
    this.body = options.body ?? null;
  }
}

// ---- Where and who ---------------------------------------------------------------------------

/**
 * The coordinator's base URL: `--coordinator`, else `KAGE_COORDINATOR`, else the default. The
 * result ends with `/` so API paths resolve under a path prefix (a reverse proxy) too.
 *
 * @throws {@link CliError} `KAGE_ERR_CLI_USAGE` (exit 64) for a value that is not an http(s) URL
 */
export function resolveCoordinatorUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): URL {
  const fromEnv = env['KAGE_COORDINATOR']?.trim();
  const raw = flag ?? (fromEnv ? fromEnv : DEFAULT_COORDINATOR_URL);
  const source = flag !== undefined ? '--coordinator' : fromEnv ? 'KAGE_COORDINATOR' : 'the default';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(
      'KAGE_ERR_CLI_USAGE',
      `${source} ${JSON.stringify(raw)} is not a URL (e.g. ${DEFAULT_COORDINATOR_URL})`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('KAGE_ERR_CLI_USAGE', `${source} ${JSON.stringify(raw)} must be an http:// or https:// URL`);
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** The URL as people wrote it: no trailing slash. */
export function displayUrl(url: URL): string {
  return url.href.replace(/\/$/, '');
}

const TOKEN_HELP = 'give the coordinator API token with --token-file FILE or the KAGE_API_TOKEN environment variable';

/**
 * The API token for state-changing requests: the trimmed content of `--token-file`, else
 * `KAGE_API_TOKEN`.
 *
 * @throws {@link CliError} `KAGE_ERR_CLI_TOKEN_MISSING` (exit 64) when neither gives one,
 *   `KAGE_ERR_CLI_TOKEN_FILE` (exit 66) when the file cannot be read
 */
export async function readApiToken(
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (tokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(tokenFile, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      throw new CliError(
        'KAGE_ERR_CLI_TOKEN_FILE',
        `--token-file ${tokenFile}: cannot read it (${reason})`,
        EXIT_NOINPUT,
        {
          cause: err,
        },
      );
    }
    const token = text.trim();
    if (token === '') {
      throw new CliError('KAGE_ERR_CLI_TOKEN_MISSING', `--token-file ${tokenFile} is empty; ${TOKEN_HELP}`, EXIT_USAGE);
    }
    return token;
  }
  const token = env['KAGE_API_TOKEN']?.trim() ?? '';
  if (token === '') {
    throw new CliError(
      'KAGE_ERR_CLI_TOKEN_MISSING',
      `this command changes state on the coordinator: ${TOKEN_HELP}`,
      EXIT_USAGE,
    );
  }
  return token;
}

// ---- Transport -------------------------------------------------------------------------------

/** Words for the socket errors a wrong address or a stopped coordinator gives. */
const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  EPIPE: 'connection closed',
};

/** The socket error code under undici's `TypeError: fetch failed` (also inside an AggregateError). */
function networkCode(err: unknown): string | undefined {
  let cause: unknown = (err as { cause?: unknown }).cause;
  for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const inner = (cause as { errors?: unknown[] }).errors;
    cause = Array.isArray(inner) && inner.length > 0 ? inner[0] : (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

function unreachable(base: URL, err: unknown): CoordinatorRequestError {
  const code = networkCode(err);
  // Without a socket code, undici's own cause says more ("bad port") than its "fetch failed".
  const cause: unknown = (err as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  const reason = code === undefined ? detail : (NETWORK_REASONS[code] ?? code);
  return new CoordinatorRequestError(
    'KAGE_ERR_COORDINATOR_UNREACHABLE',
    `cannot reach the coordinator at ${displayUrl(base)} (${reason}); is it running there? ` +
      `(set the address with --coordinator URL or KAGE_COORDINATOR)`,
    { cause: err },
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/** The error for a non-2xx answer: the coordinator's code and message, with every matrix problem. */
function errorFromAnswer(
  base: URL,
  method: string,
  path: string,
  status: number,
  text: string,
): CoordinatorRequestError {
  const parsed = parseJson(text);
  const body = isErrorBody(parsed) ? parsed : null;
  if (status === 401) {
    return new CoordinatorRequestError(
      'KAGE_ERR_UNAUTHORIZED',
      `the coordinator refused the API token: ${body?.message ?? 'unauthorized'}`,
      { status, body, hint: 'check --token-file / KAGE_API_TOKEN: it must hold the coordinator API token' },
    );
  }
  if (body === null || !body.code.startsWith('KAGE_ERR_')) {
    return new CoordinatorRequestError(
      'KAGE_ERR_COORDINATOR_RESPONSE',
      `${method} ${path}: ${displayUrl(base)} answered HTTP ${status} without a Kage error; is it a Kage coordinator?`,
      { status, body },
    );
  }
  const problems = Array.isArray(body.problems) ? body.problems : [];
  const message = [body.message, ...problems.map((p) => `  ${p.path}: ${p.reason}`)].join('\n');
  return new CoordinatorRequestError(body.code, message, { status, body });
}

export interface RequestOptions {
  body?: unknown;
  /** Sends the API token; the request changes state. */
  auth?: boolean;
  /** Overrides the client's per-request bound. */
  timeoutMs?: number;
  /** Aborts the request (Ctrl-C); the abort reason is rethrown as it is. */
  signal?: AbortSignal;
}

export interface CoordinatorClientOptions {
  url: URL;
  /** The API token; needed only for state-changing requests. */
  token?: string | null;
  /** Bound of one request, ms. @default {@link DEFAULT_REQUEST_TIMEOUT_MS} */
  timeoutMs?: number;
}

/** One coordinator event from `GET /api/v1/events`. */
export interface CoordinatorEvent {
  /** `sample` | `service` | `node` | `run`, or `reset` (reload the state: events were missed). */
  type: string;
  /** The event id, as the server sent it (used to resume). */
  id: string | null;
  /** The parsed `data:` JSON; undefined when it was not JSON. */
  data: unknown;
}

export interface FollowEventsOptions {
  /** Called for every event, in order. */
  onEvent: (event: CoordinatorEvent) => void;
  /**
   * Called each time a stream is open (headers received), with whether it resumes an earlier one
   * by `Last-Event-ID`. A stream opened without it carries only events from now on, so this is
   * where the caller loads its snapshot.
   */
  onOpen?: (resumed: boolean) => void;
  /** Called when an open stream is lost, before the wait for the next attempt. */
  onDisconnect?: (reason: string, retryInMs: number) => void;
  /** Ends the feed; {@link CoordinatorClient.followEvents} then resolves. */
  signal: AbortSignal;
}

/** Reconnection waits double from the first to the last, then stay there. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 10_000;
/** The coordinator sends a keep-alive comment every 15 s: three missed mean the stream is dead. */
const EVENT_STREAM_IDLE_MS = 45_000;
/** One event is one JSON line of a few kB; more than this buffered is not an event stream. */
const EVENT_STREAM_MAX_BUFFER = 4 * 1024 * 1024;

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class CoordinatorClient {
  readonly url: URL;
  private readonly token: string | null;
  private readonly timeoutMs: number;

  constructor(options: CoordinatorClientOptions) {
    this.url = options.url;
    this.token = options.token ?? null;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** `GET /api/v1/nodes`. */
  async listNodes(options: { signal?: AbortSignal } = {}): Promise<NodeView[]> {
    const nodes = await this.json<unknown>('GET', 'api/v1/nodes', options);
    if (!Array.isArray(nodes)) throw this.badShape('GET', 'api/v1/nodes', 'a list of nodes');
    return nodes as NodeView[];
  }

  /** `GET /api/v1/models`; null from a coordinator older than the route. */
  async listModels(options: { signal?: AbortSignal } = {}): Promise<ModelsView | null> {
    try {
      const models = await this.json<ModelsView>('GET', 'api/v1/models', options);
      if (!Array.isArray(models.ollama) || !Array.isArray(models.exo)) {
        throw this.badShape('GET', 'api/v1/models', 'an object with ollama and exo lists');
      }
      return models;
    } catch (err) {
      if (err instanceof KageError && err.code === 'KAGE_ERR_NOT_FOUND') return null;
      throw err;
    }
  }

  /**
   * `POST /api/v1/auth/check`: resolves when the coordinator accepts the API token. Rejects with
   * `KAGE_ERR_UNAUTHORIZED` when it does not, and `KAGE_ERR_NOT_FOUND` from a coordinator older
   * than the route.
   */
  async checkToken(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.json<unknown>('POST', 'api/v1/auth/check', { auth: true, ...options });
  }

  /**
   * `POST /api/v1/nodes/:id/services/:name/:action`. Resolves with the agent's answer, also when
   * it refused (`ok: false`, from a 409 that carries the agent's code and the service); rejects
   * for everything else (node offline or unknown, timeout, token).
   */
  async serviceAction(
    node: string,
    service: string,
    action: ServiceAction,
    options: { timeoutMs?: number } = {},
  ): Promise<ServiceActionResult> {
    const path = `api/v1/nodes/${encodeURIComponent(node)}/services/${encodeURIComponent(service)}/${action}`;
    try {
      return await this.json<ServiceActionResult>('POST', path, { auth: true, ...options });
    } catch (err) {
      // The API answers an agent's refusal with 409 and the agent's own code; the body has a
      // `service` key (possibly null), which an offline node's 409 does not.
      if (
        err instanceof CoordinatorRequestError &&
        err.status === 409 &&
        err.body !== null &&
        err.code !== 'KAGE_ERR_NODE_OFFLINE' &&
        'service' in err.body
      ) {
        return {
          ok: false,
          error: { code: err.body.code, message: err.body.message },
          service: err.body.service ?? null,
        };
      }
      throw err;
    }
  }

  /** `POST /api/v1/runs` with the matrix file's content. */
  async startRun(matrix: unknown, options: { signal?: AbortSignal } = {}): Promise<{ id: string }> {
    const created = await this.json<{ id?: unknown }>('POST', 'api/v1/runs', { auth: true, body: matrix, ...options });
    if (typeof created.id !== 'string' || created.id === '') throw this.badShape('POST', 'api/v1/runs', 'a run id');
    return { id: created.id };
  }

  /** `GET /api/v1/runs/:id`. */
  getRun(id: string, options: { signal?: AbortSignal } = {}): Promise<RunDetail> {
    return this.json<RunDetail>('GET', `api/v1/runs/${encodeURIComponent(id)}`, options);
  }

  /** `POST /api/v1/runs/:id/cancel`. */
  cancelRun(id: string, options: { signal?: AbortSignal } = {}): Promise<RunDetail> {
    return this.json<RunDetail>('POST', `api/v1/runs/${encodeURIComponent(id)}/cancel`, { auth: true, ...options });
  }

  /** `GET /api/v1/runs/:id/report?format=…`, as text (JSON is `kage.report/v1`). */
  async runReport(id: string, format: 'md' | 'json' | 'html', options: { signal?: AbortSignal } = {}): Promise<string> {
    const path = `api/v1/runs/${encodeURIComponent(id)}/report?format=${format}`;
    return (await this.request('GET', path, options)).text;
  }

  /**
   * Follows `GET /api/v1/events` until `signal` aborts, reconnecting with `Last-Event-ID` after a
   * lost stream (waits from 0.5 s doubling to 10 s, reset by every stream that opens). The first
   * connection is not retried: a wrong address or a coordinator that is not running is reported
   * at once rather than waited for.
   *
   * @throws {@link CoordinatorRequestError} when the first connection fails
   */
  async followEvents(options: FollowEventsOptions): Promise<void> {
    const { signal } = options;
    let lastEventId: string | null = null;
    let opened = false;
    let wait = RECONNECT_FIRST_MS;
    while (!signal.aborted) {
      let reason: string;
      try {
        reason = await this.streamEvents(lastEventId, signal, {
          onOpen: (resumed) => {
            opened = true;
            wait = RECONNECT_FIRST_MS;
            options.onOpen?.(resumed);
          },
          onEvent: (event) => {
            if (event.id !== null) lastEventId = event.id;
            options.onEvent(event);
          },
          onId: (id) => {
            lastEventId = id;
          },
        });
      } catch (err) {
        if (signal.aborted) return;
        if (!opened) throw err;
        reason = err instanceof Error ? err.message : String(err);
      }
      if (signal.aborted) return;
      options.onDisconnect?.(reason, wait);
      await delay(wait, signal);
      wait = Math.min(wait * 2, RECONNECT_MAX_MS);
    }
  }

  /** One event stream, until it ends; resolves with why it ended. */
  private async streamEvents(
    lastEventId: string | null,
    outer: AbortSignal,
    handlers: {
      onOpen: (resumed: boolean) => void;
      onEvent: (e: CoordinatorEvent) => void;
      onId: (id: string) => void;
    },
  ): Promise<string> {
    const controller = new AbortController();
    const stopOnOuter = (): void => controller.abort(abortError(outer));
    outer.addEventListener('abort', stopOnOuter, { once: true });
    let timedOut = false;
    let idle: NodeJS.Timeout | undefined;
    // Headers must come within the request bound; after that, any byte (an event or the
    // keep-alive comment) within the idle bound.
    const arm = (ms: number): void => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error('timed out'));
      }, ms);
    };
    const url = new URL('api/v1/events', this.url);
    try {
      arm(this.timeoutMs);
      let response: Response;
      try {
        response = await fetch(url, {
          headers: { accept: 'text/event-stream', ...(lastEventId !== null && { 'last-event-id': lastEventId }) },
          signal: controller.signal,
        });
      } catch (err) {
        if (outer.aborted) throw abortError(outer);
        if (timedOut) throw this.timeout('GET', '/api/v1/events', this.timeoutMs);
        throw unreachable(this.url, err);
      }
      if (!response.ok) {
        const text = await response.text().catch(() => '');
        throw errorFromAnswer(this.url, 'GET', '/api/v1/events', response.status, text);
      }
      if (response.body === null) return 'the event stream has no body';
      handlers.onOpen(lastEventId !== null);
      arm(EVENT_STREAM_IDLE_MS);
      const parser = createParser({
        maxBufferSize: EVENT_STREAM_MAX_BUFFER,
        onId: handlers.onId,
        onEvent: (message) => {
          handlers.onEvent({
            type: message.event ?? 'message',
            id: message.id ?? null,
            data: parseJson(message.data),
          });
        },
        // Unknown fields are ignored, as the SSE standard says; only a runaway buffer ends the stream.
        onError: (error) => {
          if (error.type === 'max-buffer-size-exceeded') controller.abort(new Error('an event is too large'));
        },
      });
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          arm(EVENT_STREAM_IDLE_MS);
          parser.feed(decoder.decode(chunk, { stream: true }));
        }
      } catch (err) {
        if (outer.aborted) return 'stopped';
        if (timedOut) return `no data for ${EVENT_STREAM_IDLE_MS / 1000} s`;
        const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
        return reason instanceof Error ? reason.message : String(reason);
      }
      return 'the coordinator ended the event stream';
    } finally {
      clearTimeout(idle);
      outer.removeEventListener('abort', stopOnOuter);
      // Releases the socket when the loop left early (an abort or a parse error).
      controller.abort(new Error('done'));
    }
  }

  private async json<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const { text } = await this.request(method, path, options);
    const value = parseJson(text);
    if (value === undefined) throw this.badShape(method, path, 'JSON');
    return value as T;
  }

  /** One request, bounded; resolves for a 2xx answer, rejects with a coded error otherwise. */
  private async request(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.auth === true) {
      if (this.token === null) {
        throw new CliError('KAGE_ERR_CLI_TOKEN_MISSING', `${method} /${path} changes state: ${TOKEN_HELP}`, EXIT_USAGE);
      }
      headers['authorization'] = `Bearer ${this.token}`;
    }
    // Without a body there is no content type: the server rejects an empty JSON body.
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('timed out')), timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout.signal, options.signal]) : timeout.signal;
    try {
      const response = await fetch(new URL(path, this.url), { method, headers, body, signal });
      // The bound covers reading the body too: the same signal aborts it.
      const text = await response.text();
      if (response.status < 200 || response.status > 299) {
        throw errorFromAnswer(this.url, method, `/${path}`, response.status, text);
      }
      return { status: response.status, text };
    } catch (err) {
      if (err instanceof CoordinatorRequestError) throw err;
      if (options.signal?.aborted) throw abortError(options.signal);
      if (timeout.signal.aborted) throw this.timeout(method, `/${path}`, timeoutMs);
      throw unreachable(this.url, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private timeout(method: string, path: string, ms: number): CoordinatorRequestError {
    const seconds = ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
    return new CoordinatorRequestError(
      'KAGE_ERR_COORDINATOR_TIMEOUT',
      `the coordinator at ${displayUrl(this.url)} did not answer ${method} ${path} within ${seconds}`,
    );
  }

  private badShape(method: string, path: string, expected: string): CoordinatorRequestError {
    return new CoordinatorRequestError(
      'KAGE_ERR_COORDINATOR_RESPONSE',
      `${method} /${path}: the answer from ${displayUrl(this.url)} is not ${expected}; is it a Kage coordinator?`,
    );
  }
}
