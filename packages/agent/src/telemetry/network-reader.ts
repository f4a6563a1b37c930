/**
 * Per-interface byte counters from /proc/net/dev and rates from their deltas. tailscale0 is an
 * ordinary line there, which matters: EXO's traffic between nodes runs over it.
 */
import { join } from 'node:path';
import { createFileReader, roundTo, type FileReader } from './proc-file.js';
import type { MonotonicClock, NetSample } from './types.js';

export interface NetworkReaderOptions {
  /** Where procfs is mounted. @default '/proc' */
  procRoot?: string;
  files?: FileReader;
  now?: MonotonicClock;
  /**
   * Which interfaces to report. The default drops `lo` and container veth pairs, whose traffic is
   * local and would only add noise (and, with many containers, many entries).
   */
  includeInterface?: (iface: string) => boolean;
}

export interface NetworkReader {
  /** Null when /proc/net/dev cannot be read. */
  read(): Promise<NetSample[] | null>;
  /** Releases the kept file descriptor. Idempotent. */
  close(): void;
}

/** Default interface filter: everything except loopback and veth pairs. */
export function isReportedInterface(iface: string): boolean {
  return iface !== 'lo' && !iface.startsWith('veth');
}

/** Counters of one /proc/net/dev line; null counters when the line is garbled. */
export interface NetCounters {
  iface: string;
  rx_bytes: number | null;
  tx_bytes: number | null;
}

/** Parses /proc/net/dev: two header lines, then `iface: rx_bytes … (8 rx fields) tx_bytes …`. */
export function parseNetDev(text: string): NetCounters[] {
  const out: NetCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const iface = line.slice(0, colon).trim();
    // The header lines contain '|' and no ':'; anything else without a name is junk.
    if (iface === '' || iface.includes('|') || iface.includes(' ')) continue;
    // Old kernels printed no space after the colon (`eth0:12345 …`); splitting after it handles both.
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const ok = fields.length >= 16 && fields.every((f) => /^\d+$/.test(f));
    const rx = ok ? Number(fields[0]) : Number.NaN;
    const tx = ok ? Number(fields[8]) : Number.NaN;
    out.push({
      iface,
      rx_bytes: Number.isSafeInteger(rx) ? rx : null,
      tx_bytes: Number.isSafeInteger(tx) ? tx : null,
    });
  }
  return out;
}

function rateBps(prev: number | null | undefined, cur: number | null, elapsedMs: number): number | null {
  if (prev === null || prev === undefined || cur === null || elapsedMs <= 0) return null;
  const delta = cur - prev;
  // A counter that went down means the interface was re-created (or a 32-bit wrap): no honest rate.
  if (delta < 0) return null;
  return roundTo((delta * 8 * 1000) / elapsedMs, 0);
}

/** Creates a network reader; it keeps the previous counters and read time between reads. */
export function createNetworkReader(options: NetworkReaderOptions = {}): NetworkReader {
  const files = options.files ?? createFileReader();
  const now = options.now ?? (() => performance.now());
  const include = options.includeInterface ?? isReportedInterface;
  const path = join(options.procRoot ?? '/proc', 'net', 'dev');
  let prev = new Map<string, NetCounters>();
  let prevAt: number | null = null;

  return {
    async read() {
      const text = await files.readStable(path);
      const at = now();
      if (text === null) {
        prev = new Map();
        prevAt = null;
        return null;
      }
      const elapsedMs = prevAt === null ? 0 : at - prevAt;
      const next = new Map<string, NetCounters>();
      const out: NetSample[] = [];
      for (const c of parseNetDev(text)) {
        if (!include(c.iface)) continue;
        next.set(c.iface, c);
        const before = prev.get(c.iface);
        out.push({
          iface: c.iface,
          rx_bytes: c.rx_bytes,
          tx_bytes: c.tx_bytes,
          rx_bps: rateBps(before?.rx_bytes, c.rx_bytes, elapsedMs),
          tx_bps: rateBps(before?.tx_bytes, c.tx_bytes, elapsedMs),
        });
      }
      prev = next;
      prevAt = at;
      return out;
    },
    close() {
      files.release(path);
    },
  };
}
