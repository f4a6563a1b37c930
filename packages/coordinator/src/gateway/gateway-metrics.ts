/**
 * The gateway's Prometheus series, in a registry of its own that the coordinator's `/metrics`
 * appends: requests by route, backend and outcome, the route chosen and why, time to first token,
 * decode speed, requests in flight, and errors by kind.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'backend' | 'status'>;
  readonly routed: Counter<'backend' | 'reason'>;
  readonly ttft: Histogram<'backend'>;
  readonly decodeTps: Histogram<'backend'>;
  readonly inFlight: Gauge<'backend'>;
  readonly errors: Counter<'kind'>;
}

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'kage_gateway_requests_total',
      help: 'Requests the gateway answered, by route, backend (none when no backend was used) and HTTP status',
      labelNames: ['route', 'backend', 'status'],
      registers,
    }),
    routed: new Counter({
      name: 'kage_gateway_route_decisions_total',
      help: 'Backends chosen, with why: loaded, free-slot, fastest, sticky, queued, loaded-queued, retry',
      labelNames: ['backend', 'reason'],
      registers,
    }),
    ttft: new Histogram({
      name: 'kage_gateway_ttft_seconds',
      help: 'From the request reaching the gateway to the first byte of the answer relayed to the client',
      labelNames: ['backend'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    }),
    decodeTps: new Histogram({
      name: 'kage_gateway_decode_tokens_per_second',
      help: 'Decode speed of relayed streaming answers, per request',
      labelNames: ['backend'],
      buckets: [1, 2, 5, 10, 20, 40, 80, 160, 320],
      registers,
    }),
    inFlight: new Gauge({
      name: 'kage_gateway_in_flight_requests',
      help: 'Requests being relayed to each backend now',
      labelNames: ['backend'],
      registers,
    }),
    errors: new Counter({
      name: 'kage_gateway_errors_total',
      help: 'Failures by kind: bad_request, unauthorized, unknown_model, unavailable, upstream_connect, upstream_first_byte, upstream_5xx, stream_cut, client_gone, too_large',
      labelNames: ['kind'],
      registers,
    }),
  };
}
