/**
 * What the REST API needs from the rest of the coordinator. The routes depend on these interfaces
 * only, so they can be tested against small in-memory stand-ins and the daemon wires the real
 * registry, store, commander and run service in.
 */
import type { KageReport, RunListEntry, RunStatus } from '@kage/bench';
import type { Logger } from 'pino';
import type { EventHub } from '../events/event-hub.js';
import type { AgentCommander } from '../grpc/agent-commander.js';
import type { MetricPoint, NodeView } from '../registry/node-view.js';
import type { ModelsView } from '../registry/models-view.js';
import type { GatewayView } from '../gateway/gateway-view.js';

export interface NodesReadModel {
  list(): NodeView[];
  /** null for a node id never seen. */
  get(id: string): NodeView | null;
  /** Points with `since <= ts <= until` (epoch ms, agent clock), oldest first. */
  metrics(id: string, since: number, until: number): MetricPoint[];
}

/** A run as `GET /api/v1/runs/:id` shows it. */
export interface RunDetail {
  id: string;
  name: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  progress: {
    cells_total: number;
    cells_done: number;
    current: { model: string; target: string; concurrency: number } | null;
  };
}

export interface RunsApi {
  /**
   * Validates and starts a run of `matrix` (the matrix file's content as JSON).
   * @throws `KAGE_ERR_MATRIX_INVALID` (with `problems`), `KAGE_ERR_NODES_OFFLINE` (with `details.offline`)
   */
  start(matrix: unknown): Promise<{ id: string }>;
  list(): RunListEntry[];
  /** @throws `KAGE_ERR_RUN_NOT_FOUND` */
  get(id: string): RunDetail;
  /** Cancels a running run (no-op for a finished one). @throws `KAGE_ERR_RUN_NOT_FOUND` */
  cancel(id: string): Promise<RunDetail>;
  /** The report of a run with per-node utilization per cell. @throws `KAGE_ERR_RUN_NOT_FOUND` */
  report(id: string): KageReport;
  /** The same report rendered as Markdown or a self-contained HTML page. */
  render(id: string, format: 'md' | 'html'): string;
}

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

/** Counters and gauges for `/metrics` that only the coordinator core knows. */
export interface CoordinatorStats {
  /** Records committed since start, by kind. */
  ingested: { samples: number; events: number };
  /** Records received again and dropped (seq already held). */
  duplicates: number;
  /** Commits that failed. */
  commit_failures: number;
  /** Live agent streams. */
  streams: number;
  /** Refused calls (wrong or missing token, unknown node). */
  auth_failures: number;
}

export interface ApiDeps {
  nodes: NodesReadModel;
  /** What each node's model servers hold now. */
  models: { view(): ModelsView };
  commander: AgentCommander;
  events: EventHub;
  runs: RunsApi;
  /** `db` (writable) and `grpc` (listening) at least. */
  readiness(): Record<string, ReadinessCheck>;
  stats(): CoordinatorStats;
  /** The bearer token every state-changing request must carry. */
  apiToken: string;
  log: Logger;
  /** The coordinator's version (semver). */
  version: string;
  /** The lab runs on Kage's emulators: the dashboard labels every figure as not real. @default false */
  emulated?: boolean;
  /** The gateway, when coordinator.yaml has one. */
  gateway?: { listening(): string | null; status(): GatewayView };
  /** More series for `/metrics` in the Prometheus text format (the gateway's), when there are. */
  extraMetrics?: () => Promise<string>;
}
