/**
 * What the coordinator tells the outside world about a node: the shapes of `GET /api/v1/nodes` and
 * `GET /api/v1/nodes/:id/metrics`. Times are ISO 8601 strings on the agent's clock; a value the
 * node cannot measure is `null`, never 0.
 */

export type NodeStatus = 'online' | 'offline';

export interface ServiceView {
  name: string;
  /** `process` or `systemd`. */
  driver: string;
  /** `starting` | `running` | `stopping` | `backoff` | `exited` | `failed` (the agent's states). */
  state: string;
  pid: number | null;
  restarts: number;
  healthy: boolean;
  /** `unknown` | `starting` | `healthy` | `unhealthy`. */
  health: string;
  /** Why the service is in its state, or why its health check failed, when known. */
  reason: string | null;
  /**
   * The service's version as its agent read it when the service last became healthy (Ollama's
   * `/api/version`, the tag of EXO's checkout); null when the agent has no version source for it
   * or is older than this field.
   */
  version: string | null;
}

export interface GpuView {
  name: string;
  busy_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
}

export interface LatestView {
  /** When the sample was taken (agent clock). */
  ts: string;
  cpu_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  gpus: GpuView[];
}

export interface NodeView {
  id: string;
  hostname: string;
  status: NodeStatus;
  /** When the coordinator last heard from the node (coordinator clock); null when never. */
  last_seen: string | null;
  agent_version: string;
  services: ServiceView[];
  latest: LatestView | null;
  /** Agent clock minus coordinator clock at the last live sample, ms; null until known. */
  clock_skew_ms: number | null;
}

/** One point of a node's history: a raw sample, or a 1-minute mean once raw samples have aged out. */
export interface MetricPoint {
  ts: string;
  cpu_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  /** Mean busy % over the node's GPUs. */
  gpu_busy_pct: number | null;
  /** Sum over the node's GPUs. */
  gpu_mem_used_bytes: number | null;
  gpu_mem_total_bytes: number | null;
  resolution: 'raw' | 'minute';
}
