/**
 * A serialized response kept for a short time. `GET /api/v1/nodes` with a thousand nodes is about
 * 600 kB of JSON and ~50 ms of CPU to build; every dashboard tab and `kage status` asks for it, and
 * at 1 Hz telemetry the answer changes every second anyway. Serving one serialization to every
 * client within `maxAgeMs` turns the cost per request into a buffer write, while no client ever
 * sees data older than that.
 */
export interface SnapshotCache {
  /** The cached text, or a fresh one from `build` when the cached one is older than `maxAgeMs`. */
  get(build: () => unknown): string;
}

export function createSnapshotCache(options: { maxAgeMs: number; now?: () => number }): SnapshotCache {
  const now = options.now ?? (() => performance.now());
  let text: string | null = null;
  let builtAt = -Infinity;
  return {
    get(build) {
      const t = now();
      if (text === null || t - builtAt >= options.maxAgeMs) {
        text = JSON.stringify(build());
        builtAt = t;
      }
      return text;
    },
  };
}
