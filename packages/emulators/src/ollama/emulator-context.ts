/**
 * What every route of one emulator instance shares: its store, scheduler, settings, fault knobs
 * and randomness.
 */
import type { Logger } from 'pino';
import type { FaultOptions } from '../faults.js';
import type { HardwareProfile } from '../hardware-profiles.js';
import type { Random } from '../random.js';
import type { KeepAliveMs } from './go-time.js';
import type { ModelStore } from './model-store.js';
import type { Scheduler } from './scheduler.js';

export interface EmulatorContext {
  readonly store: ModelStore;
  readonly scheduler: Scheduler;
  readonly profile: HardwareProfile;
  /** Version `/api/version` reports. */
  readonly version: string;
  /** True for versions before 0.32.6: the classic OpenAI chunk layout. */
  readonly classicOpenAiChunks: boolean;
  /** True from 0.30.0: runner errors name llama-server. */
  readonly llamaServerRunner: boolean;
  readonly numParallel: number;
  /** `OLLAMA_CONTEXT_LENGTH`: a fixed default `num_ctx`, or undefined for the automatic one. */
  readonly contextLength: number | undefined;
  /** The automatic default `num_ctx`, picked from the total VRAM (see context-size.ts). */
  readonly defaultNumCtx: number;
  readonly defaultKeepAliveMs: KeepAliveMs;
  readonly random: Random;
  readonly log: Logger;
  /** Fires when the emulator closes: in-flight work stops. */
  readonly closing: AbortSignal;
  faults(): Readonly<FaultOptions>;
  setFaults(next: FaultOptions): void;
  /** Multiplier for one timed step: 1 when deterministic, else around 1 by the jitter knob. */
  jitter(): number;
  /** Counts a generation request; true when the crash fault fires with this one. */
  countGenerationRequest(): boolean;
  /** Simulates the process dying (the crash fault). */
  crash(): void;
}

/** Parses `major.minor.patch` (ignoring a pre-release suffix) for comparisons. */
export function parseVersion(version: string): [number, number, number] {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return [0, 0, 0];
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** True when `version` is older than `than`. */
export function versionBefore(version: string, than: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(than);
  for (let i = 0; i < 3; i += 1) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}
