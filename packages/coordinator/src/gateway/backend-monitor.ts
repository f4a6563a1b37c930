/**
 * Reads every backend's health and models on a timer, with requests that never load a model:
 * Ollama `GET /`, `/api/tags`, `/api/ps` (and `/api/version` once); EXO `GET /node_id` and
 * `/state`. A completion used as a health check (as some proxies do) would pull a model into
 * Ollama's memory and evict the one the user had loaded.
 *
 * EXO serves a model only through an instance placed on its nodes; the gateway never places one
 * (placing can mean a download of tens of GB), so an EXO backend "has" a model once an instance of
 * it has every runner ready, as a benchmark run or the user's EXO dashboard leaves it.
 */
import http from 'node:http';
import https from 'node:https';
import { READY_RUNNER_STATES, instanceRunners, readExoState } from '@kage/bench';
import type { Logger } from 'pino';
import type { BackendState } from './backend-state.js';
import type { UpstreamAgents } from './upstream-request.js';

/** One health read of one backend, at most this long (a hung backend must not stall the loop). */
const READ_TIMEOUT_MS = 5_000;

export interface BackendMonitorOptions {
  backends: readonly BackendState[];
  /** The relay's keep-alive connections, reused for the reads. */
  agents: UpstreamAgents;
  intervalMs: number;
  breakerFailures: number;
  breakerOpenMs: number;
  log: Logger;
}

export interface BackendMonitor {
  /** Reads every backend now; resolves when all answered or timed out. */
  refresh(): Promise<void>;
  close(): void;
}

export function createBackendMonitor(o: BackendMonitorOptions): BackendMonitor {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running: Promise<void> | null = null;

  const readOne = async (b: BackendState): Promise<void> => {
    const was = b.healthy;
    try {
      if (b.config.kind === 'ollama') await readOllama(b, o.agents);
      else await readExo(b, o.agents);
      b.healthy = true;
      b.healthReason = 'ok';
      if (!was) o.log.info({ backend: b.id, models: [...b.models], loaded: [...b.loaded] }, 'backend up');
    } catch (err) {
      b.healthy = false;
      b.healthReason = (err as Error).message;
      if (b.recordFailure(Date.now(), o.breakerFailures, o.breakerOpenMs) || was) {
        o.log.warn({ backend: b.id, reason: b.healthReason }, 'backend down');
      }
    }
  };

  const refresh = (): Promise<void> => {
    running ??= Promise.all(o.backends.map(readOne)).then(() => {
      running = null;
    });
    return running;
  };

  const loop = (): void => {
    if (closed) return;
    void refresh().finally(() => {
      if (!closed) timer = setTimeout(loop, o.intervalMs).unref();
    });
  };
  loop();

  return {
    refresh,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

/**
 * One bounded GET on the relay's keep-alive agent. node:http, not fetch: a read every 2 s per
 * backend through fetch's machinery cost the relayed requests milliseconds at p99 (measured with
 * the gateway benchmark); a plain request on a pooled socket costs a fraction of that.
 */
function get(agents: UpstreamAgents, url: string): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.get(target, { agent: agents.agentFor(target), timeout: READ_TIMEOUT_MS }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${target.pathname}: no answer within ${READ_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

async function getJson(agents: UpstreamAgents, url: string): Promise<unknown> {
  const res = await get(agents, url);
  if (res.status !== 200) throw new Error(`GET ${new URL(url).pathname} answered ${res.status}`);
  return JSON.parse(res.text) as unknown;
}

async function readOllama(b: BackendState, agents: UpstreamAgents): Promise<void> {
  const base = b.config.url;
  const res = await get(agents, `${base}/`);
  const text = res.text.trim();
  if (res.status !== 200 || text !== 'Ollama is running')
    throw new Error(`GET / answered ${res.status} ${text.slice(0, 60)}`);
  const [tags, ps] = await Promise.all([getJson(agents, `${base}/api/tags`), getJson(agents, `${base}/api/ps`)]);
  b.tagEntries = modelEntries(tags);
  b.psEntries = modelEntries(ps);
  b.models = new Set(b.tagEntries.keys());
  b.loaded = new Set(b.psEntries.keys());
  if (b.version === null) {
    const v = (await getJson(agents, `${base}/api/version`).catch(() => null)) as { version?: unknown } | null;
    if (typeof v?.version === 'string') b.version = v.version;
  }
}

async function readExo(b: BackendState, agents: UpstreamAgents): Promise<void> {
  const base = b.config.url;
  const res = await get(agents, `${base}/node_id`);
  if (res.status !== 200) throw new Error(`GET /node_id answered ${res.status}`);
  const state = readExoState(await getJson(agents, `${base}/state`));
  const ready = new Set<string>();
  for (const inst of state.instances) {
    const runners = instanceRunners(state, inst);
    if (runners.length > 0 && runners.every((r) => READY_RUNNER_STATES.has(r.runner.status))) ready.add(inst.modelId);
  }
  b.models = ready;
  b.loaded = new Set(ready);
}

function modelEntries(body: unknown): Map<string, Record<string, unknown>> {
  const models = (body as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) throw new Error('no "models" list in the answer');
  const entries = new Map<string, Record<string, unknown>>();
  for (const m of models) {
    const name = (m as { name?: unknown } | null)?.name;
    if (typeof name === 'string') entries.set(name, m as Record<string, unknown>);
  }
  return entries;
}
