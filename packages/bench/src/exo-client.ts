/**
 * EXO 1.x client (docs/benchmarks.md, "What each kind does"). Preparation: check that every
 * expected node is in `/state` (by hostname), place a pipeline instance across exactly those nodes
 * if the model has none (adding the model card first when EXO has no built-in card for it), and
 * wait until every runner of the instance is ready. Chat: `/v1/chat/completions` with EXO's SSE
 * comments.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError, ExoPrepareError, type ExoClusterDetails } from './errors.js';
import {
  readExoState,
  instanceNodes,
  instanceRunners,
  READY_RUNNER_STATES,
  type ExoInstanceView,
  type ExoStateView,
} from './exo-state.js';
import { createAgents, destroyAgents, msBetween, nowNs, requestJson, type AgentPair } from './http-transport.js';
import { silentLogger, type BenchLogger } from './logger.js';
import { streamChatCompletion } from './openai-stream.js';
import {
  endpoint,
  type ChatRequest,
  type PrepareOptions,
  type PrepareProgress,
  type PrepareResult,
  type ProtocolClient,
} from './protocol-client.js';
import { messageFromErrorBody, type RequestMetrics, type RequestRecorder } from './request-metrics.js';

/** Options of {@link createExoClient}. */
/** How long the topology may take to allow the placement (links form after membership). */
const PLACEMENT_FEASIBLE_TIMEOUT_MS = 20_000;
/** How long an accepted placement may take to show up as an instance in /state. */
const INSTANCE_APPEAR_TIMEOUT_MS = 30_000;

export interface ExoClientOptions {
  /** API base URL of any cluster member, e.g. `http://100.77.248.9:52415`. */
  url: string;
  /** Hostnames (EXO `friendlyName`) the instance must span; `min_nodes` = its length. */
  nodes: readonly string[];
  /** How often `/state` is polled while waiting for readiness. @default 1000 */
  pollIntervalMs?: number;
  /** Timeout of each control-plane call (`/state`, `/place_instance`...). @default 30000 */
  controlTimeoutMs?: number;
  log?: BenchLogger;
}

const DEFAULT_READY_TIMEOUT_MS = 30 * 60 * 1000;

