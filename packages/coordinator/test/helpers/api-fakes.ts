/**
 * In-memory stand-ins for the REST API's dependencies, a server started on 127.0.0.1:0 with
 * cleanup, plain HTTP helpers and a small Server-Sent Events reader with bounded waits.
 */
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError, validateMatrix, type KageReport, type RunListEntry } from '@kage/bench';
import { pino } from 'pino';
import { CoordinatorError } from '../../src/coordinator-error.js';
import { createEventHub, type EventHub } from '../../src/events/event-hub.js';
import type { AgentCommander, ServiceActionName, ServiceActionResult } from '../../src/grpc/agent-commander.js';
import type { ApiDeps, CoordinatorStats, ReadinessCheck, RunDetail } from '../../src/http/api-deps.js';
import { buildApiServer, type ApiServerOptions } from '../../src/http/api-server.js';
import type { ModelsView } from '../../src/registry/models-view.js';
import type { MetricPoint, NodeView, ServiceView } from '../../src/registry/node-view.js';

export const TOKEN = 'test-api-token-0123456789';
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export interface LogEntry {
  level: number;
  msg: string;
  component?: string;
  err?: { message: string; stack: string; type: string };
  [key: string]: unknown;
}

export function serviceView(name: string, overrides: Partial<ServiceView> = {}): ServiceView {
  return {
    name,
    driver: 'process',
    state: 'running',
    pid: 4242,
    restarts: 0,
    healthy: true,
    health: 'healthy',
    reason: null,
    version: null,
    ...overrides,
  };
}

export function nodeView(id: string, overrides: Partial<NodeView> = {}): NodeView {
  return {
    id,
    hostname: `${id}.lan`,
    status: 'online',
    last_seen: '2025-03-01T10:00:00.000Z',
    agent_version: '0.1.0',
    services: [serviceView('ollama')],
    latest: {
      ts: '2025-03-01T09:59:59.500Z',
      cpu_pct: 12.5,
      mem_used_bytes: 8e9,
      mem_total_bytes: 32e9,
      gpus: [],
    },
    clock_skew_ms: 3,
    ...overrides,
  };
}

export function metricPoint(ts: string, cpu: number): MetricPoint {
  return {
    ts,
    cpu_pct: cpu,
    mem_used_bytes: 1e9,
    mem_total_bytes: 2e9,
    gpu_busy_pct: null,
    gpu_mem_used_bytes: null,
    gpu_mem_total_bytes: null,
    resolution: 'raw',
  };
}

type ServiceActionImpl = (node: string, service: string, action: ServiceActionName) => Promise<ServiceActionResult>;

export interface FakeWorld {
  deps: ApiDeps;
  hub: EventHub;
  nodes: Map<string, NodeView>;
  /** Every `nodes.metrics` call, in order. */
  metricsCalls: { id: string; since: number; until: number }[];
  metricPoints: MetricPoint[];
  /** What `GET /api/v1/models` answers. */
  models: ModelsView;
  /** Replace to change what the agent answers (or throws). */
  serviceAction: ServiceActionImpl;
  serviceCalls: { node: string; service: string; action: ServiceActionName }[];
  runs: Map<string, RunDetail>;
  /** Every matrix `runs.start` received. */
  started: unknown[];
  readiness: Record<string, ReadinessCheck>;
  /** Replace to make `readiness()` throw. */
  readinessImpl: (() => Record<string, ReadinessCheck>) | null;
  stats: CoordinatorStats;
  /** When set, every method of `runs` throws it. */
  runsFailure: Error | undefined;
  log: LogEntry[];
}

export function runDetail(id: string, overrides: Partial<RunDetail> = {}): RunDetail {
  return {
    id,
    name: 'smoke',
    status: 'running',
    started_at: '2025-03-01T10:00:00.000Z',
    finished_at: null,
    error: null,
    progress: { cells_total: 4, cells_done: 1, current: { model: 'qwen2.5:3b', target: 'ollama-a', concurrency: 1 } },
    ...overrides,
  };
}

function notFound(id: string): BenchError {
  return new BenchError('KAGE_ERR_RUN_NOT_FOUND', `no run ${id}`);
}

