/**
 * `GET /metrics`: the coordinator's view of the lab in the Prometheus text format. Every value is
 * read from the registry, the run service and the core's counters at scrape time, so a node that
 * is gone is gone from the next scrape and nothing is cached between scrapes. A value a node
 * cannot measure (`null`) gives no series rather than a 0.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { ApiDeps } from './api-deps.js';

export interface MetricsExporter {
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** Reads the deps and renders every series. */
  render(): Promise<string>;
}

function seconds(iso: string | null): number | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/** A counter's value from the core; a bad number must not fail the whole scrape (prom-client throws). */
function count(v: number): number {
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/** One registry per server, so two servers in one process (tests) never share series. */
export function createMetricsExporter(
  deps: Pick<ApiDeps, 'nodes' | 'runs' | 'stats' | 'version' | 'extraMetrics'>,
): MetricsExporter {
  const registry = new Registry();
  // The process's own health under the standard names operators' dashboards expect: CPU, memory,
  // heap, event-loop lag, GC pauses, open handles.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const node = ['node'] as const;
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });

  const info = gauge('kage_coordinator_info', 'The coordinator version (always 1).', ['version']);
  const nodeUp = gauge('kage_node_up', '1 when the node has a live agent stream, else 0.', node);
  const cpu = gauge('kage_node_cpu_percent', 'CPU busy percent of the latest sample.', node);
  const memUsed = gauge('kage_node_memory_used_bytes', 'Memory in use at the latest sample.', node);
  const memTotal = gauge('kage_node_memory_total_bytes', 'Memory installed, from the latest sample.', node);
  const gpuLabels = ['node', 'gpu', 'gpu_name'] as const;
  const gpuBusy = gauge(
    'kage_node_gpu_busy_percent',
    'GPU busy percent of the latest sample (gpu: index on the node).',
    gpuLabels,
  );
  const gpuMem = gauge(
    'kage_node_gpu_memory_used_bytes',
    'GPU memory in use at the latest sample (gpu: index on the node).',
    gpuLabels,
  );
  const lastSeen = gauge(
    'kage_node_last_seen_timestamp_seconds',
    'When the coordinator last heard from the node (Unix seconds).',
    node,
  );
  const svcLabels = ['node', 'service'] as const;
  const serviceUp = gauge('kage_service_up', '1 when the service is running and healthy, else 0.', svcLabels);
  const restarts = counter('kage_service_restarts_total', 'Restarts of the service by its agent.', svcLabels);
  const ingested = counter('kage_ingest_records_total', 'Telemetry records committed since start.', ['kind']);
  const duplicates = counter('kage_ingest_duplicates_total', 'Telemetry records received again and dropped.', []);
  const commitFailures = counter('kage_ingest_commit_failures_total', 'Telemetry commits that failed.', []);
  const streams = gauge('kage_agent_streams', 'Live agent streams.', []);
  const authFailures = counter('kage_agent_auth_failures_total', 'Agent calls refused (token or node id).', []);
  const runLabels = ['run'] as const;
  const cellsTotal = gauge('kage_run_cells_total', 'Cells of a running run.', runLabels);
  const cellsDone = gauge('kage_run_cells_done', 'Cells of a running run that ended.', runLabels);

  const all: Metric[] = [
    info,
    nodeUp,
    cpu,
    memUsed,
    memTotal,
    gpuBusy,
    gpuMem,
    lastSeen,
    serviceUp,
    restarts,
    ingested,
    duplicates,
    commitFailures,
    streams,
    authFailures,
    cellsTotal,
    cellsDone,
  ];

  /** Replaces every value with what the deps say now. */
  function refresh(): void {
    for (const m of all) m.reset();
    info.set({ version: deps.version }, 1);
    for (const n of deps.nodes.list()) {
      const id = n.id;
      nodeUp.set({ node: id }, n.status === 'online' ? 1 : 0);
      const seen = seconds(n.last_seen);
      if (seen !== null) lastSeen.set({ node: id }, seen);
      const latest = n.latest;
      if (latest !== null) {
        if (latest.cpu_pct !== null) cpu.set({ node: id }, latest.cpu_pct);
        if (latest.mem_used_bytes !== null) memUsed.set({ node: id }, latest.mem_used_bytes);
        if (latest.mem_total_bytes !== null) memTotal.set({ node: id }, latest.mem_total_bytes);
        // GPU names repeat on a node with identical cards: the index keeps series apart.
        latest.gpus.forEach((g, i) => {
          const labels = { node: id, gpu: String(i), gpu_name: g.name };
          if (g.busy_pct !== null) gpuBusy.set(labels, g.busy_pct);
          if (g.mem_used_bytes !== null) gpuMem.set(labels, g.mem_used_bytes);
        });
      }
      for (const s of n.services) {
        const labels = { node: id, service: s.name };
        serviceUp.set(labels, s.state === 'running' && s.healthy ? 1 : 0);
        restarts.inc(labels, count(s.restarts));
      }
    }
    const stats = deps.stats();
    ingested.inc({ kind: 'samples' }, count(stats.ingested.samples));
    ingested.inc({ kind: 'events' }, count(stats.ingested.events));
    duplicates.inc(count(stats.duplicates));
    commitFailures.inc(count(stats.commit_failures));
    streams.set(stats.streams);
    authFailures.inc(count(stats.auth_failures));
    for (const r of deps.runs.list()) {
      if (r.status !== 'running') continue;
      cellsTotal.set({ run: r.id }, r.cells_total);
      cellsDone.set({ run: r.id }, r.cells_done);
    }
  }

  return {
    contentType: registry.contentType,
    async render() {
      refresh();
      const own = await registry.metrics();
      return deps.extraMetrics === undefined ? own : own + (await deps.extraMetrics());
    },
  };
}
