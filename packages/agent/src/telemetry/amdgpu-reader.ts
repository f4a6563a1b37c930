/**
 * AMD GPUs straight from sysfs (amdgpu), no ROCm tools: /sys/class/drm/cardN/device with vendor
 * 0x1002 and driver amdgpu. Card numbers are not stable (a Strix Halo box often has its GPU at
 * card1), so cards are discovered by glob and re-discovered only every `rediscoverIntervalMs`.
 *
 * Unified memory (APUs such as the Radeon 8060S): `mem_info_vram_*` is only the BIOS carve-out and
 * almost everything the GPU can use is GTT, so the GPU's memory is reported as VRAM + GTT. That
 * memory is host DRAM: it stays out of the host's used memory and the GPU is flagged
 * `unified_memory` so the coordinator budgets the two together.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  compareNumericSuffix,
  createFileReader,
  parseInt10,
  parseUint,
  roundTo,
  type FileReader,
} from './proc-file.js';
import type { GpuSample, MonotonicClock } from './types.js';

export interface AmdGpuReaderOptions {
  /** Where sysfs is mounted. @default '/sys' */
  sysRoot?: string;
  files?: FileReader;
  now?: MonotonicClock;
  log?: Logger;
  /** How often to look for cards again. @default 60000 */
  rediscoverIntervalMs?: number;
  /**
   * `gpu_busy_percent` is an instant sample that jumps between 0 and 100, so while started the
   * reader samples it this often and reports the mean per tick. 0 reads it once per tick.
   * @default 0
   */
  busySampleIntervalMs?: number;
  /** Force the unified-memory flag instead of detecting it. @default 'auto' */
  unifiedMemory?: 'auto' | boolean;
}

export interface AmdGpuReader {
  /** Starts the busy sub-sampler (no-op when `busySampleIntervalMs` is 0). */
  start(): void;
  read(): Promise<GpuSample[]>;
  /** Stops the sub-sampler and releases the kept file descriptors. Idempotent. */
  close(): void;
}

/** A discovered card: paths and the facts that do not change while it is bound. */
export interface AmdCard {
  card: string;
  devicePath: string;
  /** PCI device id as sysfs writes it (`0x1586`); empty when unreadable. */
  deviceId: string;
  name: string;
  unified: boolean;
  vramTotal: number | null;
  gttTotal: number | null;
  tempPath: string | null;
  powerPath: string | null;
  busySum: number;
  busyCount: number;
  busyInFlight: boolean;
}

const AMD_VENDOR = '0x1002';
const GIB = 1024 ** 3;

/** Marketing names for PCI ids where sysfs has no `product_name` (APUs have none). */
const KNOWN_DEVICES: Readonly<Record<string, string>> = {
  '0x1586': 'AMD Radeon 8050S/8060S (Strix Halo)',
  '0x150e': 'AMD Radeon 880M/890M (Strix Point)',
};

/**
 * Decides whether a card shares host DRAM. amdgpu's `gpu_metrics` blob starts with a header whose
 * format revision is 1 for discrete GPUs and 2 or 3 for APUs (kernel kgd_pp_interface.h: v2_x
 * Renoir…Rembrandt, v3_0 Strix). Older cards without the file fall back to "a tiny VRAM next to a
 * larger GTT", which is what an APU carve-out looks like.
 */
