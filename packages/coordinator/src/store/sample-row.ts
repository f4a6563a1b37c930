/**
 * A wire Sample reduced to what the coordinator stores and serves: node-level CPU and memory, GPU
 * busy % averaged and GPU memory summed over the node's GPUs, plus the per-GPU and per-service
 * detail. Unknown stays `null` (an unset optional field on the wire), never 0.
 */
import type { Sample__Output } from '@kage/wire';
import type { GpuView, LatestView } from '../registry/node-view.js';

export interface SampleRow {
  node_id: string;
  ts_ms: number;
  seq: number;
  cpu_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  gpu_busy_pct: number | null;
  gpu_mem_used_bytes: number | null;
  gpu_mem_total_bytes: number | null;
  gpus: GpuView[];
  services: { name: string; cpu_pct: number | null; rss_bytes: number | null }[];
}

export function toSampleRow(nodeId: string, s: Sample__Output): SampleRow {
  // Plain loops: this runs for every sample of every agent, and each map/filter is an allocation.
  const gpus: GpuView[] = new Array<GpuView>(s.gpus.length);
  let busySum = 0;
  let busyKnown = 0;
  let memUsed: number | null = null;
  let memTotal: number | null = null;
  for (let i = 0; i < s.gpus.length; i++) {
    const g = s.gpus[i] as (typeof s.gpus)[number];
    const view: GpuView = {
      name: g.name,
      busy_pct: finite(g.busy_pct),
      mem_used_bytes: safeInt(g.mem_used_bytes),
      mem_total_bytes: safeInt(g.mem_total_bytes),
    };
    gpus[i] = view;
    if (view.busy_pct !== null) {
      busySum += view.busy_pct;
      busyKnown += 1;
    }
    if (view.mem_used_bytes !== null) memUsed = (memUsed ?? 0) + view.mem_used_bytes;
    if (view.mem_total_bytes !== null) memTotal = (memTotal ?? 0) + view.mem_total_bytes;
  }
  const services: SampleRow['services'] = new Array<SampleRow['services'][number]>(s.services.length);
  for (let i = 0; i < s.services.length; i++) {
    const u = s.services[i] as (typeof s.services)[number];
    services[i] = { name: u.name, cpu_pct: finite(u.cpu_pct), rss_bytes: safeInt(u.rss_bytes) };
  }
  return {
    node_id: nodeId,
    ts_ms: s.ts_ms,
    seq: s.seq,
    cpu_pct: finite(s.cpu_pct),
    mem_used_bytes: safeInt(s.mem_used_bytes),
    mem_total_bytes: safeInt(s.mem_total_bytes),
    // GPU busy % averaged and memory summed over the GPUs that report them; null when none does.
    gpu_busy_pct: busyKnown === 0 ? null : busySum / busyKnown,
    gpu_mem_used_bytes: memUsed,
    gpu_mem_total_bytes: memTotal,
    gpus,
    services,
  };
}

export function toLatestView(row: SampleRow): LatestView {
  return {
    ts: new Date(row.ts_ms).toISOString(),
    cpu_pct: row.cpu_pct,
    mem_used_bytes: row.mem_used_bytes,
    mem_total_bytes: row.mem_total_bytes,
    gpus: row.gpus,
  };
}

/**
 * 64-bit counters arrive as JavaScript numbers; one beyond 2^53 (a corrupt or hostile agent) is not
 * a byte count anyone can use, and SQLite's INTEGER columns refuse it: unknown, not a failed commit.
 */
/** NaN and infinities (a broken sensor) are unknown. */
function finite(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

function safeInt(v: number | undefined): number | null {
  return v !== undefined && Number.isSafeInteger(v) ? v : null;
}

/** Wall-clock times JavaScript can represent (±8.64e15 ms) that are also safe integers. */
export function validTimestamp(ts: number): boolean {
  return Number.isSafeInteger(ts) && Math.abs(ts) <= 8.64e15;
}
