/**
 * The lab's loaded models, from the agents' live `LoadedModels` reports (each replaces that
 * node's previous one). Ollama answers for its own node; any EXO member answers for the whole
 * cluster, so EXO instances come from one report: the newest readable one of an online node (an
 * older report from another node may still list an instance that has since been deleted).
 * Held in memory only: agents send their report again after every Welcome, so a restarted
 * coordinator has it back within seconds. A change is published as a `models` event with the
 * whole view (a few kilobytes).
 */
import { READY_RUNNER_STATES } from '@kage/bench';
import type { ExoInstance__Output, LoadedModels__Output, OllamaModel__Output } from '@kage/wire';
import type { EventHub } from '../events/event-hub.js';
import type { ExoInstanceView, ModelsView, OllamaModelView } from './models-view.js';

export interface LoadedModelsBoard {
  /** A node's agent reported; publishes a `models` event when the lab's view changed. */
  report(nodeId: string, report: LoadedModels__Output): void;
  view(): ModelsView;
}

export interface LoadedModelsBoardOptions {
  events: EventHub;
  /** Whether the node is online now: a stale node's EXO view is used only when no online node has one. */
  isOnline(nodeId: string): boolean;
  /** Node id → hostname of every known node, to name EXO's hosts by their Kage node. */
  hostnames(): ReadonlyMap<string, string>;
}

/** One node's readable view of the EXO cluster. */
interface ExoReport {
  node: string;
  ts: number;
  online: boolean;
  instances: ExoInstance__Output[];
}

export function createLoadedModelsBoard(options: LoadedModelsBoardOptions): LoadedModelsBoard {
  const reports = new Map<string, LoadedModels__Output>();
  let publishedKey = '';

  const view = (): ModelsView => {
    const out: ModelsView = { sources: [], ollama: [], exo: [] };
    let exo: ExoReport | null = null;
    for (const node of [...reports.keys()].sort()) {
      const report = reports.get(node) as LoadedModels__Output;
      const online = options.isOnline(node);
      for (const s of report.services) {
        const error = s.error ?? null;
        out.sources.push({
          node,
          service: s.service,
          api: s.api,
          read_at: new Date(report.ts_ms).toISOString(),
          error,
        });
        if (error !== null) continue;
        for (const m of s.models) out.ollama.push(ollamaView(node, s.service, m));
        const candidate: ExoReport = { node, ts: report.ts_ms, online, instances: s.instances };
        if (s.api === 'exo' && newer(candidate, exo)) exo = candidate;
      }
    }
    if (exo !== null) out.exo = exoViews(exo, nodeByHost(options.hostnames()));
    return out;
  };

  return {
    report(nodeId, report) {
      reports.set(nodeId, report);
      const current = view();
      // read_at moves with every report; only what is loaded, and whether it could be read, counts.
      const key = JSON.stringify({ ...current, sources: current.sources.map((s) => ({ ...s, read_at: '' })) });
      if (key === publishedKey) return;
      publishedKey = key;
      options.events.publish('models', current);
    },
    view,
  };
}

/** An online node's report beats a quiet one's; among equals, the newer. */
function newer(candidate: ExoReport, best: ExoReport | null): boolean {
  if (best === null || candidate.online !== best.online) return best === null || candidate.online;
  return candidate.ts > best.ts;
}

/** EXO names nodes by hostname: each hostname (and each node id) → the Kage node it is. */
function nodeByHost(hostnames: ReadonlyMap<string, string>): Map<string, string> {
  const byHost = new Map<string, string>();
  for (const id of hostnames.keys()) byHost.set(id, id);
  for (const [id, host] of hostnames) if (!byHost.has(host)) byHost.set(host, id);
  return byHost;
}

function exoViews(report: ExoReport, byHost: ReadonlyMap<string, string>): ExoInstanceView[] {
  return report.instances.map((i) => {
    const runners = i.runners.map((r) => ({
      host: r.host,
      node: byHost.get(r.host) ?? null,
      state: r.state,
      layers_loaded: r.layers_loaded ?? null,
      total_layers: r.total_layers ?? null,
      start_layer: r.start_layer ?? null,
      end_layer: r.end_layer ?? null,
      n_layers: r.n_layers ?? null,
      weights_bytes: r.weights_bytes ?? null,
      error: r.error ?? null,
    }));
    const state = runners.some((r) => r.state === 'RunnerFailed')
      ? 'failed'
      : runners.length > 0 && runners.every((r) => READY_RUNNER_STATES.has(r.state))
        ? 'ready'
        : 'loading';
    return { instance_id: i.instance_id, model: i.model, kind: i.kind, state, runners, reported_by: report.node };
  });
}

function ollamaView(node: string, service: string, m: OllamaModel__Output): OllamaModelView {
  return {
    node,
    service,
    model: m.name,
    size_bytes: m.size_bytes ?? null,
    vram_bytes: m.vram_bytes ?? null,
    processor: processor(m.size_bytes, m.vram_bytes),
    expires_at: m.expires_at_ms === undefined ? null : new Date(m.expires_at_ms).toISOString(),
    context_length: m.context_length ?? null,
    parameter_size: m.parameter_size === '' ? null : m.parameter_size,
    quantization: m.quantization === '' ? null : m.quantization,
  };
}

/** The split between CPU and GPU, worded as `ollama ps` words it (its PROCESSOR column). */
function processor(size: number | undefined, vram: number | undefined): string | null {
  if (size === undefined || vram === undefined || size === 0) return null;
  const gpu = Math.round((vram / size) * 100);
  if (gpu >= 100) return '100% GPU';
  if (gpu <= 0) return '100% CPU';
  return `${100 - gpu}%/${gpu}% CPU/GPU`;
}
