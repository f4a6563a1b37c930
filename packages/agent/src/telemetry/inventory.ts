/**
 * The node's static inventory, collected once at start. systeminformation is fine for this: it
 * spawns a few short processes (lscpu, cat of the release files, `hostname -f`) — never do that on
 * the sampling timer. Tests and callers that must not spawn pass `source: null` and get the same
 * shape from Node's `os` module alone.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

export interface Inventory {
  hostname: string;
  cpu_model: string | null;
  /** Logical CPUs. */
  cpu_cores: number | null;
  cpu_physical_cores: number | null;
  mem_total_bytes: number | null;
  os_distro: string | null;
  os_release: string | null;
  kernel: string;
  arch: string;
  /** Where the facts came from: systeminformation, or the `os` module fallback. */
  source: 'systeminformation' | 'os';
}

/** The subset of systeminformation used here; tests substitute their own. */
export interface InventorySource {
  cpu(): Promise<{ manufacturer: string; brand: string; cores: number; physicalCores: number }>;
  mem(): Promise<{ total: number }>;
  osInfo(): Promise<{ distro: string; release: string; kernel: string; arch: string; hostname: string }>;
}

export interface ReadInventoryOptions {
  log: Logger;
  /** Where to get the facts; null skips systeminformation entirely. @default the real systeminformation */
  source?: InventorySource | null;
  /** Give up on systeminformation after this long and use the fallback. @default 10000 */
  timeoutMs?: number;
}

function fromOs(): Inventory {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpu_model: cpus[0]?.model.trim() || null,
    cpu_cores: cpus.length > 0 ? cpus.length : null,
    cpu_physical_cores: null,
    mem_total_bytes: os.totalmem(),
    os_distro: null,
    os_release: null,
    kernel: os.release(),
    arch: os.arch(),
    source: 'os',
  };
}

function positiveOrNull(n: number): number | null {
  return Number.isFinite(n) && n > 0 ? n : null;
}

type ChildFacts = {
  cpu: Awaited<ReturnType<InventorySource['cpu']>>;
  mem: Awaited<ReturnType<InventorySource['mem']>>;
  osInfo: Awaited<ReturnType<InventorySource['osInfo']>>;
};

/**
 * systeminformation run in a child process (`inventory-child.js`), once: the daemon stays free of
 * the module, which would otherwise stay resident for a query made once.
 */
function childProcessSource(timeoutMs: number): InventorySource {
  const script = fileURLToPath(new URL('./inventory-child.js', import.meta.url));
  let facts: Promise<ChildFacts> | undefined;
  const load = (): Promise<ChildFacts> =>
    (facts ??= promisify(execFile)(process.execPath, [script], { timeout: timeoutMs, maxBuffer: 1 << 20 }).then(
      ({ stdout }) => JSON.parse(stdout) as ChildFacts,
    ));
  return {
    cpu: async () => (await load()).cpu,
    mem: async () => (await load()).mem,
    osInfo: async () => (await load()).osInfo,
  };
}

/** Collects the inventory; never throws (falls back to the `os` module and logs why). */
export async function readInventory(options: ReadInventoryOptions): Promise<Inventory> {
  const log = options.log;
  const fallback = fromOs();
  if (options.source === null) return fallback;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const source = options.source ?? childProcessSource(timeoutMs);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`inventory took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    const [cpu, mem, osInfo] = await Promise.race([
      Promise.all([source.cpu(), source.mem(), source.osInfo()]),
      timeout,
    ]);
    const model = [cpu.manufacturer, cpu.brand].filter((s) => s.trim() !== '').join(' ');
    return {
      hostname: osInfo.hostname || fallback.hostname,
      cpu_model: model || fallback.cpu_model,
      cpu_cores: positiveOrNull(cpu.cores) ?? fallback.cpu_cores,
      cpu_physical_cores: positiveOrNull(cpu.physicalCores),
      mem_total_bytes: positiveOrNull(mem.total) ?? fallback.mem_total_bytes,
      os_distro: osInfo.distro && osInfo.distro !== 'unknown' ? osInfo.distro : null,
      os_release: osInfo.release && osInfo.release !== 'unknown' ? osInfo.release : null,
      kernel: osInfo.kernel || fallback.kernel,
      arch: osInfo.arch || fallback.arch,
      source: 'systeminformation',
    };
  } catch (err) {
    log.warn({ err }, 'systeminformation inventory failed; using the os module');
    return fallback;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
