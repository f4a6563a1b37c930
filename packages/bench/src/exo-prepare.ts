/**
 * Makes a model servable on an EXO 1.x cluster before a cell measures it (docs/benchmarks.md,
 * "What each kind does"):
 *
 *   check the nodes → (no instance yet) model card → feasible placement → place
 *   → wait for the instance (placing again when a settling cluster dropped the command)
 *   → wait for the downloads (progress per node, their own timeout) → wait for every runner ready
 *
 * Nothing here is timed into a request: downloads and loads happen before the cell's first request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError, ExoPrepareError, type ExoClusterDetails } from './errors.js';
import {
  DOWNLOADED_STATES,
  instanceNodes,
  instanceRunners,
  READY_RUNNER_STATES,
  type ExoDownloadView,
  type ExoInstanceView,
  type ExoStateView,
} from './exo-state.js';
import { msBetween, nowNs } from './http-transport.js';
import type { BenchLogger } from './logger.js';
import { noopPrepareResult, type PrepareOptions, type PrepareProgress, type PrepareResult } from './protocol-client.js';
import { messageFromErrorBody } from './request-metrics.js';

/** How long the topology may take to allow the placement (links form after membership). */
const PLACEMENT_FEASIBLE_TIMEOUT_MS = 20_000;
/**
 * How long an accepted placement may take to show up as an instance in /state before the cluster
 * is checked again and the model placed again. EXO answers "Command received." before its master
 * acts, and the master only logs a placement it rejects: right after a node joins, the links to it
 * are not known yet (each worker checks reachability every 10 s), so a placement across every node
 * can fail although `/instance/placement` agreed a moment before. An instance normally appears
 * within a second. (A placement sent during a master election is held by the API until the election
 * ends, then applied once: it is never duplicated.)
 */
export const INSTANCE_APPEAR_MS = 10_000;
/** Placements of one model before giving up (the first included). */
const PLACEMENT_ATTEMPTS = 3;
/** Downloads logged at most this often per node (they are on the progress line in between). */
const DOWNLOAD_LOG_EVERY_MS = 15_000;
export const DEFAULT_READY_TIMEOUT_MS = 30 * 60 * 1000;
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 2 * 60 * 60 * 1000;

type Call = (
  method: 'GET' | 'POST',
  path: string,
  signal: AbortSignal | undefined,
  body?: unknown,
) => Promise<{ status: number; body: unknown }>;

export interface ExoPrepareDeps {
  url: string;
  /** Hostnames the instance must span, sorted and distinct. */
  expected: readonly string[];
  pollMs: number;
  /** How long a placement may take to appear before the cluster is read again and it is placed again. */
  instanceAppearMs: number;
  call: Call;
  getState(signal: AbortSignal | undefined): Promise<ExoStateView>;
  log: BenchLogger;
}

