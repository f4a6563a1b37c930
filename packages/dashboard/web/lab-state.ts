/**
 * What the page knows of the lab: the snapshot, kept current by the event stream. Samples are also
 * kept per node for the last five minutes (the sparklines); the panels read this and redraw when
 * told something changed.
 */
import type { LatestView, ModelsView, NodeView, RunEvent, RunListEntry, ServiceView, Snapshot } from './api-types.js';
import type { FeedEvent } from './event-feed.js';

export const SPARK_WINDOW_MS = 5 * 60_000;
/** A node with no sample for this long is shown stale even before the coordinator says offline. */
export const STALE_AFTER_MS = 2500;

export interface SeriesPoint {
  t: number;
  cpu: number | null;
  mem: number | null;
  gpuBusy: number | null;
  gpuMem: number | null;
}

export interface NodeState {
  view: NodeView;
  series: SeriesPoint[];
  /** Page clock when the newest sample arrived (not the agent's: clocks may differ). */
  heardAt: number;
}

export type Change = 'nodes' | 'node' | 'runs' | 'run-progress' | 'models';

export interface LabState {
  emulated: boolean;
  version: string;
  nodes: Map<string, NodeState>;
  runs: RunListEntry[];
  /** What each node's model servers hold now. */
  models: ModelsView;
  progress: Map<string, RunEvent & { at: number }>;
  /** `node/service` → the last time it left `running` (state and page time): a restart can be too quick to see. */
  lastDown: Map<string, { state: string; at: number }>;
}

function point(s: LatestView): SeriesPoint {
  const gpus = s.gpus;
  const busy = gpus.map((g) => g.busy_pct).filter((v): v is number => v !== null);
  const mem = gpus.map((g) => g.mem_used_bytes).filter((v): v is number => v !== null);
  return {
    t: Date.parse(s.ts),
    cpu: s.cpu_pct,
    mem: s.mem_used_bytes,
    gpuBusy: busy.length === 0 ? null : busy.reduce((a, b) => a + b, 0) / busy.length,
    gpuMem: mem.length === 0 ? null : mem.reduce((a, b) => a + b, 0),
  };
}

export function createLabState(snapshot: Snapshot): LabState {
  const state: LabState = {
    emulated: snapshot.emulated,
    version: snapshot.version,
    nodes: new Map(),
    runs: snapshot.runs,
    models: snapshot.models,
    progress: new Map(),
    lastDown: new Map(),
  };
  loadSnapshot(state, snapshot);
  return state;
}

/** Takes a (re)loaded snapshot; the sample history of known nodes is kept. */
export function loadSnapshot(state: LabState, snapshot: Snapshot): void {
  state.emulated = snapshot.emulated;
  state.runs = snapshot.runs;
  state.models = snapshot.models;
  const now = Date.now();
  for (const view of snapshot.nodes) {
    const known = state.nodes.get(view.id);
    const series = known?.series ?? [];
    if (view.latest !== null && !series.some((p) => p.t === Date.parse(view.latest?.ts ?? ''))) {
      series.push(point(view.latest));
    }
    state.nodes.set(view.id, { view, series, heardAt: known?.heardAt ?? (view.status === 'online' ? now : 0) });
  }
}

/** Applies one event; says what changed (and which node) so only that is redrawn. */
export function applyEvent(state: LabState, e: FeedEvent): { change: Change; node?: string } | null {
  const data = e.data as Record<string, unknown>;
  switch (e.type) {
    case 'sample': {
      const n = state.nodes.get(String(data['node']));
      if (n === undefined) return { change: 'nodes' };
      const sample = data as unknown as LatestView;
      const p = point(sample);
      const last = n.series.at(-1);
      if (last === undefined || p.t > last.t) n.series.push(p);
      else if (!n.series.some((x) => x.t === p.t))
        n.series.splice(
          n.series.findIndex((x) => x.t > p.t),
          0,
          p,
        );
      while (n.series.length > 0 && (n.series[0]?.t ?? 0) < p.t - SPARK_WINDOW_MS) n.series.shift();
      if (n.view.latest === null || Date.parse(n.view.latest.ts) <= p.t) {
        n.view.latest = {
          ts: sample.ts,
          cpu_pct: sample.cpu_pct,
          mem_used_bytes: sample.mem_used_bytes,
          mem_total_bytes: sample.mem_total_bytes,
          gpus: sample.gpus,
        };
        n.view.last_seen = sample.ts;
      }
      n.heardAt = Date.now();
      return { change: 'node', node: n.view.id };
    }
    case 'service': {
      const n = state.nodes.get(String(data['node']));
      const service = data['service'] as ServiceView | undefined;
      if (n === undefined || service === undefined) return { change: 'nodes' };
      const i = n.view.services.findIndex((s) => s.name === service.name);
      // A health change carries no state change (an empty to_state): only a real stop counts as down.
      const to = typeof data['to_state'] === 'string' && data['to_state'] !== '' ? data['to_state'] : service.state;
      if (to !== '' && to !== 'running' && to !== 'starting')
        state.lastDown.set(`${n.view.id}/${service.name}`, { state: to, at: Date.now() });
      if (i === -1) n.view.services.push(service);
      else n.view.services[i] = service;
      return { change: 'node', node: n.view.id };
    }
    case 'node': {
      const n = state.nodes.get(String(data['node']));
      if (n === undefined) return { change: 'nodes' };
      n.view.status = String(data['status']);
      if (typeof data['last_seen'] === 'string') n.view.last_seen = data['last_seen'];
      if (n.view.status === 'online') n.heardAt = Date.now();
      return { change: 'node', node: n.view.id };
    }
    case 'run': {
      const r = data as unknown as RunEvent;
      state.progress.set(r.run, { ...r, at: Date.now() });
      const entry = state.runs.find((x) => x.id === r.run);
      if (entry !== undefined) {
        entry.status = r.status;
        entry.cells_done = r.cells_done;
        entry.cells_total = r.cells_total;
      }
      return { change: r.type === 'finished' || entry === undefined ? 'runs' : 'run-progress' };
    }
    case 'models':
      state.models = e.data as ModelsView;
      return { change: 'models' };
  }
}

/**
 * When the node was last heard of (ms since the epoch): the page's clock when its newest sample (or
 * word that it is online) came, so neither the agent's clock nor the sample's trip here shifts it;
 * for a node not heard since the page loaded, the coordinator's last_seen.
 */
export function lastHeard(n: NodeState): number | null {
  if (n.heardAt > 0) return n.heardAt;
  return n.view.last_seen === null ? null : Date.parse(n.view.last_seen);
}

/** Stale: offline by the coordinator's word, or nothing heard for a while. */
export function isStale(n: NodeState, now = Date.now()): boolean {
  return n.view.status !== 'online' || now - n.heardAt > STALE_AFTER_MS;
}
