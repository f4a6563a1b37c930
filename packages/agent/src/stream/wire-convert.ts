/**
 * From the agent's in-process shapes (telemetry `Sample`, supervision `ServiceStatus` and
 * `ServiceEvent`, the inventory) to the proto messages of `kage.v1`. Unknown values (`null`,
 * NaN, ±Infinity) become unset `optional` fields, never 0. Byte counts and other uint64 fields are
 * rounded to integers, since protobuf cannot carry a fraction there.
 */
import type {
  GpuInfo,
  Inventory as WireInventory,
  Sample as WireSample,
  ServiceEvent as WireServiceEvent,
  ServiceStatus as WireServiceStatus,
} from '@kage/wire';
import type { ServiceEvent, ServiceStatus } from '../supervision/types.js';
import type { Inventory } from '../telemetry/inventory.js';
import type { GpuSample, Sample } from '../telemetry/types.js';

/** A finite number, else undefined (unset). */
function num(value: number | null | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A finite number rounded to a non-negative integer, else undefined (unset). */
function uint(value: number | null | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.round(value)) : undefined;
}

/** A non-empty string, else undefined (unset). */
function str(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Epoch ms of an ISO 8601 time; `fallbackMs` when it does not parse. */
export function epochMs(iso: string | undefined, fallbackMs: number): number {
  const ms = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms : fallbackMs;
}

/**
 * A telemetry sample as a proto `Sample` without `seq` (assigned by the buffer) and `ts_ms` (kept
 * beside it). `sample.seq` — the sampler's tick number — becomes `tick`.
 */
export function toWireSample(sample: Sample): WireSample {
  return {
    tick: uint(sample.seq) ?? 0,
    cpu_pct: num(sample.cpu_pct),
    per_core: sample.per_core_pct.map((pct) => ({ busy_pct: num(pct) })),
    load1: num(sample.load1),
    load5: num(sample.load5),
    load15: num(sample.load15),
    mem_used_bytes: uint(sample.mem_used_bytes),
    mem_total_bytes: uint(sample.mem_total_bytes),
    swap_used_bytes: uint(sample.swap_used_bytes),
    swap_total_bytes: uint(sample.swap_total_bytes),
    net:
      sample.net === null
        ? null
        : {
            interfaces: sample.net.map((n) => ({
              iface: n.iface,
              rx_bytes: uint(n.rx_bytes),
              tx_bytes: uint(n.tx_bytes),
              rx_bps: num(n.rx_bps),
              tx_bps: num(n.tx_bps),
            })),
          },
    temps: sample.temps.map((t) => ({ chip: t.chip, label: t.label, celsius: num(t.celsius) })),
    gpus: sample.gpus.map((g) => ({
      index: uint(g.index) ?? 0,
      id: g.id,
      vendor: g.vendor,
      name: g.name,
      busy_pct: num(g.busy_pct),
      mem_used_bytes: uint(g.mem_used_bytes),
      mem_total_bytes: uint(g.mem_total_bytes),
      vram_used_bytes: uint(g.vram_used_bytes),
      vram_total_bytes: uint(g.vram_total_bytes),
      gtt_used_bytes: uint(g.gtt_used_bytes),
      gtt_total_bytes: uint(g.gtt_total_bytes),
      unified_memory: g.unified_memory,
      power_w: num(g.power_w),
      temp_c: num(g.temp_c),
    })),
    services: sample.services.map((s) => ({
      name: s.name,
      cpu_pct: num(s.cpu_pct),
      rss_bytes: uint(s.rss_bytes),
      source: str(s.source),
    })),
  };
}

/** A service status snapshot as a proto `ServiceStatus`. */
export function toWireServiceStatus(status: ServiceStatus): WireServiceStatus {
  return {
    name: status.name,
    driver: status.driver,
    state: status.state,
    pid: uint(status.pid),
    restarts: uint(status.restarts) ?? 0,
    healthy: status.healthy,
    health: status.health,
    health_reason: str(status.health_reason),
    reason: str(status.reason),
    last_exit:
      status.last_exit === undefined
        ? null
        : {
            code: typeof status.last_exit.code === 'number' ? status.last_exit.code : undefined,
            signal: str(status.last_exit.signal),
            at_ms: epochMs(status.last_exit.at, 0),
          },
    cgroup: str(status.cgroup),
    version: str(status.version),
  };
}

/** A supervision event as a proto `ServiceEvent` without `seq` and `ts_ms`. */
export function toWireServiceEvent(event: ServiceEvent): WireServiceEvent {
  const common = { service: event.service, reason: event.reason ?? '', status: toWireServiceStatus(event.status) };
  switch (event.type) {
    case 'state':
      return { kind: 'state', from_state: event.from, to_state: event.to, ...common };
    case 'health':
      return { kind: 'health', health: event.health, ...common };
  }
}

/** The static GPU facts of a sample's GPUs, for the Hello inventory. */
export function toGpuInfo(gpus: readonly GpuSample[]): GpuInfo[] {
  return gpus.map((g) => ({
    index: uint(g.index) ?? 0,
    id: g.id,
    vendor: g.vendor,
    name: g.name,
    unified_memory: g.unified_memory,
    mem_total_bytes: uint(g.mem_total_bytes),
    vram_total_bytes: uint(g.vram_total_bytes),
    gtt_total_bytes: uint(g.gtt_total_bytes),
  }));
}

/** The inventory as a proto `Inventory`. */
export function toWireInventory(inventory: Inventory, gpus: readonly GpuSample[]): WireInventory {
  return {
    hostname: inventory.hostname,
    cpu_model: str(inventory.cpu_model),
    cpu_cores: uint(inventory.cpu_cores),
    cpu_physical_cores: uint(inventory.cpu_physical_cores),
    mem_total_bytes: uint(inventory.mem_total_bytes),
    os_distro: str(inventory.os_distro),
    os_release: str(inventory.os_release),
    kernel: inventory.kernel,
    arch: inventory.arch,
    source: inventory.source,
    gpus: toGpuInfo(gpus),
  };
}