export function createFakeWorld(options: { hub?: EventHub } = {}): FakeWorld {
  const hub = options.hub ?? createEventHub();
  const world: FakeWorld = {
    deps: undefined as unknown as ApiDeps,
    hub,
    nodes: new Map(),
    metricsCalls: [],
    metricPoints: [],
    models: { sources: [], ollama: [], exo: [] },
    serviceCalls: [],
    serviceAction: async (node, service) => {
      const view = world.nodes.get(node);
      if (view === undefined) throw new CoordinatorError('KAGE_ERR_NODE_UNKNOWN', `no node ${node}`);
      const svc = view.services.find((s) => s.name === service) ?? null;
      return Promise.resolve({ ok: true, error: null, service: svc });
    },
    runs: new Map(),
    started: [],
    readiness: { db: { ok: true, detail: 'writable' }, grpc: { ok: true, detail: 'listening on :7443' } },
    readinessImpl: null,
    stats: { ingested: { samples: 0, events: 0 }, duplicates: 0, commit_failures: 0, streams: 0, auth_failures: 0 },
    runsFailure: undefined,
    log: [],
  };
  const failIfAsked = (): void => {
    if (world.runsFailure !== undefined) throw world.runsFailure;
  };
  const getRun = (id: string): RunDetail => {
    failIfAsked();
    const run = world.runs.get(id);
    if (run === undefined) throw notFound(id);
    return run;
  };
  const commander: AgentCommander = {
    isConnected: (id) => world.nodes.get(id)?.status === 'online',
    serviceAction: (node, service, action) => {
      world.serviceCalls.push({ node, service, action });
      return world.serviceAction(node, service, action);
    },
    runProbe: () => Promise.reject(new Error('runProbe is not used by the REST API')),
  };
  const log = pino({ level: 'debug' }, { write: (line: string) => void world.log.push(JSON.parse(line) as LogEntry) });
  world.deps = {
    models: { view: () => world.models },
    nodes: {
      list: () => [...world.nodes.values()],
      get: (id) => world.nodes.get(id) ?? null,
      metrics: (id, since, until) => {
        world.metricsCalls.push({ id, since, until });
        return world.metricPoints;
      },
    },
    commander,
    events: hub,
    runs: {
      async start(matrix) {
        failIfAsked();
        world.started.push(matrix);
        // The real service validates with the bench core too: cross-key problems come from here.
        const m = validateMatrix(matrix);
        const offline = [
          ...new Set(m.targets.flatMap((t) => t.nodes).filter((n) => world.nodes.get(n)?.status === 'offline')),
        ];
        if (offline.length > 0) {
          throw new CoordinatorError('KAGE_ERR_NODES_OFFLINE', `nodes offline: ${offline.join(', ')}`, {
            details: { offline },
          });
        }
        const id = `run-${world.runs.size + 1}`;
        world.runs.set(id, runDetail(id, { name: m.name }));
        return Promise.resolve({ id });
      },
      list(): RunListEntry[] {
        failIfAsked();
        return [...world.runs.values()].map((r) => ({
          id: r.id,
          name: r.name,
          status: r.status,
          started_at: r.started_at,
          finished_at: r.finished_at,
          cells_total: r.progress.cells_total,
          cells_done: r.progress.cells_done,
          cells_failed: 0,
          verdict: null,
        }));
      },
      get: getRun,
      async cancel(id) {
        const run = getRun(id);
        if (run.status === 'running') {
          run.status = 'cancelled';
          run.finished_at = '2025-03-01T10:05:00.000Z';
        }
        return Promise.resolve(run);
      },
      report(id): KageReport {
        const run = getRun(id);
        return {
          schema: 'kage.report/v1',
          run: {
            id: run.id,
            name: run.name,
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            error: run.error,
            prompt_policy: 'unique_prefix',
          },
          cells: [],
          decisions: [],
          recommendation: null,
        };
      },
      render(id, format) {
        const run = getRun(id);
        return format === 'md' ? `# Run ${run.name}\n` : `<!doctype html><title>${run.name}</title>`;
      },
    },
    readiness: () => (world.readinessImpl ?? (() => world.readiness))(),
    stats: () => world.stats,
    apiToken: TOKEN,
    log,
    version: '0.1.0',
  };
  return world;
}

export interface TestServer {
  base: string;
  world: FakeWorld;
  close(): Promise<void>;
}

/** Builds the API on fakes, listens on 127.0.0.1:0 and closes it when the test ends. */
export async function startApi(
  t: TestContext,
  options: ApiServerOptions & { world?: FakeWorld } = {},
): Promise<TestServer> {
  const world = options.world ?? createFakeWorld();
  // Every request sees the fake world as it is now (no list snapshot reuse) unless a test asks.
  const app = await buildApiServer(world.deps, { nodesListMaxAgeMs: 0, ...options });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  t.after(close);
  return { base: `http://127.0.0.1:${address.port}`, world, close };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
}

export async function request(base: string, path: string, init: RequestInit = {}): Promise<HttpResult> {
  const res = await fetch(base + path, { ...init, signal: init.signal ?? AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

export function postJson(
  base: string,
  path: string,
  payload: unknown,
  headers: Record<string, string> = AUTH,
): Promise<HttpResult> {
  return request(base, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
}

/** Polls `check` until it returns true; fails after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** One parsed SSE block: an event, or a comment. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

export interface SseClient {
  status: number;
  headers: Headers;
  /** The next frame; rejects after `timeoutMs` or when the stream ends first. */
  next(timeoutMs?: number): Promise<SseFrame>;
  /** The next frame that is an event (comments skipped). */
  nextEvent(timeoutMs?: number): Promise<SseFrame>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

function parseBlock(block: string): SseFrame {
  const frame: SseFrame = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      frame.comment = line.slice(1).trim();
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id' || field === 'event' || field === 'data') frame[field] = value;
  }
  return frame;
}

/** Opens `GET path` as an event stream and parses frames as they arrive. */
export async function openEvents(
  base: string,
  path = '/api/v1/events',
  headers: Record<string, string> = {},
): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(base + path, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const frames: SseFrame[] = [];
  const waiters: (() => void)[] = [];
  let done = false;
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  const ended = (async () => {
    if (res.body === null) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const chunk: { done: boolean; value?: unknown } = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          frames.push(parseBlock(buffer.slice(0, cut)));
          buffer = buffer.slice(cut + 2);
        }
        wake();
      }
    } catch {
      // Aborted by close(), or the server dropped the connection.
    } finally {
      done = true;
      wake();
    }
  })();
  const next = async (timeoutMs = 5_000): Promise<SseFrame> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = frames.shift();
      if (frame !== undefined) return frame;
      if (done) throw new Error('event stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an event');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  return {
    status: res.status,
    headers: res.headers,
    next,
    async nextEvent(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const frame = await next(Math.max(1, deadline - Date.now()));
        if (frame.comment === undefined) return frame;
      }
    },
    ended,
    close: () => abort.abort(),
  };
}