export function isUnifiedMemory(
  metricsFormatRevision: number | null,
  vramTotal: number | null,
  gttTotal: number | null,
): boolean {
  if (metricsFormatRevision !== null && metricsFormatRevision > 0) return metricsFormatRevision >= 2;
  return vramTotal !== null && gttTotal !== null && vramTotal <= 2 * GIB && gttTotal > vramTotal;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

/** The files read every tick for a card (kept open between ticks). */
function stablePaths(card: AmdCard): string[] {
  const paths = ['gpu_busy_percent', 'mem_info_vram_used', 'mem_info_gtt_used'].map((f) => join(card.devicePath, f));
  if (card.tempPath !== null) paths.push(card.tempPath);
  if (card.powerPath !== null) paths.push(card.powerPath);
  return paths;
}

function sumOrNull(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a + b;
}

async function probeCard(
  drmDir: string,
  card: string,
  files: FileReader,
  unifiedMemory: 'auto' | boolean,
): Promise<AmdCard | null> {
  const dev = join(drmDir, card, 'device');
  const [vendor, uevent, deviceId, productName, metrics, vramTotalText, gttTotalText, hwmons] = await Promise.all([
    files.readText(join(dev, 'vendor')),
    files.readText(join(dev, 'uevent')),
    files.readText(join(dev, 'device')),
    files.readText(join(dev, 'product_name')),
    files.readBytes(join(dev, 'gpu_metrics'), 4),
    files.readText(join(dev, 'mem_info_vram_total')),
    files.readText(join(dev, 'mem_info_gtt_total')),
    listDir(join(dev, 'hwmon')),
  ]);
  if (vendor?.trim() !== AMD_VENDOR) return null;
  const driver = uevent === null ? null : (/^DRIVER=(.*)$/m.exec(uevent)?.[1]?.trim() ?? null);
  // radeon (pre-GCN) exposes none of these files; without uevent, the amdgpu memory file decides.
  if (driver !== null ? driver !== 'amdgpu' : vramTotalText === null) return null;

  const vramTotal = parseUint(vramTotalText);
  const gttTotal = parseUint(gttTotalText);
  const formatRevision = metrics !== null && metrics.length >= 4 ? (metrics[2] ?? null) : null;
  const unified = unifiedMemory === 'auto' ? isUnifiedMemory(formatRevision, vramTotal, gttTotal) : unifiedMemory;

  const id = deviceId?.trim() ?? '';
  const name = productName?.trim() || KNOWN_DEVICES[id] || (id === '' ? 'AMD GPU' : `AMD GPU ${AMD_VENDOR}:${id}`);

  let tempPath: string | null = null;
  let powerPath: string | null = null;
  const hw = hwmons.filter((n) => /^hwmon\d+$/.test(n)).sort(compareNumericSuffix)[0];
  if (hw !== undefined) {
    const hwDir = join(dev, 'hwmon', hw);
    const entries = await listDir(hwDir);
    if (entries.includes('temp1_input')) tempPath = join(hwDir, 'temp1_input');
    // power1_average is the preferred smoothed value, but newer SMUs only provide power1_input, and
    // some expose the file yet fail to read it: keep whichever actually yields a number.
    for (const candidate of ['power1_average', 'power1_input']) {
      if (!entries.includes(candidate)) continue;
      if (parseUint(await files.readText(join(hwDir, candidate))) !== null) {
        powerPath = join(hwDir, candidate);
        break;
      }
    }
  }
  return {
    card,
    devicePath: dev,
    deviceId: id,
    name,
    unified,
    vramTotal,
    gttTotal,
    tempPath,
    powerPath,
    busySum: 0,
    busyCount: 0,
    busyInFlight: false,
  };
}

/** Finds amdgpu cards under `<sysRoot>/class/drm`, ordered by card number. */
export async function discoverAmdCards(
  sysRoot: string,
  files: FileReader,
  unifiedMemory: 'auto' | boolean = 'auto',
): Promise<AmdCard[]> {
  const drmDir = join(sysRoot, 'class', 'drm');
  // cardN only: connector entries (card1-DP-1) and render nodes share the device.
  const cards = (await listDir(drmDir)).filter((n) => /^card\d+$/.test(n)).sort(compareNumericSuffix);
  const probed = await Promise.all(cards.map((c) => probeCard(drmDir, c, files, unifiedMemory)));
  return probed.filter((c): c is AmdCard => c !== null);
}

/** The static facts of one amdgpu card, as `kage doctor` reports them. */
export interface AmdGpuFacts {
  /** DRM card name, e.g. `card1`. */
  card: string;
  /** PCI device id (`0x1586` is Strix Halo: Radeon 8050S/8060S, LLVM target gfx1151). */
  deviceId: string;
  name: string;
  unifiedMemory: boolean;
  /** `mem_info_vram_total`: on an APU, the BIOS carve-out. */
  vramTotalBytes: number | null;
  /** `mem_info_gtt_total`: system RAM the GPU may map (the kernel's `ttm.pages_limit`). */
  gttTotalBytes: number | null;
}

/**
 * The amdgpu cards under `<sysRoot>/class/drm`, read once with the same discovery as the sampler,
 * for a one-shot check (no descriptor is kept open).
 */
export async function listAmdGpus(sysRoot = '/sys'): Promise<AmdGpuFacts[]> {
  const cards = await discoverAmdCards(sysRoot, createFileReader({ keepOpen: false }));
  return cards.map((c) => ({
    card: c.card,
    deviceId: c.deviceId,
    name: c.name,
    unifiedMemory: c.unified,
    vramTotalBytes: c.vramTotal,
    gttTotalBytes: c.gttTotal,
  }));
}

/** Creates an amdgpu reader with a cached card list. */
export function createAmdGpuReader(options: AmdGpuReaderOptions = {}): AmdGpuReader {
  const sysRoot = options.sysRoot ?? '/sys';
  const files = options.files ?? createFileReader();
  const now = options.now ?? (() => performance.now());
  const rediscoverMs = options.rediscoverIntervalMs ?? 60_000;
  const busyEveryMs = options.busySampleIntervalMs ?? 0;
  const unifiedMemory = options.unifiedMemory ?? 'auto';
  const log = options.log;
  let cards: AmdCard[] = [];
  let discoveredAt: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  async function subSampleBusy(card: AmdCard): Promise<void> {
    if (card.busyInFlight) return;
    card.busyInFlight = true;
    try {
      const v = parseUint(await files.readStable(join(card.devicePath, 'gpu_busy_percent')));
      if (v !== null && v <= 100) {
        card.busySum += v;
        card.busyCount += 1;
      }
    } finally {
      card.busyInFlight = false;
    }
  }

  async function readCard(card: AmdCard, index: number): Promise<GpuSample> {
    const dev = card.devicePath;
    const [busyText, vramUsedText, gttUsedText, tempText, powerText] = await Promise.all([
      card.busyCount > 0 ? Promise.resolve(null) : files.readStable(join(dev, 'gpu_busy_percent')),
      files.readStable(join(dev, 'mem_info_vram_used')),
      files.readStable(join(dev, 'mem_info_gtt_used')),
      card.tempPath === null ? Promise.resolve(null) : files.readStable(card.tempPath),
      card.powerPath === null ? Promise.resolve(null) : files.readStable(card.powerPath),
    ]);
    let busy: number | null;
    if (card.busyCount > 0) {
      busy = roundTo(card.busySum / card.busyCount, 1);
      card.busySum = 0;
      card.busyCount = 0;
    } else {
      const v = parseUint(busyText);
      busy = v !== null && v <= 100 ? v : null;
    }
    const vramUsed = parseUint(vramUsedText);
    const gttUsed = parseUint(gttUsedText);
    const milliC = parseInt10(tempText);
    const microW = parseUint(powerText);
    return {
      index,
      id: card.card,
      vendor: 'amd',
      name: card.name,
      busy_pct: busy,
      mem_used_bytes: card.unified ? sumOrNull(vramUsed, gttUsed) : vramUsed,
      mem_total_bytes: card.unified ? sumOrNull(card.vramTotal, card.gttTotal) : card.vramTotal,
      vram_used_bytes: vramUsed,
      vram_total_bytes: card.vramTotal,
      gtt_used_bytes: gttUsed,
      gtt_total_bytes: card.gttTotal,
      unified_memory: card.unified,
      // Integer ÷ power of ten prints as the exact decimal: no rounding needed.
      power_w: microW === null ? null : microW / 1e6,
      temp_c: milliC === null ? null : milliC / 1000,
    };
  }

  return {
    start() {
      if (closed || timer !== null || busyEveryMs <= 0) return;
      timer = setInterval(() => {
        for (const card of cards) void subSampleBusy(card);
      }, busyEveryMs);
      // The sampler's own timer keeps the process alive; this one must not on its own.
      timer.unref();
    },
    async read() {
      const t = now();
      if (discoveredAt === null || t - discoveredAt >= rediscoverMs) {
        const before = cards.length;
        const next = await discoverAmdCards(sysRoot, files, unifiedMemory);
        const keep = new Set(next.flatMap(stablePaths));
        for (const p of cards.flatMap(stablePaths)) if (!keep.has(p)) files.release(p);
        cards = next;
        discoveredAt = t;
        if (cards.length !== before) {
          log?.info({ cards: cards.map((c) => ({ card: c.card, name: c.name, unified: c.unified })) }, 'amdgpu cards');
        }
      }
      return Promise.all(cards.map((c, i) => readCard(c, i)));
    },
    close() {
      closed = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      for (const p of cards.flatMap(stablePaths)) files.release(p);
      cards = [];
      discoveredAt = null;
    },
  };
}
