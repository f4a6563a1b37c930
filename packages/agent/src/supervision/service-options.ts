/**
 * Timing knobs shared by both drivers that are not part of the config file (its keys are fixed:
 * docs/agent.md, "Every key"), with their defaults in one place, plus the checks every service
 * entry gets.
 */
import { SupervisionError } from './errors.js';

/** Agent-level supervision timings. Tests shrink them to tens of milliseconds. */
export interface SupervisionTimings {
  /** SIGTERM → SIGKILL grace when stopping a process group. @default 10000 */
  stopGraceMs: number;
  /** Health check (and systemd unit poll) period. @default 5000 */
  healthIntervalMs: number;
  /** Timeout of one HTTP health request. @default 2000 */
  healthTimeoutMs: number;
  /** After a (re)start, failing checks count as `starting`, not `unhealthy`, this long. @default 60000 */
  startupGraceMs: number;
  /** A child that ran this long before exiting restarts with the initial backoff again. @default 120000 */
  stableAfterMs: number;
  /** Minimum period of the inference probe. @default 60000 */
  probeIntervalMs: number;
  /** Timeout of one inference probe. @default 30000 */
  probeTimeoutMs: number;
  /** Timeout of one `systemctl` call (a restart waits for the unit's stop). @default 120000 */
  systemctlTimeoutMs: number;
}

export const DEFAULT_TIMINGS: Readonly<SupervisionTimings> = Object.freeze({
  stopGraceMs: 10_000,
  healthIntervalMs: 5000,
  healthTimeoutMs: 2000,
  startupGraceMs: 60_000,
  stableAfterMs: 120_000,
  probeIntervalMs: 60_000,
  probeTimeoutMs: 30_000,
  systemctlTimeoutMs: 120_000,
});

/** Defaults filled in; a negative or non-finite value is a programmer error. */
export function resolveTimings(partial: Partial<SupervisionTimings> = {}): SupervisionTimings {
  const out: SupervisionTimings = { ...DEFAULT_TIMINGS };
  for (const key of Object.keys(DEFAULT_TIMINGS) as (keyof SupervisionTimings)[]) {
    const value = partial[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) throw new TypeError(`${key} must be a finite number >= 0`);
    out[key] = value;
  }
  return out;
}

// Service names become file names (pidfiles) and log fields: keep them plain.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function checkServiceName(name: string): void {
  if (!NAME.test(name)) {
    throw new SupervisionError(
      'KAGE_ERR_AGENT_SERVICE_CONFIG',
      `service name ${JSON.stringify(name)} must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

export function checkHealthUrl(name: string, url: string | undefined): void {
  if (url === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new SupervisionError('KAGE_ERR_AGENT_SERVICE_CONFIG', `services.${name}.health is not a URL: ${url}`, {
      cause,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SupervisionError('KAGE_ERR_AGENT_SERVICE_CONFIG', `services.${name}.health must be http(s): ${url}`);
  }
}
