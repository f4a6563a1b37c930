/**
 * A serialized response kept for a short time. `GET /api/v1/nodes` with a thousand nodes is about
 * 600 kB of JSON; every dashboard tab and `kage status` asks for it, and at 1 Hz telemetry the
 * answer changes every second anyway. Serving one serialization to every client within
 * `maxAgeMs` turns the cost per request into a buffer write, while no client ever sees data older
 * than that.
 *
 * The snapshot also carries what lets clients ask for less: an ETag of its bytes (a poll that
 * finds nothing new is a 304 without a body) and a gzip copy made once, on the first request that
 * accepts it (browsers and `fetch` always do; the JSON of many nodes shrinks about tenfold).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface Snapshot {
  /** The UTF-8 JSON text. */
  readonly body: Buffer;
  /** A strong validator of `body`: the same bytes always give the same tag, across restarts too. */
  readonly etag: string;
  /** `body` gzipped, made on the first call and kept with this snapshot. */
  gzipped(): Buffer;
}

export interface SnapshotCache {
  /** The cached snapshot, or a fresh one from `build` when the cached one is older than `maxAgeMs`. */
  get(build: () => unknown): Snapshot;
}

export function createSnapshotCache(options: { maxAgeMs: number; now?: () => number }): SnapshotCache {
  const now = options.now ?? (() => performance.now());
  let current: Snapshot | null = null;
  let builtAt = -Infinity;
  return {
    get(build) {
      const t = now();
      if (current === null || t - builtAt >= options.maxAgeMs) {
        current = createSnapshot(Buffer.from(JSON.stringify(build()), 'utf8'));
        builtAt = t;
      }
      return current;
    },
  };
}

function createSnapshot(body: Buffer): Snapshot {
  let gzip: Buffer | null = null;
  return {
    body,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    gzipped() {
      // Level 1: a third of the default level's CPU for a few percent more bytes; the snapshot is
      // rebuilt every `maxAgeMs` under load, so compression time counts more than the last bytes.
      gzip ??= gzipSync(body, { level: 1 });
      return gzip;
    },
  };
}

/**
 * Whether an `If-None-Match` header names `etag`: a list of tags, each maybe weak (`W/`), or `*`.
 * Weak comparison, as RFC 9110 asks for If-None-Match.
 */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  for (const raw of header.split(',')) {
    const tag = raw.trim();
    if (tag === '*' || tag === etag || tag === `W/${etag}`) return true;
  }
  return false;
}
