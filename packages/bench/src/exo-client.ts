/**
 * EXO 1.x client (docs/benchmarks.md, "What each kind does"). Preparation (placement, downloads,
 * loading) is in exo-prepare.ts. Chat: `/v1/chat/completions` with EXO's SSE comments.
 */
import { BenchError } from './errors.js';
import { describe, INSTANCE_APPEAR_MS, prepareExoModel } from './exo-prepare.js';
import { readExoState, type ExoStateView } from './exo-state.js';
import { createAgents, destroyAgents, requestJson, type AgentPair } from './http-transport.js';
import { silentLogger, type BenchLogger } from './logger.js';
import { streamChatCompletion } from './openai-stream.js';
import {
  endpoint,
  type ChatRequest,
  type PrepareOptions,
  type PrepareResult,
  type ProtocolClient,
} from './protocol-client.js';
import type { RequestMetrics, RequestRecorder } from './request-metrics.js';

/** Options of {@link createExoClient}. */
export interface ExoClientOptions {
  /** API base URL of any cluster member, e.g. `http://100.77.248.9:52415`. */
  url: string;
  /** Hostnames (EXO `friendlyName`) the instance must span; `min_nodes` = its length. */
  nodes: readonly string[];
  /** How often `/state` is polled while waiting for readiness. @default 1000 */
  pollIntervalMs?: number;
  /**
   * How long an accepted placement may take to show up before the cluster is read again and the
   * model placed again. @default 10000
   */
  instanceAppearMs?: number;
  /** Timeout of each control-plane call (`/state`, `/place_instance`...). @default 30000 */
  controlTimeoutMs?: number;
  log?: BenchLogger;
}

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

  const prepare = (modelId: string, opts: PrepareOptions = {}): Promise<PrepareResult> =>
    prepareExoModel(
      { url, expected, pollMs, instanceAppearMs: options.instanceAppearMs ?? INSTANCE_APPEAR_MS, call, getState, log },
      modelId,
      opts,
    );

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
