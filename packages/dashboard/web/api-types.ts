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
