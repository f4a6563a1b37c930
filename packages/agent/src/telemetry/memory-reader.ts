/**
 * Host memory and swap from /proc/meminfo. used = MemTotal − MemAvailable (what the kernel thinks
 * could not be reclaimed without swapping), not MemTotal − MemFree, which counts page cache as used.
 *
 * On a unified-memory APU, GPU allocations (GTT, and the VRAM carve-out's users) are already inside
 * these numbers or outside MemTotal; the GPU's own used/total are reported on the GPU and never
 * added here, so nothing is counted twice.
 */
import { join } from 'node:path';
import { createFileReader, type FileReader } from './proc-file.js';

export interface MemoryReading {
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  swap_used_bytes: number | null;
  swap_total_bytes: number | null;
}

export interface MemoryReaderOptions {
  /** Where procfs is mounted. @default '/proc' */
  procRoot?: string;
  files?: FileReader;
}

export interface MemoryReader {
  read(): Promise<MemoryReading>;
  /** Releases the kept file descriptor. Idempotent. */
  close(): void;
}

const WANTED = ['MemTotal', 'MemAvailable', 'SwapTotal', 'SwapFree'] as const;
type Wanted = (typeof WANTED)[number];

/** Picks the four fields we need from /proc/meminfo, in bytes; a missing or garbled one is null. */
export function parseMeminfo(text: string): Record<Wanted, number | null> {
  const out: Record<Wanted, number | null> = { MemTotal: null, MemAvailable: null, SwapTotal: null, SwapFree: null };
  let found = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const key = line.slice(0, colon);
    if (!(WANTED as readonly string[]).includes(key)) continue;
    const m = /^\s*(\d+)\s+kB\s*$/.exec(line.slice(colon + 1));
    const value = m?.[1] === undefined ? null : Number(m[1]) * 1024;
    out[key as Wanted] = value !== null && Number.isSafeInteger(value) ? value : null;
    if (++found === WANTED.length) break;
  }
  return out;
}

function difference(total: number | null, part: number | null): number | null {
  if (total === null || part === null || part > total) return null;
  return total - part;
}

/** Creates a stateless memory reader. */
export function createMemoryReader(options: MemoryReaderOptions = {}): MemoryReader {
  const files = options.files ?? createFileReader();
  const path = join(options.procRoot ?? '/proc', 'meminfo');

  return {
    async read() {
      const text = await files.readStable(path);
      if (text === null) {
        return { mem_used_bytes: null, mem_total_bytes: null, swap_used_bytes: null, swap_total_bytes: null };
      }
      const m = parseMeminfo(text);
      return {
        mem_used_bytes: difference(m.MemTotal, m.MemAvailable),
        mem_total_bytes: m.MemTotal,
        swap_used_bytes: difference(m.SwapTotal, m.SwapFree),
        swap_total_bytes: m.SwapTotal,
      };
    },
    close() {
      files.release(path);
    },
  };
}
