/**
 * The machine a run (or the selftest) was measured on, stored with the results so numbers from
 * different hosts are never compared blindly.
 */
import os from 'node:os';

/** Host facts recorded with every run. */
export interface HostInfo {
  hostname: string;
  /** `linux`, `darwin`… */
  platform: string;
  /** Kernel release. */
  release: string;
  arch: string;
  cpu_model: string;
  /** Logical cores. */
  cpu_cores: number;
  total_memory_bytes: number;
  node_version: string;
}

/** Reads the current host's facts. */
export function hostInfo(): HostInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    cpu_cores: cpus.length,
    total_memory_bytes: os.totalmem(),
    node_version: process.version,
  };
}
