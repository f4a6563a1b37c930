/**
 * `GET /api/v1/gateway`: what the gateway knows of each backend (health, circuit, slots, models
 * loaded, the speeds it routes by) and its recent routing decisions, as plain JSON.
 */
import type { BackendState } from './backend-state.js';
import type { RecentRoutes, RouteCount, RouteRecord } from './recent-routes.js';

export interface GatewayBackendView {
  id: string;
  kind: 'ollama' | 'exo';
  url: string;
  nodes: string[];
  healthy: boolean;
  /** Why not healthy; null when healthy. */
  health_reason: string | null;
  /** Open after repeated failures: no request goes there until it closes. */
  circuit_open: boolean;
  in_flight: number;
  /** Requests it serves at once (`num_parallel`). */
  slots: number;
  version: string | null;
  /** Loaded in memory now, by the backend's own names. */
  loaded: string[];
  /** Models it can serve. */
  models: number;
  /** The speeds routing estimates with, per model: from a benchmark run until the gateway measured its own. */
  rates: { model: string; prefill_tps: number | null; decode_tps: number | null; source: 'bench' | 'live' }[];
}

export interface GatewayView {
  enabled: boolean;
  /** Where clients connect, `host:port`; null when the gateway is off. */
  listen: string | null;
  backends: GatewayBackendView[];
  routes: { totals: RouteCount[]; recent: RouteRecord[] };
}

export const GATEWAY_OFF: GatewayView = Object.freeze({
  enabled: false,
  listen: null,
  backends: [],
  routes: { totals: [], recent: [] },
});

export function gatewayView(
  listen: string,
  backends: readonly BackendState[],
  routes: RecentRoutes,
  now: number,
): GatewayView {
  return {
    enabled: true,
    listen,
    backends: backends.map((b) => ({
      id: b.id,
      kind: b.config.kind,
      url: b.config.url,
      nodes: [...b.config.nodes],
      healthy: b.healthy,
      health_reason: b.healthy ? null : b.healthReason,
      circuit_open: b.breakerOpen(now),
      in_flight: b.inFlight,
      slots: b.config.numParallel,
      version: b.version,
      loaded: [...b.loaded].sort(),
      models: b.models.size,
      rates: b.allRates().map(([model, r]) => ({
        model,
        prefill_tps: r.prefillTps,
        decode_tps: r.decodeTps,
        source: r.source,
      })),
    })),
    routes: { totals: routes.totals(), recent: routes.recent() },
  };
}