/** Creates an unstarted EXO client. */
export function createExoClient(options: ExoClientOptions): ProtocolClient {
  const url = options.url.replace(/\/+$/, '');
  const agents: AgentPair = createAgents();
  const expected = [...new Set(options.nodes)].sort();
  const pollMs = options.pollIntervalMs ?? 1000;
  const controlTimeoutMs = options.controlTimeoutMs ?? 30_000;
  const log = (options.log ?? silentLogger).child({ component: 'exo-client', url });
  let closed = false;

  const call = (method: 'GET' | 'POST', path: string, signal: AbortSignal | undefined, body?: unknown) =>
    requestJson({
      url: endpoint(url, path),
      method,
      agents,
      timeoutMs: controlTimeoutMs,
      signal,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  const getState = async (signal: AbortSignal | undefined): Promise<ExoStateView> => {
    const r = await call('GET', '/state', signal);
    if (r.status !== 200) throw new BenchError('KAGE_ERR_HTTP', `GET /state answered ${r.status}: ${describe(r.body)}`);
    return readExoState(r.body);
  };

  async function prepare(modelId: string, opts: PrepareOptions = {}): Promise<PrepareResult> {
    const t0 = nowNs();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const signal = opts.signal;
    const result: PrepareResult = {
      ok: false,
      error: null,
      cluster_ok: null,
      nodes_expected: [...expected],
      nodes_seen: [],
      nodes_missing: [],
      instance_id: null,
      instance_nodes: [],
      placed: false,
      model_added: false,
      elapsed_ms: 0,
    };
    const progress = (
      phase: PrepareProgress['phase'],
      message: string,
      runners: PrepareProgress['runners'] = [],
    ): void => {
      opts.onProgress?.({ phase, elapsedMs: msBetween(t0, nowNs()), runners, message });
    };
    try {
      progress('checking', `checking that ${expected.join(', ')} are in the cluster`);
      let state = await getState(signal);
      const seen = [...new Set(state.nodeNames.values())].sort();
      const cluster: ExoClusterDetails = { expected, seen, missing: expected.filter((n) => !seen.includes(n)) };
      result.nodes_seen = [...seen];
      result.nodes_missing = [...cluster.missing];
      result.cluster_ok = cluster.missing.length === 0;
      if (!result.cluster_ok) {
        throw new ExoPrepareError(
          'KAGE_ERR_EXO_NODES_MISSING',
          `EXO cluster at ${url} lacks ${cluster.missing.join(', ')} (seen: ${seen.join(', ') || 'none'})`,
          { cluster, hint: 'start EXO on the missing nodes and check they peer (libp2p port, --bootstrap-peers)' },
        );
      }

      let inst = pickInstance(state, modelId);
      let placedAt = 0;
      if (inst === null) {
        result.model_added = await ensureModelCard(modelId, signal, progress);
        await awaitFeasiblePlacement(modelId, signal, progress);
        progress('placing', `placing ${modelId} across ${expected.join(', ')}`);
        const r = await call('POST', '/place_instance', signal, {
          model_id: modelId,
          sharding: 'Pipeline',
          instance_meta: 'MlxRing',
          min_nodes: expected.length,
        });
        if (r.status < 200 || r.status >= 300) {
          throw new ExoPrepareError(
            'KAGE_ERR_EXO_PLACEMENT',
            `placing ${modelId} failed (${r.status}): ${describe(r.body)}`,
          );
        }
        result.placed = true;
        placedAt = msBetween(t0, nowNs());
        log.info({ modelId, nodes: expected }, 'instance placement requested');
      }

      const deadline = t0 + BigInt(Math.round(timeoutMs * 1e6));
      for (;;) {
        inst = pickInstance(state, modelId);
        if (inst !== null) {
          const nodes = instanceNodes(state, inst);
          result.instance_id = inst.instanceId;
          result.instance_nodes = nodes;
          if (!sameSet(nodes, expected)) {
            throw new ExoPrepareError(
              'KAGE_ERR_EXO_PLACEMENT_MISMATCH',
              `instance ${inst.instanceId} of ${modelId} spans ${nodes.join(', ')}, not ${expected.join(', ')}`,
              { hint: `delete it (DELETE /instance/${inst.instanceId}) or change the target's nodes` },
            );
          }
          const runners = instanceRunners(state, inst);
          const view = runners.map(({ node, runner }) => ({
            node,
            status: runner.status,
            layersLoaded: runner.layersLoaded,
            totalLayers: runner.totalLayers,
          }));
          const failed = runners.find(({ runner }) => runner.status === 'RunnerFailed');
          if (failed !== undefined) {
            throw new ExoPrepareError(
              'KAGE_ERR_EXO_RUNNER_FAILED',
              `runner on ${failed.node} failed: ${failed.runner.errorMessage ?? 'no message'}`,
            );
          }
          if (runners.length > 0 && runners.every(({ runner }) => READY_RUNNER_STATES.has(runner.status))) {
            progress('ready', `${modelId} ready on ${nodes.join(', ')}`, view);
            result.ok = true;
            return result;
          }
          progress('loading', `waiting for ${modelId} runners`, view);
        } else {
          // EXO answers "Command received." even when the master then rejects the placement (it
          // only logs why), so an instance that never appears is a failure, not a long load.
          if (result.placed && msBetween(t0, nowNs()) > placedAt + INSTANCE_APPEAR_TIMEOUT_MS) {
            throw new ExoPrepareError(
              'KAGE_ERR_EXO_PLACEMENT',
              `EXO accepted the placement of ${modelId} but created no instance within ${INSTANCE_APPEAR_TIMEOUT_MS / 1000} s`,
              { hint: "the EXO master's log says why (e.g. not enough memory on the chosen nodes)" },
            );
          }
          progress('placing', `waiting for the instance of ${modelId} to appear`);
        }
        if (nowNs() >= deadline) {
          throw new ExoPrepareError(
            'KAGE_ERR_EXO_READY_TIMEOUT',
            `${modelId} not ready within ${Math.round(timeoutMs / 1000)} s`,
            {
              hint: 'large models download on every node first; raise exo_ready_timeout_s',
            },
          );
        }
        await sleep(pollMs, undefined, { signal });
        state = await getState(signal);
      }
    } catch (err) {
      const aborted = signal?.aborted === true;
      const code = aborted ? 'KAGE_ERR_ABORTED' : err instanceof BenchError ? err.code : 'KAGE_ERR_HTTP';
      const message = aborted ? 'preparation cancelled' : err instanceof Error ? err.message : String(err);
      result.ok = false;
      result.error = { code, message };
      log.warn({ modelId, code, message }, 'exo preparation failed');
      return result;
    } finally {
      result.elapsed_ms = msBetween(t0, nowNs());
    }
  }

  /**
   * Waits until `GET /instance/placement` finds a placement across the target's node count.
   * Nodes join the membership before the links between them are known, and EXO places only on a
   * cycle of linked nodes; the endpoint answers 400 with EXO's reason until then (or for good,
   * when the model does not fit). Servers without the endpoint are not checked.
   */
  async function awaitFeasiblePlacement(
    modelId: string,
    signal: AbortSignal | undefined,
    progress: (phase: PrepareProgress['phase'], message: string) => void,
  ): Promise<void> {
    const query = new URLSearchParams({
      model_id: modelId,
      sharding: 'Pipeline',
      instance_meta: 'MlxRing',
      min_nodes: String(expected.length),
    });
    const started = nowNs();
    for (;;) {
      const r = await call('GET', `/instance/placement?${query.toString()}`, signal);
      if (r.status === 200 || r.status === 404 || r.status === 405) return;
      if (msBetween(started, nowNs()) > PLACEMENT_FEASIBLE_TIMEOUT_MS) {
        throw new ExoPrepareError(
          'KAGE_ERR_EXO_PLACEMENT',
          `EXO cannot place ${modelId} across ${expected.length} nodes (${r.status}): ${describe(r.body)}`,
          { hint: 'check the nodes have enough free memory for the model and see each other (EXO /state topology)' },
        );
      }
      progress('placing', `waiting for a feasible placement of ${modelId}: ${describe(r.body)}`);
      await sleep(pollMs, undefined, { signal });
    }
  }

  /** Adds the model card with `POST /models/add` when `GET /models` does not list it. */
  async function ensureModelCard(
    modelId: string,
    signal: AbortSignal | undefined,
    progress: (phase: PrepareProgress['phase'], message: string) => void,
  ): Promise<boolean> {
    const list = await call('GET', '/models', signal);
    if (list.status === 200 && modelListed(list.body, modelId)) return false;
    progress('adding-model', `adding the model card for ${modelId}`);
    const r = await call('POST', '/models/add', signal, { model_id: modelId });
    if (r.status < 200 || r.status >= 300) {
      throw new ExoPrepareError(
        'KAGE_ERR_EXO_MODEL_ADD',
        `adding ${modelId} failed (${r.status}): ${describe(r.body)}`,
      );
    }
    return true;
  }

  /** Prefers an instance on exactly the expected nodes; else any instance of the model. */
  function pickInstance(state: ExoStateView, modelId: string): ExoInstanceView | null {
    const candidates = state.instances.filter((i) => i.modelId === modelId);
    return candidates.find((i) => sameSet(instanceNodes(state, i), expected)) ?? candidates[0] ?? null;
  }

  return {
    kind: 'exo',
    url,
    prepare,
    chat(request: ChatRequest): Promise<RequestMetrics> {
      return streamChatCompletion('exo', url, agents, request, readExoComment);
    },
    close(): void {
      if (closed) return;
      closed = true;
      destroyAgents(agents);
    },
  };
}

/** `: generation_stats {json}` carries EXO's own rates; `keep-alive` and `prefill_progress` are only counted. */
function readExoComment(comment: string, rec: RequestRecorder): void {
  if (!comment.startsWith('generation_stats')) return;
  let stats: unknown;
  try {
    stats = JSON.parse(comment.slice('generation_stats'.length).trim());
  } catch {
    return; // a malformed stats comment costs us the server's rate, not the request
  }
  if (stats === null || typeof stats !== 'object') return;
  const s = stats as Record<string, unknown>;
  if (typeof s['generation_tps'] === 'number') rec.serverDecodeTps = s['generation_tps'];
  if (typeof s['prompt_tps'] === 'number') rec.server.prompt_tps = s['prompt_tps'];
  if (rec.serverOutputTokens === null && typeof s['generation_tokens'] === 'number') {
    rec.serverOutputTokens = s['generation_tokens'];
  }
  if (rec.promptTokens === null && typeof s['prompt_tokens'] === 'number') rec.promptTokens = s['prompt_tokens'];
  const mem = s['peak_memory_usage'];
  if (mem !== null && typeof mem === 'object') {
    const m = mem as Record<string, unknown>;
    const bytes = m['inBytes'] ?? m['in_bytes'];
    if (typeof bytes === 'number') rec.server.peak_memory_bytes = bytes;
  }
}

function modelListed(body: unknown, modelId: string): boolean {
  const data = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['data'] : undefined;
  if (!Array.isArray(data)) return false;
  return data.some((m: unknown) => {
    if (m === null || typeof m !== 'object') return false;
    const o = m as Record<string, unknown>;
    return o['id'] === modelId || o['hugging_face_id'] === modelId;
  });
}

function describe(body: unknown): string {
  if (typeof body === 'string') return messageFromErrorBody(body);
  if (body === null || body === undefined) return 'empty answer';
  return messageFromErrorBody(JSON.stringify(body));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}
