/** Shared fixtures of the stream tests: fake samples, a capturing logger, temp dirs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Inventory, Sample, ServiceStatus } from '../src/index.js';

/** A sample with some unknowns; `tick` becomes both `seq` (sampler tick) and the CPU %. */
export function fakeSample(tick: number, tsMs = Date.now()): Sample {
  return {
    ts: new Date(tsMs).toISOString(),
    mono_ms: tick * 1000,
    seq: tick,
    cpu_pct: tick === 1 ? null : tick,
    per_core_pct: [null, 12.5],
    load1: 0.5,
    load5: 0.25,
    load15: 0,
    mem_used_bytes: 1_000_000,
    mem_total_bytes: 8_000_000,
    swap_used_bytes: 0,
    swap_total_bytes: null,
    net: [{ iface: 'eth0', rx_bytes: 10, tx_bytes: 20, rx_bps: null, tx_bps: 160 }],
    temps: [{ chip: 'k10temp', label: 'Tctl', celsius: 55.5 }],
    gpus: [
      {
        index: 0,
        id: 'card1',
        vendor: 'amd',
        name: 'Radeon 8060S',
        busy_pct: null,
        mem_used_bytes: 2048,
        mem_total_bytes: 4096,
        vram_used_bytes: 1024,
        vram_total_bytes: 2048,
        gtt_used_bytes: 1024,
        gtt_total_bytes: 2048,
        unified_memory: true,
        power_w: 31.5,
        temp_c: null,
      },
    ],
    services: [{ name: 'ollama', cpu_pct: 3, rss_bytes: 4096, source: 'cgroup' }],
  };
}

export const INVENTORY: Inventory = {
  hostname: 'rog',
  cpu_model: 'AMD RYZEN AI MAX+ 395',
  cpu_cores: 32,
  cpu_physical_cores: null,
  mem_total_bytes: 8_000_000,
  os_distro: 'Ubuntu',
  os_release: null,
  kernel: '6.14.0',
  arch: 'x64',
  source: 'os',
};

export function status(name: string, state: ServiceStatus['state'] = 'running'): ServiceStatus {
  return {
    name,
    driver: 'systemd',
    state,
    pid: state === 'running' ? 4242 : null,
    restarts: 1,
    healthy: state === 'running',
    health: state === 'running' ? 'healthy' : 'unknown',
  };
}

/** A logger that keeps every line, parsed. */
export function captureLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

type TestContext = { after: (fn: () => Promise<void>) => void };
const closers = new WeakMap<object, Array<() => Promise<void>>>();

/**
 * Registers `close` to run, newest first, before the test's temp directory is removed (plain
 * `t.after` hooks run in registration order, which would delete the directory under a buffer
 * that is still flushing).
 */
export function closeLater(t: TestContext, close: () => Promise<void>): void {
  const list = closers.get(t);
  if (list === undefined) t.after(close);
  else list.push(close);
}

/** A temporary directory removed after the test, once everything passed to {@link closeLater} closed. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-stream-'));
  const list: Array<() => Promise<void>> = [];
  closers.set(t, list);
  t.after(async () => {
    for (const close of list.reverse()) await close();
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}