/** Prepares `modelId`; never throws (a failed preparation is in the result). */
export async function prepareExoModel(
  deps: ExoPrepareDeps,
  modelId: string,
  opts: PrepareOptions = {},
): Promise<PrepareResult> {
  const { expected, url, log, instanceAppearMs } = deps;
  const t0 = nowNs();
  const signal = opts.signal;
  const result: PrepareResult = { ...noopPrepareResult(), ok: false, nodes_expected: [...expected] };
  const progress = (
    phase: PrepareProgress['phase'],
    message: string,
    runners: PrepareProgress['runners'] = [],
  ): void => {
    opts.onProgress?.({ phase, elapsedMs: msBetween(t0, nowNs()), runners, message });
  };
  const since = (t: bigint): number => msBetween(t, nowNs());

  try {
    progress('checking', `checking that ${expected.join(', ')} are in the cluster`);
    let state = await deps.getState(signal);
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

    // ------------------------------------------------------------------ placement
    let inst = pickInstance(state, modelId, expected);
    if (inst === null) {
      result.model_added = await ensureModelCard(deps, modelId, signal, progress);
      let attempt = 0;
      let placedAt = 0n;
      for (;;) {
        if (inst !== null) break;
        if (attempt === 0 || since(placedAt) > instanceAppearMs) {
          if (attempt === PLACEMENT_ATTEMPTS) {
            throw new ExoPrepareError(
              'KAGE_ERR_EXO_PLACEMENT',
              `EXO accepted ${PLACEMENT_ATTEMPTS} placements of ${modelId} but created no instance ` +
                `(waited ${instanceAppearMs / 1000} s after each)`,
              { hint: "the EXO master's log says why (e.g. not enough memory on the chosen nodes)" },
            );
          }
          if (attempt > 0) {
            // Read the cluster once more right before placing again: never two instances of one model.
            state = await deps.getState(signal);
            inst = pickInstance(state, modelId, expected);
            if (inst !== null) break;
            const why =
              `no instance of ${modelId} ${instanceAppearMs / 1000} s after EXO accepted the placement ` +
              `(its master rejected it; with a node that just joined, the links to it may not be known yet); ` +
              `placing again (${attempt + 1} of ${PLACEMENT_ATTEMPTS})`;
            log.warn({ modelId, attempt: attempt + 1 }, why);
            progress('placing', why);
          }
          await awaitFeasiblePlacement(deps, modelId, signal, progress);
          progress('placing', `placing ${modelId} across ${expected.join(', ')}`);
          const r = await deps.call('POST', '/place_instance', signal, {
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
          attempt += 1;
          placedAt = nowNs();
          result.placed = true;
          log.info({ modelId, nodes: expected, attempt }, 'instance placement requested');
        } else {
          progress('placing', `waiting for the instance of ${modelId} to appear`);
        }
        await sleep(deps.pollMs, undefined, { signal });
        state = await deps.getState(signal);
        inst = pickInstance(state, modelId, expected);
      }
    }

    // ------------------------------------------------------------------ downloads, then loading
    const readyTimeoutMs = opts.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const downloadTimeoutMs = opts.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
    // Time spent downloading does not count against the load timeout, and the other way round.
    let downloadingMs = 0;
    let loadingMs = 0;
    let lastTick = nowNs();
    const lastLogged = new Map<string, bigint>();
    for (;;) {
      const now = nowNs();
      inst ??= pickInstance(state, modelId, expected);
      if (inst === null) {
        throw new ExoPrepareError(
          'KAGE_ERR_EXO_PLACEMENT',
          `the instance of ${modelId} disappeared while it was loading`,
          {
            hint: 'someone deleted it, or a node of it left the cluster (EXO /state)',
          },
        );
      }
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

      const downloads = instanceDownloads(state, inst, modelId);
      const brokenDownload = downloads.find((d) => d.status === 'DownloadFailed');
      if (brokenDownload !== undefined) {
        throw new ExoPrepareError(
          'KAGE_ERR_EXO_DOWNLOAD_FAILED',
          `downloading ${modelId} on ${nodeName(state, brokenDownload.nodeId)} failed: ${brokenDownload.errorMessage ?? 'no message'}`,
          { hint: 'check the node reaches huggingface.co and has free disk space (EXO /state/nodeDisk)' },
        );
      }
      const pending = downloads.filter((d) => !DOWNLOADED_STATES.has(d.status));
      const step = msBetween(lastTick, now);
      lastTick = now;
      if (pending.length > 0) {
        downloadingMs += step;
        const text = pending.map((d) => downloadText(nodeName(state, d.nodeId), d)).join('; ');
        progress('downloading', `downloading ${modelId}: ${text}`, view);
        for (const d of pending) {
          const at = lastLogged.get(d.nodeId);
          if (at === undefined || msBetween(at, now) >= DOWNLOAD_LOG_EVERY_MS) {
            lastLogged.set(d.nodeId, now);
            log.info(
              {
                modelId,
                node: nodeName(state, d.nodeId),
                status: d.status,
                downloaded_bytes: d.downloadedBytes,
                total_bytes: d.totalBytes,
                bytes_per_s: d.speed,
                eta_ms: d.etaMs,
              },
              'exo model download',
            );
          }
        }
        if (downloadingMs > downloadTimeoutMs) {
          throw new ExoPrepareError(
            'KAGE_ERR_EXO_DOWNLOAD_TIMEOUT',
            `${modelId} still downloading after ${downloadTimeoutMs / 1000} s (${text})`,
            { hint: 'raise exo_download_timeout_s, or download the model on the nodes beforehand' },
          );
        }
      } else {
        loadingMs += step;
        progress('loading', `waiting for ${modelId} runners`, view);
        if (loadingMs > readyTimeoutMs) {
          throw new ExoPrepareError(
            'KAGE_ERR_EXO_READY_TIMEOUT',
            `${modelId} not ready within ${Math.round(readyTimeoutMs / 1000)} s of loading (downloads not counted)`,
            { hint: 'a large model loads slowly from a slow disk; raise exo_ready_timeout_s' },
          );
        }
      }
      await sleep(deps.pollMs, undefined, { signal });
      state = await deps.getState(signal);
      inst = pickInstance(state, modelId, expected);
    }
  } catch (err) {
    const aborted = signal?.aborted === true;
    const code = aborted ? 'KAGE_ERR_ABORTED' : err instanceof BenchError ? err.code : 'KAGE_ERR_HTTP';
    let message = aborted ? 'preparation cancelled' : err instanceof Error ? err.message : String(err);
    // The hint goes with the message: the stored cell error is all a reader of the report sees.
    if (!aborted && err instanceof BenchError && err.hint !== undefined) message += ` (${err.hint})`;
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
  deps: ExoPrepareDeps,
  modelId: string,
  signal: AbortSignal | undefined,
  progress: (phase: PrepareProgress['phase'], message: string) => void,
): Promise<void> {
  const query = new URLSearchParams({
    model_id: modelId,
    sharding: 'Pipeline',
    instance_meta: 'MlxRing',
    min_nodes: String(deps.expected.length),
  });
  const started = nowNs();
  for (;;) {
    const r = await deps.call('GET', `/instance/placement?${query.toString()}`, signal);
    if (r.status === 200 || r.status === 404 || r.status === 405) return;
    if (msBetween(started, nowNs()) > PLACEMENT_FEASIBLE_TIMEOUT_MS) {
      throw new ExoPrepareError(
        'KAGE_ERR_EXO_PLACEMENT',
        `EXO cannot place ${modelId} across ${deps.expected.length} nodes (${r.status}): ${describe(r.body)}`,
        { hint: 'check the nodes have enough free memory for the model and see each other (EXO /state topology)' },
      );
    }
    progress('placing', `waiting for a feasible placement of ${modelId}: ${describe(r.body)}`);
    await sleep(deps.pollMs, undefined, { signal });
  }
}

/**
 * Adds the model card with `POST /models/add` when `GET /models` does not list it. EXO 1.x also
 * fetches an unknown card by itself when placing; adding it first makes a missing or mistyped id
 * fail here, with EXO's reason, instead of as a placement that never appears.
 */
async function ensureModelCard(
  deps: ExoPrepareDeps,
  modelId: string,
  signal: AbortSignal | undefined,
  progress: (phase: PrepareProgress['phase'], message: string) => void,
): Promise<boolean> {
  const list = await deps.call('GET', '/models', signal);
  if (list.status === 200 && modelListed(list.body, modelId)) return false;
  progress('adding-model', `adding the model card for ${modelId}`);
  const r = await deps.call('POST', '/models/add', signal, { model_id: modelId });
  if (r.status < 200 || r.status >= 300) {
    throw new ExoPrepareError('KAGE_ERR_EXO_MODEL_ADD', `adding ${modelId} failed (${r.status}): ${describe(r.body)}`);
  }
  return true;
}

/** Prefers an instance on exactly the expected nodes; else any instance of the model. */
function pickInstance(state: ExoStateView, modelId: string, expected: readonly string[]): ExoInstanceView | null {
  const candidates = state.instances.filter((i) => i.modelId === modelId);
  return candidates.find((i) => sameSet(instanceNodes(state, i), expected)) ?? candidates[0] ?? null;
}

/** The downloads of `modelId` on the nodes of `inst`. */
function instanceDownloads(state: ExoStateView, inst: ExoInstanceView, modelId: string): ExoDownloadView[] {
  const nodes = new Set(Object.keys(inst.nodeToRunner));
  return state.downloads.filter((d) => d.modelId === modelId && nodes.has(d.nodeId));
}

function nodeName(state: ExoStateView, nodeId: string): string {
  return state.nodeNames.get(nodeId) ?? nodeId;
}

/** `srv2 1.2/2.0 GB (60 %) at 45.0 MB/s, 18 s left`; what is unknown is left out. */
export function downloadText(node: string, d: ExoDownloadView): string {
  if (d.status === 'DownloadPending') return `${node} waiting to start`;
  const parts = [node];
  if (d.downloadedBytes !== null && d.totalBytes !== null && d.totalBytes > 0) {
    parts.push(
      `${gb(d.downloadedBytes)}/${gb(d.totalBytes)} GB (${Math.floor((100 * d.downloadedBytes) / d.totalBytes)} %)`,
    );
  } else if (d.downloadedBytes !== null) parts.push(`${gb(d.downloadedBytes)} GB`);
  if (d.speed !== null && d.speed > 0) parts.push(`at ${(d.speed / 1e6).toFixed(1)} MB/s`);
  const text = parts.join(' ');
  return d.etaMs !== null && d.etaMs > 0 ? `${text}, ${formatEta(d.etaMs)} left` : text;
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(bytes >= 1e10 ? 0 : bytes >= 1e9 ? 1 : 2);
}

function formatEta(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
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

export function describe(body: unknown): string {
  if (typeof body === 'string') return messageFromErrorBody(body);
  if (body === null || body === undefined) return 'empty answer';
  return messageFromErrorBody(JSON.stringify(body));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}
