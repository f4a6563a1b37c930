/** The shapes the coordinator's REST API and event stream send (its OpenAPI document at /docs). */
export interface ServiceView {
  name: string;
  driver: string;
  state: string;
  pid: number | null;
  restarts: number;
  healthy: boolean;
  health: string;
  reason: string | null;
  version: string | null;
}

export interface GpuView {
  name: string;
  busy_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
}

export interface LatestView {
  ts: string;
  cpu_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  gpus: GpuView[];
}

export interface NodeView {
  id: string;
  hostname: string;
  status: string;
  last_seen: string | null;
  agent_version: string;
  services: ServiceView[];
  latest: LatestView | null;
}

export interface RunListEntry {
  id: string;
  name: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  cells_total: number;
  cells_done: number;
  cells_failed: number;
  verdict: string | null;
}

export interface Snapshot {
  version: string;
  emulated: boolean;
  event_id: number;
  nodes: NodeView[];
  runs: RunListEntry[];
  models: ModelsView;
  gateway: { enabled: boolean; listen: string | null };
}

/** `GET /api/v1/gateway`. */
export interface GatewayView {
  enabled: boolean;
  listen: string | null;
  backends: {
    id: string;
    kind: string;
    url: string;
    nodes: string[];
    healthy: boolean;
    health_reason: string | null;
    circuit_open: boolean;
    in_flight: number;
    slots: number;
    version: string | null;
    loaded: string[];
    models: number;
    rates: { model: string; prefill_tps: number | null; decode_tps: number | null; source: string }[];
  }[];
  routes: {
    totals: { backend: string; reason: string; count: number }[];
    recent: {
      at: string;
      route: string;
      model: string;
      backend: string;
      reason: string;
      status: number;
      outcome: string;
      ttft_ms: number | null;
      duration_ms: number;
    }[];
  };
}

/** `GET /api/v1/models`, the snapshot's `models` and the `models` event. */
export interface ModelsView {
  sources: { node: string; service: string; api: string; read_at: string; error: string | null }[];
  ollama: OllamaModelView[];
  exo: ExoInstanceView[];
}

export interface OllamaModelView {
  node: string;
  service: string;
  model: string;
  size_bytes: number | null;
  vram_bytes: number | null;
  processor: string | null;
  expires_at: string | null;
  context_length: number | null;
  parameter_size: string | null;
  quantization: string | null;
}

export interface ExoRunnerView {
  host: string;
  node: string | null;
  state: string;
  layers_loaded: number | null;
  total_layers: number | null;
  start_layer: number | null;
  end_layer: number | null;
  n_layers: number | null;
  weights_bytes: number | null;
  error: string | null;
}

export interface ExoInstanceView {
  instance_id: string;
  model: string;
  kind: string;
  state: 'ready' | 'loading' | 'failed';
  runners: ExoRunnerView[];
  reported_by: string;
}

export interface MetricPoint {
  ts: string;
  cpu_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  gpu_busy_pct: number | null;
  gpu_mem_used_bytes: number | null;
  gpu_mem_total_bytes: number | null;
}

export interface RunEvent {
  run: string;
  type: 'progress' | 'finished';
  cells_done: number;
  cells_total: number;
  current: { model: string; target: string; concurrency: number } | null;
  status: string;
  error: string | null;
}

export interface ReportCell {
  model: string;
  target: string;
  concurrency: number;
  attempts: number;
  successes: number;
  success_rate: number;
  decode_tps: { median: number | null; ci95: [number, number] | null };
  ttft_ms: { median: number | null };
  e2e_ms: { median: number | null };
  status?: string;
  utilization?: Record<
    string,
    {
      cpu_pct: { mean: number | null; max: number | null } | null;
      mem_used_bytes: { max: number | null } | null;
      gpu_busy_pct: { mean: number | null; max: number | null } | null;
      gpu_mem_used_bytes: { max: number | null } | null;
    }
  > | null;
}

export interface ReportDecision {
  model: string;
  candidate: string;
  baseline: string | null;
  speedup: number | null;
  speedup_ci95: [number, number] | null;
  ttft_ratio: number | null;
  verdict: string;
}

export interface KageReport {
  run: { id: string; name: string; status: string };
  cells: ReportCell[];
  decisions: ReportDecision[];
  recommendation: { verdict: string; reasons: string[] } | null;
}
