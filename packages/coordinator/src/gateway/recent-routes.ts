/**
 * The gateway's latest routing decisions, for the dashboard and `GET /api/v1/gateway`: a bounded
 * ring of the last requests (what was asked, where it went and why, how it ended) and a count of
 * decisions per backend and reason since the coordinator started. The same facts are on the
 * journal line of each request and in the Prometheus series; this is their readable recent past.
 */

export interface RouteRecord {
  /** When the request ended. */
  at: string;
  /** `api_chat`, `api_generate` or `v1_chat`. */
  route: string;
  /** The model as the client named it. */
  model: string;
  /** The backend that answered; `none` when no backend could. */
  backend: string;
  /** Why that backend: `loaded`, `free-slot`, `fastest`, `sticky`, `retry`, … or the refusal. */
  reason: string;
  status: number;
  /** `ok`, `cut`, `client-gone`, `unavailable`, `unknown-model`, … */
  outcome: string;
  ttft_ms: number | null;
  duration_ms: number;
}

export interface RouteCount {
  backend: string;
  reason: string;
  count: number;
}

export interface RecentRoutes {
  record(route: RouteRecord): void;
  /** Newest first. */
  recent(): RouteRecord[];
  /** Per backend and reason, sorted by backend then reason. */
  totals(): RouteCount[];
}

export function createRecentRoutes(capacity = 50): RecentRoutes {
  const ring: RouteRecord[] = [];
  let next = 0;
  const counts = new Map<string, RouteCount>();
  return {
    record(route) {
      if (ring.length < capacity) ring.push(route);
      else ring[next] = route;
      next = (next + 1) % capacity;
      const key = `${route.backend}\u0000${route.reason}`;
      const count = counts.get(key);
      if (count === undefined) counts.set(key, { backend: route.backend, reason: route.reason, count: 1 });
      else count.count += 1;
    },
    recent() {
      // `next` is the oldest slot once the ring is full; before that, the ring is in order.
      const ordered = ring.length < capacity ? [...ring] : [...ring.slice(next), ...ring.slice(0, next)];
      return ordered.reverse();
    },
    totals() {
      return [...counts.values()]
        .map((c) => ({ ...c }))
        .sort((a, b) => compare(a.backend, b.backend) || compare(a.reason, b.reason));
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
